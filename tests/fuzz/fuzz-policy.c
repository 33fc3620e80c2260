/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness: one policy file's text through policy_parse(), and the result through
 * policy_decide(). */
#include "fuzz.h"
#include "policy.h"

#define PATH "/etc/memhpd/policies.d/50-fuzz.policy"

static void check_ranges(const RangeList *l) {
        fuzz_require(l->n <= POLICY_RANGES_MAX);
        for (size_t i = 0; i < l->n; i++)
                fuzz_require(l->items[i].start <= l->items[i].end);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size);
        ConfErrors e = {};
        Policy p = {};
        int r;

        r = policy_parse(PATH, text, &p, &e);
        fuzz_check_conf_errors(r, &e, PATH);

        if (r == 0) {
                PolicySet set = { .items = &p, .n = 1 };
                Decision d;

                check_ranges(&p.nodes);
                check_ranges(&p.blocks);
                check_ranges(&p.phys);
                fuzz_require(p.zone >= 0 && p.zone < _TARGET_MAX);
                fuzz_require(p.max_movable_ratio <= 100000);
                /* A block built from the input's first bytes, so that matching sees varied facts. */
                BlockFacts f = {
                        .index = size > 0 ? data[0] : 0,
                        .size = 128ULL << 20,
                        .device = size > 1 ? data[1] % _DEVICE_MAX : 0,
                        .node = size > 2 ? data[2] % 8 - 1 : -1,
                        .zones = { .kernel = size > 3 && (data[3] & 1), .movable = size > 3 && (data[3] & 2) },
                        .node_kernel_pages = size > 4 ? (uint64_t) data[4] << 20 : 0,
                        .node_movable_pages = size > 5 ? (uint64_t) data[5] << 20 : 0,
                        .block_pages = 32768,
                };
                f.start = (uint64_t) f.index * f.size;
                policy_decide(&set, &f, &d);
                fuzz_require(d.action >= 0 && d.action < _ACTION_MAX);
                fuzz_require(strlen(d.why) < sizeof(d.why));
                policy_done(&p);
        }
        conf_errors_clear(&e);
        free(text);
        return 0;
}
