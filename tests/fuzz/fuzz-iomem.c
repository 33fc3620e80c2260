/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness: /proc/iomem text through iomem_parse() and iomem_lookup(). */
#include <errno.h>

#include "fuzz.h"
#include "procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size);
        IomemRange *ranges = (IomemRange *) 0x1;
        size_t n = 77;
        int r;

        r = iomem_parse(text, &ranges, &n);
        fuzz_require(r == 0 || r == -EBADMSG);
        if (r < 0) {
                /* Not written on failure. */
                fuzz_require(ranges == (IomemRange *) 0x1 && n == 77);
        } else {
                fuzz_require(n > 0);
                for (size_t i = 0; i < n; i++) {
                        const IomemRange *x;

                        fuzz_require(ranges[i].start <= ranges[i].end);
                        x = iomem_lookup(ranges, n, ranges[i].start);
                        fuzz_require(x && x->start <= ranges[i].start && ranges[i].start <= x->end);
                        x = iomem_lookup(ranges, n, ranges[i].end);
                        fuzz_require(x && x->start <= ranges[i].end && ranges[i].end <= x->end);
                }
                free(ranges);
        }
        free(text);
        return 0;
}
