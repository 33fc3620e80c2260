/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness: one uevent through uevent_parse(). The input is the message's environment as
 * netlink carries it, KEY=VALUE entries separated by NUL or newline; ACTION, DEVPATH, SUBSYSTEM and
 * SYNTH_UUID are handed to the parser (NULL where missing, the last one where repeated), as
 * libudev would.
 */
#include <inttypes.h>

#include "fuzz.h"
#include "inventory.h"
#include "uevent-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size);
        const char *action = NULL, *devpath = NULL, *subsystem = NULL, *synth = NULL, *why = NULL;
        Uevent u = { .index = 4242 }, before = u;
        char canonical[64];
        int r;

        for (size_t i = 0; i < size; i++)
                if (text[i] == '\n')
                        text[i] = '\0';
        for (char *p = text; p < text + size; p += strlen(p) + 1) {
                if (strncmp(p, "ACTION=", 7) == 0)
                        action = p + 7;
                else if (strncmp(p, "DEVPATH=", 8) == 0)
                        devpath = p + 8;
                else if (strncmp(p, "SUBSYSTEM=", 10) == 0)
                        subsystem = p + 10;
                else if (strncmp(p, "SYNTH_UUID=", 11) == 0)
                        synth = p + 11;
        }

        r = uevent_parse(action, devpath, subsystem, synth, &u, &why);
        fuzz_require(r == 0 || r == -EINVAL);
        if (r < 0) {
                /* Said why; the result not written. */
                fuzz_require(why && *why);
                fuzz_require(memcmp(&u, &before, sizeof(u)) == 0);
        } else {
                const char *name = uevent_action_to_string(u.action);

                fuzz_require(action && devpath && subsystem);
                fuzz_require(name && strcmp(name, action) == 0);
                fuzz_require(u.synthetic == (synth != NULL));
                switch (u.subsystem) {
                case UEVENT_MEMORY:
                        /* Exactly the kernel's path: no sign, no leading zero, nothing after. */
                        fuzz_require(strcmp(subsystem, "memory") == 0);
                        snprintf(canonical, sizeof(canonical), "/devices/system/memory/memory%" PRIu32, u.index);
                        fuzz_require(strcmp(devpath, canonical) == 0);
                        break;
                case UEVENT_NODE:
                        fuzz_require(strcmp(subsystem, "node") == 0 && u.index < NODES_MAX);
                        snprintf(canonical, sizeof(canonical), "/devices/system/node/node%" PRIu32, u.index);
                        fuzz_require(strcmp(devpath, canonical) == 0);
                        break;
                case UEVENT_DAX: {
                        /* dax.c: the DEVPATH ends in exactly daxX.Y, as the kernel names it. */
                        const char *slash = strrchr(devpath, '/');
                        fuzz_require(strcmp(subsystem, "dax") == 0 && slash);
                        snprintf(canonical, sizeof(canonical), "dax%" PRIu32 ".%" PRIu32, u.index, u.id);
                        fuzz_require(strcmp(slash + 1, canonical) == 0);
                        break;
                }
                case UEVENT_OTHER:
                        fuzz_require(strcmp(subsystem, "memory") != 0 && strcmp(subsystem, "node") != 0 &&
                                     strcmp(subsystem, "dax") != 0);
                        break;
                default:
                        fuzz_require(!"a subsystem outside the enum");
                }
        }
        free(text);
        return 0;
}
