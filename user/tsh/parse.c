/* parse.c: tsh's lexer and parser (POSIX.1-2017 XCU 2.3 token recognition, 2.10 grammar,
 * restricted to what docs/userland.md lists).
 *
 * The lexer keeps words raw (quotes and '$' in place): expansion happens when the command
 * runs (expand.c), so `X=1; echo $X` sees the new value. Quotes are checked here so that an
 * unbalanced quote rejects the whole line before anything runs. Unsupported syntax
 * (subshells, command substitution, here-documents) is rejected with a message rather than
 * misread. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tsh.h"

/* ---- arena ---- */

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void *arena_alloc(struct arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    struct arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 8192 ? n : 8192;
        c = malloc(sizeof *c + cap);
        if (!c) {
            static const char msg[] = "tsh: out of memory\n";
            (void)!write(2, msg, sizeof msg - 1);
            _exit(2);
        }
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n) {
    char *p = arena_alloc(a, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void arena_free(struct arena *a) {
    while (a->head) {
        struct arena_chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}

/* ---- lexer ---- */

enum tok {
    T_WORD,
    T_NEWLINE, /* '\n' */
    T_SEMI,    /* ; */
    T_AMP,     /* & */
    T_PIPE,    /* | */
    T_AND,     /* && */
    T_OR,      /* || */
    T_REDIR,   /* < > >> <& >& &> with an optional fd number */
    T_EOF,
};

struct token {
    enum tok type;
    size_t start, end;    /* source span */
    int fd;               /* T_REDIR: descriptor (-1: default) */
    enum redir_kind kind; /* T_REDIR */
    bool both;            /* T_REDIR: &> (stdout and stderr) */
};

struct parser {
    struct arena *a;
    const char *s;
    size_t pos;
    struct token tok; /* current token */
    size_t prev_end;  /* end of the token before it */
    char *err;
    size_t errlen;
    bool failed;
};

static void perr(struct parser *p, const char *fmt, ...) {
    if (p->failed) return;
    p->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }
static bool is_op_char(char c) {
    return c == '|' || c == '&' || c == ';' || c == '<' || c == '>' || c == '(' || c == ')' ||
           c == '\n';
}

static const char *tok_text(enum tok t) {
    switch (t) {
    case T_NEWLINE: return "newline";
    case T_SEMI: return ";";
    case T_AMP: return "&";
    case T_PIPE: return "|";
    case T_AND: return "&&";
    case T_OR: return "||";
    case T_REDIR: return "redirection";
    case T_EOF: return "end of line";
    default: return "word";
    }
}

/* Checks a ${...} at s[i] (s[i] == '$', s[i+1] == '{'); returns the index after '}'. */
static size_t scan_braces(struct parser *p, size_t i) {
    size_t j = i + 2;
    const char *s = p->s;
    if (s[j] == '?' || s[j] == '$' || s[j] == '!' || s[j] == '#' || s[j] == '@' || s[j] == '*') {
        j++;
    } else if (s[j] >= '0' && s[j] <= '9') {
        while (s[j] >= '0' && s[j] <= '9') j++;
    } else {
        size_t k = j;
        while ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') || s[j] == '_' ||
               (j > k && s[j] >= '0' && s[j] <= '9'))
            j++;
    }
    if (s[j] != '}' || j == i + 2) {
        size_t e = j;
        while (s[e] && s[e] != '}' && s[e] != '\n' && e - i < 40) e++;
        if (s[e] != '}') perr(p, "syntax error: missing '}' in ${...}");
        else perr(p, "%.*s: bad substitution (only ${NAME} is supported)", (int)(e + 1 - i), s + i);
        return j;
    }
    return j + 1;
}

/* Checks '$' at s[i] for unsupported forms; returns the index after what it consumed. */
static size_t scan_dollar(struct parser *p, size_t i) {
    if (p->s[i + 1] == '(') {
        perr(p, "syntax error: command substitution $(...) is not supported");
        return i + 1;
    }
    if (p->s[i + 1] == '{') return scan_braces(p, i);
    return i + 1;
}

/* Scans a word from p->pos; returns its end. */
static size_t scan_word(struct parser *p) {
    const char *s = p->s;
    size_t i = p->pos;
    while (s[i] && !is_blank(s[i]) && !is_op_char(s[i])) {
        char c = s[i];
        if (c == '\\') {
            if (!s[i + 1] || s[i + 1] == '\n') {
                perr(p, "syntax error: '\\' at the end of a line (line continuation is not supported)");
                return i + 1;
            }
            i += 2;
        } else if (c == '\'') {
            const char *q = strchr(s + i + 1, '\'');
            if (!q) {
                perr(p, "syntax error: unterminated ' quote");
                return strlen(s);
            }
            i = (size_t)(q - s) + 1;
        } else if (c == '"') {
            i++;
            while (s[i] && s[i] != '"') {
                if (s[i] == '\\' && s[i + 1]) {
                    i += 2;
                } else if (s[i] == '$') {
                    i = scan_dollar(p, i);
                } else if (s[i] == '`') {
                    perr(p, "syntax error: command substitution `...` is not supported");
                    return i + 1;
                } else {
                    i++;
                }
                if (p->failed) return i;
            }
            if (!s[i]) {
                perr(p, "syntax error: unterminated \" quote");
                return i;
            }
            i++;
        } else if (c == '`') {
            perr(p, "syntax error: command substitution `...` is not supported");
            return i + 1;
        } else if (c == '$') {
            i = scan_dollar(p, i);
            if (p->failed) return i;
        } else {
            i++;
        }
    }
    return i;
}

/* Reads the next token into p->tok. */
static void next(struct parser *p) {
    const char *s = p->s;
    p->prev_end = p->tok.end;
    for (;;) {
        while (is_blank(s[p->pos])) p->pos++;
        if (s[p->pos] != '#') break;
        while (s[p->pos] && s[p->pos] != '\n') p->pos++; /* comment */
    }
    struct token *t = &p->tok;
    memset(t, 0, sizeof *t);
    t->start = p->pos;
    t->fd = -1;
    size_t i = p->pos;
    char c = s[i];
    if (p->failed || !c) {
        t->type = T_EOF;
        t->end = i;
        return;
    }
    /* An fd number right before < or >: "2>file". */
    if (c >= '0' && c <= '9') {
        size_t j = i;
        while (s[j] >= '0' && s[j] <= '9') j++;
        if (s[j] == '<' || s[j] == '>') {
            if (j - i > 1) {
                perr(p, "syntax error: file descriptor %.*s out of range (0-9) in a redirection",
                     (int)(j - i > 12 ? 12 : j - i), s + i);
                t->type = T_EOF;
                return;
            }
            t->fd = c - '0';
            i = j;
            c = s[i];
        }
    }
    char d = s[i + 1];
    size_t len = 1;
    switch (c) {
    case '\n': t->type = T_NEWLINE; break;
    case ';':
        t->type = T_SEMI;
        if (d == ';') perr(p, "syntax error near ';;'");
        break;
    case '|':
        t->type = d == '|' ? T_OR : T_PIPE;
        len = d == '|' ? 2 : 1;
        break;
    case '&':
        if (d == '&') {
            t->type = T_AND;
            len = 2;
        } else if (d == '>') {
            t->type = T_REDIR;
            t->kind = R_OUT;
            t->both = true;
            t->fd = 1;
            len = 2;
            if (s[i + 2] == '>') perr(p, "syntax error: &>> is not supported");
        } else {
            t->type = T_AMP;
        }
        break;
    case '<':
        t->type = T_REDIR;
        if (d == '<') perr(p, "syntax error: here-documents (<<) are not supported");
        else if (d == '>') perr(p, "syntax error: <> is not supported");
        t->kind = d == '&' ? R_DUP : R_IN;
        len = d == '&' ? 2 : 1;
        if (t->fd < 0) t->fd = 0;
        break;
    case '>':
        t->type = T_REDIR;
        if (d == '>') {
            t->kind = R_APPEND;
            len = 2;
        } else if (d == '&') {
            t->kind = R_DUP;
            len = 2;
        } else {
            t->kind = R_OUT;
            len = d == '|' ? 2 : 1; /* >| is > (no noclobber here) */
        }
        if (t->fd < 0) t->fd = 1;
        break;
    case '(':
    case ')':
        perr(p, "syntax error: '%c': subshells and grouping are not supported (quote it)", c);
        t->type = T_EOF;
        break;
    default:
        t->type = T_WORD;
        p->pos = i;
        t->end = scan_word(p);
        p->pos = t->end;
        if (p->failed) t->type = T_EOF;
        return;
    }
    p->pos = i + len;
    t->end = p->pos;
    if (p->failed) t->type = T_EOF;
}

/* ---- parser ---- */

struct vec {
    void *items;
    int n, cap;
};

static void *vec_push(struct arena *a, struct vec *v, size_t size) {
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 4;
        void *items = arena_alloc(a, (size_t)cap * size);
        if (v->n) memcpy(items, v->items, (size_t)v->n * size);
        v->items = items;
        v->cap = cap;
    }
    return (char *)v->items + (size_t)v->n++ * size;
}

static void unexpected(struct parser *p) {
    if (p->tok.type == T_EOF) perr(p, "syntax error: unexpected end of line");
    else perr(p, "syntax error near '%s'", tok_text(p->tok.type));
}

static bool parse_command(struct parser *p, struct command *c) {
    struct vec words = {0};
    struct redir **tail = &c->redirs;
    int count = 0;
    while (!p->failed && (p->tok.type == T_WORD || p->tok.type == T_REDIR)) {
        if (p->tok.type == T_WORD) {
            if (words.n >= TSH_WORDS_MAX) {
                perr(p, "too many words in one command (limit %d)", TSH_WORDS_MAX);
                return false;
            }
            const char **w = vec_push(p->a, &words, sizeof(char *));
            *w = arena_strndup(p->a, p->s + p->tok.start, p->tok.end - p->tok.start);
            next(p);
        } else {
            struct token op = p->tok;
            const char *optext = arena_strndup(p->a, p->s + op.start, op.end - op.start);
            next(p);
            if (p->tok.type != T_WORD) {
                if (!p->failed)
                    perr(p, "syntax error: '%s' needs a %s", optext,
                         op.kind == R_DUP ? "file descriptor number or '-'" : "file name");
                return false;
            }
            struct redir *r = arena_alloc(p->a, sizeof *r);
            r->fd = op.fd;
            r->kind = op.kind;
            r->word = arena_strndup(p->a, p->s + p->tok.start, p->tok.end - p->tok.start);
            *tail = r;
            tail = &r->next;
            if (op.both) { /* &>file is >file 2>&1 */
                struct redir *r2 = arena_alloc(p->a, sizeof *r2);
                r2->fd = 2;
                r2->kind = R_DUP;
                r2->word = "1";
                *tail = r2;
                tail = &r2->next;
            }
            next(p);
        }
        count++;
    }
    if (p->failed) return false;
    if (count == 0) {
        unexpected(p);
        return false;
    }
    c->words = words.items;
    c->nwords = words.n;
    return true;
}

static void skip_newlines(struct parser *p) {
    while (p->tok.type == T_NEWLINE) next(p);
}

static bool parse_pipeline(struct parser *p, struct pipeline *pl) {
    struct vec cmds = {0};
    for (;;) {
        if (cmds.n >= TSH_PIPE_MAX) {
            perr(p, "too many commands in one pipeline (limit %d)", TSH_PIPE_MAX);
            return false;
        }
        struct command *c = vec_push(p->a, &cmds, sizeof *c);
        if (!parse_command(p, c)) return false;
        if (p->tok.type != T_PIPE) break;
        next(p);
        skip_newlines(p);
    }
    pl->cmds = cmds.items;
    pl->ncmds = cmds.n;
    return true;
}

static bool parse_andor(struct parser *p, struct andor *ao) {
    struct vec pipes = {0}, ops = {0};
    size_t start = p->tok.start, end;
    for (;;) {
        struct pipeline *pl = vec_push(p->a, &pipes, sizeof *pl);
        if (!parse_pipeline(p, pl)) return false;
        end = p->prev_end;
        if (p->tok.type != T_AND && p->tok.type != T_OR) break;
        enum andor_op *op = vec_push(p->a, &ops, sizeof *op);
        *op = p->tok.type == T_AND ? OP_AND : OP_OR;
        next(p);
        skip_newlines(p);
    }
    ao->pipes = pipes.items;
    ao->npipes = pipes.n;
    ao->ops = ops.items;
    ao->text = arena_strndup(p->a, p->s + start, end - start);
    return true;
}

int parse_line(struct arena *a, const char *line, struct program *out, char *err, size_t errlen) {
    struct parser p = {.a = a, .s = line, .err = err, .errlen = errlen};
    struct vec items = {0};
    err[0] = 0;
    next(&p);
    skip_newlines(&p);
    while (!p.failed && p.tok.type != T_EOF) {
        struct andor *ao = vec_push(a, &items, sizeof *ao);
        if (!parse_andor(&p, ao)) break;
        if (p.tok.type == T_SEMI || p.tok.type == T_AMP) {
            ao->background = p.tok.type == T_AMP;
            next(&p);
        } else if (p.tok.type != T_NEWLINE && p.tok.type != T_EOF) {
            unexpected(&p);
            break;
        }
        skip_newlines(&p);
    }
    if (p.failed) {
        if (!err[0]) snprintf(err, errlen, "syntax error");
        return -1;
    }
    out->items = items.items;
    out->nitems = items.n;
    return 0;
}
