/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness: /proc/zoneinfo text through zoneinfo_parse(), with the daemon's NODES_MAX and
 * with a small node count (so that -ERANGE is reached too). */
#include <errno.h>

#include "fuzz.h"
#include "inventory.h"
#include "procfs.h"

static void one(const char *text, size_t n_nodes) {
        static uint64_t kernel[NODES_MAX], movable[NODES_MAX];
        int r;

        for (size_t i = 0; i < n_nodes; i++)
                kernel[i] = movable[i] = UINT64_MAX;
        r = zoneinfo_parse(text, kernel, movable, n_nodes);
        fuzz_require(r == 0 || r == -EBADMSG || r == -ERANGE);
        for (size_t i = 0; i < n_nodes; i++)
                if (r < 0)
                        fuzz_require(kernel[i] == UINT64_MAX && movable[i] == UINT64_MAX); /* untouched */
                else
                        fuzz_require(kernel[i] <= ZONEINFO_PAGES_MAX && movable[i] <= ZONEINFO_PAGES_MAX);
}

/* The same text through zoneinfo_parse_nodes(): the same verdict, the same present counts, sums within
 * bounds, the kernel room (protection tuples) within the kernel zones' free pages. */
static void nodes(const char *text, size_t n_nodes) {
        static ZoneinfoNode n[NODES_MAX];
        static uint64_t kernel[NODES_MAX], movable[NODES_MAX];
        int r, r2;

        for (size_t i = 0; i < n_nodes; i++)
                n[i].kernel_free = UINT64_MAX;
        r = zoneinfo_parse_nodes(text, n, n_nodes);
        r2 = zoneinfo_parse(text, kernel, movable, n_nodes);
        fuzz_require(r == r2);
        for (size_t i = 0; i < n_nodes; i++)
                if (r < 0)
                        fuzz_require(n[i].kernel_free == UINT64_MAX); /* untouched */
                else {
                        fuzz_require(n[i].kernel_present == kernel[i] && n[i].movable_present == movable[i]);
                        fuzz_require(n[i].kernel_free <= ZONEINFO_PAGES_MAX && n[i].kernel_high <= ZONEINFO_PAGES_MAX);
                        fuzz_require(n[i].movable_free <= ZONEINFO_PAGES_MAX);
                        /* The room is free pages above a reserve, of kernel zones only. */
                        fuzz_require(n[i].kernel_room <= n[i].kernel_free);
                }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size);

        one(text, NODES_MAX);
        one(text, 2);
        nodes(text, 2);
        free(text);
        return 0;
}
