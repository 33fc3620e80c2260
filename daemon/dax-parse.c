/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the pure dax parsers (names, driver links, origins, "Soft Reserved" in /proc/iomem, the kernel
 * release) and the kernel's rules for where a hot-add's memmap lives. No I/O. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dax-parse.h"
#include "macro.h"

static const char *const dax_driver_table[_DAX_DRIVER_MAX] = {
        [DAX_DRIVER_NONE] = "none",
        [DAX_DRIVER_DEVICE_DAX] = "device_dax",
        [DAX_DRIVER_KMEM] = "kmem",
        [DAX_DRIVER_OTHER] = "other",
};

static const char *const dax_origin_table[_DAX_ORIGIN_MAX] = {
        [DAX_ORIGIN_UNKNOWN] = "unknown",
        [DAX_ORIGIN_CXL] = "cxl",
        [DAX_ORIGIN_PMEM] = "pmem",
        [DAX_ORIGIN_SOFT_RESERVED] = "soft-reserved",
};

const char *dax_driver_to_string(DaxDriver d) {
        return d >= 0 && d < _DAX_DRIVER_MAX ? dax_driver_table[d] : "invalid";
}

const char *dax_origin_to_string(DaxOrigin o) {
        return o >= 0 && o < _DAX_ORIGIN_MAX ? dax_origin_table[o] : "invalid";
}

int dax_origin_from_string(const char *s) {
        for (int i = 0; i < _DAX_ORIGIN_MAX; i++)
                if (strcmp(s, dax_origin_table[i]) == 0)
                        return i;
        return -EINVAL;
}

static const char *decimal_run(const char *p) {
        const char *start = p;

        while (*p >= '0' && *p <= '9')
                p++;
        /* No leading zeros beyond "0" itself, at most 9 digits: the kernel prints %d. */
        if (p == start || p - start > 9 || (start[0] == '0' && p - start > 1))
                return NULL;
        return p;
}

int dax_name_valid(const char *name) {
        const char *p;

        if (!name || strncmp(name, "dax", 3) != 0)
                return -EINVAL;
        p = decimal_run(name + 3);
        if (!p || *p != '.')
                return -EINVAL;
        p = decimal_run(p + 1);
        return p && *p == '\0' ? 0 : -EINVAL;
}

static const char *last_component(const char *path) {
        size_t len = strlen(path);
        const char *p;

        while (len > 0 && path[len - 1] == '/')
                len--;
        for (p = path + len; p > path && p[-1] != '/'; p--)
                ;
        return p;
}

DaxDriver dax_driver_from_link(const char *target) {
        const char *base;
        size_t len;

        if (!target || !*target)
                return DAX_DRIVER_NONE;
        base = last_component(target);
        len = strcspn(base, "/");
        if (len == strlen("device_dax") && strncmp(base, "device_dax", len) == 0)
                return DAX_DRIVER_DEVICE_DAX;
        if (len == strlen("kmem") && strncmp(base, "kmem", len) == 0)
                return DAX_DRIVER_KMEM;
        return DAX_DRIVER_OTHER;
}

/* Whether a '/'-separated component of 'path' starts with 'prefix'. */
static bool has_component(const char *path, const char *prefix) {
        size_t l = strlen(prefix);

        for (const char *p = path; p && *p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL)
                if (strncmp(p, prefix, l) == 0)
                        return true;
        return false;
}

DaxOrigin dax_origin_from_path(const char *path) {
        if (!path)
                return DAX_ORIGIN_UNKNOWN;
        /* drivers/cxl/core/region.c names the device between a CXL region and its dax devices
         * "dax_regionN"; drivers/nvdimm puts dax devices of a namespace under ndbusN/regionN/daxN.M;
         * drivers/dax/hmem registers platform devices "hmem.N" for soft-reserved ranges. */
        if (has_component(path, "dax_region"))
                return DAX_ORIGIN_CXL;
        if (has_component(path, "ndbus"))
                return DAX_ORIGIN_PMEM;
        if (has_component(path, "hmem."))
                return DAX_ORIGIN_SOFT_RESERVED;
        return DAX_ORIGIN_UNKNOWN;
}

static int parse_hex(const char *s, size_t len, uint64_t *ret) {
        uint64_t v = 0;

        if (len == 0 || len > 16)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                unsigned d = c >= '0' && c <= '9' ? (unsigned) (c - '0')
                           : c >= 'a' && c <= 'f' ? (unsigned) (c - 'a' + 10)
                           : c >= 'A' && c <= 'F' ? (unsigned) (c - 'A' + 10) : 16;
                if (d == 16)
                        return -EINVAL;
                v = v << 4 | d;
        }
        *ret = v;
        return 0;
}

