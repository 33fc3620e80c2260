/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * /run/memhpd/offline-by-others: the blocks someone other than memhpd took offline ("N"), and those the
 * administrator took offline through memhpd (drain, memhpctl offline: "N administrator"), so that a
 * restarted memhpd does not online them again. One file for both: they are the same promise (never
 * onlined by policy) and differ only in the record that says why. It survives a restart of memhpd, not a reboot (/run is a tmpfs):
 * exactly the lifetime of the kernel's memory blocks.
 */

typedef struct Manager Manager;

#define KEPT_OFFLINE_DIR "run/memhpd"
#define KEPT_OFFLINE_NAME "offline-by-others"
#define KEPT_OFFLINE_FILE KEPT_OFFLINE_DIR "/" KEPT_OFFLINE_NAME
#define KEPT_OFFLINE_REASON_ADMIN "administrator"

/*
 * Read what an earlier instance saved into m->kept_offline. A damaged file costs only its bad lines. No
 * file is 0 (nothing saved since boot); a file that cannot be read (EACCES, EIO, a directory, a FIFO,
 * larger than 64 MiB) is logged as an error, because the blocks it lists may then be onlined again, and
 * returned as -errno.
 */
int kept_offline_load(Manager *m);
/* Forget the loaded list: after the start-up scan the blocks' flags say it. */
void kept_offline_forget(Manager *m);
/* Is 'index' in the loaded list (someone else's)? */
bool kept_offline(Manager *m, uint32_t index);
/* Is 'index' in the loaded list as the administrator's? */
bool kept_offline_by_admin(Manager *m, uint32_t index);
/* Write the list from the blocks' flags, creating /run/memhpd (and /run) if missing. Returns 0 or -errno
 * (-ENOTDIR, -EPERM: a /run/memhpd memhpd must not trust, see root_state_dir()). */
int kept_offline_save(Manager *m);
/* The administrator took 'index' offline through memhpd (or asked for an offline block to stay so):
 * never onlined by policy again, a When=delay group lets it go, saved after this loop iteration. */
void kept_offline_mark_admin(Manager *m, uint32_t index);
/* The list changed: save it once, after this loop iteration. */
void kept_offline_changed(Manager *m);
int kept_offline_attach(Manager *m);
/* At exit: do not lose a pending save. */
void kept_offline_flush(Manager *m);
