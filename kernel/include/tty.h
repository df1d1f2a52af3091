/* tty.h: terminals (kernel/drivers/tty/tty.c: devices, job control, file operations;
 * kernel/drivers/tty/tty_ldisc.c: the line discipline). See docs/tty.md.
 *
 * Follows POSIX.1-2017 XBD ch. 11 "General Terminal Interface" (canonical and non-canonical
 * input, special characters, output processing, job control through the foreground process
 * group) with the Linux termios ABI: struct termios as the kernel sees it (36 bytes), Linux
 * flag values, c_cc indexes and ioctl numbers (asm-generic/termbits.h, ioctls.h), so the
 * values travel unchanged through the system-call ABI and musl's tcgetattr/tcsetattr work.
 *
 * Two layers:
 * - struct tty_ldisc: the pure line discipline (no locks, no allocation, no hardware). Input
 *   bytes go in; echo and output bytes come out through a callback; signal characters are
 *   reported through another callback. Host-tested (tests/host/test_tty_ldisc.c).
 * - struct tty: one terminal device (the console, a pseudo-terminal slave, or a private one
 *   for tests): a locked line discipline, wait queues, the session and foreground process
 *   group, the window size, and the vfs_file operations (read, write, poll, ioctl).
 * Pseudo-terminals (pty.c): /dev/ptmx makes a pair, the slave /dev/pts/N is a struct tty
 * with the same line discipline; Linux's Unix 98 pty ABI (pty(7)). */
#pragma once
#include "types.h"
#include "vfs.h"

/* ---- Linux termios ABI ---- */
#define TTY_NCCS 19
struct ktermios {
    uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
    uint8_t c_line;
    uint8_t c_cc[TTY_NCCS];
};

struct kwinsize {
    uint16_t ws_row, ws_col, ws_xpixel, ws_ypixel;
};

/* c_cc indexes */
#define VINTR 0
#define VQUIT 1
#define VERASE 2
#define VKILL 3
#define VEOF 4
#define VTIME 5
#define VMIN 6
#define VSWTC 7
#define VSTART 8
#define VSTOP 9
#define VSUSP 10
#define VEOL 11
#define VREPRINT 12
#define VDISCARD 13
#define VWERASE 14
#define VLNEXT 15
#define VEOL2 16

/* c_iflag */
#define ISTRIP 0x20u
#define INLCR 0x40u
#define IGNCR 0x80u
#define ICRNL 0x100u
#define IXON 0x400u
#define IUTF8 0x4000u
/* c_oflag */
#define OPOST 0x1u
#define ONLCR 0x4u
#define OCRNL 0x8u
#define ONOCR 0x10u
#define ONLRET 0x20u
/* c_cflag */
#define B38400 0xfu
#define CS8 0x30u
#define CREAD 0x80u
#define HUPCL 0x400u
/* c_lflag */
#define ISIG 0x1u
#define ICANON 0x2u
#define ECHO 0x8u
#define ECHOE 0x10u
#define ECHOK 0x20u
#define ECHONL 0x40u
#define NOFLSH 0x80u
#define TOSTOP 0x100u
#define ECHOCTL 0x200u
#define ECHOKE 0x800u
#define IEXTEN 0x8000u

/* ioctl numbers */
#define TCGETS 0x5401u
#define TCSETS 0x5402u
#define TCSETSW 0x5403u
#define TCSETSF 0x5404u
#define TCSBRK 0x5409u
#define TCXONC 0x540Au
#define TCFLSH 0x540Bu
#define TIOCSCTTY 0x540Eu
#define TIOCGPGRP 0x540Fu
#define TIOCSPGRP 0x5410u
#define TIOCOUTQ 0x5411u
#define TIOCGWINSZ 0x5413u
#define TIOCSWINSZ 0x5414u
#define FIONREAD 0x541Bu
#define FIONBIO 0x5421u
#define TIOCNOTTY 0x5422u
#define TCSBRKP 0x5425u
#define TIOCGSID 0x5429u
/* pseudo-terminal master ioctls (Linux asm-generic/ioctls.h: _IOR('T', 0x30, unsigned int)
 * etc.) */
#define TIOCGPTN 0x80045430u
#define TIOCSPTLCK 0x40045431u
#define TIOCSIG 0x40045436u
#define TIOCGPTLCK 0x80045439u
/* TCFLSH arguments */
#define TCIFLUSH 0
#define TCOFLUSH 1
#define TCIOFLUSH 2

#ifndef O_NOCTTY
#define O_NOCTTY 0400
#endif

/* The defaults of a new terminal, as Linux's (tty_std_termios): ICRNL; OPOST|ONLCR;
 * B38400|CS8|CREAD|HUPCL; ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN; ^C ^\ DEL ^U ^D,
 * VTIME 0, VMIN 1, ^Q ^S ^Z, VEOL off, ^R ^O ^W ^V, VEOL2 off. A c_cc value of 0 disables
 * that character (_POSIX_VDISABLE). */
void tty_termios_default(struct ktermios *t);

