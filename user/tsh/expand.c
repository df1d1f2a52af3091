/* expand.c: word expansion (POSIX.1-2017 XCU 2.6): tilde prefix (2.6.1, "~" and "~/..."
 * only), parameter expansion (2.6.2: $NAME, ${NAME}, $? $$ $! $# $0-$9 $@ $*), field splitting
 * of unquoted expansion results on blanks and newlines (2.6.5, IFS is not consulted),
 * pathname expansion with glob(3) (2.6.6) and quote removal (2.6.7).
 *
 * Each character of a field carries whether it was quoted: the field's text is what the
 * command gets, its pattern is the same text with quoted glob characters escaped, so that
 * "*.c" stays literal while *.c is matched. A pattern that matches nothing stays as written. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tsh.h"

struct field {
    char *text, *pat;
    size_t len, plen, cap; /* cap is shared: the pattern is at most twice the text */
    bool meta;             /* an unquoted * ? [ */
    bool exists;           /* quotes make a field even when it is empty */
};

struct fields {
    struct arena *a;
    char **v;
    int n, cap;
    struct field cur;
    bool split, glob;
    bool error;
};

static void fail(struct fields *f, const char *msg) {
    if (!f->error) {
        dprintf(2, "tsh: %s\n", msg);
        f->error = true;
    }
}

