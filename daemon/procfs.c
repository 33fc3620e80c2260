/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Pure parsers for the /proc files memhpd reads: /proc/iomem (which device a physical range belongs to)
 * and /proc/zoneinfo (present pages per node and zone). They take the file's text and fill plain
 * structs; reading the file (through the rooted sysfs module) is the caller's business.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "procfs.h"

static DeviceKind iomem_name_to_device(const char *name) {
        if (strcmp(name, "System RAM (virtio_mem)") == 0)
                return DEVICE_VIRTIO_MEM;
        if (strcmp(name, "System RAM (kmem)") == 0)
                return DEVICE_DAX_KMEM;
        return DEVICE_UNKNOWN;
}

int iomem_parse(const char *text, IomemRange **ret, size_t *ret_n) {
        _cleanup_free_ IomemRange *ranges = NULL;
        size_t n = 0, alloc = 0;

        for (const char *line = text; line && *line;) {
                const char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t) (eol - line) : strlen(line);
                unsigned long long start, end;
                char name[128];
                int consumed = 0;

                /* "  100000000-10fffffff : System RAM (virtio_mem)" */
                if (len < sizeof(name) + 40 &&
                    sscanf(line, " %llx-%llx : %n", &start, &end, &consumed) == 2 && consumed > 0 &&
                    (size_t) consumed <= len && start <= end) {
                        size_t nl = len - consumed;

                        if (nl >= sizeof(name))
                                nl = sizeof(name) - 1;
                        memcpy(name, line + consumed, nl);
                        name[nl] = '\0';
                        if (strncmp(name, "System RAM", 10) == 0) {
                                if (n == alloc) {
                                        size_t a = alloc ? alloc * 2 : 32;
                                        IomemRange *r = realloc(ranges, a * sizeof(*r));
                                        if (!r)
                                                return -ENOMEM;
                                        ranges = r;
                                        alloc = a;
                                }
                                ranges[n++] = (IomemRange) {
                                        .start = start, .end = end, .device = iomem_name_to_device(name),
                                };
                        }
                }
                line = eol ? eol + 1 : NULL;
        }
        *ret = TAKE_PTR(ranges);
        *ret_n = n;
        return 0;
}

const IomemRange *iomem_lookup(const IomemRange *ranges, size_t n, uint64_t addr) {
        /* Few entries (one per device range, hot-added ranges merge); a linear walk is fine. The
         * innermost match wins because children follow their parent in the file. */
        const IomemRange *found = NULL;

        for (size_t i = 0; i < n; i++)
                if (ranges[i].start <= addr && addr <= ranges[i].end)
                        found = &ranges[i];
        return found;
}

int zoneinfo_parse(const char *text, uint64_t *kernel, uint64_t *movable, size_t n_nodes) {
        long node = -1;
        bool is_movable = false, seen_zone = false, skip = false;

        for (size_t i = 0; i < n_nodes; i++)
                kernel[i] = movable[i] = 0;

        for (const char *line = text; line && *line;) {
                const char *eol = strchr(line, '\n');
                char zone[32];
                long nd;
                unsigned long long present;

                if (sscanf(line, "Node %ld, zone %31s", &nd, zone) == 2) {
                        if (nd < 0 || (size_t) nd >= n_nodes)
                                return -ERANGE;
                        node = nd;
                        is_movable = strcmp(zone, "Movable") == 0;
                        /* ZONE_DEVICE pages are not memory blocks' business (always 0 present). */
                        skip = strcmp(zone, "Device") == 0;
                        seen_zone = true;
                } else if (node >= 0 && !skip && sscanf(line, " present %llu", &present) == 1) {
                        if (is_movable)
                                movable[node] += present;
                        else
                                kernel[node] += present;
                }
                line = eol ? eol + 1 : NULL;
        }
        return seen_zone ? 0 : -EINVAL;
}
