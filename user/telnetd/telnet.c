/* telnet.c: the TELNET protocol of one server connection, without I/O (bytes in, bytes out).
 *
 * Specifications:
 *   RFC 854  TELNET Protocol Specification: the network virtual terminal (NVT), IAC commands
 *            (IP, AO, AYT, EC, EL, GA, NOP, DM, BRK), IAC IAC as a data byte 255, CR LF and
 *            CR NUL as the only CR sequences;
 *   RFC 855  TELNET Option Specifications: WILL/WONT/DO/DONT and IAC SB ... IAC SE;
 *   RFC 1143 The Q Method of Implementing TELNET Option Negotiation: the per-option states
 *            NO, YES, WANTNO, WANTYES with a one-deep queue, so that no reply loops;
 *   RFC 857  ECHO (the server echoes), RFC 858 SUPPRESS-GO-AHEAD (both ways),
 *   RFC 1073 NAWS (window size), RFC 1091 TERMINAL-TYPE (one SEND, the first name kept).
 * Every other option is refused: DONT for the client's WILL, WONT for its DO, and nothing
 * for a WONT/DONT of an option that is already off.
 *
 * Malformed input: an IAC followed by an unknown command byte is ignored; inside a
 * subnegotiation, IAC followed by anything but IAC or SE ends (drops) the subnegotiation and
 * is taken as that command; a subnegotiation longer than TN_SB_MAX bytes is read to its end
 * and dropped; NAWS and TERMINAL-TYPE data of the wrong form, or for an option that is not
 * enabled, are ignored. */
#include "telnetd.h"

#include <ctype.h>

/* Command bytes (RFC 854, RFC 855). */
enum {
    SE = 240, NOP = 241, DM = 242, BRK = 243, IP = 244, AO = 245, AYT = 246, EC = 247,
    EL = 248, GA = 249, SB = 250, WILL = 251, WONT = 252, DO = 253, DONT = 254, IAC = 255,
};
/* Options. */
enum { OPT_ECHO = 1, OPT_SGA = 3, OPT_TTYPE = 24, OPT_NAWS = 31 };
/* TERMINAL-TYPE subnegotiation codes (RFC 1091). */
enum { TTYPE_IS = 0, TTYPE_SEND = 1 };

/* Parser states. */
enum { ST_DATA, ST_CR, ST_IAC, ST_OPT, ST_SB_OPT, ST_SB, ST_SB_IAC };

/* RFC 1143 option states. The server asks only once, to enable, from NO, at the start
 * (telnet_start), and never asks to disable: so WANTNO and RFC 1143's queue never occur. */
enum { Q_NO, Q_YES, Q_WANTYES };

/* The terminal characters that the IP/BRK, EC and EL commands stand for (the POSIX defaults
 * of VINTR, VERASE and VKILL; tsh and the tty layer use them). */
enum { CHAR_INTR = 0x03, CHAR_ERASE = 0x7f, CHAR_KILL = 0x15 };

static void put_byte(struct buf *b, unsigned char c) { buf_put(b, &c, 1); }

static void send_cmd(struct buf *to_net, unsigned char verb, unsigned char opt) {
    const unsigned char cmd[3] = {IAC, verb, opt};
    buf_put(to_net, cmd, sizeof cmd);
}

/* Whether we agree to enable an option on our side (DO) / on the client's side (WILL). */
static bool we_will(unsigned char opt) { return opt == OPT_ECHO || opt == OPT_SGA; }
static bool we_let_him(unsigned char opt) {
    return opt == OPT_SGA || opt == OPT_NAWS || opt == OPT_TTYPE;
}

/* The client's side of an option changed between enabled and disabled. */
static void him_changed(struct telnet *tn, unsigned char opt, struct buf *to_net) {
    if (opt != OPT_TTYPE) return;
    if (tn->him[opt] == Q_YES) {
        const unsigned char send[6] = {IAC, SB, OPT_TTYPE, TTYPE_SEND, IAC, SE};
        buf_put(to_net, send, sizeof send);
    } else {
        tn->ttype_settled = true; /* refused: the default terminal type */
    }
}

/* RFC 1143 section 7 (no WANTNO, queue EMPTY): receipt of WILL (positive) or WONT for the
 * client's side of opt, or of DO (positive) or DONT for ours. */
static void negotiate(struct telnet *tn, bool his_side, bool positive, unsigned char opt,
                      struct buf *to_net) {
    uint8_t *q = his_side ? &tn->him[opt] : &tn->us[opt];
    unsigned char yes = his_side ? DO : WILL, no = his_side ? DONT : WONT;
    uint8_t before = *q;
    if (positive) {
        if (before == Q_NO) {
            bool agree = his_side ? we_let_him(opt) : we_will(opt);
            if (agree) *q = Q_YES;
            send_cmd(to_net, agree ? yes : no, opt);
        } else {
            *q = Q_YES; /* WANTYES: our request was granted; YES stays */
        }
    } else {
        if (before == Q_YES) send_cmd(to_net, no, opt); /* acknowledge the disable */
        *q = Q_NO;                                      /* from WANTYES: refused */
    }
    if (his_side && *q != before) him_changed(tn, opt, to_net);
}

