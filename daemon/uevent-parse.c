/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the pure uevent parser: ACTION, DEVPATH, SUBSYSTEM and SYNTH_UUID to a typed Uevent. No I/O. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dax-parse.h"
#include "inventory.h"
#include "macro.h"
#include "uevent-parse.h"

static const char *const uevent_actions[_UEVENT_ACTION_MAX] = {
        [UEVENT_ADD] = "add",       [UEVENT_REMOVE] = "remove", [UEVENT_CHANGE] = "change",
        [UEVENT_MOVE] = "move",     [UEVENT_ONLINE] = "online", [UEVENT_OFFLINE] = "offline",
        [UEVENT_BIND] = "bind",     [UEVENT_UNBIND] = "unbind",
};

const char *uevent_action_to_string(UeventAction a) {
        return a >= 0 && a < _UEVENT_ACTION_MAX ? uevent_actions[a] : NULL;
}

static int uevent_action_from_string(const char *s) {
        for (int i = 0; i < _UEVENT_ACTION_MAX; i++)
                if (strcmp(s, uevent_actions[i]) == 0)
                        return i;
        return -EINVAL;
}

int uevent_parse(const char *action, const char *devpath, const char *subsystem, const char *synth_uuid,
                 Uevent *ret, const char **ret_why) {
        static const struct {
                const char *subsystem, *dir, *prefix, *why;
                UeventSubsystem kind;
                uint32_t max;
        } kinds[] = {
                { "memory", "/devices/system/memory/", "memory", "DEVPATH is not /devices/system/memory/memoryN",
                  UEVENT_MEMORY, UINT32_MAX },
                { "node", "/devices/system/node/", "node", "DEVPATH is not /devices/system/node/nodeN",
                  UEVENT_NODE, NODES_MAX },
        };
        Uevent u = { .subsystem = UEVENT_OTHER, .synthetic = synth_uuid != NULL };
        int a;

        if (!action || !devpath || !subsystem || (a = uevent_action_from_string(action)) < 0) {
                *ret_why = "missing or unknown ACTION, DEVPATH or SUBSYSTEM";
                return -EINVAL;
        }
        u.action = a;
        if (strcmp(subsystem, "dax") == 0) {
                /* /devices/platform/.../daxX.Y (dax bus) or .../dax/daxX.Y (the older dax class). */
                const char *name = strrchr(devpath, '/');
                unsigned x, y;
                char end;

                if (!name || dax_name_valid(name + 1) < 0 || sscanf(name + 1, "dax%u.%u%c", &x, &y, &end) != 2) {
                        *ret_why = "DEVPATH does not end in a dax device daxX.Y";
                        return -EINVAL;
                }
                u.subsystem = UEVENT_DAX;
                u.index = x;
                u.id = y;
                *ret = u;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                size_t l = strlen(kinds[i].dir);

                if (strcmp(subsystem, kinds[i].subsystem) != 0)
                        continue;
                if (strncmp(devpath, kinds[i].dir, l) != 0 ||
                    parse_indexed_name(devpath + l, kinds[i].prefix, &u.index) < 0 || u.index >= kinds[i].max) {
                        *ret_why = kinds[i].why;
                        return -EINVAL;
                }
                u.subsystem = kinds[i].kind;
                break;
        }
        *ret = u;
        return 0;
}
