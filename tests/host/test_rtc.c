/* test_rtc.c: host unit tests for the pure part of kernel/arch/x86_64/rtc.c: rtc_to_unix
 * (civil date to Unix seconds, Gregorian leap rules), the BCD decoder and rtc_decode
 * (MC146818 status register B: BCD/binary, 12/24-hour, century register). */
#include "host_stubs.h"
#include "../../kernel/arch/x86_64/rtc.c"

static struct rtc_time date(int y, int mo, int d, int h, int mi, int s) {
    struct rtc_time t = {y, mo, d, h, mi, s};
    return t;
}

static int64_t to_unix(int y, int mo, int d, int h, int mi, int s) {
    struct rtc_time t = date(y, mo, d, h, mi, s);
    return rtc_to_unix(&t);
}

static void test_epoch(void **state) {
    assert_int_equal(to_unix(1970, 1, 1, 0, 0, 0), 0);
    assert_int_equal(to_unix(1970, 1, 1, 0, 0, 1), 1);
    assert_int_equal(to_unix(1970, 1, 2, 0, 0, 0), 86400);
}

static void test_known_dates(void **state) {
    assert_int_equal(to_unix(1972, 2, 29, 0, 0, 0), 68169600);
    assert_int_equal(to_unix(1999, 12, 31, 23, 59, 59), 946684799);
    assert_int_equal(to_unix(2000, 2, 29, 12, 34, 56), 951827696);
    assert_int_equal(to_unix(2000, 3, 1, 0, 0, 0), 951868800);
    assert_int_equal(to_unix(2024, 12, 31, 23, 59, 59), 1735689599);
}

static void test_2038_and_beyond(void **state) {
    /* One second past the signed 32-bit limit, and far beyond. */
    assert_int_equal(to_unix(2038, 1, 19, 3, 14, 8), 2147483648ll);
    assert_int_equal(to_unix(2100, 3, 1, 0, 0, 0), 4107542400ll);
    assert_int_equal(to_unix(9999, 12, 31, 23, 59, 59), 253402300799ll);
}

static void test_leap_rules(void **state) {
    assert_true(to_unix(2000, 2, 29, 0, 0, 0) > 0);  /* divisible by 400: leap */
    assert_true(to_unix(2024, 2, 29, 0, 0, 0) > 0);  /* divisible by 4: leap */
    assert_int_equal(to_unix(2100, 2, 29, 0, 0, 0), -1); /* divisible by 100: not leap */
    assert_int_equal(to_unix(2023, 2, 29, 0, 0, 0), -1);
    /* The day after Feb 28 is Mar 1 in a common year, Feb 29 in a leap year. */
    assert_int_equal(to_unix(2100, 3, 1, 0, 0, 0) - to_unix(2100, 2, 28, 0, 0, 0), 86400);
    assert_int_equal(to_unix(2000, 3, 1, 0, 0, 0) - to_unix(2000, 2, 28, 0, 0, 0), 2 * 86400);
}

static void test_invalid_dates(void **state) {
    assert_int_equal(to_unix(2024, 13, 1, 0, 0, 0), -1);
    assert_int_equal(to_unix(2024, 0, 1, 0, 0, 0), -1);
    assert_int_equal(to_unix(2024, 1, 0, 0, 0, 0), -1);
    assert_int_equal(to_unix(2024, 4, 31, 0, 0, 0), -1);
    assert_int_equal(to_unix(2024, 1, 32, 0, 0, 0), -1);
    assert_int_equal(to_unix(2024, 1, 1, 24, 0, 0), -1);
    assert_int_equal(to_unix(2024, 1, 1, -1, 0, 0), -1);
    assert_int_equal(to_unix(2024, 1, 1, 0, 60, 0), -1);
    assert_int_equal(to_unix(2024, 1, 1, 0, 0, 60), -1);
    assert_int_equal(to_unix(2024, 1, 1, 0, 0, -1), -1);
    assert_int_equal(to_unix(1969, 12, 31, 23, 59, 59), -1);
    assert_int_equal(to_unix(10000, 1, 1, 0, 0, 0), -1);
    assert_int_equal(to_unix(-2147483647 - 1, 1, 1, 0, 0, 0), -1);
    assert_int_equal(to_unix(2024, -2147483647 - 1, 1, 0, 0, 0), -1);
    assert_int_equal(rtc_to_unix(NULL), -1);
}

