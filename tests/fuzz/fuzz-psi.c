/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness: /proc/pressure/memory text through pressure_psi_parse() and a node's distance row
 * through pressure_distance_parse() (the two kernel texts pressure.c reads). */
#include <errno.h>

#include "fuzz.h"
#include "inventory.h"
#include "pressure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint16_t online[4] = { 0, 1, 3, 7 };
        char *text = fuzz_text(data, size);
        PsiFigures f = { .avg10 = 77777 };
        uint16_t row[8];
        int r;

        r = pressure_psi_parse(text, &f);
        fuzz_require(r == 0 || r == -EBADMSG);
        if (r == 0)
                fuzz_require(f.avg10 <= 10000 && f.avg60 <= 10000 && f.avg300 <= 10000);
        else
                fuzz_require(f.avg10 == 77777); /* untouched */

        for (size_t i = 0; i < 8; i++)
                row[i] = PRESSURE_DISTANCE_UNKNOWN;
        r = pressure_distance_parse(text, online, 4, row);
        fuzz_require(r == 0 || r == -EBADMSG);
        for (size_t i = 0; i < 8; i++) {
                bool listed = i == 0 || i == 1 || i == 3 || i == 7;
                if (r < 0 || !listed)
                        fuzz_require(row[i] == PRESSURE_DISTANCE_UNKNOWN);
                else
                        fuzz_require(row[i] <= 255);
        }
        free(text);
        return 0;
}
