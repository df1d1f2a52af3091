/* tty_selftest.c: self-tests of terminal devices (group `tty`), against tty.h and POSIX.1-2017
 * XBD ch. 11: lines read through the file operations with the exact echo, a blocked reader
 * woken by input, ISIG characters signalling the foreground process group as they arrive,
 * non-canonical reads for the MIN/TIME cases, O_NONBLOCK and FIONBIO giving EAGAIN at once,
 * poll readiness, the ioctls with kernel and with user-space arguments (and bad pointers),
 * the controlling terminal and job control with a real process (SIGTTIN/SIGTTOU, EIO,
 * TIOCSPGRP rules, hang-up), the console's file, and hostile input. Private terminals
 * (tty_create) keep the echo off the real console; a signal hook stands in for delivery. */
#include "tty.h"
#include "proc.h"
#include "uvm.h"
#include "uaccess.h"
#include "selftest.h"
#include "kstring.h"
#include "mm.h"
#include "sched.h"
#include "time.h"

#define MS 1000000ull

struct cap {
    char out[1024];
    size_t len;
    uint64_t total;
};

static void cap_sink(void *ctx, const char *s, size_t n) {
    struct cap *c = ctx;
    c->total += n;
    size_t take = MIN(n, sizeof c->out - c->len);
    memcpy(c->out + c->len, s, take);
    c->len += take;
}

static bool cap_is(struct cap *c, const char *want) {
    size_t n = strlen(want);
    bool ok = c->len == n && memcmp(c->out, want, n) == 0;
    c->len = 0;
    return ok;
}

struct sigrec {
    int n;
    int pgrp[8], sig[8];
};

static int sig_hook(int pgrp, int sig, void *ctx) {
    struct sigrec *r = ctx;
    if (r->n < 8) {
        r->pgrp[r->n] = pgrp;
        r->sig[r->n] = sig;
    }
    r->n++;
    return 0;
}

/* A private terminal with a capturing sink, a signal recorder, and an open file. */
struct fixture {
    struct cap cap;
    struct sigrec sigs;
    struct tty *t;
    struct vfs_file *f;
};

static int fx_open(struct fixture *x, uint32_t flags) {
    memset(x, 0, sizeof(*x));
    x->t = tty_create("test", cap_sink, &x->cap);
    if (!x->t) return -KENOMEM;
    tty_set_signal_hook(x->t, sig_hook, &x->sigs);
    int r = tty_open(x->t, flags, &x->f);
    if (r < 0) tty_destroy(x->t);
    return r;
}

static int fx_close(struct fixture *x) {
    vfs_close(x->f);
    return tty_destroy(x->t);
}

static void inject(struct fixture *x, const char *s) { tty_inject_input(x->t, s, strlen(s)); }

static int set_raw(struct vfs_file *f, int vmin, int vtime) {
    struct ktermios k;
    int r = (int)tty_ioctl_kernel(f, TCGETS, (uint64_t)&k);
    if (r) return r;
    k.c_lflag &= ~(ICANON | ECHO);
    k.c_cc[VMIN] = (uint8_t)vmin;
    k.c_cc[VTIME] = (uint8_t)vtime;
    return (int)tty_ioctl_kernel(f, TCSETS, (uint64_t)&k);
}

SELFTEST(tty, read_line_through_file) {
    struct fixture x;
    ST_ASSERT(t, fx_open(&x, O_RDWR) == 0, "tty_create/tty_open failed");
    inject(&x, "hello\r");
    char buf[64] = {0};
    int64_t n = vfs_read(x.f, buf, sizeof buf);
    bool echo_ok = cap_is(&x.cap, "hello\r\n");
    inject(&x, "ab\x7f" "c\x15xyz\n");
    int64_t n2 = vfs_read(x.f, buf + 10, 20);
    int64_t w = vfs_write(x.f, "out\n", 4);
    bool out_ok = cap_is(&x.cap, "ab\b \bc\b \b\b \bxyz\r\nout\r\n");
    struct vfs_stat st;
    int sr = vfs_fstat(x.f, &st);
    int64_t seek = vfs_lseek(x.f, 0, SEEK_SET);
    int dr = fx_close(&x);
    ST_ASSERT(t, n == 6 && memcmp(buf, "hello\n", 6) == 0, "read %ld \"%s\"", (long)n, buf);
    ST_ASSERT(t, echo_ok, "echo of \"hello\\r\" is not \"hello\\r\\n\"");
    ST_ASSERT(t, n2 == 4 && memcmp(buf + 10, "xyz\n", 4) == 0, "edited line: %ld", (long)n2);
    ST_ASSERT(t, w == 4 && out_ok, "write %ld / echo+output bytes differ", (long)w);
    ST_ASSERT(t, sr == 0 && (st.mode & S_IFMT) == S_IFCHR, "fstat %d mode %o", sr, st.mode);
    ST_ASSERT(t, seek == -KESPIPE, "lseek on a tty = %ld", (long)seek);
    ST_ASSERT(t, dr == 0, "tty_destroy after close = %d", dr);
}

