#!/usr/bin/env bash
# hellostd_host.sh: runs the musl-static hellostd (build/user/bin/hellostd, `make user`) on the
# host Linux, twice: by its path, and by name through PATH (the child-path lookup), each with
# standard error merged into standard output, and compares both with
# tests/integration/hellostd.expected -- the same file the guest run is compared with.
# Prints "[PASS] integration.hellostd_host" or "[FAIL] integration.hellostd_host: reason" (with
# the difference), and exits 0 or 1.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/build/user/bin/hellostd"
expected="$root/tests/integration/hellostd.expected"
name=integration.hellostd_host
if [ ! -x "$bin" ]; then
    echo "[FAIL] $name: $bin missing (run make user)"
    exit 1
fi
scratch=$(mktemp -d /tmp/hellostd-host.XXXXXX) || { echo "[FAIL] $name: mktemp"; exit 1; }
trap 'rm -rf "$scratch"' EXIT
why=""
# By path; the scratch TMPDIR must be empty afterwards (the program removes its files).
out1=$(cd "$scratch" && TMPDIR="$scratch" timeout 60 "$bin" 2>&1)
rc1=$?
# By name, found through PATH.
out2=$(cd "$scratch" && TMPDIR="$scratch" PATH="$(dirname "$bin"):/usr/bin:/bin" timeout 60 hellostd 2>&1)
rc2=$?
if [ "$rc1" != 0 ]; then why="exit status $rc1 when run by path"
elif [ "$rc2" != 0 ]; then why="exit status $rc2 when run through PATH"
elif ! diff -u "$expected" <(printf '%s\n' "$out1") > "$scratch/diff1"; then why="output differs (run by path)"
elif ! diff -u "$expected" <(printf '%s\n' "$out2") > "$scratch/diff2"; then why="output differs (run through PATH)"
elif [ -n "$(ls -A "$scratch" | grep -v '^diff')" ]; then why="left files behind: $(ls -A "$scratch" | tr '\n' ' ')"
fi
if [ -z "$why" ]; then
    echo "[PASS] $name"
    exit 0
fi
echo "[FAIL] $name: $why"
cat "$scratch"/diff* 2>/dev/null | head -40 | sed 's/^/    /'
exit 1