/* ---- the line discipline (tty_ldisc.c, pure) ---- */
#define TTY_LINE_MAX 4095    /* bytes of a canonical line before its terminator (MAX_CANON-1) */
#define TTY_INPUT_SIZE 8192  /* input buffer (MAX_INPUT): unread lines + the line being edited */

/* Output sink: receives bytes after output processing (echo and written data). */
typedef void (*tty_out_fn)(void *ctx, const char *s, size_t n);
/* Called for ISIG characters with SIGINT, SIGQUIT or SIGTSTP. */
typedef void (*tty_sig_fn)(void *ctx, int sig);

struct tty_ldisc {
    struct ktermios tio;
    uint8_t buf[TTY_INPUT_SIZE];
    uint8_t delim[TTY_INPUT_SIZE / 8];  /* bit per slot: a canonical line ends after it */
    uint8_t eofm[TTY_INPUT_SIZE / 8];   /* bit per slot: an end-of-file mark (VEOF), not data */
    /* Free-running positions (slot = pos % TTY_INPUT_SIZE): rd <= canon <= wr.
     * [rd, canon) can be read; [canon, wr) is the line being edited (canonical mode). */
    uint32_t rd, canon, wr;
    uint32_t col;                       /* output column, for erasing tabs */
    uint32_t line_col;                  /* output column where the edit line's echo began */
    bool lnext;                         /* the last byte was VLNEXT: take the next literally */
    uint64_t rx_bytes;                  /* bytes stored since init (the VTIME timer watches it) */
    uint64_t dropped;                   /* bytes lost to a full buffer or an over-long line */
    char obuf[128];                     /* output collected before it goes to out() */
    size_t olen;
    tty_out_fn out;
    tty_sig_fn sig;
    void *ctx;
};

/* Sets up a line discipline with the default termios and empty buffers. out and sig may be
 * NULL (the output or the signals are dropped). */
void tty_ldisc_init(struct tty_ldisc *l, tty_out_fn out, tty_sig_fn sig, void *ctx);
/* Processes n input bytes as typed: input mapping (ISTRIP, IGNCR, ICRNL, INLCR), signal
 * characters (ISIG), canonical editing (ICANON: VERASE and also the other of DEL/BS, VKILL,
 * VWERASE, VREPRINT, VLNEXT, VEOF, VEOL, VEOL2, newline), echo (ECHO, ECHOE, ECHOK, ECHOKE,
 * ECHONL, ECHOCTL). Bytes that do not fit are dropped (a BEL is echoed). Any n is safe. */
void tty_ldisc_input(struct tty_ldisc *l, const uint8_t *s, size_t n);
/* Takes input for a read of up to len bytes into dst. Canonical: at most one line (its
 * terminator included, VEOF excluded); 0 for an end-of-file mark at the start of a line;
 * -KEAGAIN when no complete line is there. Non-canonical: what is there, up to len (0 when
 * nothing). */
int64_t tty_ldisc_read(struct tty_ldisc *l, uint8_t *dst, size_t len);
/* Bytes that a read could take now (committed lines in canonical mode). */
uint32_t tty_ldisc_avail(const struct tty_ldisc *l);
/* Input bytes the buffer takes now without dropping any (each input byte needs at most one
 * slot; a canonical line at TTY_LINE_MAX still drops data bytes). */
uint32_t tty_ldisc_input_room(const struct tty_ldisc *l);
/* True when a read would not wait: canonical, a complete line or end-of-file mark;
 * non-canonical, at least one byte (VMIN bytes when VMIN > 0 and VTIME == 0, as Linux's
 * poll). */
bool tty_ldisc_poll_ready(const struct tty_ldisc *l);
/* Drops all input (read and being edited). */
void tty_ldisc_flush_input(struct tty_ldisc *l);
/* Changes the termios. Leaving canonical mode makes the line being edited readable;
 * entering it keeps unread input readable as it is. */
void tty_ldisc_set_termios(struct tty_ldisc *l, const struct ktermios *t);
/* Output processing of written data (OPOST: ONLCR, OCRNL, ONOCR, ONLRET) to out(); keeps the
 * column. Returns n (everything is taken). */
size_t tty_ldisc_write(struct tty_ldisc *l, const uint8_t *s, size_t n);
/* Sends collected output to out() now (tty_ldisc_input and _write end with it). */
void tty_ldisc_flush_output(struct tty_ldisc *l);

/* How a non-canonical read of len bytes waits (POSIX XBD 11.1.7, cases A-D of MIN/TIME):
 * want: the read returns once this many bytes arrived (0: at once with what is there);
 * first_ns: how long to wait for the first byte (WAIT_FOREVER, or VTIME tenths);
 * inter_ns: after a byte, the read also returns when no further byte comes for this long
 * (0: no inter-byte timer). */
struct tty_raw_plan {
    size_t want;
    uint64_t first_ns;
    uint64_t inter_ns;
};
void tty_raw_plan(const struct ktermios *t, size_t len, struct tty_raw_plan *p);

