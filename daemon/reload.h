/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* Loading settings and policies, at start and on SIGHUP. */

typedef struct Manager Manager;

/* Load settings and policies. At start a broken set means running with none; on reload the old set
 * stays. Returns 0 or -EINVAL (every problem already audited). */
int manager_load_config(Manager *m, bool initial);

/* Reload now (SIGHUP, or the bus's Reload()): settings and policies, the uevent source, the kernel's
 * auto-online, and blocks left offline get the new policy's say. */
void reload_now(Manager *m);

/* SIGHUP: reload, switch the uevent source if asked, give blocks left offline the new policy's say. */
int reload_attach(Manager *m);
