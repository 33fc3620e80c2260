/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Pure parts of dax device handling: names, drivers and origins as the kernel shows them under
 * /sys/bus/dax/devices, and the kernel's rules for where a hot-added range's memmap lives. No I/O;
 * dax.c reads the files and calls these.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory.h"

typedef enum DaxDriver {
        DAX_DRIVER_NONE,       /* no driver link: disabled */
        DAX_DRIVER_DEVICE_DAX, /* devdax: /dev/daxX.Y */
        DAX_DRIVER_KMEM,       /* system RAM */
        DAX_DRIVER_OTHER,
        _DAX_DRIVER_MAX,
} DaxDriver;

typedef enum DaxOrigin {
        DAX_ORIGIN_UNKNOWN,
        DAX_ORIGIN_CXL,           /* a CXL region (cxl_dax_region: .../regionN/dax_regionN/daxX.Y) */
        DAX_ORIGIN_PMEM,          /* a pmem namespace (dax_pmem: .../ndbusN/regionN/daxN.M/daxX.Y) */
        DAX_ORIGIN_SOFT_RESERVED, /* EFI soft-reserved memory (dax_hmem: /sys/devices/platform/hmem.N) */
        _DAX_ORIGIN_MAX,
} DaxOrigin;

const char *dax_driver_to_string(DaxDriver d);    /* none, device_dax, kmem, other */
const char *dax_origin_to_string(DaxOrigin o);    /* unknown, cxl, pmem, soft-reserved */
int dax_origin_from_string(const char *s);        /* DaxOrigin or -EINVAL */

/* "daxX.Y" with X and Y decimal, nothing else. 0 or -EINVAL. */
int dax_name_valid(const char *name);

/* The driver named by the target of a daxX.Y/driver link ("../../../../bus/dax/drivers/kmem"). */
DaxDriver dax_driver_from_link(const char *target);

/* The origin as the device's place in /sys/devices says it: 'path' is the target of the
 * /sys/bus/dax/devices/daxX.Y link. DAX_ORIGIN_UNKNOWN if it names none. */
DaxOrigin dax_origin_from_path(const char *path);

/* Whether /proc/iomem text has a "Soft Reserved" range holding [start, end]. */
bool dax_iomem_soft_reserved(const char *iomem, uint64_t start, uint64_t end);

/* The kernel release ("6.1.0-28-amd64", "6.12.9+bpo-amd64") as major*1000+minor; -EINVAL otherwise. */
int kernel_version_parse(const char *release);

/* Bytes of memmap (struct page, 64 bytes each) that 'size' bytes of memory need. */
static inline uint64_t memmap_bytes(uint64_t size, uint64_t page_size) {
        return page_size ? size / page_size * 64 : 0;
}

/* memory_hotplug.memmap_on_memory as the module parameter reads: "Y"/"N" (bool, before 6.6), or
 * "force" (6.6+ accepts it). 1 on, 0 off, 2 force; -EINVAL otherwise. */
int memmap_param_parse(const char *s);

/* What decides where a hot-add's memmap lives, by the kernel's rules (mm/memory_hotplug.c). */
typedef struct MemmapFacts {
        DeviceKind device;
        int kernel_version;     /* major*1000+minor, or <0 unknown */
        int global;             /* memory_hotplug.memmap_on_memory: 0, 1, 2 (force); <0 unknown */
        int dax_attribute;      /* dax-kmem: the device's memmap_on_memory (0/1); -1 it has none */
        uint64_t add_size;      /* the size of one add_memory() call (a DIMM, a dax range) */
        uint64_t block_size;
} MemmapFacts;

typedef struct MemmapVerdict {
        bool on_memory;         /* the memmap is (or would be) on the added memory itself */
        bool policy_can_choose; /* a per-device setting exists (dax-kmem on 6.8+): OnMemory= can decide */
        char why[200];
} MemmapVerdict;

void memmap_verdict(const MemmapFacts *f, MemmapVerdict *ret);
