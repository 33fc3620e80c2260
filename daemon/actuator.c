/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns bringing a block online: the one state write, and the pure online_outcome() that says what the
 * kernel's answer means. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "actuator.h"

static const char *const online_result_table[_ONLINE_RESULT_MAX] = {
        [ONLINE_DONE] = "ok",
        [ONLINE_ALREADY] = "already",
        [ONLINE_BY_OTHER] = "by-other",
        [ONLINE_FAILED] = "failed",
        [ONLINE_POISONED] = "poisoned",
};

const char *online_result_to_string(OnlineResult r) {
        return r >= 0 && r < _ONLINE_RESULT_MAX ? online_result_table[r] : "invalid";
}

static bool zone_fits(Action want, Zone z) {
        if (want == ACTION_ONLINE_MOVABLE)
                return z == ZONE_MOVABLE;
        return zone_is_kernel(z);
}

OnlineResult online_outcome(Action want, int write_error, BlockState state_after, Zone zone_after) {
        if (write_error == 0)
                return ONLINE_DONE;
        if (state_after != STATE_ONLINE)
                return write_error == -EHWPOISON ? ONLINE_POISONED : ONLINE_FAILED;
        /* The kernel answers EINVAL for an online block: another agent (or the kernel's own
         * auto-online) got there first. In our zone that is what we wanted. */
        if (zone_after == ZONE_UNKNOWN || zone_fits(want, zone_after))
                return ONLINE_ALREADY;
        return ONLINE_BY_OTHER;
}

/* The zone of a block that is online now: valid_zones names just that one. */
static Zone read_zone(Inventory *inv, uint32_t index) {
        ZoneSet z;

        return inventory_block_valid_zones(inv, index, &z) < 0 ? ZONE_UNKNOWN : z.first;
}

OnlineResult block_online(Inventory *inv, uint32_t index, Action action, int *ret_error, Zone *ret_zone) {
        const char *value = action == ACTION_ONLINE_MOVABLE ? "online_movable" : "online_kernel";
        Zone requested = action == ACTION_ONLINE_MOVABLE ? ZONE_MOVABLE : ZONE_NORMAL;
        char path[48], buf[ROOT_VALUE_MAX];
        BlockState after = STATE_UNKNOWN;
        OnlineResult result;
        Zone zone;
        int r, s;

        snprintf(path, sizeof(path), "memory%" PRIu32 "/state", index);
        r = root_write(inv->root->memory_fd, path, value);
        if (r == 0) {
                /* The kernel put it where we asked (for online_kernel, the node's kernel zone: which one
                 * does not matter to the accounting, so no read on the hot path). */
                zone = requested;
                after = STATE_ONLINE;
        } else {
                if (root_read(inv->root->memory_fd, path, buf, sizeof(buf)) >= 0 &&
                    (s = block_state_from_string(buf)) >= 0)
                        after = s;
                zone = after == STATE_ONLINE ? read_zone(inv, index) : ZONE_UNKNOWN;
        }
        result = online_outcome(action, r, after, zone);
        if (after == STATE_ONLINE)
                inventory_block_set_online(inv, index, zone == ZONE_UNKNOWN ? requested : zone);
        *ret_error = r;
        *ret_zone = zone;
        return result;
}