/* Walks every day from 1970-01-01 to 2400-12-31 with a leap rule written here independently:
 * consecutive days are exactly 86400 s apart, and the walk ends on the value Python's
 * calendar.timegm gives for 2400-12-31 13:07:42. */
static void test_every_day_consecutive(void **state) {
    static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t previous = 13 * 3600 + 7 * 60 + 42 - 86400; /* 1969-12-31 13:07:42 */
    for (int y = 1970; y <= 2400; y++) {
        bool leap = (y % 400 == 0) || (y % 4 == 0 && y % 100 != 0);
        for (int m = 1; m <= 12; m++) {
            int last = month_days[m - 1] + (m == 2 && leap);
            for (int d = 1; d <= last; d++) {
                int64_t ours = to_unix(y, m, d, 13, 7, 42);
                assert_int_equal(ours - previous, 86400);
                previous = ours;
            }
            assert_int_equal(to_unix(y, m, last + 1, 0, 0, 0), -1);
        }
    }
    assert_int_equal(previous, 13601048862ll);
    assert_int_equal(to_unix(2200, 1, 1, 0, 0, 0), 7258118400ll);
    assert_int_equal(to_unix(2400, 2, 29, 0, 0, 0), 13574563200ll);
}

static void test_bcd(void **state) {
    assert_int_equal(rtc_bcd_to_binary(0x00), 0);
    assert_int_equal(rtc_bcd_to_binary(0x09), 9);
    assert_int_equal(rtc_bcd_to_binary(0x10), 10);
    assert_int_equal(rtc_bcd_to_binary(0x59), 59);
    assert_int_equal(rtc_bcd_to_binary(0x99), 99);
    assert_int_equal(rtc_bcd_to_binary(0x0a), -1);
    assert_int_equal(rtc_bcd_to_binary(0xa0), -1);
    assert_int_equal(rtc_bcd_to_binary(0xff), -1);
    /* Every byte: valid exactly when both nibbles are digits, and then the value matches. */
    for (int b = 0; b < 256; b++) {
        int expect = ((b >> 4) <= 9 && (b & 15) <= 9) ? (b >> 4) * 10 + (b & 15) : -1;
        assert_int_equal(rtc_bcd_to_binary((uint8_t)b), expect);
    }
}

static void test_decode_bcd_24h(void **state) {
    struct rtc_raw raw = {.second = 0x56, .minute = 0x34, .hour = 0x23, .day = 0x29, .month = 0x02,
                          .year = 0x24, .status_b = 0x02};
    struct rtc_time t;
    assert_int_equal(rtc_decode(&raw, &t), 0);
    assert_int_equal(t.year, 2024);
    assert_int_equal(t.month, 2);
    assert_int_equal(t.day, 29);
    assert_int_equal(t.hour, 23);
    assert_int_equal(t.minute, 34);
    assert_int_equal(t.second, 56);
}

static void test_decode_binary_12h(void **state) {
    struct rtc_raw raw = {.second = 5, .minute = 59, .hour = 0x80 | 12, .day = 31, .month = 12,
                          .year = 99, .status_b = 0x04};
    struct rtc_time t;
    assert_int_equal(rtc_decode(&raw, &t), 0);
    assert_int_equal(t.hour, 12); /* 12 PM is noon */
    assert_int_equal(t.year, 2099);
    raw.hour = 12; /* 12 AM is midnight */
    assert_int_equal(rtc_decode(&raw, &t), 0);
    assert_int_equal(t.hour, 0);
    raw.hour = 0x80 | 1; /* 1 PM */
    assert_int_equal(rtc_decode(&raw, &t), 0);
    assert_int_equal(t.hour, 13);
    raw.hour = 11; /* 11 AM */
    assert_int_equal(rtc_decode(&raw, &t), 0);
    assert_int_equal(t.hour, 11);
    raw.status_b = 0x00; /* BCD 12-hour: 11 PM is 0x11 with the PM bit */
    raw.hour = 0x80 | 0x11; raw.second = 0x05; raw.minute = 0x59; raw.day = 0x31;
    raw.month = 0x12; raw.year = 0x99;
    assert_int_equal(rtc_decode(&raw, &t), 0);
    assert_int_equal(t.hour, 23);
}