void telnet_start(struct telnet *tn, struct buf *to_net) {
    /* RFC 1143: asking from NO means WANTYES and sending the request. */
    tn->us[OPT_ECHO] = Q_WANTYES;
    send_cmd(to_net, WILL, OPT_ECHO);
    tn->us[OPT_SGA] = Q_WANTYES;
    send_cmd(to_net, WILL, OPT_SGA);
    tn->him[OPT_NAWS] = Q_WANTYES;
    send_cmd(to_net, DO, OPT_NAWS);
    tn->him[OPT_TTYPE] = Q_WANTYES;
    send_cmd(to_net, DO, OPT_TTYPE);
}

/* RFC 1091: the answer to our SEND, IS followed by 1..40 characters; kept in lower case
 * (terminfo names are). A name with other characters than letters, digits and "-./_+"
 * settles the question with the default type. */
static void take_ttype(struct telnet *tn) {
    if (tn->ttype_settled || tn->sb_len < 1 || tn->sb[0] != TTYPE_IS) return;
    tn->ttype_settled = true;
    size_t n = tn->sb_len - 1;
    if (n < 1 || n > TN_TTYPE_MAX) return;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = tn->sb[1 + i];
        if (!isalnum(c) && !strchr("-./_+", c)) {
            tn->ttype[0] = '\0';
            return;
        }
        tn->ttype[i] = (char)tolower(c);
    }
    tn->ttype[n] = '\0';
}

/* IAC SE ended the subnegotiation tn->sb_opt with tn->sb_len bytes. */
static void subnegotiation_end(struct telnet *tn) {
    if (tn->sb_overflow || tn->him[tn->sb_opt] != Q_YES) return;
    if (tn->sb_opt == OPT_NAWS && tn->sb_len == 4) { /* RFC 1073: WIDTH16 HEIGHT16 */
        tn->cols = (uint16_t)(tn->sb[0] << 8 | tn->sb[1]);
        tn->rows = (uint16_t)(tn->sb[2] << 8 | tn->sb[3]);
        tn->winsize_changed = true;
    } else if (tn->sb_opt == OPT_TTYPE) {
        take_ttype(tn);
    }
}

/* The command byte c after an IAC (not SB or an option verb). */
static void command(unsigned char c, struct buf *to_pty, struct buf *to_net) {
    static const char ayt_reply[] = "[Yes]\r\n";
    switch (c) {
    case IAC: put_byte(to_pty, IAC); break;
    case IP:
    case BRK: put_byte(to_pty, CHAR_INTR); break;
    case EC: put_byte(to_pty, CHAR_ERASE); break;
    case EL: put_byte(to_pty, CHAR_KILL); break;
    case AYT: buf_put(to_net, ayt_reply, sizeof ayt_reply - 1); break;
    default: break; /* NOP, DM, AO, GA, SE outside SB and unknown bytes: nothing to do */
    }
}

/* The byte c after an IAC: an option verb, SB, or a command. */
static void after_iac(struct telnet *tn, unsigned char c, struct buf *to_pty,
                      struct buf *to_net) {
    tn->state = ST_DATA;
    if (c >= WILL && c <= DONT) {
        tn->verb = c;
        tn->state = ST_OPT;
    } else if (c == SB) {
        tn->state = ST_SB_OPT;
    } else {
        command(c, to_pty, to_net);
    }
}

void telnet_input(struct telnet *tn, const unsigned char *in, size_t n, struct buf *to_pty,
                  struct buf *to_net) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = in[i];
        switch (tn->state) {
        case ST_CR: /* RFC 854: CR LF and CR NUL both mean CR to the terminal */
            tn->state = ST_DATA;
            if (c == '\n' || c == '\0') break;
            __attribute__((fallthrough)); /* a CR followed by anything else keeps that byte */
        case ST_DATA:
            if (c == IAC) {
                tn->state = ST_IAC;
            } else {
                put_byte(to_pty, c);
                if (c == '\r') tn->state = ST_CR;
            }
            break;
        case ST_IAC: after_iac(tn, c, to_pty, to_net); break;
        case ST_OPT:
            tn->state = ST_DATA;
            negotiate(tn, tn->verb == WILL || tn->verb == WONT,
                      tn->verb == WILL || tn->verb == DO, c, to_net);
            break;
        case ST_SB_OPT:
            tn->sb_opt = c;
            tn->sb_len = 0;
            tn->sb_overflow = false;
            tn->state = ST_SB;
            break;
        case ST_SB:
            if (c == IAC) {
                tn->state = ST_SB_IAC;
                break;
            }
        sb_byte:
            if (tn->sb_len < TN_SB_MAX) tn->sb[tn->sb_len++] = c;
            else tn->sb_overflow = true;
            break;
        case ST_SB_IAC:
            tn->state = ST_SB;
            if (c == IAC) goto sb_byte;
            if (c == SE) {
                tn->state = ST_DATA;
                subnegotiation_end(tn);
                break;
            }
            /* Malformed: the subnegotiation is dropped and c is an ordinary command. */
            after_iac(tn, c, to_pty, to_net);
            break;
        }
    }
}

bool telnet_output(struct telnet *tn, const unsigned char *in, size_t n, struct buf *to_net) {
    if (buf_room(to_net) < 2 * n + 1) return false;
    unsigned char *start = buf_tail(to_net, 2 * n + 1), *o = start;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = in[i];
        if (tn->out_cr && c != '\n') *o++ = '\0';
        tn->out_cr = c == '\r';
        if (c == IAC) *o++ = IAC;
        *o++ = c;
    }
    to_net->end += (size_t)(o - start);
    return true;
}
