/* test_sys_poll.c: host unit tests for the pure helpers of kernel/proc/sys_poll.c: poll's
 * millisecond timeout (negative = no deadline), timespec/timeval validation (negative or
 * unnormalised values are EINVAL, huge ones saturate instead of wrapping), fd_set sizes in
 * whole 64-bit words and bit access, the poll bits each select set stands for, and the
 * POLLRDNORM/POLLWRNORM twins. Semantics per the Linux man-pages poll(2) and select(2). */
#include "host_stubs.h"
#include "../../kernel/proc/sys_poll.c"

#include <string.h>

static void test_poll_ms(void **state) {
    (void)state;
    assert_true(sys_poll_ms_to_ns(-1) == POLL_NO_DEADLINE);
    assert_true(sys_poll_ms_to_ns(INT32_MIN) == POLL_NO_DEADLINE);
    assert_int_equal(sys_poll_ms_to_ns(0), 0);
    assert_int_equal(sys_poll_ms_to_ns(1), 1000000);
    assert_int_equal(sys_poll_ms_to_ns(INT32_MAX), (uint64_t)INT32_MAX * 1000000);
}

static void test_time_conversion(void **state) {
    (void)state;
    uint64_t ns = 123;
    assert_int_equal(sys_time_to_ns(0, 0, 1, &ns), 0);
    assert_int_equal(ns, 0);
    assert_int_equal(sys_time_to_ns(2, 5, 1, &ns), 0);
    assert_int_equal(ns, 2000000005ull);
    assert_int_equal(sys_time_to_ns(1, 999999, 1000, &ns), 0); /* timeval */
    assert_int_equal(ns, 1999999000ull);
    ns = 77;
    assert_int_equal(sys_time_to_ns(-1, 0, 1, &ns), -KEINVAL);
    assert_int_equal(sys_time_to_ns(0, -1, 1, &ns), -KEINVAL);
    assert_int_equal(sys_time_to_ns(0, 1000000000, 1, &ns), -KEINVAL);
    assert_int_equal(sys_time_to_ns(0, 1000000, 1000, &ns), -KEINVAL);
    assert_int_equal(sys_time_to_ns(INT64_MIN, 0, 1, &ns), -KEINVAL);
    assert_int_equal(ns, 77); /* untouched on error */
    assert_int_equal(sys_time_to_ns(INT64_MAX, 999999999, 1, &ns), 0);
    assert_true(ns == POLL_NO_DEADLINE - 1); /* saturates, never "no deadline" or a wrap */
    assert_int_equal(sys_time_to_ns(18446744073LL, 709551615, 1, &ns), 0);
    assert_true(ns == POLL_NO_DEADLINE - 1);
}

static void test_fdset(void **state) {
    (void)state;
    assert_int_equal(sys_fdset_bytes(-5), 0);
    assert_int_equal(sys_fdset_bytes(0), 0);
    assert_int_equal(sys_fdset_bytes(1), 8);
    assert_int_equal(sys_fdset_bytes(64), 8);
    assert_int_equal(sys_fdset_bytes(65), 16);
    assert_int_equal(sys_fdset_bytes(1024), 128);
    uint64_t set[4];
    memset(set, 0, sizeof(set));
    for (int fd = 0; fd < 256; fd += 3) sys_fdset_set(set, fd);
    for (int fd = 0; fd < 256; fd++) assert_int_equal(sys_fdset_test(set, fd), fd % 3 == 0);
    assert_false(sys_fdset_test(NULL, 5));
    memset(set, 0, sizeof(set));
    sys_fdset_set(set, 63);
    sys_fdset_set(set, 64);
    assert_true(set[0] == 1ull << 63 && set[1] == 1);
}

static void test_select_events(void **state) {
    (void)state;
    assert_int_equal(sys_select_events(false, false, false), 0);
    uint32_t in = sys_select_events(true, false, false), out = sys_select_events(false, true, false);
    uint32_t ex = sys_select_events(false, false, true);
    /* a hang-up or error makes a descriptor readable; an error makes it writable */
    assert_true(in & VFS_POLLIN && in & VFS_POLLHUP && in & VFS_POLLERR && !(in & VFS_POLLOUT));
    assert_true(out & VFS_POLLOUT && out & VFS_POLLERR && !(out & VFS_POLLHUP) && !(out & VFS_POLLIN));
    assert_int_equal(ex, VFS_POLLPRI);
    assert_int_equal(sys_poll_norm(VFS_POLLIN), VFS_POLLIN | POLLRDNORM);
    assert_int_equal(sys_poll_norm(VFS_POLLOUT | VFS_POLLERR), VFS_POLLOUT | POLLWRNORM | VFS_POLLERR);
    assert_int_equal(sys_poll_norm(VFS_POLLHUP), VFS_POLLHUP);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poll_ms),
        cmocka_unit_test(test_time_conversion),
        cmocka_unit_test(test_fdset),
        cmocka_unit_test(test_select_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
