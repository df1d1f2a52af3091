/* log.c: the access log in the Common Log Format (as NCSA httpd and Apache define it):
 *   HOST - - [DD/Mon/YYYY:HH:MM:SS +0000] "REQUEST LINE" STATUS BYTES
 * HOST is the client's address, the time is UTC, BYTES the body bytes of the answer ("-" when
 * none). The request line is logged with '"', '\' and bytes outside printable ASCII written
 * as \xHH (so a client cannot forge log lines), and cut at 1024 bytes; "-" when there was no
 * request line. One line per answer, flushed at once. */
#include "httpd.h"

#include <stdio.h>
#include <time.h>


static FILE *log_file;

bool log_open(const char *path) {
    log_file = path ? fopen(path, "ae") : stdout;
    if (!log_file) return false;
    setvbuf(log_file, NULL, _IOLBF, 0);
    return true;
}

void log_access(const struct conn *c) {
    if (!log_file) return;
    char when[32];
    clf_date_format(time(NULL), when);
    char req[1024 * 4 + 1];
    size_t n = 0;
    if (!c->log_request) {
        req[n++] = '-';
    } else {
        for (const unsigned char *p = (const unsigned char *)c->log_request; *p && n < 1024 * 4 - 4;
             p++) {
            if (*p < ' ' || *p > '~' || *p == '"' || *p == '\\')
                n += (size_t)snprintf(req + n, 5, "\\x%02x", *p);
            else req[n++] = (char)*p;
            if (p - (const unsigned char *)c->log_request >= 1023) break;
        }
    }
    req[n] = '\0';
    long long body = c->sent - (long long)c->head_len;
    if (body > 0)
        fprintf(log_file, "%s - - [%s] \"%s\" %d %lld\n", c->peer, when, req, c->status, body);
    else fprintf(log_file, "%s - - [%s] \"%s\" %d -\n", c->peer, when, req, c->status);
}
