/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "dax-parse.h"

/* Where the memmap of hot-added memory goes (memmap.c). */

typedef struct Manager Manager;

/* Where the memmap of block 'index' is, by the kernel's rules for its kind and the size of the add it
 * came with (a run of blocks of its kind around it, from the inventory and sysfs; one block for
 * virtio-mem). */
void memmap_of_block(Manager *m, uint32_t index, MemmapVerdict *ret);

/* One line for memhpctl status: the boot parameter, the kernel, and what they mean for hot-added memory's
 * memmap (memhpctl explain says it per block). */
void memmap_summary(Manager *m, char *buf, size_t size);

/* A hot-added block other than dax-kmem (dax.c checks those before kmem binds): the kernel took the
 * memmap of its add from existing memory before memhpd heard of it. If the free memory of the node's
 * kernel zones (MemFree when zoneinfo has none) could not hold the memmap of another add like it, record
 * memmap-risk once, with the boot parameter that avoids it, until it could again. At most one check a
 * second. */
void memmap_watch(Manager *m, uint32_t index);

/* MemFree of /proc/meminfo in bytes, UINT64_MAX if it cannot be read. */
uint64_t memmap_mem_free(Manager *m);
