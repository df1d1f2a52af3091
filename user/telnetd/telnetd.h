/* telnetd.h: the parts of SABOS's telnet server (/sbin/telnetd) shared by its files:
 *   telnet.c  - the TELNET protocol of one connection (RFC 854, RFC 855 option negotiation by
 *               the Q method of RFC 1143; ECHO RFC 857, SUPPRESS-GO-AHEAD RFC 858, NAWS
 *               RFC 1073, TERMINAL-TYPE RFC 1091), free of I/O: bytes in, bytes out;
 *   session.c - one connection: its socket, its pseudo-terminal (posix_openpt(3), the Linux pty
 *               ABI), its shell, and the bounded buffers between them;
 *   main.c    - the command line, the listening sockets and the poll(2) event loop.
 * See main.c for the command line and docs/userland.md ("telnetd") for the behaviour. */
#pragma once
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* ---- byte buffers with a fixed capacity (the per-session back-pressure) ---- */

#define TN_BUF_CAP 8192

/* Bytes data[start..end) are queued; the free room is CAP minus the queued count. */
struct buf {
    size_t start, end;
    unsigned char data[TN_BUF_CAP];
};

/* The number of queued bytes. */
static inline size_t buf_len(const struct buf *b) { return b->end - b->start; }

/* The number of bytes that can still be appended. */
static inline size_t buf_room(const struct buf *b) { return TN_BUF_CAP - buf_len(b); }

/* Where n more bytes go (the caller checked buf_room >= n and then advances b->end): moves
 * the queued bytes to the front only when the tail is too short. */
static inline unsigned char *buf_tail(struct buf *b, size_t n) {
    if (TN_BUF_CAP - b->end < n) {
        memmove(b->data, b->data + b->start, buf_len(b));
        b->end -= b->start;
        b->start = 0;
    }
    return b->data + b->end;
}

/* Appends n bytes; false (nothing appended) when they do not fit. */
static inline bool buf_put(struct buf *b, const void *p, size_t n) {
    if (n > buf_room(b)) return false;
    memcpy(buf_tail(b, n), p, n);
    b->end += n;
    return true;
}

/* Drops n bytes from the front (they were written out). */
static inline void buf_drop(struct buf *b, size_t n) {
    b->start += n;
    if (b->start == b->end) b->start = b->end = 0;
}

/* ---- telnet.c: the protocol of one connection ---- */

/* Longest terminal type name kept (RFC 1091: at most 40 characters). */
#define TN_TTYPE_MAX 40
/* Longest subnegotiation kept; a longer one is consumed and dropped. */
#define TN_SB_MAX 64

/* The protocol state of one connection. Zero-initialised, then telnet_start. */
struct telnet {
    uint8_t state;               /* where the parser is (telnet.c) */
    uint8_t verb;                /* WILL/WONT/DO/DONT waiting for its option byte */
    uint8_t us[256], him[256];   /* RFC 1143 option states (ours / the client's) */
    uint8_t sb_opt;              /* the option of the subnegotiation being read */
    bool sb_overflow;            /* it was longer than TN_SB_MAX: dropped at its end */
    size_t sb_len;
    uint8_t sb[TN_SB_MAX];
    bool out_cr;                 /* the last byte sent was a CR (RFC 854: CR NUL or CR LF) */
    bool ttype_settled;          /* the terminal type is known, or the client refused it */
    char ttype[TN_TTYPE_MAX + 1];/* lower-case terminal type, "" when unknown */
    bool winsize_changed;        /* NAWS gave a new size: cols x rows */
    uint16_t cols, rows;
};

/* Worst case of network output per byte of network input (replies), plus a constant for
 * a sequence begun in an earlier chunk: telnet_input never needs more room in its to_net
 * buffer than TN_REPLY_PER_BYTE * n + TN_REPLY_SLACK. */
#define TN_REPLY_PER_BYTE 4
#define TN_REPLY_SLACK 16

/* Starts the negotiation: offers WILL ECHO and WILL SUPPRESS-GO-AHEAD and asks DO NAWS and
 * DO TERMINAL-TYPE, appending the commands to to_net. */
void telnet_start(struct telnet *tn, struct buf *to_net);

/* Parses n bytes received from the client: data for the terminal goes to to_pty (IAC IAC
 * as one 255 byte, CR LF and CR NUL as CR), replies to to_net. Sets ttype_settled/ttype and
 * winsize_changed/cols/rows when the client tells them. The caller gives at most
 * buf_room(to_pty) - 1 bytes and keeps the room in to_net described above; anything that
 * would not fit is dropped, never written past a buffer. */
void telnet_input(struct telnet *tn, const unsigned char *in, size_t n, struct buf *to_pty,
                  struct buf *to_net);

/* Appends n bytes of terminal output to to_net in the network virtual terminal's form: 255
 * doubled to IAC IAC, a CR that is not followed by LF sent as CR NUL. Needs at most 2 * n + 1
 * bytes of room; returns false (and appends nothing) when there is less. */
bool telnet_output(struct telnet *tn, const unsigned char *in, size_t n, struct buf *to_net);

/* ---- session.c: one connection ---- */

/* How long the shell waits for the client's terminal type before it starts anyway. */
#define SESSION_NEGOTIATE_MS 2000
/* How long a session that ended may take to hand its last output to the client. */
#define SESSION_FLUSH_MS 5000

enum session_phase {
    SESSION_NEGOTIATING, /* pty open, shell not started yet (waiting for TERMINAL-TYPE) */
    SESSION_RUNNING,     /* shell running, bytes flow both ways */
    SESSION_CLOSING,     /* shell gone: the rest of its output is sent, then the socket closed */
    SESSION_DONE,        /* every fd closed: the caller frees it */
};

struct session {
    enum session_phase phase;
    int sock, master;    /* -1 once closed */
    bool master_hup;     /* the master reported a hang-up (every slave fd closed) */
    bool shell_exited;   /* the shell was reaped */
    pid_t shell_pid;     /* 0 before it started */
    long long deadline_ms; /* end of the negotiation or of the closing flush */
    int sock_pi, master_pi; /* their indices in the poll array, or -1 */
    char peer[64];       /* "ADDR port PORT" of the client, for the log */
    char slave_path[32]; /* /dev/pts/N */
    struct telnet tn;
    struct buf to_pty, to_net;
};

/* Options for every session (main.c sets them from the command line). */
extern const char *session_shell; /* the program each connection runs */
extern bool session_quiet;        /* no log line per connection */

/* Starts a session on an accepted non-blocking socket: a new pseudo-terminal, the opening
 * negotiation. NULL (socket closed, reason logged) when the pty cannot be made. */
struct session *session_new(int sock, const char *peer, long long now_ms);

/* The poll(2) entries of the session: fills pfd[0..] with its socket and (when it has
 * something to wait for) its master, records their indices, returns how many it used. */
int session_poll_fds(struct session *s, struct pollfd *pfd, int first_index);

/* Handles what poll reported for the session (pfd is the whole poll array), a reaped shell
 * and the session's deadline; called for every session after every poll. Afterwards
 * phase == SESSION_DONE means the caller frees it. */
void session_handle(struct session *s, const struct pollfd *pfd, long long now_ms);

/* The session's shell was reaped (status as waitpid gives it); the next session_handle
 * reads the rest of its output and closes the session. */
void session_shell_reaped(struct session *s, int status);

/* Closes what is still open and frees the session. */
void session_free(struct session *s);

/* Milliseconds on the monotonic clock. */
long long telnetd_now_ms(void);
