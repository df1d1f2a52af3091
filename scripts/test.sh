#!/usr/bin/env bash
# test.sh [host|kernel|boot|shell]...: the three test layers of `make test`.
#   host:   host unit tests (cmocka + ASan/UBSan), scripts/host-tests.sh
#   kernel: the kernel self-tests, booted in QEMU with `selftest` on the command line
#   boot:   boot-configuration tests (CPU count, memory, no PS/2) and the shell over serial
# Every check prints "[PASS] name" or "[FAIL] name: reason"; the run ends with one line
# "N passed, N failed" over everything, and exits non-zero when anything failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=build/test
mkdir -p "$out"
results="$out/results.txt"
: > "$results"
layers=("$@")
[ ${#layers[@]} -eq 0 ] && layers=(host kernel boot)

report() { echo "$1" | tee -a "$results"; }
# Serial log without carriage returns and without the kernel's "[  seconds] " timestamps.
clean_log() { tr -d '\r' < "$1" | sed -E 's/^\[ *[0-9]+\.[0-9]+\] //'; }

run_host() {
    bash scripts/host-tests.sh | tee "$out/host.txt"
    grep -E '^\[(PASS|FAIL)\]' "$out/host.txt" >> "$results"
}

run_kernel() {
    local log="$out/kernel-selftest.log"
    echo "kernel: booting the selftest mode (log: $log)"
    bash scripts/qemu.sh --cmdline "selftest" --no-reboot --timeout 600 > "$log" 2>&1
    local rc=$?
    clean_log "$log" | grep -E '^\[(PASS|FAIL)\] ' | sed 's/^\[PASS\] /[PASS] kernel./; s/^\[FAIL\] /[FAIL] kernel./' | tee -a "$results"
    local summary
    summary=$(clean_log "$log" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
    if [ "$rc" = 33 ] && [ -n "$summary" ]; then
        report "[PASS] kernel.selftest_verdict"
    else
        report "[FAIL] kernel.selftest_verdict: QEMU exit status $rc (33 = all passed), summary '${summary}'"
        clean_log "$log" | tail -40 | sed 's/^/    /'
    fi
}

# boot_config NAME EXPECTED_CPUS EXPECTED_MEM_MIB KEYBOARD(ps2|none) -- launcher args
boot_config() {
    local name=$1 cpus=$2 mem_mib=$3 kbd=$4
    shift 5
    local log="$out/boot-$name.log"
    bash scripts/qemu.sh --cmdline "poweroff" --no-reboot --timeout 300 "$@" > "$log" 2>&1
    local rc=$?
    local clean
    clean=$(clean_log "$log")
    local why=""
    grep -q '^kernel ready in ' <<<"$clean" || why="never reached 'kernel ready'"
    local got_cpus got_mem
    got_cpus=$(sed -nE 's/^  cpus: ([0-9]+) .*/\1/p' <<<"$clean" | head -1)
    got_mem=$(sed -nE 's/^  memory: ([0-9]+) MiB installed.*/\1/p' <<<"$clean" | head -1)
    [ -z "$why" ] && [ "$got_cpus" != "$cpus" ] && why="reported ${got_cpus:-no} CPUs, expected $cpus"
    # Installed RAM as the firmware reports it: at least 90% of what QEMU was given, never more.
    if [ -z "$why" ]; then
        if [ -z "$got_mem" ] || [ "$got_mem" -gt "$mem_mib" ] || [ "$got_mem" -lt $((mem_mib * 9 / 10)) ]; then
            why="reported ${got_mem:-no} MiB, expected about $mem_mib MiB"
        fi
    fi
    if [ -z "$why" ]; then
        if [ "$kbd" = none ]; then
            grep -q '^  keyboard: none' <<<"$clean" || why="a PS/2 keyboard was reported on a machine without one"
            grep -q 'no PS/2 controller' <<<"$clean" || why="missing 'no PS/2 controller' message"
        else
            grep -q '^  keyboard: PS/2' <<<"$clean" || why="PS/2 keyboard not found"
        fi
    fi
    [ -z "$why" ] && [ "$rc" != 0 ] && why="QEMU exit status $rc after ACPI power-off (expected 0)"
    if [ -z "$why" ]; then
        report "[PASS] boot.$name"
    else
        report "[FAIL] boot.$name: $why"
        tail -30 <<<"$clean" | sed 's/^/    /'
    fi
}

run_boot() {
    boot_config smp1 1 512 ps2 -- --smp 1 &
    boot_config smp4 4 512 ps2 -- --smp 4
    wait
    boot_config mem128m 2 128 ps2 -- --mem 128M &
    boot_config mem2g 2 2048 ps2 -- --mem 2G
    wait
    boot_config no_ps2 2 512 none -- -- -machine q35,i8042=off &
    run_shell
    wait
}

# The shell over the serial console, driven by expect: prompt, help, lspci, an unknown
# command, then shutdown through ACPI S5.
run_shell() {
    local log="$out/shell.log"
    expect -f tests/integration/shell.exp > "$log" 2>&1
    local rc=$?
    if [ $rc = 0 ]; then
        report "[PASS] boot.shell_over_serial"
    else
        report "[FAIL] boot.shell_over_serial: expect exited with $rc ($(tail -1 "$log" | tr -d '\r'))"
        tr -d '\r' < "$log" | tail -20 | sed 's/^/    /'
    fi
}

for layer in "${layers[@]}"; do
    case "$layer" in
    host) run_host ;;
    kernel) run_kernel ;;
    boot) run_boot ;;
    shell) run_shell ;;
    *) echo "test.sh: unknown layer $layer" >&2; exit 2 ;;
    esac
done
passed=$(grep -c '^\[PASS\]' "$results")
failed=$(grep -c '^\[FAIL\]' "$results")
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