static void push(struct fields *f, const char *s, size_t n) {
    if (f->n + 1 >= TSH_WORDS_MAX) {
        fail(f, "too many words after expansion");
        return;
    }
    if (f->n + 1 >= f->cap) {
        int cap = f->cap ? f->cap * 2 : 16;
        char **v = arena_alloc(f->a, (size_t)cap * sizeof *v);
        if (f->n) memcpy(v, f->v, (size_t)f->n * sizeof *v);
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = arena_strndup(f->a, s, n);
    f->v[f->n] = NULL;
}

static bool is_glob_char(char c) { return c == '*' || c == '?' || c == '['; }

static void add_char(struct fields *f, char c, bool quoted) {
    struct field *d = &f->cur;
    if (f->error) return;
    if (d->len >= TSH_WORD_MAX) {
        fail(f, "word too long after expansion");
        return;
    }
    if (d->plen + 2 > d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        char *t = realloc(d->text, cap), *p;
        if (t) d->text = t;
        p = t ? realloc(d->pat, cap) : NULL;
        if (!t || !p) {
            fail(f, "out of memory");
            return;
        }
        d->pat = p;
        d->cap = cap;
    }
    d->text[d->len++] = c;
    if (c == '\\' || (quoted && is_glob_char(c))) d->pat[d->plen++] = '\\';
    d->pat[d->plen++] = c;
    if (!quoted && is_glob_char(c)) d->meta = true;
    d->exists = true;
}

static void end_field(struct fields *f) {
    struct field *d = &f->cur;
    if (d->exists && !f->error) {
        glob_t g;
        if (f->glob && d->meta) {
            d->pat[d->plen] = 0;
            if (glob(d->pat, 0, NULL, &g) == 0) {
                for (size_t i = 0; i < g.gl_pathc && !f->error; i++)
                    push(f, g.gl_pathv[i], strlen(g.gl_pathv[i]));
                globfree(&g);
            } else {
                push(f, d->text, d->len);
            }
        } else {
            push(f, d->text, d->len);
        }
    }
    d->len = d->plen = 0;
    d->meta = d->exists = false;
}

/* Adds an expansion result; unquoted results are split into fields at blanks. */
static void add_value(struct fields *f, const char *v, bool quoted) {
    for (; *v && !f->error; v++) {
        if (!quoted && f->split && (*v == ' ' || *v == '\t' || *v == '\n')) {
            end_field(f);
            continue;
        }
        add_char(f, *v, quoted);
    }
}

static bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

/* The value of parameter name[0..n): special, positional or variable; NULL when unset. */
static const char *param_value(const char *name, size_t n, char *tmp, size_t tmplen,
                               struct fields *f) {
    char c = name[0];
    if (n == 1 && c == '?') {
        snprintf(tmp, tmplen, "%d", last_status);
        return tmp;
    }
    if (n == 1 && c == '$') {
        snprintf(tmp, tmplen, "%d", (int)shell_pid);
        return tmp;
    }
    if (n == 1 && c == '!') {
        if (!last_bg_pid) return NULL;
        snprintf(tmp, tmplen, "%d", (int)last_bg_pid);
        return tmp;
    }
    if (n == 1 && c == '#') {
        snprintf(tmp, tmplen, "%d", pos_argc > 0 ? pos_argc - 1 : 0);
        return tmp;
    }
    if (n == 1 && (c == '@' || c == '*')) {
        /* All positional parameters joined by spaces ("$@" is treated as "$*"). */
        size_t used = 0;
        for (int i = 1; i < pos_argc; i++) {
            size_t l = strlen(pos_argv[i]);
            if (used + l + 2 > tmplen) {
                fail(f, "positional parameters too long to expand");
                return NULL;
            }
            if (i > 1) tmp[used++] = ' ';
            memcpy(tmp + used, pos_argv[i], l);
            used += l;
        }
        tmp[used] = 0;
        return tmp;
    }
    if (c >= '0' && c <= '9') {
        long idx = 0;
        for (size_t i = 0; i < n && idx < 100000; i++) idx = idx * 10 + (name[i] - '0');
        return idx < pos_argc ? pos_argv[idx] : NULL;
    }
    char key[256];
    if (n >= sizeof key) return NULL;
    memcpy(key, name, n);
    key[n] = 0;
    return var_get(key);
}

/* Expands the '$' at s[i]; returns the index after it. */
static size_t expand_param(struct fields *f, const char *s, size_t i, bool dq) {
    size_t j = i + 1, start, end;
    if (s[j] == '{') {
        start = j + 1;
        end = start;
        while (s[end] && s[end] != '}') end++; /* the parser checked the form */
        j = s[end] ? end + 1 : end;
    } else if (s[j] && strchr("?$!#@*0123456789", s[j])) {
        start = j;
        end = j + 1;
        j = end;
    } else if (name_start(s[j])) {
        start = j;
        while (name_char(s[j])) j++;
        end = j;
    } else {
        add_char(f, '$', true); /* a lone '$' is literal */
        return j;
    }
    static char tmp[TSH_WORD_MAX];
    const char *v = param_value(s + start, end - start, tmp, sizeof tmp, f);
    if (v) add_value(f, v, dq);
    return j;
}

static void expand_raw(struct fields *f, const char *s) {
    size_t i = 0;
    bool dq = false;
    if (s[0] == '~' && (s[1] == 0 || s[1] == '/')) {
        const char *home = var_get("HOME");
        add_value(f, home ? home : "/", true);
        i = 1;
    }
    while (s[i] && !f->error) {
        char c = s[i];
        if (c == '\'' && !dq) {
            size_t j = i + 1;
            while (s[j] && s[j] != '\'') add_char(f, s[j++], true);
            f->cur.exists = true;
            i = s[j] ? j + 1 : j;
        } else if (c == '"') {
            dq = !dq;
            f->cur.exists = true;
            i++;
        } else if (c == '\\') {
            char n = s[i + 1];
            if (!n) {
                add_char(f, '\\', true);
                i++;
            } else if (!dq || n == '$' || n == '`' || n == '"' || n == '\\') {
                add_char(f, n, true);
                i += 2;
            } else {
                add_char(f, '\\', true); /* inside "...", other backslashes stay */
                i++;
            }
        } else if (c == '$') {
            i = expand_param(f, s, i, dq);
        } else {
            add_char(f, c, dq);
            i++;
        }
    }
    end_field(f);
}

static void fields_done(struct fields *f) {
    free(f->cur.text);
    free(f->cur.pat);
}

int expand_words(struct arena *a, const char *const *raw, int n, char ***argv_out) {
    struct fields f = {.a = a, .split = true, .glob = true};
    push(&f, "", 0); /* makes the array; removed below */
    f.n = 0;
    f.v[0] = NULL;
    for (int i = 0; i < n && !f.error; i++) expand_raw(&f, raw[i]);
    fields_done(&f);
    if (f.error) return -1;
    *argv_out = f.v;
    return f.n;
}

char *expand_one(struct arena *a, const char *raw) {
    struct fields f = {.a = a};
    expand_raw(&f, raw);
    fields_done(&f);
    if (f.error) return NULL;
    return f.n ? f.v[0] : arena_strndup(a, "", 0);
}

size_t assignment_name_len(const char *word) {
    size_t i = 0;
    if (!name_start(word[0])) return 0;
    while (name_char(word[i])) i++;
    return word[i] == '=' ? i : 0;
}
