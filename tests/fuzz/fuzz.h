/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What every libFuzzer harness in this directory shares: the input as a NUL-terminated string (the
 * parsers take text, as the file readers hand it to them) and a check that aborts, so that a broken
 * invariant is a crash the fuzzer reports and keeps, not a silent pass.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
