/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What every libFuzzer harness in this directory shares: the input as a NUL-terminated string (the
 * parsers take text, as the file readers hand it to them) and a check that aborts, so that a broken
 * invariant is a crash the fuzzer reports and keeps, not a silent pass.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf-file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline char *fuzz_text(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1);

        if (!text)
                abort();
        memcpy(text, data, size);
        text[size] = '\0';
        return text;
}

#define fuzz_require(cond)                                                                         \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

/* What every config parser promises about its errors: clean exactly when none was reported (r is 0
 * or -EINVAL), each names the file, none holds a raw control character, and the list is capped. */
static inline void fuzz_check_conf_errors(int r, const ConfErrors *e, const char *path) {
        fuzz_require(r == 0 || r == -EINVAL);
        fuzz_require((r == 0) == (e->n_total == 0));
        fuzz_require(e->n <= e->n_total && e->n <= CONF_ERRORS_PER_FILE_MAX + 1);
        for (size_t i = 0; i < e->n; i++) {
                fuzz_require(strncmp(e->items[i].text, path, strlen(path)) == 0 && e->items[i].text[strlen(path)] == ':');
                for (const char *c = e->items[i].text; *c; c++)
                        fuzz_require((unsigned char) *c >= 0x20 && *c != 0x7f);
        }
}