struct reader {
    struct vfs_file *f;
    char buf[64];
    size_t len;
    volatile int64_t n;
    volatile uint64_t done_ns;
};

static int64_t reader_fn(void *arg) {
    struct reader *r = arg;
    r->n = vfs_read(r->f, r->buf, r->len);
    r->done_ns = time_ns();
    return 0;
}

SELFTEST(tty, blocked_reader_woken_by_input) {
    struct fixture x;
    ST_ASSERT(t, fx_open(&x, O_RDONLY) == 0, "open failed");
    struct reader r = {.f = x.f, .len = 64, .n = -999};
    tid_t id = task_create("tty-reader", reader_fn, &r, PRIO_NORMAL);
    ST_ASSERT(t, id >= 0, "task_create %d", id);
    task_sleep_ns(30 * MS);
    int64_t before = r.n;
    inject(&x, "partial");
    task_sleep_ns(30 * MS);
    int64_t mid = r.n;
    uint64_t t0 = time_ns();
    inject(&x, " line\n");
    int64_t ev;
    task_join(id, &ev);
    fx_close(&x);
    ST_ASSERT(t, before == -999, "read returned %ld without input", (long)before);
    ST_ASSERT(t, mid == -999, "read returned %ld before the line ended", (long)mid);
    ST_ASSERT(t, r.n == 13 && memcmp(r.buf, "partial line\n", 13) == 0, "read %ld", (long)r.n);
    ST_ASSERT(t, r.done_ns - t0 < 500 * MS, "reader woke %lu ms after the newline", (unsigned long)((r.done_ns - t0) / MS));
}

SELFTEST(tty, isig_signals_foreground_group_at_once) {
    struct fixture x;
    ST_ASSERT(t, fx_open(&x, O_RDWR) == 0, "open failed");
    inject(&x, "abc\x03"); /* no foreground group yet: nobody to signal */
    int none = x.sigs.n;
    int pg = 4242;
    int64_t sr = tty_ioctl_kernel(x.f, TIOCSPGRP, (uint64_t)&pg);
    x.cap.len = 0;
    inject(&x, "abc\x03");
    int n1 = x.sigs.n;
    bool echo = cap_is(&x.cap, "abc^C");
    int avail = -1;
    tty_ioctl_kernel(x.f, FIONREAD, (uint64_t)&avail);
    inject(&x, "\x1c\x1a");
    inject(&x, "z\n");
    char buf[16];
    int64_t n = vfs_read(x.f, buf, sizeof buf);
    fx_close(&x);
    ST_ASSERT(t, none == 0, "%d signals without a foreground group", none);
    ST_ASSERT(t, sr == 0, "TIOCSPGRP from the kernel = %ld", (long)sr);
    ST_ASSERT(t, n1 == 1 && x.sigs.pgrp[0] == 4242 && x.sigs.sig[0] == SIGINT,
              "^C gave %d signals (first %d to %d)", n1, x.sigs.sig[0], x.sigs.pgrp[0]);
    ST_ASSERT(t, echo, "^C echo differs");
    ST_ASSERT(t, avail == 0, "%d bytes left after ^C (input not flushed)", avail);
    ST_ASSERT(t, x.sigs.n == 3 && x.sigs.sig[1] == SIGQUIT && x.sigs.sig[2] == SIGTSTP, "^\\ ^Z: %d signals", x.sigs.n);
    ST_ASSERT(t, n == 2 && buf[0] == 'z', "line after signals: %ld", (long)n);
}