/* ---- terminal devices (tty.c) ---- */
struct tty;
struct process;

/* Sets up the console terminal (idempotent; tty_console() also does it on first use). Its
 * output goes to every kernel console (serial and framebuffer, console_write). */
void tty_init(void);
/* Starts the console's input task: from now on the tty takes every byte of the console
 * input queue (console_input.h). Before this the kernel shell owns console input, and a
 * read of /dev/console reads the queue directly. Returns 0 (also when already started) or
 * -KENOMEM. */
int tty_console_start(void);
/* Ends the console's input task (init could not start): console input goes back to the
 * kernel shell. Bytes the tty had taken but nobody read are lost. */
void tty_console_stop(void);
/* True once tty_console_start ran (and tty_console_stop did not follow). */
bool tty_console_started(void);
/* The console terminal. */
struct tty *tty_console(void);
/* Opens the console terminal (for init's fds 0, 1, 2): flags are O_RDWR etc.; the calling
 * process, if it is a session leader without a controlling terminal, gets the console as
 * its controlling terminal unless O_NOCTTY. 0 or -KENOMEM. */
int tty_open_console(uint32_t flags, struct vfs_file **out);
/* Opens terminal t with the rules of tty_open_console (the file refers to t's own vnode). */
int tty_open(struct tty *t, uint32_t flags, struct vfs_file **out);
/* Makes an open file (f->vn is a character-device node, e.g. devfs's /dev/console) a file
 * of terminal t: sets f->fops and f->priv and applies the controlling-terminal rule of
 * tty_open_console. For devfs's open hook. 0 or -errno. */
int tty_attach_file(struct tty *t, struct vfs_file *f);
/* The terminal behind an open file, or NULL when f is not a terminal (isatty). */
struct tty *tty_from_file(const struct vfs_file *f);
/* The calling process's controlling terminal (/dev/tty), or NULL. */
struct tty *tty_current_ctty(void);
/* Reads and writes a terminal from the kernel without a file (devfs without the open hook):
 * the semantics of the file operations with a blocking read. */
int64_t tty_read_kernel(struct tty *t, void *buf, size_t len);
int64_t tty_write_kernel(struct tty *t, const void *buf, size_t len);
/* ioctl with a kernel-space argument (self-tests, kernel callers): the same commands and
 * results as the file operation, with pointers to kernel memory; also for pty masters. */
int64_t tty_ioctl_kernel(struct vfs_file *f, uint32_t cmd, uint64_t arg);
/* Feeds bytes to a terminal as if typed (self-tests; the console's input task uses it). */
void tty_inject_input(struct tty *t, const char *s, size_t n);
/* For the exit path: p, a session leader, ends. If its session has a controlling terminal,
 * the foreground process group gets SIGHUP and SIGCONT and the terminal loses its session
 * and foreground group (POSIX XSH _exit, "controlling process"). Task context, no locks held. */
void tty_session_leader_exit(struct process *p);

/* ---- pseudo-terminals (pty.c, Linux pty(7), Unix 98 style) ---- */
#define PTY_MAX 64          /* pairs at once; the next /dev/ptmx open fails with ENOSPC */
#define PTY_BUF_SIZE 16384  /* slave output the master has not read yet (then writers wait) */

/* devfs's open hook for /dev/ptmx: makes a new pair (the lowest free number, the slave
 * locked) and turns f into its master. 0, -KENOSPC (PTY_MAX pairs exist), -KENOMEM. */
int pty_open_master(struct vfs_file *f);
/* /dev/pts for devfs: the slave node of pair "N" (referenced), while its master is open;
 * -KENOENT otherwise. */
int pty_lookup(const char *name, size_t len, struct vnode **out);
/* /dev/pts listing: the first pair numbered *pos or higher whose master is open, in *out
 * (name, ino, S_IFCHR); *pos moves past it. 1 = an entry, 0 = no more. */
int pty_readdir(uint64_t *pos, struct vfs_dirent *out);
/* Pairs that exist now (master or slave files open), for tests and /proc. */
int pty_count(void);
/* The pty number behind a master file, or -1 when f is not one (tests). */
int pty_master_index(const struct vfs_file *f);

/* A private terminal that is not the console (self-tests): its
 * output goes to sink(ctx, ...) (NULL: dropped). NULL when memory is short. */
struct tty *tty_create(const char *name, tty_out_fn sink, void *ctx);
/* Frees a terminal from tty_create: -KEBUSY while files of it are open. */
int tty_destroy(struct tty *t);
/* Replaces the signal sender of t (default: proc_signal_pgrp) so tests can watch the
 * signals a terminal sends; fn NULL restores the default. fn(pgrp, sig, ctx). */
void tty_set_signal_hook(struct tty *t, int (*fn)(int pgrp, int sig, void *ctx), void *ctx);
/* The session and foreground process group of t (0 when none), for /proc and tests. */
int tty_session(const struct tty *t);
int tty_fg_pgrp(const struct tty *t);
const char *tty_name(const struct tty *t);
