/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness: the untrusted text of poison and quarantine. The input goes through
 * quarantine_parse() (the file under /var/lib/memhpd), quarantine_target_parse() (memhpctl quarantine
 * clear TARGET), mf_format_parse() (a tracefs format file) and, line by line, mf_trace_line_parse()
 * (trace_pipe). Invariants: a clean quarantine formats and parses back to the same entries; damage is
 * reported, never silently dropped; outputs untouched on failure. */
#include "fuzz.h"
#include "poison-parse.h"
#include "quarantine.h"

static void quarantine(const uint8_t *data, size_t size) {
        Quarantine q = {}, back = {};
        char *text;

        fuzz_require(quarantine_parse((const char *) data, size, &q) == 0);
        fuzz_require(q.n <= QUARANTINE_ENTRIES_MAX);
        fuzz_require((q.bad_lines == 0) == (q.first_bad_line == 0));
        fuzz_require(q.bad_lines == 0 || q.damage[0]);
        for (size_t i = 0; i < q.n; i++) {
                fuzz_require(q.entries[i].start <= q.entries[i].end);
                fuzz_require(i == 0 || q.entries[i - 1].start <= q.entries[i].start);
                /* every range read is quarantined */
                fuzz_require(quarantine_contains(&q, q.entries[i].start, 1));
                fuzz_require(quarantine_contains(&q, q.entries[i].end, 1));
        }
        fuzz_require(quarantine_format(&q, &text) == 0);
        fuzz_require(quarantine_parse(text, strlen(text), &back) == 0);
        fuzz_require(back.bad_lines == 0);
        fuzz_require(back.unbounded == q.unbounded);
        fuzz_require(back.n == q.n);
        for (size_t i = 0; i < q.n; i++)
                fuzz_require(back.entries[i].start == q.entries[i].start && back.entries[i].end == q.entries[i].end &&
                             back.entries[i].reason == q.entries[i].reason && back.entries[i].pages == q.entries[i].pages);
        free(text);
        quarantine_done(&back);
        quarantine_done(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const MfFormat none;
        char *text = fuzz_text(data, size);
        MfFormat f = { .id = 77 };
        int r;

        quarantine(data, size);

        /* the input as an administrator's TARGET (memhpctl quarantine clear) */
        {
                QuarantineTarget t = { .start = 5, .end = 4 };
                r = quarantine_target_parse(text, UINT64_C(128) << 20, &t);
                fuzz_require(r == 0 || r == -EINVAL);
                if (r < 0)
                        fuzz_require(t.start == 5 && t.end == 4);
                else
                        fuzz_require(t.by_id ? t.id[0] != '\0' : t.start <= t.end);
        }

        r = mf_format_parse(text, &f);
        fuzz_require(r == 0 || r == -EBADMSG);
        if (r < 0)
                fuzz_require(f.id == 77);
        else
                fuzz_require(f.n_types <= MF_SYMBOLS_MAX && f.n_results <= MF_SYMBOLS_MAX);

        for (const uint8_t *p = data, *end = data + size; p < end;) {
                const uint8_t *nl = memchr(p, '\n', end - p);
                size_t len = (nl ?: end) - p;
                MemoryFailure mf = { .pfn = 42, .type_value = 9 };

                r = mf_trace_line_parse((const char *) p, len, r == 0 ? &f : &none, &mf);
                fuzz_require(r == MF_LINE_EVENT || r == MF_LINE_LOST || r == MF_LINE_OTHER || r == -EBADMSG);
                if (r != MF_LINE_EVENT)
                        fuzz_require(mf.pfn == 42 && mf.type_value == 9);
                else
                        fuzz_require(strlen(mf.type) < MF_NAME_MAX && strlen(mf.result) < MF_NAME_MAX);
                p += len + 1;
        }
        free(text);
        return 0;
}
