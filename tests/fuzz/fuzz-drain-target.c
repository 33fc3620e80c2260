/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness: a drain target (the Drain method's argument, memhpctl's command line) through
 * drain_target_parse(). */
#include "drain.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size), err[256] = "";
        DrainTarget t = { .first = 7, .last = 3 };
        int r;

        r = drain_target_parse(text, &t, err, sizeof(err));
        fuzz_require(r == 0 || r == -EINVAL);
        if (r < 0) {
                fuzz_require(err[0] && t.first == 7 && t.last == 3); /* a reason; the target untouched */
        } else {
                fuzz_require(strlen(text) < 64 && t.kind < _DRAIN_TARGET_KIND_MAX);
                if (t.kind == DRAIN_TARGET_BLOCKS)
                        fuzz_require(t.first <= t.last && t.last - t.first < DRAIN_BLOCKS_MAX);
                if (t.kind == DRAIN_TARGET_ACPI || t.kind == DRAIN_TARGET_DAX)
                        fuzz_require(strcmp(t.name, text) == 0 && !strchr(t.name, '/'));
                if (t.kind == DRAIN_TARGET_NODE)
                        fuzz_require(t.first < 1024);
        }
        free(text);
        return 0;
}
