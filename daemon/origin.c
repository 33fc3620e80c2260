/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns the per-block origin: who decided each block's state (origin.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "log.h"
#include "origin.h"

static const char *const origin_table[_ORIGIN_MAX] = {
        [ORIGIN_UNKNOWN] = "",
        [ORIGIN_BOOT] = "boot",
        [ORIGIN_POLICY] = "policy",
        [ORIGIN_NO_POLICY] = "no policy",
        [ORIGIN_ADMINISTRATOR] = "administrator",
        [ORIGIN_OTHER] = "someone else",
        [ORIGIN_QUARANTINED] = "quarantined",
        [ORIGIN_KERNEL] = "kernel",
};

const char *origin_to_string(Origin o) {
        return o >= 0 && o < _ORIGIN_MAX ? origin_table[o] : "";
}

int origin_from_string(const char *s) {
        for (int i = 0; i < _ORIGIN_MAX; i++)
                if (s && strcmp(origin_table[i], s) == 0)
                        return i;
        return -EINVAL;
}

/* The source id (index + 1) of "FILE:LINE", interned on first use. */
static uint32_t source_intern(OriginTable *t, const char *path, unsigned line) {
        char buf[4096];
        char **n, *copy;

        (void) snprintf(buf, sizeof(buf), "%s:%u", path, line);
        for (size_t i = 0; i < t->n_sources; i++)
                if (strcmp(t->sources[i], buf) == 0)
                        return (uint32_t) i + 1;
        if (t->n_sources >= ORIGIN_SOURCE_MASK)
                return 0; /* millions of distinct policy lines: show the kind without the file */
        copy = strdup(buf);
        n = realloc(t->sources, (t->n_sources + 1) * sizeof(char *));
        if (!copy || !n)
                log_oom_abort();
        t->sources = n;
        t->sources[t->n_sources++] = copy;
        return (uint32_t) t->n_sources;
}

void inventory_block_set_origin(Inventory *inv, uint32_t index, Origin origin, const char *policy_path,
                                unsigned policy_line) {
        OriginTable *t = &inv->origins;
        uint32_t packed;

        if (index >= t->n_blocks) {
                uint32_t n = index + 1;
                uint16_t *b;

                if (origin == ORIGIN_UNKNOWN)
                        return;
                /* Geometric growth, capped at the inventory's size when the block lies within it. */
                if (n < t->n_blocks * 2)
                        n = t->n_blocks * 2;
                if (n < 64)
                        n = 64;
                if (n > inv->n_blocks && inv->n_blocks > index)
                        n = inv->n_blocks;
                b = realloc(t->blocks, (size_t) n * sizeof(uint16_t));
                if (!b)
                        log_oom_abort();
                memset(b + t->n_blocks, 0, (size_t) (n - t->n_blocks) * sizeof(uint16_t));
                t->blocks = b;
                t->n_blocks = n;
        }
        packed = (uint32_t) origin << ORIGIN_KIND_SHIFT;
        if (policy_path)
                packed |= source_intern(t, policy_path, policy_line);
        t->blocks[index] = (uint16_t) packed;
}

uint32_t inventory_block_origin(const Inventory *inv, uint32_t index) {
        uint32_t packed = index < inv->origins.n_blocks ? inv->origins.blocks[index] : 0;

        if (packed == 0 && index < inv->n_blocks && (inv->blocks[index].flags & BLOCK_AT_START) &&
            inv->blocks[index].state == STATE_ONLINE)
                return (uint32_t) ORIGIN_BOOT << ORIGIN_KIND_SHIFT;
        return packed;
}

const char *inventory_origin_source(const Inventory *inv, uint32_t packed) {
        uint32_t id = packed & ORIGIN_SOURCE_MASK;

        return id > 0 && id <= inv->origins.n_sources ? inv->origins.sources[id - 1] : NULL;
}

void origin_table_done(OriginTable *t) {
        free(t->blocks);
        for (size_t i = 0; i < t->n_sources; i++)
                free(t->sources[i]);
        free(t->sources);
        *t = (OriginTable) {};
}
