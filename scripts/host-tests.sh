#!/usr/bin/env bash
# host-tests.sh: builds every tests/host/test_*.c with cmocka, AddressSanitizer and
# UndefinedBehaviorSanitizer, runs them, and prints one "[PASS] host.X" / "[FAIL] host.X" line
# per cmocka test. A test program that fails to build or crashes counts as a failure.
# Usage: host-tests.sh [NAME_FILTER]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=build/host
mkdir -p "$OUT"
CFLAGS="-std=gnu17 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-unused-function
 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
 -Ikernel/include -Itests/host -DHOST_TEST"
filter="${1:-}"
for src in tests/host/test_*.c; do
    name=$(basename "$src" .c)
    [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
    bin="$OUT/$name"
    if ! gcc $CFLAGS "$src" -o "$bin" -lcmocka >"$OUT/$name.build.log" 2>&1; then
        echo "[FAIL] host.$name: build failed"
        sed 's/^/    /' "$OUT/$name.build.log" | head -30
        continue
    fi
    log="$OUT/$name.log"
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 timeout 120 "$bin" >"$log" 2>&1
    rc=$?
    # cmocka prints "[       OK ] name" and "[  FAILED  ] name" per test.
    ok=$(grep -E '^\[       OK \] ' "$log" | sed -E 's/^\[       OK \] //')
    bad=$(grep -E '^\[  FAILED  \] ' "$log" | grep -v ' test(s)' | sed -E 's/^\[  FAILED  \] //')
    for t in $ok; do echo "[PASS] host.$name.$t"; done
    for t in $bad; do echo "[FAIL] host.$name.$t"; done
    if [ $rc -ne 0 ] && [ -z "$bad" ]; then
        echo "[FAIL] host.$name: exited with $rc"
    fi
    if [ $rc -ne 0 ]; then sed 's/^/    /' "$log" | grep -v '^\s*\[ *\(OK\|RUN\) *\]' | head -40; fi
done
