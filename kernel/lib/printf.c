/* printf.c: the kernel's formatted-output core, kvsnprintf and ksnprintf (kprintf.h).
 *
 * Follows ISO C17 section 7.21.6.1 (the fprintf conversion specification: flags, field width,
 * precision, length modifiers, conversions) and 7.21.6.12 (vsnprintf: the return value is the
 * length the whole output would have had; at most size-1 characters are written and the
 * result is always NUL-terminated when size > 0; size 0 writes nothing and buf may be NULL).
 *
 * Supported: %d %i %u %x %X %o %p %s %c %%, flags '-' '0' '+' ' ' '#', field width and
 * precision (also '*'; a negative '*' width means '-' plus its magnitude, a negative '*'
 * precision means "no precision"), length modifiers hh h l ll z t j. No floating point.
 * Choices where C leaves the behaviour open, matching the GNU C library so that the host test
 * can compare the two directly:
 *   - '0' pads only numeric conversions; %s and %c are always padded with spaces.
 *   - '+' and ' ' affect only %d and %i; '#' affects only %o, %x and %X.
 *   - %% ignores flags, width and precision.
 *   - A NULL %s prints "(null)", or nothing when a precision below 6 would cut it.
 * Kernel-specific choices:
 *   - %p prints "0x" and exactly 16 hex digits (NULL too); width and '-' apply, nothing else.
 *   - An unknown conversion (including %n, which would write through a pointer, and a '%' at
 *     the very end of the format) is printed literally, from the '%' to the offending
 *     character, and consumes no argument (except a '*' width or precision already read).
 *   - Widths and precisions saturate at INT_MAX; if the full output would exceed INT_MAX
 *     characters the result is -1, as POSIX specifies for snprintf (EOVERFLOW). */
#include "kprintf.h"

#define FMT_INT_MAX 0x7fffffff

/* Where formatted text goes: buf[0 .. size-2] receives characters, total counts them all. */
struct fmt_out {
    char *buf;
    size_t size;
    size_t total;
};

/* Appends n copies of c, writing only what still fits; the count always grows by n. */
static void out_repeat(struct fmt_out *out, char c, size_t n) {
    if (out->size > 0 && out->total < out->size - 1) {
        size_t room = out->size - 1 - out->total;
        size_t fit = n < room ? n : room;
        char *p = out->buf + out->total;
        for (size_t i = 0; i < fit; i++)
            p[i] = c;
    }
    out->total += n;
}

/* Appends n bytes of s, writing only what still fits; the count always grows by n. */
static void out_bytes(struct fmt_out *out, const char *s, size_t n) {
    if (out->size > 0 && out->total < out->size - 1) {
        size_t room = out->size - 1 - out->total;
        size_t fit = n < room ? n : room;
        char *p = out->buf + out->total;
        for (size_t i = 0; i < fit; i++)
            p[i] = s[i];
    }
    out->total += n;
}

/* One parsed conversion specification. */
struct fmt_spec {
    bool left;      /* '-' */
    bool zero;      /* '0' */
    bool plus;      /* '+' */
    bool space;     /* ' ' */
    bool alt;       /* '#' */
    int width;      /* 0 when absent */
    int precision;  /* -1 when absent */
};

/* Writes body (of body_len bytes) padded with spaces to the field width. */
static void out_padded(struct fmt_out *out, const struct fmt_spec *spec, const char *body,
                       size_t body_len) {
    size_t pad = (size_t)spec->width > body_len ? (size_t)spec->width - body_len : 0;
    if (!spec->left)
        out_repeat(out, ' ', pad);
    out_bytes(out, body, body_len);
    if (spec->left)
        out_repeat(out, ' ', pad);
}

/* Formats one integer conversion. magnitude is the value without its sign (already
 * converted to the argument's width); negative says a '-' sign is due. base is 8, 10 or 16. */
static void out_integer(struct fmt_out *out, const struct fmt_spec *spec, uint64_t magnitude,
                        bool negative, bool is_signed, unsigned base, bool upper) {
    const char *digit_set = upper ? "0123456789ABCDEF" : "0123456789abcdef";

    /* Digits are produced least significant first, filling the array from its end. Zero
     * produces no digits here: the precision rule below supplies its "0". */
    char digits[24];
    char *first = digits + sizeof(digits);
    uint64_t v = magnitude;
    if (base == 10) {
        for (; v != 0; v /= 10)
            *--first = (char)('0' + v % 10);
    } else {
        unsigned shift = base == 16 ? 4 : 3;
        for (; v != 0; v >>= shift)
            *--first = digit_set[v & (base - 1)];
    }
    size_t ndigits = (size_t)(digits + sizeof(digits) - first);

    /* C17 7.21.6.1p8: the default precision is 1; precision 0 with value 0 gives no digits. */
    size_t precision = spec->precision < 0 ? 1 : (size_t)spec->precision;
    size_t zeros = precision > ndigits ? precision - ndigits : 0;

    char prefix[2];
    size_t prefix_len = 0;
    if (is_signed) {
        if (negative)
            prefix[prefix_len++] = '-';
        else if (spec->plus)
            prefix[prefix_len++] = '+';
        else if (spec->space)
            prefix[prefix_len++] = ' ';
    }
    if (spec->alt) {
        /* C17 7.21.6.1p6: '#' with o makes the first digit a 0 (the most significant digit
         * of a nonzero value never is); with x/X it puts "0x"/"0X" before a nonzero value. */
        if (base == 8 && zeros == 0)
            zeros = 1;
        if (base == 16 && magnitude != 0) {
            prefix[prefix_len++] = '0';
            prefix[prefix_len++] = upper ? 'X' : 'x';
        }
    }

    size_t body_len = prefix_len + zeros + ndigits;
    size_t pad = (size_t)spec->width > body_len ? (size_t)spec->width - body_len : 0;
    /* '0' pads with zeros after the sign/prefix, unless '-' or a precision is given. */
    if (spec->zero && !spec->left && spec->precision < 0) {
        zeros += pad;
        pad = 0;
    }
    if (!spec->left)
        out_repeat(out, ' ', pad);
    out_bytes(out, prefix, prefix_len);
    out_repeat(out, '0', zeros);
    out_bytes(out, first, ndigits);
    if (spec->left)
        out_repeat(out, ' ', pad);
}

