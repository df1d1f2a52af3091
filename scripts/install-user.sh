#!/usr/bin/env bash
# install-user.sh IMAGE USERDIR: copies the user programs and configuration built under USERDIR
# (bin/, sbin/, etc/) onto the FAT32 root image with mtools, replacing older copies, and www/
# with its subdirectories as /www (httpd's document root).
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
if [ -d "$dir/www" ]; then
    mmd -i "$img" ::/www 2>/dev/null || true
    mdeltree -i "$img" ::/www/test 2>/dev/null || true # mcopy -s does not replace a directory
    mcopy -s -o -i "$img" "$dir/www"/* ::/www/
fi
exit 0
