/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Pure parsers for /proc/iomem and /proc/zoneinfo: text in, plain structs out. No file access, no
 * global state; the inventory reads the files and keeps the results.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory.h"

typedef struct IomemRange {
        uint64_t start, end; /* inclusive, as /proc/iomem prints them */
        DeviceKind device;   /* DEVICE_UNKNOWN for plain "System RAM" */
} IomemRange;

/*
 * /proc/iomem: every "System RAM" range, in file order (children after their parent), with the device
 * its name marks. Returns 0 and a malloc'd array in *ret (at least one range), -EBADMSG for a text
 * that is not the kernel's: a line that is not "<indent><start>-<end> : <name>" in hex (no sign, no
 * 0x, at most 64 bits, start <= end), a last line without its newline (a truncated read), or no System
 * RAM at all; -ENOMEM. *ret and *ret_n are not written on failure.
 */
int iomem_parse(const char *text, IomemRange **ret, size_t *ret_n);
/* The innermost range holding 'addr', or NULL. */
const IomemRange *iomem_lookup(const IomemRange *ranges, size_t n, uint64_t addr);

/* The most present pages a node (or one zone) can hold: 2^52 bytes of physical address space (the
 * largest Linux supports) in 4 KiB pages. Bounds the sums, and so pages * page_size stays in 64 bits. */
#define ZONEINFO_PAGES_MAX (UINT64_C(1) << 40)

/*
 * /proc/zoneinfo: sum the "present" pages of each node's zones, the kernel zones (DMA, DMA32, Normal,
 * HighMem) into kernel[node] and Movable into movable[node]; Device is left out. Both arrays hold
 * n_nodes entries; nodes without a zone in the file get 0. Returns:
 *   0        the counts, every node of the file read in full;
 *   -ERANGE  a "Node N" header with N >= n_nodes: the file is well-formed but names a node the
 *            caller cannot hold (not ignored: the counts would be wrong). A caller reports it apart
 *            from -EBADMSG (e.g. "node 5000 beyond the supported 1024");
 *   -EBADMSG the text is not the kernel's, or is incomplete: no zone at all, a zone without its
 *            "present" line (cut short), a last line without its newline (a truncated read), a
 *            count that is not plain decimal (sign, garbage, more than 64 bits), a count or a
 *            node's sum above ZONEINFO_PAGES_MAX, a zone printed twice or nodes out of order;
 *   -ENOMEM.
 * kernel[] and movable[] are not written on failure: a caller keeps its previous counts or, better,
 * treats them as unknown and decides nothing on them. A file cut exactly between two zones cannot
 * be told from a whole one; a caller that knows which nodes exist can check that each got a zone.
 */
int zoneinfo_parse(const char *text, uint64_t *kernel, uint64_t *movable, size_t n_nodes);

/* One node of /proc/zoneinfo, summed over its zones. "Kernel" zones are DMA, DMA32, Normal and HighMem
 * (where unmovable allocations — page tables, slab, the memmap of a hot-add — must come from);
 * Movable is apart and Device is left out. */
typedef struct ZoneinfoNode {
        bool has_zone;                  /* the file printed at least one zone of this node */
        bool watermarks_missing;        /* a zone printed no "pages free"/min/low/high (not the kernel's
                                         * file: a hand-made one); the free and watermark sums are then
                                         * partial and must not be judged */
        uint64_t kernel_present, movable_present;
        uint64_t kernel_free, kernel_min, kernel_low, kernel_high;
        uint64_t movable_free, movable_high;
        uint64_t file_pages;            /* page cache (nr_zone_{in,}active_file), all zones: reclaimable */
        /* What a kernel allocation (GFP_KERNEL: up to ZONE_NORMAL) can still take: each kernel zone's
         * free pages above its lowmem reserve ("protection") for that zone index, summed. The DMA
         * zone's free pages count only above the large reserve it keeps from Normal allocations, so a
         * node whose Normal and DMA32 are empty shows almost no room however much DMA has free. */
        uint64_t kernel_room;
        uint64_t kernel_file_pages;     /* page cache in the kernel zones: reclaimable room */
} ZoneinfoNode;

/*
 * The same strict parse as zoneinfo_parse(), with each zone's "pages free" and min/low/high watermarks
 * summed per node into ret[0..n_nodes). min, low and high come together (the kernel prints them as one
 * block before "present"): a zone with some but not all of them, any count twice, or a count outside a
 * zone is -EBADMSG; a zone without "pages free" or the three sets watermarks_missing. Counts are bounded like "present". Same
 * returns as zoneinfo_parse(); ret is not written on failure.
 */
int zoneinfo_parse_nodes(const char *text, ZoneinfoNode *ret, size_t n_nodes);
