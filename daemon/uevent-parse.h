/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * A kernel uevent for a memory block, a node or a dax device as a typed struct: a pure parser from its ACTION,
 * DEVPATH, SUBSYSTEM and SYNTH_UUID. The monitor that receives them is uevent.c.
 */

typedef enum UeventAction {
        UEVENT_ADD,
        UEVENT_REMOVE,
        UEVENT_CHANGE,
        UEVENT_MOVE,
        UEVENT_ONLINE,
        UEVENT_OFFLINE,
        UEVENT_BIND,
        UEVENT_UNBIND,
        _UEVENT_ACTION_MAX,
} UeventAction;

typedef enum UeventSubsystem {
        UEVENT_MEMORY,   /* /devices/system/memory/memoryN */
        UEVENT_NODE,     /* /devices/system/node/nodeN */
        UEVENT_DAX,      /* a dax device: DEVPATH ends in daxX.Y (dax.c) */
        UEVENT_OTHER,    /* not ours (the monitor filters, but a forged message may carry anything) */
} UeventSubsystem;

typedef struct Uevent {
        UeventAction action;
        UeventSubsystem subsystem;
        uint32_t index;  /* N of memoryN or nodeN (< NODES_MAX for a node) */
        bool synthetic;  /* SYNTH_UUID present: udevadm trigger or "echo add > uevent" */
        uint32_t id;     /* UEVENT_DAX: Y of daxX.Y (X is 'index') */
} Uevent;

const char *uevent_action_to_string(UeventAction a);

/*
 * Parse one uevent. 'synth_uuid' may be NULL. Returns 0 and fills *ret, or -EINVAL with *ret_why
 * saying what was wrong (a static string). Pure: no I/O.
 */
int uevent_parse(const char *action, const char *devpath, const char *subsystem, const char *synth_uuid,
                 Uevent *ret, const char **ret_why);
