/* date.c: HTTP-date (RFC 9110 §5.6.7) and the Common Log Format's time stamp.
 * Sent: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT". Accepted: IMF-fixdate, the obsolete
 * RFC 850 form "Sunday, 06-Nov-94 08:49:37 GMT" (a two-digit year more than 50 years ahead
 * means the most recent past year with those digits) and asctime's "Sun Nov  6 08:49:37 1994".
 * All times are UTC. */
#include "httpd.h"

#include <string.h>
#include <time.h>


static const char *const day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const long_day_names[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                             "Thursday", "Friday", "Saturday"};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void http_date_format(time_t t, char out[30]) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 30, "%a, %d %b %Y %H:%M:%S GMT", &tm); /* C locale names, as required */
}

void clf_date_format(time_t t, char out[32]) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%d/%b/%Y:%H:%M:%S +0000", &tm);
}

/* Reads exactly n digits at *s; -1 when they are not there. */
static int digits(const char **s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*s)[i];
        if (ch < '0' || ch > '9') return -1;
        v = v * 10 + (ch - '0');
    }
    *s += n;
    return v;
}

/* Consumes the literal lit at *s; false when it is not there. */
static bool literal(const char **s, const char *lit) {
    size_t n = strlen(lit);
    if (strncmp(*s, lit, n) != 0) return false;
    *s += n;
    return true;
}

/* Reads a month name; its index, or -1. */
static int month(const char **s) {
    for (int i = 0; i < 12; i++)
        if (literal(s, month_names[i])) return i;
    return -1;
}

/* Reads a day name from names (7 entries); false when none matches. */
static bool day_name(const char **s, const char *const *names) {
    for (int i = 0; i < 7; i++)
        if (literal(s, names[i])) return true;
    return false;
}

/* Reads "HH:MM:SS" into tm; false when malformed or out of range (a leap second is allowed). */
static bool time_of_day(const char **s, struct tm *tm) {
    tm->tm_hour = digits(s, 2);
    if (tm->tm_hour < 0 || !literal(s, ":")) return false;
    tm->tm_min = digits(s, 2);
    if (tm->tm_min < 0 || !literal(s, ":")) return false;
    tm->tm_sec = digits(s, 2);
    return tm->tm_sec >= 0 && tm->tm_hour < 24 && tm->tm_min < 60 && tm->tm_sec <= 60;
}

bool http_date_parse(const char *s, time_t *out) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = s;
    if (day_name(&p, day_names) && literal(&p, ", ")) { /* IMF-fixdate */
        if ((tm.tm_mday = digits(&p, 2)) < 0 || !literal(&p, " ") || (tm.tm_mon = month(&p)) < 0 ||
            !literal(&p, " ") || (tm.tm_year = digits(&p, 4)) < 0 || !literal(&p, " ") ||
            !time_of_day(&p, &tm) || !literal(&p, " GMT"))
            return false;
        tm.tm_year -= 1900;
    } else if (p = s, day_name(&p, long_day_names) && literal(&p, ", ")) { /* RFC 850 */
        int yy;
        if ((tm.tm_mday = digits(&p, 2)) < 0 || !literal(&p, "-") || (tm.tm_mon = month(&p)) < 0 ||
            !literal(&p, "-") || (yy = digits(&p, 2)) < 0 || !literal(&p, " ") ||
            !time_of_day(&p, &tm) || !literal(&p, " GMT"))
            return false;
        time_t now = time(NULL);
        struct tm now_tm;
        gmtime_r(&now, &now_tm);
        int year = now_tm.tm_year + 1900, century = year - year % 100;
        tm.tm_year = century + yy;
        if (tm.tm_year > year + 50) tm.tm_year -= 100;
        tm.tm_year -= 1900;
    } else if (p = s, day_name(&p, day_names) && literal(&p, " ")) { /* asctime */
        if ((tm.tm_mon = month(&p)) < 0 || !literal(&p, " ")) return false;
        if (*p == ' ') p++, tm.tm_mday = digits(&p, 1);
        else tm.tm_mday = digits(&p, 2);
        if (tm.tm_mday < 0 || !literal(&p, " ") || !time_of_day(&p, &tm) || !literal(&p, " ") ||
            (tm.tm_year = digits(&p, 4)) < 0)
            return false;
        tm.tm_year -= 1900;
    } else {
        return false;
    }
    if (*p || tm.tm_mday < 1 || tm.tm_mday > 31) return false;
    *out = timegm(&tm);
    return true;
}