SELFTEST(tty, raw_reads_min_time) {
    struct fixture x;
    ST_ASSERT(t, fx_open(&x, O_RDWR) == 0, "open failed");
    char buf[16];
    /* case D: MIN 0, TIME 0: at once */
    int r0 = set_raw(x.f, 0, 0);
    uint64_t t0 = time_ns();
    int64_t d0 = vfs_read(x.f, buf, sizeof buf);
    uint64_t d0_ns = time_ns() - t0;
    inject(&x, "ab");
    int64_t d1 = vfs_read(x.f, buf, sizeof buf);
    /* case C: MIN 0, TIME 1: 0 after ~100 ms */
    set_raw(x.f, 0, 1);
    t0 = time_ns();
    int64_t c0 = vfs_read(x.f, buf, sizeof buf);
    uint64_t c0_ns = time_ns() - t0;
    /* case B: MIN 3, TIME 0: waits for three bytes */
    set_raw(x.f, 3, 0);
    struct reader rd = {.f = x.f, .len = 8, .n = -999};
    tid_t id = task_create("tty-raw", reader_fn, &rd, PRIO_NORMAL);
    task_sleep_ns(20 * MS);
    inject(&x, "x");
    task_sleep_ns(30 * MS);
    int64_t b_mid = rd.n;
    inject(&x, "yz");
    int64_t ev;
    task_join(id, &ev);
    /* case A: MIN 4, TIME 1: the inter-byte timer ends the read after the first byte */
    set_raw(x.f, 4, 1);
    inject(&x, "q");
    t0 = time_ns();
    int64_t a0 = vfs_read(x.f, buf, sizeof buf);
    uint64_t a0_ns = time_ns() - t0;
    fx_close(&x);
    ST_ASSERT(t, r0 == 0, "TCSETS = %d", r0);
    ST_ASSERT(t, d0 == 0 && d0_ns < 50 * MS, "MIN 0 TIME 0 on empty: %ld after %lu ms", (long)d0, (unsigned long)(d0_ns / MS));
    ST_ASSERT(t, d1 == 2, "MIN 0 TIME 0 with 2 bytes: %ld", (long)d1);
    ST_ASSERT(t, c0 == 0 && c0_ns >= 90 * MS && c0_ns < 2000 * MS, "MIN 0 TIME 1: %ld after %lu ms", (long)c0,
              (unsigned long)(c0_ns / MS));
    ST_ASSERT(t, b_mid == -999, "MIN 3 returned %ld after one byte", (long)b_mid);
    ST_ASSERT(t, rd.n == 3 && memcmp(rd.buf, "xyz", 3) == 0, "MIN 3 read %ld", (long)rd.n);
    ST_ASSERT(t, a0 == 1 && a0_ns >= 90 * MS && a0_ns < 2000 * MS, "MIN 4 TIME 1: %ld after %lu ms", (long)a0,
              (unsigned long)(a0_ns / MS));
}

SELFTEST(tty, nonblocking_eagain_and_fionbio) {
    struct fixture x;
    ST_ASSERT(t, fx_open(&x, O_RDWR | O_NONBLOCK) == 0, "open failed");
    char buf[16];
    uint64_t t0 = time_ns();
    int64_t e1 = vfs_read(x.f, buf, sizeof buf);
    inject(&x, "abc"); /* no complete line */
    int64_t e2 = vfs_read(x.f, buf, sizeof buf);
    uint64_t ns = time_ns() - t0;
    inject(&x, "\n");
    int64_t ok = vfs_read(x.f, buf, sizeof buf);
    int off = 0, on = 1;
    int64_t f0 = tty_ioctl_kernel(x.f, FIONBIO, (uint64_t)&off);
    bool cleared = !(x.f->flags & O_NONBLOCK);
    int64_t f1 = tty_ioctl_kernel(x.f, FIONBIO, (uint64_t)&on);
    int64_t e3 = vfs_read(x.f, buf, sizeof buf);
    set_raw(x.f, 1, 0);
    int64_t e4 = vfs_read(x.f, buf, sizeof buf);
    fx_close(&x);
    ST_ASSERT(t, e1 == -KEAGAIN && e2 == -KEAGAIN, "empty/partial: %ld %ld", (long)e1, (long)e2);
    ST_ASSERT(t, ns < 50 * MS, "non-blocking reads took %lu ms", (unsigned long)(ns / MS));
    ST_ASSERT(t, ok == 4, "line read %ld", (long)ok);
    ST_ASSERT(t, f0 == 0 && cleared && f1 == 0, "FIONBIO %ld/%ld, cleared %d", (long)f0, (long)f1, cleared);
    ST_ASSERT(t, e3 == -KEAGAIN && e4 == -KEAGAIN, "after FIONBIO 1: %ld, raw %ld", (long)e3, (long)e4);
}

