/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * Who decided each block's present state, for memhpctl status and the bus: "policy FILE:LINE", "boot",
 * "administrator", "someone else", "quarantined", "kernel". One uint16_t per block (kind in the top 4 bits,
 * an interned "FILE:LINE" in the low 12), in an array beside the inventory's blocks that grows only up to
 * the highest block with a recorded origin: at most 256 KiB for 131072 blocks, and runs of blocks with
 * the same origin compare as one integer. Boot memory costs nothing: an online block present at the
 * first scan with nothing recorded is "boot". The interned sources are never freed while memhpd runs (a
 * reload adds the new files' lines; beyond 4095 distinct lines the kind is kept without the file).
 *
 * Other modules call inventory_block_set_origin() after they change a block (offline.c: ORIGIN_ADMINISTRATOR,
 * quarantine.c: ORIGIN_QUARANTINED). A block that vanishes loses its origin (inventory_block_remove()).
 */

typedef struct Inventory Inventory;

typedef enum Origin {
        ORIGIN_UNKNOWN,       /* nothing recorded (yet) */
        ORIGIN_BOOT,          /* present when memhpd started, onlined before it */
        ORIGIN_POLICY,        /* a policy decided (onlined it, or left it offline): with its FILE:LINE */
        ORIGIN_NO_POLICY,     /* no policy matches: left offline */
        ORIGIN_ADMINISTRATOR, /* an action asked through memhpd (memhpctl, the bus) */
        ORIGIN_OTHER,         /* someone else changed its state */
        ORIGIN_QUARANTINED,   /* kept offline: it holds poisoned pages */
        ORIGIN_KERNEL,        /* the kernel's auto-online (KernelAutoOnline=delegate: for a policy) */
        _ORIGIN_MAX,
} Origin;

typedef struct OriginTable {
        uint16_t *blocks;     /* per block; 0 = ORIGIN_UNKNOWN, no source */
        uint32_t n_blocks;
        char **sources;       /* "FILE:LINE", index + 1 is the low 24 bits */
        size_t n_sources;
} OriginTable;

#define ORIGIN_KIND_SHIFT 12
#define ORIGIN_SOURCE_MASK 0xfffu

/* "boot", "policy", "someone else", ... ("" for ORIGIN_UNKNOWN). */
const char *origin_to_string(Origin o);
int origin_from_string(const char *s); /* Origin or -EINVAL */

/*
 * Record who decided block 'index': 'policy_path' and 'policy_line' name the policy (NULL for none).
 * Aborts on out-of-memory, as every allocation on the event path.
 */
void inventory_block_set_origin(Inventory *inv, uint32_t index, Origin origin, const char *policy_path,
                                unsigned policy_line);
/* The packed origin (kind << ORIGIN_KIND_SHIFT | source) of block 'index', 0 if none is known. */
uint32_t inventory_block_origin(const Inventory *inv, uint32_t index);
static inline Origin origin_kind(uint32_t packed) {
        return (Origin) (packed >> ORIGIN_KIND_SHIFT);
}
/* "FILE:LINE" of a packed origin, or NULL. */
const char *inventory_origin_source(const Inventory *inv, uint32_t packed);

void origin_table_done(OriginTable *t);
