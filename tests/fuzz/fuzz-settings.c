/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness: one memhpd.conf text through settings_parse(). */
#include "fuzz.h"
#include "settings.h"

#define PATH "/etc/memhpd/memhpd.conf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_text(data, size);
        ConfErrors e = {};
        Settings s;
        int r;

        settings_defaults(&s);
        r = settings_parse(PATH, text, &s, &e);
        fuzz_check_conf_errors(r, &e, PATH);
        if (r == 0) {
                /* What the key parsers promise the manager. */
                fuzz_require(s.event_source >= 0 && s.event_source < _SOURCE_MAX);
                fuzz_require(s.receive_buffer >= 4096 && s.receive_buffer <= (1ULL << 30));
                fuzz_require(s.settle_usec <= 60ULL * 1000 * 1000);
        }
        conf_errors_clear(&e);
        free(text);
        return 0;
}