SELFTEST(tty, poll_readiness) {
    struct fixture x;
    ST_ASSERT(t, fx_open(&x, O_RDWR) == 0, "open failed");
    struct wait_queue *wqs[2] = {NULL, NULL};
    uint32_t p0 = x.f->fops->poll(x.f, wqs);
    bool has_wq = wqs[0] != NULL;
    inject(&x, "abc");
    uint32_t p1 = x.f->fops->poll(x.f, wqs);
    inject(&x, "\n");
    uint32_t p2 = x.f->fops->poll(x.f, wqs);
    char buf[8];
    vfs_read(x.f, buf, sizeof buf);
    inject(&x, "\x04");
    uint32_t p3 = x.f->fops->poll(x.f, wqs);
    int64_t eof = vfs_read(x.f, buf, sizeof buf);
    set_raw(x.f, 2, 0);
    inject(&x, "k");
    uint32_t p4 = x.f->fops->poll(x.f, wqs);
    inject(&x, "l");
    uint32_t p5 = x.f->fops->poll(x.f, wqs);
    fx_close(&x);
    ST_ASSERT(t, p0 == VFS_POLLOUT && has_wq, "empty: %#x, wait queue %d", p0, has_wq);
    ST_ASSERT(t, p1 == VFS_POLLOUT, "partial line: %#x", p1);
    ST_ASSERT(t, p2 == (VFS_POLLIN | VFS_POLLOUT), "complete line: %#x", p2);
    ST_ASSERT(t, p3 & VFS_POLLIN, "EOF mark not readable: %#x", p3);
    ST_ASSERT(t, eof == 0, "^D read %ld", (long)eof);
    ST_ASSERT(t, p4 == VFS_POLLOUT && p5 == (VFS_POLLIN | VFS_POLLOUT), "VMIN 2: %#x then %#x", p4, p5);
}

