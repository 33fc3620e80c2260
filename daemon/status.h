/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * STATUS= for systemd: one line on what memhpd manages. The modules that change what it says call
 * status_changed(); the Manager's idle source (manager.c) then sends it once per loop iteration.
 */

typedef struct Manager Manager;

#include <stddef.h>

/* The STATUS= text (also the bus's Status property). */
void status_format(Manager *m, char *buf, size_t size);
/* Send STATUS= now (not under --once). */
void status_update(Manager *m);
/* Something STATUS= shows changed: send it once, after this loop iteration. */
void status_changed(Manager *m);
