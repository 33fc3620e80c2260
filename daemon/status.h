/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * STATUS= for systemd: one line on what memhpd manages. The modules that change what it says call
 * status_changed(); the Manager's idle source (manager.c) then sends it once per loop iteration.
 */

typedef struct Manager Manager;

/* Send STATUS= now (not under --once). */
void status_update(Manager *m);
/* Something STATUS= shows changed: send it once, after this loop iteration. */
void status_changed(Manager *m);
