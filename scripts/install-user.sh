#!/usr/bin/env bash
# install-user.sh IMAGE USERDIR: copies the user programs and configuration built under USERDIR
# (bin/, sbin/, etc/) onto the FAT32 root image with mtools, replacing older copies.
set -euo pipefail
img=$1 dir=$2
export MTOOLS_SKIP_CHECK=1
for sub in bin sbin etc; do
    [ -d "$dir/$sub" ] || continue
    mmd -i "$img" "::/$sub" 2>/dev/null || true
    shopt -s nullglob
    files=("$dir/$sub"/*)
    shopt -u nullglob
    [ ${#files[@]} -gt 0 ] && mcopy -o -i "$img" "${files[@]}" "::/$sub/"
done
exit 0
