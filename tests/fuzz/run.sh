#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fuzz memhpd's parsers with libFuzzer under ASan+UBSan, each harness for a bounded time.
#
# Builds the daemon's core library with clang in ./build-fuzz (the same meson sources as the daemon,
# with -fsanitize=fuzzer-no-link,address,undefined), links each tests/fuzz/fuzz-NAME.c against it and
# runs it from its seed corpus tests/fuzz/corpus/NAME/ (never written: new inputs go to
# build-fuzz/corpus/NAME/). A crash, leak, UB or broken invariant fails the run; its input is kept
# in build-fuzz/artifacts/ and becomes a unit test once fixed. See tests/README.md.
#
# Usage: tests/fuzz/run.sh [NAME...]    (default: every harness below)
# FUZZ_SECONDS: time per harness (default 15). Prints one line per harness and writes
# build-fuzz/fuzz-results.json (one {"name", "result", "runs"} per line) for .ci/run's summary.
set -uo pipefail
cd "$(dirname "$0")/../.."

# One line per harness: tests/fuzz/fuzz-NAME.c, seeds in tests/fuzz/corpus/NAME/, optional NAME.dict.
HARNESSES=(
        policy
        settings
        iomem
        zoneinfo
        uevent
        poison
        drain-target
        psi
)

B=build-fuzz
SECONDS_EACH=${FUZZ_SECONDS:-15}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
[ $# -gt 0 ] && HARNESSES=("$@")

if ! command -v clang >/dev/null; then
        echo "fuzz: clang is not installed (.ci/setup installs clang and libclang-rt-14-dev)" >&2
        exit 1
fi

if [ ! -f $B/build.ninja ]; then
        CC=clang meson setup $B --buildtype=debugoptimized -Dtests=false -Dman=disabled -Dwerror=false \
                -Db_sanitize=address,undefined -Db_lundef=false \
                -Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined" >/dev/null || exit 1
fi
meson compile -C $B memhpd-core >/dev/null || { echo "fuzz: building the core library failed" >&2; exit 1; }
# shellcheck disable=SC2046
libs=$(pkg-config --libs libsystemd libudev inih)

mkdir -p $B/artifacts
: >$B/fuzz-results.json
failed=0
for name in "${HARNESSES[@]}"; do
        exe=$B/fuzz-$name
        log=$B/fuzz-$name.log
        dict=()
        [ -f tests/fuzz/$name.dict ] && dict=(-dict=tests/fuzz/$name.dict)
        result=OK
        runs=0

        # shellcheck disable=SC2086
        if ! clang -g -O1 -fsanitize=fuzzer $SAN -Wall -Wextra -Werror -D_GNU_SOURCE -I daemon -I $B \
                tests/fuzz/fuzz-$name.c $B/daemon/libmemhpd-core.a $libs -o "$exe"; then
                echo "fuzz: $name: does not build"
                result=FAIL
        else
                mkdir -p $B/corpus/$name
                ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
                        "$exe" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
                        -print_final_stats=1 -artifact_prefix=$B/artifacts/$name- "${dict[@]}" \
                        $B/corpus/$name tests/fuzz/corpus/$name >"$log" 2>&1
                rc=$?
                runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
                runs=${runs:-0}
                if [ $rc -ne 0 ]; then
                        result=FAIL
                        echo "fuzz: $name: FAILED after $runs runs (exit $rc); the log is $log:"
                        grep -E "ERROR|runtime error|invariant broken|Test unit written" "$log" | head -5 | sed 's/^/    /'
                else
                        echo "fuzz: $name: $runs runs in ${SECONDS_EACH}s, clean"
                fi
        fi
        [ $result = OK ] || failed=1
        printf '{"name": "fuzz-%s", "result": "%s", "runs": %s}\n' "$name" "$result" "$runs" >>$B/fuzz-results.json
done
exit $failed
