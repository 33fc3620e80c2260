/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the names of what the kernel says about a memory block (states, zones, device kinds) and the
 * number parser they share. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "memory.h"

static const char *const device_kind_table[_DEVICE_MAX] = {
        [DEVICE_UNKNOWN] = "unknown",
        [DEVICE_BOOT] = "boot",
        [DEVICE_ACPI_DIMM] = "acpi-dimm",
        [DEVICE_VIRTIO_MEM] = "virtio-mem",
        [DEVICE_DAX_KMEM] = "dax-kmem",
        [DEVICE_HV_BALLOON] = "hv-balloon",
        [DEVICE_XEN] = "xen",
};

static const char *const block_state_table[_STATE_MAX] = {
        [STATE_UNKNOWN] = "unknown",
        [STATE_OFFLINE] = "offline",
        [STATE_ONLINE] = "online",
        [STATE_GOING_OFFLINE] = "going-offline",
};

static const char *const zone_table[_ZONE_MAX] = {
        [ZONE_UNKNOWN] = "unknown",
        [ZONE_NONE] = "none",
        [ZONE_DMA] = "DMA",
        [ZONE_DMA32] = "DMA32",
        [ZONE_NORMAL] = "Normal",
        [ZONE_MOVABLE] = "Movable",
        [ZONE_DEVICE] = "Device",
};

static int lookup(const char *const *table, int n, const char *s) {
        if (!s)
                return -EINVAL;
        for (int i = 0; i < n; i++)
                if (table[i] && strcmp(table[i], s) == 0)
                        return i;
        return -EINVAL;
}

const char *device_kind_to_string(DeviceKind d) {
        return d >= 0 && d < _DEVICE_MAX ? device_kind_table[d] : "invalid";
}

int device_kind_from_string(const char *s) {
        return lookup(device_kind_table, _DEVICE_MAX, s);
}

const char *block_state_to_string(BlockState s) {
        return s >= 0 && s < _STATE_MAX ? block_state_table[s] : "invalid";
}

int block_state_from_string(const char *s) {
        int r = lookup(block_state_table, _STATE_MAX, s);
        /* "unknown" is our word, not the kernel's. */
        return r == STATE_UNKNOWN ? -EINVAL : r;
}

const char *zone_to_string(Zone z) {
        return z >= 0 && z < _ZONE_MAX ? zone_table[z] : "invalid";
}

int zone_from_string(const char *s) {
        int r = lookup(zone_table, _ZONE_MAX, s);
        return r == ZONE_UNKNOWN ? -EINVAL : r;
}

int zone_set_parse(const char *s, ZoneSet *ret) {
        ZoneSet set = { .first = ZONE_UNKNOWN };
        char word[16];

        for (;;) {
                size_t n;
                int z;

                s += strspn(s, " \t\n");
                if (!*s)
                        break;
                n = strcspn(s, " \t\n");
                if (n >= sizeof(word))
                        return -EINVAL;
                memcpy(word, s, n);
                word[n] = '\0';
                s += n;

                z = zone_from_string(word);
                if (z < 0)
                        return -EINVAL;
                if (set.first == ZONE_UNKNOWN)
                        set.first = z;
                if (z == ZONE_MOVABLE)
                        set.movable = true;
                else if (zone_is_kernel(z) && z != ZONE_NONE)
                        set.kernel = true;
        }
        if (set.first == ZONE_UNKNOWN)
                return -EINVAL;
        *ret = set;
        return 0;
}

int parse_u64(const char *s, int base, uint64_t *ret) {
        unsigned long long v;
        char *end;

        /* strtoull() would skip any whitespace and take a sign: sysfs numbers have neither. */
        if (!s || !(base == 16 ? isxdigit((unsigned char) *s) : isdigit((unsigned char) *s)))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, base);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno != 0 || end == s || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}