SELFTEST(tty, ioctls_kernel_args_and_errors) {
    struct fixture x;
    ST_ASSERT(t, fx_open(&x, O_RDWR) == 0, "open failed");
    struct ktermios k;
    int64_t g = tty_ioctl_kernel(x.f, TCGETS, (uint64_t)&k);
    bool defaults = k.c_lflag == 0x8a3b && k.c_iflag == ICRNL && k.c_oflag == (OPOST | ONLCR) &&
                    k.c_cc[VINTR] == 3 && k.c_cc[VERASE] == 0x7f && k.c_cc[VMIN] == 1;
    inject(&x, "one\ntwo");
    int avail = -1;
    tty_ioctl_kernel(x.f, FIONREAD, (uint64_t)&avail);
    int64_t sf = tty_ioctl_kernel(x.f, TCSETSF, (uint64_t)&k); /* flushes input */
    int after = -1;
    tty_ioctl_kernel(x.f, FIONREAD, (uint64_t)&after);
    struct kwinsize ws = {0};
    int64_t gw = tty_ioctl_kernel(x.f, TIOCGWINSZ, (uint64_t)&ws);
    int pg = 77;
    tty_ioctl_kernel(x.f, TIOCSPGRP, (uint64_t)&pg);
    struct kwinsize ws2 = {50, 132, 0, 0};
    int64_t sw = tty_ioctl_kernel(x.f, TIOCSWINSZ, (uint64_t)&ws2);
    int64_t sw2 = tty_ioctl_kernel(x.f, TIOCSWINSZ, (uint64_t)&ws2); /* unchanged: no signal */
    int64_t bad = tty_ioctl_kernel(x.f, 0x1234, 0);
    int64_t nul = tty_ioctl_kernel(x.f, TCGETS, 0);
    int64_t fl = tty_ioctl_kernel(x.f, TCFLSH, 7);
    int64_t fl0 = tty_ioctl_kernel(x.f, TCFLSH, TCIFLUSH);
    int64_t br = tty_ioctl_kernel(x.f, TCSBRK, 1);
    int negpg = -5;
    int64_t sneg = tty_ioctl_kernel(x.f, TIOCSPGRP, (uint64_t)&negpg);
    int64_t sid = tty_ioctl_kernel(x.f, TIOCGSID, (uint64_t)&pg); /* no session */
    struct vfs_file *rd, *wr;
    int64_t notty = -1;
    if (vfs_pipe(&rd, &wr, 0) == 0) {
        notty = tty_ioctl_kernel(rd, TCGETS, (uint64_t)&k);
        vfs_close(rd);
        vfs_close(wr);
    }
    fx_close(&x);
    ST_ASSERT(t, g == 0 && defaults, "TCGETS %ld, lflag %#x iflag %#x oflag %#x", (long)g, k.c_lflag, k.c_iflag, k.c_oflag);
    ST_ASSERT(t, avail == 4, "FIONREAD %d (want 4: only the complete line)", avail);
    ST_ASSERT(t, sf == 0 && after == 0, "TCSETSF %ld left %d bytes", (long)sf, after);
    ST_ASSERT(t, gw == 0 && ws.ws_row == 24 && ws.ws_col == 80, "TIOCGWINSZ %ld: %ux%u", (long)gw, ws.ws_col, ws.ws_row);
    ST_ASSERT(t, sw == 0 && sw2 == 0 && x.sigs.n == 1 && x.sigs.sig[0] == SIGWINCH && x.sigs.pgrp[0] == 77,
              "TIOCSWINSZ: %d signals", x.sigs.n);
    ST_ASSERT(t, bad == -KENOTTY, "unknown ioctl = %ld", (long)bad);
    ST_ASSERT(t, nul == -KEFAULT, "NULL argument = %ld", (long)nul);
    ST_ASSERT(t, fl == -KEINVAL && fl0 == 0 && br == 0, "TCFLSH 7 %ld, TCFLSH 0 %ld, TCSBRK %ld", (long)fl, (long)fl0, (long)br);
    ST_ASSERT(t, sneg == -KEINVAL, "TIOCSPGRP -5 = %ld", (long)sneg);
    ST_ASSERT(t, sid == -KENOTTY, "TIOCGSID without a session = %ld", (long)sid);
    ST_ASSERT(t, notty == -KENOTTY, "tty ioctl on a pipe = %ld", (long)notty);
}

SELFTEST(tty, eof_and_line_limit) {
    struct fixture x;
    ST_ASSERT(t, fx_open(&x, O_RDWR) == 0, "open failed");
    char *buf = kmalloc(8192);
    ST_ASSERT(t, buf, "no memory");
    inject(&x, "\x04");
    int64_t eof = vfs_read(x.f, buf, 100);
    inject(&x, "mid\x04");
    int64_t mid = vfs_read(x.f, buf, 100);
    memset(buf, 'x', 5000);
    tty_inject_input(x.t, buf, 5000);
    inject(&x, "\n");
    int64_t big = vfs_read(x.f, buf, 8192);
    bool tail_ok = big == TTY_LINE_MAX + 1 && buf[TTY_LINE_MAX] == '\n';
    int64_t zero = vfs_read(x.f, buf, 0);
    kfree(buf);
    fx_close(&x);
    ST_ASSERT(t, eof == 0, "^D at line start read %ld", (long)eof);
    ST_ASSERT(t, mid == 3, "^D mid-line read %ld", (long)mid);
    ST_ASSERT(t, tail_ok, "over-long line read %ld", (long)big);
    ST_ASSERT(t, zero == 0, "read of 0 bytes = %ld", (long)zero);
}

