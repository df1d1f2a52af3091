/* rtc.c: the CMOS real-time clock (wall-clock date and time).
 * Follows the Motorola MC146818 datasheet as wired in the PC: index port 0x70, data port
 * 0x71; registers 0x00 seconds, 0x02 minutes, 0x04 hours, 0x07 day of month, 0x08 month,
 * 0x09 year; status register A (0x0A) bit 7 UIP "update in progress"; status register B
 * (0x0B) bit 2 DM (1 = binary, 0 = BCD) and bit 1 24/12 (1 = 24-hour; in 12-hour mode bit 7
 * of the hours is PM). The century lives in the CMOS register the ACPI FADT CENTURY field
 * names (ACPI 6.5 5.2.9); without it the years are taken as 20xx.
 * The decoding (rtc_decode, rtc_bcd_to_binary) and rtc_to_unix are pure and host-tested. */
#include "time.h"
#include "cpu.h"
#include "kerrno.h"
#include "kstring.h"

#define CMOS_PORT_INDEX 0x70
#define CMOS_PORT_DATA 0x71
#define RTC_REG_SECONDS 0x00
#define RTC_REG_MINUTES 0x02
#define RTC_REG_HOURS 0x04
#define RTC_REG_DAY 0x07
#define RTC_REG_MONTH 0x08
#define RTC_REG_YEAR 0x09
#define RTC_REG_STATUS_A 0x0a
#define RTC_REG_STATUS_B 0x0b
#define RTC_STATUS_A_UIP 0x80
#define RTC_STATUS_B_24H 0x02
#define RTC_STATUS_B_BINARY 0x04
#define RTC_HOUR_PM 0x80
#define RTC_UIP_MAX_POLLS 200000  /* an update lasts at most ~2 ms */
#define RTC_READ_ATTEMPTS 8

static uint8_t rtc_century_register;

/* Two BCD digits to 0-99; -1 when a nibble is not a decimal digit. */
int rtc_bcd_to_binary(uint8_t bcd) {
    uint8_t high = bcd >> 4, low = bcd & 0x0f;
    if (high > 9 || low > 9)
        return -1;
    return high * 10 + low;
}

/* One field in the RTC's number format. */
static int rtc_decode_number(uint8_t raw, bool binary) {
    return binary ? raw : rtc_bcd_to_binary(raw);
}

static bool is_leap_year(int64_t year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int64_t year, int month) {
    static const uint8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

/* Decodes BCD/binary and 12/24-hour fields into *out; 0, or -KEIO for an impossible value. */
int rtc_decode(const struct rtc_raw *raw, struct rtc_time *out) {
    bool binary = (raw->status_b & RTC_STATUS_B_BINARY) != 0;
    bool hours24 = (raw->status_b & RTC_STATUS_B_24H) != 0;
    int second = rtc_decode_number(raw->second, binary);
    int minute = rtc_decode_number(raw->minute, binary);
    int day = rtc_decode_number(raw->day, binary);
    int month = rtc_decode_number(raw->month, binary);
    int year = rtc_decode_number(raw->year, binary);
    int hour;
    if (hours24) {
        hour = rtc_decode_number(raw->hour, binary);
    } else {
        /* 12-hour clock: 12 AM is midnight (0), 12 PM is noon (12). */
        hour = rtc_decode_number(raw->hour & (uint8_t)~RTC_HOUR_PM, binary);
        if (hour < 1 || hour > 12)
            return -KEIO;
        hour %= 12;
        if (raw->hour & RTC_HOUR_PM)
            hour += 12;
    }
    int century = 20;
    if (raw->has_century) {
        century = rtc_decode_number(raw->century, binary);
        if (century < 19 || century > 99)
            return -KEIO;
    }
    if (second < 0 || second > 59 || minute < 0 || minute > 59 || hour < 0 || hour > 23 ||
        year < 0 || year > 99 || month < 1 || month > 12 || day < 1)
        return -KEIO;
    int full_year = century * 100 + year;
    if (day > days_in_month(full_year, month))
        return -KEIO;
    out->year = full_year;
    out->month = month;
    out->day = day;
    out->hour = hour;
    out->minute = minute;
    out->second = second;
    return 0;
}

/* Seconds since 1970-01-01 00:00:00 UTC; -1 for an invalid date or one outside 1970-9999. */
int64_t rtc_to_unix(const struct rtc_time *t) {
    static const uint16_t days_before_month[12] = {0,   31,  59,  90,  120, 151,
                                                   181, 212, 243, 273, 304, 334};
    if (!t || t->year < 1970 || t->year > 9999 || t->month < 1 || t->month > 12 ||
        t->day < 1 || t->day > days_in_month(t->year, t->month) || t->hour < 0 ||
        t->hour > 23 || t->minute < 0 || t->minute > 59 || t->second < 0 || t->second > 59)
        return -1;
    int64_t y = t->year;
    /* Leap days in the years 1970 .. y-1: Gregorian leap years up to y-1 minus those up to
     * 1969. */
    int64_t prior = y - 1;
    int64_t leap_days = (prior / 4 - prior / 100 + prior / 400) - (1969 / 4 - 1969 / 100 + 1969 / 400);
    int64_t days = (y - 1970) * 365 + leap_days + days_before_month[t->month - 1] + (t->day - 1);
    if (t->month > 2 && is_leap_year(y))
        days++;
    return days * 86400 + t->hour * 3600 + t->minute * 60 + t->second;
}

/* CMOS index of the century register (the FADT CENTURY field), 0 = none (assume 20xx). */
void rtc_set_century_register(uint8_t cmos_index) {
    rtc_century_register = cmos_index;
}

static uint8_t cmos_read(uint8_t reg) {
    outb(CMOS_PORT_INDEX, reg); /* bit 7 clear: NMIs stay enabled */
    return inb(CMOS_PORT_DATA);
}

/* Waits (bounded) until no update is in progress; then the time registers hold still for
 * at least 244 us. */
static bool rtc_wait_no_update(void) {
    for (int i = 0; i < RTC_UIP_MAX_POLLS; i++) {
        if (!(cmos_read(RTC_REG_STATUS_A) & RTC_STATUS_A_UIP))
            return true;
        cpu_relax();
    }
    return false;
}

static void rtc_read_raw(struct rtc_raw *r) {
    memset(r, 0, sizeof(*r));
    r->second = cmos_read(RTC_REG_SECONDS);
    r->minute = cmos_read(RTC_REG_MINUTES);
    r->hour = cmos_read(RTC_REG_HOURS);
    r->day = cmos_read(RTC_REG_DAY);
    r->month = cmos_read(RTC_REG_MONTH);
    r->year = cmos_read(RTC_REG_YEAR);
    if (rtc_century_register) {
        r->century = cmos_read(rtc_century_register);
        r->has_century = true;
    }
    r->status_b = cmos_read(RTC_REG_STATUS_B);
}

/* Reads the wall clock: two identical reads, each after the update-in-progress flag has
 * cleared, both bounded. 0, or -KEIO when the RTC never settles or holds nonsense. */
int rtc_read(struct rtc_time *out) {
    for (int attempt = 0; attempt < RTC_READ_ATTEMPTS; attempt++) {
        struct rtc_raw first, second;
        uint64_t flags = irq_save();
        bool settled = rtc_wait_no_update();
        if (settled) {
            rtc_read_raw(&first);
            settled = rtc_wait_no_update();
            if (settled)
                rtc_read_raw(&second);
        }
        irq_restore(flags);
        if (settled && memcmp(&first, &second, sizeof(first)) == 0)
            return rtc_decode(&first, out);
    }
    return -KEIO;
}