bool dax_iomem_soft_reserved(const char *iomem, uint64_t start, uint64_t end) {
        for (const char *line = iomem; line && *line;) {
                const char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t) (eol - line) : strlen(line);
                char buf[256], *p, *dash, *colon;
                uint64_t a, b;

                snprintf(buf, sizeof(buf), "%.*s", (int) (len < sizeof(buf) ? len : sizeof(buf) - 1), line);
                line = eol ? eol + 1 : NULL;
                p = buf + strspn(buf, " ");
                dash = strchr(p, '-');
                colon = strstr(p, " : ");
                if (!dash || !colon || dash > colon)
                        continue;
                if (parse_hex(p, (size_t) (dash - p), &a) < 0 || parse_hex(dash + 1, (size_t) (colon - dash - 1), &b) < 0)
                        continue;
                if (strcmp(colon + 3, "Soft Reserved") != 0)
                        continue;
                if (a <= start && end <= b)
                        return true;
        }
        return false;
}

int kernel_version_parse(const char *release) {
        unsigned major = 0, minor = 0;
        const char *p = release;
        int n = 0;

        if (!p || *p < '0' || *p > '9')
                return -EINVAL;
        while (*p >= '0' && *p <= '9' && n++ < 4)
                major = major * 10 + (unsigned) (*p++ - '0');
        if (*p != '.' || p[1] < '0' || p[1] > '9')
                return -EINVAL;
        p++;
        n = 0;
        while (*p >= '0' && *p <= '9' && n++ < 3)
                minor = minor * 10 + (unsigned) (*p++ - '0');
        if ((*p >= '0' && *p <= '9') || major == 0 || major > 999)
                return -EINVAL;
        return (int) (major * 1000 + minor);
}

int memmap_param_parse(const char *s) {
        if (!s)
                return -EINVAL;
        if (strcmp(s, "Y") == 0 || strcmp(s, "1") == 0)
                return 1;
        if (strcmp(s, "N") == 0 || strcmp(s, "0") == 0)
                return 0;
        if (strcmp(s, "force") == 0)
                return 2;
        return -EINVAL;
}

#define KERNEL_6_8 6008 /* per-dax-device memmap_on_memory, and multi-block adds split per block */

void memmap_verdict(const MemmapFacts *f, MemmapVerdict *ret) {
        MemmapVerdict v = {};
        bool multi = f->block_size && f->add_size > f->block_size;

        switch (f->device) {
        case DEVICE_DAX_KMEM:
                /* drivers/dax/kmem.c passes MHP_MEMMAP_ON_MEMORY only from 6.8 on, when the device's own
                 * memmap_on_memory is set (which the kernel refuses while the global one is off). */
                v.policy_can_choose = f->dax_attribute >= 0;
                if (f->dax_attribute < 0)
                        snprintf(v.why, sizeof(v.why), "this kernel has no per-device memmap_on_memory (6.8+): the "
                                 "memmap of dax memory comes from existing memory");
                else if (f->global == 0)
                        snprintf(v.why, sizeof(v.why), "memory_hotplug.memmap_on_memory is off (a boot parameter): "
                                 "the device's memmap_on_memory cannot be set");
                else {
                        v.on_memory = f->dax_attribute > 0;
                        snprintf(v.why, sizeof(v.why), "the device's memmap_on_memory is %d", f->dax_attribute);
                }
                break;
        case DEVICE_ACPI_DIMM:
                /* drivers/acpi/acpi_memhotplug.c asks for it whenever the kernel supports it; before 6.8
                 * mhp_supports_memmap_on_memory() requires an add of exactly one memory block. */
                if (f->global <= 0)
                        snprintf(v.why, sizeof(v.why), "memory_hotplug.memmap_on_memory is %s (only the boot "
                                 "parameter decides for ACPI DIMMs)", f->global == 0 ? "off" : "unknown");
                else if (multi && f->kernel_version >= 0 && f->kernel_version < KERNEL_6_8)
                        snprintf(v.why, sizeof(v.why), "this kernel puts the memmap on the memory only for adds of "
                                 "one memory block; this DIMM spans %" PRIu64, f->add_size / f->block_size);
                else if (f->kernel_version < 0 && multi)
                        snprintf(v.why, sizeof(v.why), "the kernel version is unknown; a multi-block add keeps its "
                                 "memmap on the memory only from 6.8 on");
                else {
                        v.on_memory = true;
                        snprintf(v.why, sizeof(v.why), "memory_hotplug.memmap_on_memory is on");
                }
                break;
        case DEVICE_BOOT:
                snprintf(v.why, sizeof(v.why), "boot memory: its memmap was allocated at boot");
                break;
        default:
                snprintf(v.why, sizeof(v.why), "%s never asks for the memmap on the memory",
                         device_kind_to_string(f->device));
                break;
        }
        *ret = v;
}