/* 256 KiB of every byte value and random bytes (the host test feeds 1 MiB). */
SELFTEST_TIMEOUT(tty, hostile_input_bounded, 30000) {
    struct fixture x;
    ST_ASSERT(t, fx_open(&x, O_RDWR | O_NONBLOCK) == 0, "open failed");
    uint8_t *junk = kmalloc(65536);
    ST_ASSERT(t, junk, "no memory");
    uint64_t s = 0x243f6a8885a308d3ull;
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < 65536; i++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            junk[i] = round == 0 ? (uint8_t)i : (uint8_t)s;
        }
        tty_inject_input(x.t, (const char *)junk, 65536);
        int avail = -1;
        tty_ioctl_kernel(x.f, FIONREAD, (uint64_t)&avail);
        if (avail < 0 || avail > TTY_INPUT_SIZE) break;
        while (vfs_read(x.f, junk, 4096) >= 0) {}
    }
    int avail = -1;
    tty_ioctl_kernel(x.f, FIONREAD, (uint64_t)&avail);
    kfree(junk);
    /* the terminal still works afterwards */
    struct ktermios k;
    tty_termios_default(&k);
    tty_ioctl_kernel(x.f, TCSETSF, (uint64_t)&k);
    inject(&x, "sane\n");
    char buf[16];
    int64_t n = vfs_read(x.f, buf, sizeof buf);
    fx_close(&x);
    ST_ASSERT(t, avail >= 0 && avail <= TTY_INPUT_SIZE, "FIONREAD %d after 256 KiB of junk", avail);
    ST_ASSERT(t, n == 5 && memcmp(buf, "sane\n", 5) == 0, "read after junk: %ld", (long)n);
}


SELFTEST(tty, console_file_and_dev_nodes) {
    struct vfs_file *f;
    int r = tty_open_console(O_RDWR, &f);
    ST_ASSERT(t, r == 0, "tty_open_console = %d", r);
    bool is_console = tty_from_file(f) == tty_console();
    struct ktermios k;
    int64_t g = tty_ioctl_kernel(f, TCGETS, (uint64_t)&k);
    int64_t w = vfs_write(f, "", 0);
    vfs_close(f);
    /* a kernel task has no controlling terminal: /dev/tty is ENXIO */
    struct vfs_file *dt = NULL;
    int64_t tr = vfs_open(NULL, "/dev/tty", O_RDWR, 0, &dt);
    if (tr == 0) {
        char c;
        tr = vfs_read(dt, &c, 1);
        vfs_close(dt);
    }
    struct vfs_stat st;
    int cs = vfs_stat(NULL, "/dev/console", &st);
#ifdef VFS_HAVE_VNODE_OPEN
    /* with the VFS open hook, opening /dev/console gives a file of the console terminal */
    struct vfs_file *dc = NULL;
    int dr = vfs_open(NULL, "/dev/console", O_RDWR | O_NOCTTY, 0, &dc);
    bool dc_tty = dr == 0 && tty_from_file(dc) == tty_console();
    if (dr == 0) vfs_close(dc);
    ST_ASSERT(t, dr == -KENOENT || dc_tty, "/dev/console opened (%d) but is not the console tty", dr);
#endif
    ST_ASSERT(t, is_console, "the console file is not the console terminal");
    ST_ASSERT(t, g == 0 && (k.c_lflag & ICANON), "console TCGETS %ld", (long)g);
    ST_ASSERT(t, w == 0, "empty write = %ld", (long)w);
    ST_ASSERT(t, tr == -KENXIO || tr == -KENOENT, "/dev/tty without a controlling terminal: %ld", (long)tr);
    ST_ASSERT(t, cs != 0 || (st.mode & S_IFMT) == S_IFCHR, "/dev/console mode %o", st.mode);
}