/* Reads a decimal number at *p (advancing it), saturating at INT_MAX. */
static int parse_decimal(const char **p) {
    int n = 0;
    while (**p >= '0' && **p <= '9') {
        int digit = **p - '0';
        n = n > (FMT_INT_MAX - digit) / 10 ? FMT_INT_MAX : n * 10 + digit;
        (*p)++;
    }
    return n;
}

/* Formats into buf (always NUL-terminated when size > 0); returns the length the full
 * output would have had, like C99 vsnprintf, or -1 if that exceeds INT_MAX. */
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
    struct fmt_out out = {buf, size, 0};
    const char *p = fmt;

    while (*p) {
        /* Copy the literal run up to the next '%' in one go. */
        const char *run = p;
        while (*p && *p != '%')
            p++;
        out_bytes(&out, run, (size_t)(p - run));
        if (*p == 0)
            break;

        const char *spec_start = p++; /* at '%' */
        struct fmt_spec spec = {false, false, false, false, false, 0, -1};

        for (;; p++) {
            if (*p == '-') spec.left = true;
            else if (*p == '0') spec.zero = true;
            else if (*p == '+') spec.plus = true;
            else if (*p == ' ') spec.space = true;
            else if (*p == '#') spec.alt = true;
            else break;
        }

        if (*p == '*') {
            int w = va_arg(ap, int);
            p++;
            if (w < 0) {
                spec.left = true;
                w = w == -FMT_INT_MAX - 1 ? FMT_INT_MAX : -w;
            }
            spec.width = w;
        } else {
            spec.width = parse_decimal(&p);
        }

        if (*p == '.') {
            p++;
            if (*p == '*') {
                int prec = va_arg(ap, int);
                p++;
                spec.precision = prec < 0 ? -1 : prec;
            } else {
                spec.precision = parse_decimal(&p);
            }
        }

        /* Length modifier; l, ll, z, t and j all mean 64 bits on x86-64. */
        enum { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_64 } length = LEN_INT;
        if (*p == 'h') {
            p++;
            length = LEN_SHORT;
            if (*p == 'h') {
                p++;
                length = LEN_CHAR;
            }
        } else if (*p == 'l') {
            p++;
            length = LEN_64;
            if (*p == 'l')
                p++;
        } else if (*p == 'z' || *p == 't' || *p == 'j') {
            p++;
            length = LEN_64;
        }

        char conv = *p;
        switch (conv) {
        case 'd':
        case 'i': {
            int64_t v;
            if (length == LEN_64)
                v = va_arg(ap, int64_t);
            else if (length == LEN_SHORT)
                v = (short)va_arg(ap, int);
            else if (length == LEN_CHAR)
                v = (signed char)va_arg(ap, int);
            else
                v = va_arg(ap, int);
            /* Negating through uint64_t is defined even for INT64_MIN. */
            uint64_t magnitude = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
            out_integer(&out, &spec, magnitude, v < 0, true, 10, false);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uint64_t v;
            if (length == LEN_64)
                v = va_arg(ap, uint64_t);
            else if (length == LEN_SHORT)
                v = (unsigned short)va_arg(ap, unsigned int);
            else if (length == LEN_CHAR)
                v = (unsigned char)va_arg(ap, unsigned int);
            else
                v = va_arg(ap, unsigned int);
            unsigned base = conv == 'u' ? 10 : conv == 'o' ? 8 : 16;
            out_integer(&out, &spec, v, false, false, base, conv == 'X');
            break;
        }
        case 'p': {
            uint64_t v = (uint64_t)(uintptr_t)va_arg(ap, void *);
            char text[18];
            text[0] = '0';
            text[1] = 'x';
            for (int i = 0; i < 16; i++)
                text[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xf];
            out_padded(&out, &spec, text, sizeof(text));
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (s == NULL)
                s = spec.precision < 0 || spec.precision >= 6 ? "(null)" : "";
            /* With a precision, read no further than it: the array need not be terminated. */
            size_t len = 0;
            if (spec.precision < 0) {
                while (s[len])
                    len++;
            } else {
                while (len < (size_t)spec.precision && s[len])
                    len++;
            }
            out_padded(&out, &spec, s, len);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            out_padded(&out, &spec, &c, 1);
            break;
        }
        case '%':
            out_repeat(&out, '%', 1);
            break;
        default:
            /* Unknown conversion or end of format: print the specification as written. */
            if (conv == 0) {
                out_bytes(&out, spec_start, (size_t)(p - spec_start));
                continue; /* *p == 0 ends the loop */
            }
            out_bytes(&out, spec_start, (size_t)(p - spec_start) + 1);
            break;
        }
        p++;
    }

    if (size > 0)
        buf[out.total < size - 1 ? out.total : size - 1] = 0;
    return out.total > FMT_INT_MAX ? -1 : (int)out.total;
}

/* Formats into buf like kvsnprintf, with the arguments given directly. */
int ksnprintf(char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = kvsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