static void test_decode_century(void **state) {
    struct rtc_raw raw = {.second = 0, .minute = 0, .hour = 0, .day = 1, .month = 1, .year = 0x00,
                          .century = 0x21, .has_century = true, .status_b = 0x02};
    struct rtc_time t;
    assert_int_equal(rtc_decode(&raw, &t), 0);
    assert_int_equal(t.year, 2100);
    raw.century = 0x20;
    raw.year = 0x38;
    assert_int_equal(rtc_decode(&raw, &t), 0);
    assert_int_equal(t.year, 2038);
    raw.century = 0x1a; /* not BCD */
    assert_int_equal(rtc_decode(&raw, &t), -KEIO);
}

static void test_decode_rejects_garbage(void **state) {
    struct rtc_raw good = {.second = 0x00, .minute = 0x00, .hour = 0x00, .day = 0x01,
                           .month = 0x01, .year = 0x24, .status_b = 0x02};
    struct rtc_time t;
    struct rtc_raw r;
    r = good; r.month = 0x13; assert_int_equal(rtc_decode(&r, &t), -KEIO);
    r = good; r.month = 0x00; assert_int_equal(rtc_decode(&r, &t), -KEIO);
    r = good; r.day = 0x00; assert_int_equal(rtc_decode(&r, &t), -KEIO);
    r = good; r.month = 0x02; r.day = 0x30; assert_int_equal(rtc_decode(&r, &t), -KEIO);
    r = good; r.month = 0x02; r.day = 0x29; r.year = 0x23; assert_int_equal(rtc_decode(&r, &t), -KEIO);
    r = good; r.hour = 0x24; assert_int_equal(rtc_decode(&r, &t), -KEIO);
    r = good; r.minute = 0x60; assert_int_equal(rtc_decode(&r, &t), -KEIO);
    r = good; r.second = 0x5a; assert_int_equal(rtc_decode(&r, &t), -KEIO);
    r = good; r.year = 0xff; assert_int_equal(rtc_decode(&r, &t), -KEIO);
    r = good; r.status_b = 0x00; r.hour = 0x00; assert_int_equal(rtc_decode(&r, &t), -KEIO); /* 12h: 0 */
    r = good; r.status_b = 0x00; r.hour = 0x13; assert_int_equal(rtc_decode(&r, &t), -KEIO); /* 12h: 13 */
    r = good; r.status_b = 0x06; r.hour = 24; assert_int_equal(rtc_decode(&r, &t), -KEIO);
    r = good; r.status_b = 0x06; r.year = 100; assert_int_equal(rtc_decode(&r, &t), -KEIO);
    /* All 0xFF (a missing or unpowered RTC) is rejected in both formats. */
    memset(&r, 0xff, sizeof(r));
    r.has_century = false;
    r.status_b = 0x02; assert_int_equal(rtc_decode(&r, &t), -KEIO);
    r.status_b = 0x06; assert_int_equal(rtc_decode(&r, &t), -KEIO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epoch),
        cmocka_unit_test(test_known_dates),
        cmocka_unit_test(test_2038_and_beyond),
        cmocka_unit_test(test_leap_rules),
        cmocka_unit_test(test_invalid_dates),
        cmocka_unit_test(test_every_day_consecutive),
        cmocka_unit_test(test_bcd),
        cmocka_unit_test(test_decode_bcd_24h),
        cmocka_unit_test(test_decode_binary_12h),
        cmocka_unit_test(test_decode_century),
        cmocka_unit_test(test_decode_rejects_garbage),
    };
    return cmocka_run_group_tests(tests, 0, 0);
}