/* A process of our own for the controlling-terminal rules (proc_test_enter). */
SELFTEST(tty, controlling_terminal_and_job_control) {
    int pe = proc_test_enter();
    ST_ASSERT(t, pe == 0, "proc_test_enter = %d", pe);
    struct process *p = proc_current();
    struct fixture x, y;
    int o1 = fx_open(&x, O_RDWR);
    int o2 = o1 == 0 ? fx_open(&y, O_RDWR | O_NOCTTY) : -1;
    if (o1 || o2) {
        if (o1 == 0) fx_close(&x);
        proc_test_leave();
        ST_ASSERT(t, false, "open: %d %d", o1, o2);
    }
    pid_k me = p->pid;
    bool acquired = p->ctty == x.t && tty_session(x.t) == p->sid && tty_fg_pgrp(x.t) == p->pgid;
    bool noctty = tty_session(y.t) == 0;
    int v = 0;
    int64_t gsid = tty_ioctl_kernel(x.f, TIOCGSID, (uint64_t)&v);
    int sidv = v;
    int64_t gpg = tty_ioctl_kernel(x.f, TIOCGPGRP, (uint64_t)&v);
    int pgv = v;
    int64_t other_gpg = tty_ioctl_kernel(y.f, TIOCGPGRP, (uint64_t)&v); /* not our ctty */
    int64_t sc2 = tty_ioctl_kernel(y.f, TIOCSCTTY, 0);                  /* we have one */
    int ghost = 30000;
    int64_t spg_bad = tty_ioctl_kernel(x.f, TIOCSPGRP, (uint64_t)&ghost);
    int64_t spg_ok = tty_ioctl_kernel(x.f, TIOCSPGRP, (uint64_t)&me);
    /* background: move ourselves to another group for a moment */
    pid_k saved_pgid = p->pgid;
    p->pgid = me + 20000;
    char buf[8];
    inject(&x, "line\n");
    int64_t bg_read = vfs_read(x.f, buf, sizeof buf);
    int n_ttin = x.sigs.n;
    int ttin_sig = x.sigs.sig[0], ttin_pg = x.sigs.pgrp[0];
    int64_t bg_write = vfs_write(x.f, "w", 1); /* TOSTOP off: allowed */
    struct ktermios k;
    tty_ioctl_kernel(x.f, TCGETS, (uint64_t)&k);
    int64_t bg_set = tty_ioctl_kernel(x.f, TCSETS, (uint64_t)&k);
    int n_ttou = x.sigs.n, ttou_sig = x.sigs.sig[1];
    p->sigactions[SIGTTIN - 1].handler = 1; /* SIG_IGN */
    int64_t bg_read_ign = vfs_read(x.f, buf, sizeof buf);
    p->sigactions[SIGTTIN - 1].handler = 0;
    p->pgid = saved_pgid;
    int64_t fg_read = vfs_read(x.f, buf, sizeof buf);
    /* hang-up: the session leader gives the terminal up */
    x.sigs.n = 0;
    int64_t nt = tty_ioctl_kernel(x.f, TIOCNOTTY, 0);
    bool released = tty_session(x.t) == 0 && p->ctty == NULL;
    int hup_n = x.sigs.n, hup0 = x.sigs.sig[0], hup1 = x.sigs.sig[1];
    int64_t sc = tty_ioctl_kernel(x.f, TIOCSCTTY, 0); /* take it again */
    bool again = p->ctty == x.t && tty_session(x.t) == p->sid;
    tty_session_leader_exit(p);
    bool after_exit = tty_session(x.t) == 0 && p->ctty == NULL;
    int dx = fx_close(&x), dy = fx_close(&y);
    proc_test_leave();
    ST_ASSERT(t, acquired, "a session leader's open did not acquire the terminal");
    ST_ASSERT(t, noctty, "O_NOCTTY open acquired the terminal");
    ST_ASSERT(t, gsid == 0 && sidv == me && gpg == 0 && pgv == me, "TIOCGSID %ld=%d TIOCGPGRP %ld=%d", (long)gsid, sidv,
              (long)gpg, pgv);
    ST_ASSERT(t, other_gpg == -KENOTTY, "TIOCGPGRP on a non-controlling tty = %ld", (long)other_gpg);
    ST_ASSERT(t, sc2 == -KEPERM, "TIOCSCTTY with a controlling tty already = %ld", (long)sc2);
    ST_ASSERT(t, spg_bad == -KEPERM && spg_ok == 0, "TIOCSPGRP ghost %ld, own %ld", (long)spg_bad, (long)spg_ok);
    ST_ASSERT(t, bg_read == -KEINTR && n_ttin == 1 && ttin_sig == SIGTTIN && ttin_pg == me + 20000,
              "background read %ld, %d signals (sig %d to %d)", (long)bg_read, n_ttin, ttin_sig, ttin_pg);
    ST_ASSERT(t, bg_write == 1, "background write without TOSTOP = %ld", (long)bg_write);
    ST_ASSERT(t, bg_set == -KEINTR && n_ttou == 2 && ttou_sig == SIGTTOU, "background TCSETS %ld, %d signals (%d)",
              (long)bg_set, n_ttou, ttou_sig);
    ST_ASSERT(t, bg_read_ign == -KEIO, "background read with SIGTTIN ignored = %ld", (long)bg_read_ign);
    ST_ASSERT(t, fg_read == 5, "foreground read %ld", (long)fg_read);
    ST_ASSERT(t, nt == 0 && released && hup_n == 2 && hup0 == SIGHUP && hup1 == SIGCONT,
              "TIOCNOTTY %ld released %d signals %d", (long)nt, released, hup_n);
    ST_ASSERT(t, sc == 0 && again, "TIOCSCTTY = %ld", (long)sc);
    ST_ASSERT(t, after_exit, "tty_session_leader_exit left the session");
    ST_ASSERT(t, dx == 0 && dy == 0, "tty_destroy %d %d", dx, dy);
}

