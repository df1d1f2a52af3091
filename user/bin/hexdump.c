/* hexdump: display file contents in hexadecimal (the util-linux hexdump formats).
 *
 * hexdump [-C] [FILE...]: the files (or standard input) as one stream, 16 bytes a line.
 * Default: "%07x" offset and eight little-endian 16-bit words "%04x" (an odd last byte is a
 * word with a zero high byte). -C (canonical): "%08x" offset, 16 bytes "%02x" in two groups of
 * eight, and the printable ASCII between '|'. A line equal to the one before is replaced by
 * one "*" line; the final line holds the total length (nothing at all for empty input).
 * Errors: "hexdump: FILE: strerror", exit status 1; usage errors 2. */
#include "ulib.h"

static bool canonical;
static unsigned char line[16], prev[16];
static size_t fill;
static unsigned long long offset;
static bool have_prev, starred;

static void emit_line(size_t n) {
    if (n == 16 && have_prev && !memcmp(line, prev, 16)) {
        if (!starred) puts("*");
        starred = true;
        offset += 16;
        return;
    }
    starred = false;
    char out[128];
    int k;
    if (canonical) {
        k = sprintf(out, "%08llx  ", offset);
        for (size_t i = 0; i < 16; i++) {
            if (i == 8) out[k++] = ' ';
            if (i < n) k += sprintf(out + k, "%02x ", line[i]);
            else k += sprintf(out + k, "   ");
        }
        out[k++] = ' ';
        out[k++] = '|';
        for (size_t i = 0; i < n; i++) out[k++] = (line[i] >= 0x20 && line[i] < 0x7f) ? (char)line[i] : '.';
        out[k++] = '|';
    } else {
        k = sprintf(out, "%07llx", offset);
        for (size_t i = 0; i < 16; i += 2) {
            if (i < n) k += sprintf(out + k, " %04x", line[i] | (i + 1 < n ? line[i + 1] << 8 : 0));
            else k += sprintf(out + k, "     ");
        }
    }
    out[k] = '\0';
    puts(out);
    memcpy(prev, line, 16);
    have_prev = true;
    offset += n;
}

static int dump_fd(int fd, const char *name) {
    static unsigned char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            uerr(name);
            return 1;
        }
        if (n == 0) return 0;
        for (ssize_t i = 0; i < n;) {
            size_t take = 16 - fill;
            if (take > (size_t)(n - i)) take = (size_t)(n - i);
            memcpy(line + fill, buf + i, take);
            fill += take;
            i += (ssize_t)take;
            if (fill == 16) {
                emit_line(16);
                fill = 0;
            }
        }
    }
}

int main(int argc, char **argv) {
    ulib_prog = "hexdump";
    int c;
    while ((c = ugetopt(argc, argv, "C")) != -1) {
        if (c == 'C') canonical = true;
        else uusage("[-C] [FILE...]");
    }
    int rc = 0;
    if (optind >= argc) rc = dump_fd(0, "stdin");
    for (int i = optind; i < argc; i++) {
        int fd = !strcmp(argv[i], "-") ? 0 : open(argv[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            uerr(argv[i]);
            rc = 1;
            continue;
        }
        rc |= dump_fd(fd, argv[i]);
        if (fd != 0) close(fd);
    }
    if (fill) emit_line(fill);
    if (offset > 0 || have_prev) printf(canonical ? "%08llx\n" : "%07llx\n", offset);
    return rc | (fflush(stdout) ? 1 : 0);
}
