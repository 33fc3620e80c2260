/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Pure parsers for /proc/iomem and /proc/zoneinfo: text in, plain structs out. No file access, no
 * global state; the inventory reads the files and keeps the results.
 */

#include <stddef.h>
#include <stdint.h>

#include "memory.h"

typedef struct IomemRange {
        uint64_t start, end; /* inclusive, as /proc/iomem prints them */
        DeviceKind device;   /* DEVICE_UNKNOWN for plain "System RAM" */
} IomemRange;

int iomem_parse(const char *text, IomemRange **ret, size_t *ret_n);
const IomemRange *iomem_lookup(const IomemRange *ranges, size_t n, uint64_t addr);
/* Sum "present" pages per node: kernel zones into kernel[node], Movable into movable[node]. */
int zoneinfo_parse(const char *text, uint64_t *kernel, uint64_t *movable, size_t n_nodes);