/* ioctl through the file operation with user-space arguments: copies and bad pointers. */
SELFTEST(tty, ioctl_user_pointers) {
    int pe = proc_test_enter();
    ST_ASSERT(t, pe == 0, "proc_test_enter = %d", pe);
    struct process *p = proc_current();
    uint64_t ua = 0;
    int mr = uvm_map(p->vm, &ua, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0);
    struct fixture x;
    int o = mr == 0 ? fx_open(&x, O_RDWR | O_NOCTTY) : -1;
    if (o) {
        proc_test_leave();
        ST_ASSERT(t, false, "uvm_map %d, open %d", mr, o);
    }
    int64_t g = x.f->fops->ioctl(x.f, TCGETS, ua);
    struct ktermios k = {0};
    int cr = copy_from_user(&k, (const void *)ua, sizeof k);
    k.c_lflag &= ~ECHO;
    copy_to_user((void *)ua, &k, sizeof k);
    int64_t s = x.f->fops->ioctl(x.f, TCSETS, ua);
    inject(&x, "quiet\n");
    bool silent = x.cap.len == 0;
    int64_t ws = x.f->fops->ioctl(x.f, TIOCGWINSZ, ua + PAGE_SIZE - 8); /* last 8 bytes: fits */
    int64_t cross = x.f->fops->ioctl(x.f, TCGETS, ua + PAGE_SIZE - 8);  /* runs off the page */
    int64_t nul = x.f->fops->ioctl(x.f, TCGETS, 0);
    int64_t kern = x.f->fops->ioctl(x.f, TCGETS, (uint64_t)&k);          /* a kernel address */
    int64_t kset = x.f->fops->ioctl(x.f, TCSETS, 0xffff800000000000ull);
    int64_t fion = x.f->fops->ioctl(x.f, FIONREAD, ua + 64);
    int avail = -1;
    copy_from_user(&avail, (const void *)(ua + 64), sizeof avail);
    fx_close(&x);
    proc_test_leave();
    ST_ASSERT(t, g == 0 && cr == 0 && k.c_lflag == (0x8a3b & ~ECHO), "TCGETS to user memory %ld/%d lflag %#x", (long)g, cr,
              k.c_lflag);
    ST_ASSERT(t, s == 0 && silent, "TCSETS from user memory %ld, echo %d", (long)s, silent);
    ST_ASSERT(t, ws == 0, "TIOCGWINSZ at the page end = %ld", (long)ws);
    ST_ASSERT(t, cross == -KEFAULT && nul == -KEFAULT && kern == -KEFAULT && kset == -KEFAULT,
              "bad pointers: %ld %ld %ld %ld", (long)cross, (long)nul, (long)kern, (long)kset);
    ST_ASSERT(t, fion == 0 && avail == 6, "FIONREAD %ld -> %d", (long)fion, avail);
}



