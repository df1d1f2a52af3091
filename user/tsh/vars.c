/* vars.c: shell variables (POSIX.1-2017 XCU 2.5.3 and the export/unset special builtins,
 * 2.14). Exported variables live in the process environment (setenv(3)), so children get
 * them through environ; the others are kept in a small table local to the shell. */
#include <stdlib.h>
#include <string.h>

#include "tsh.h"

struct local_var {
    char *name, *value;
};

static struct local_var *locals;
static size_t nlocals, caplocals;

bool var_valid_name(const char *s, size_t n) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

static struct local_var *find_local(const char *name) {
    for (size_t i = 0; i < nlocals; i++)
        if (strcmp(locals[i].name, name) == 0) return &locals[i];
    return NULL;
}

static void drop_local(const char *name) {
    struct local_var *v = find_local(name);
    if (!v) return;
    free(v->name);
    free(v->value);
    *v = locals[--nlocals];
}

const char *var_get(const char *name) {
    struct local_var *v = find_local(name);
    return v ? v->value : getenv(name);
}

int var_set(const char *name, const char *value) {
    if (getenv(name)) return setenv(name, value, 1);
    struct local_var *v = find_local(name);
    char *copy = strdup(value);
    if (!copy) return -1;
    if (v) {
        free(v->value);
        v->value = copy;
        return 0;
    }
    if (nlocals == caplocals) {
        size_t cap = caplocals ? caplocals * 2 : 16;
        struct local_var *n = realloc(locals, cap * sizeof *n);
        if (!n) {
            free(copy);
            return -1;
        }
        locals = n;
        caplocals = cap;
    }
    locals[nlocals].name = strdup(name);
    if (!locals[nlocals].name) {
        free(copy);
        return -1;
    }
    locals[nlocals++].value = copy;
    return 0;
}

int var_export(const char *name, const char *value) {
    if (value) {
        drop_local(name);
        return setenv(name, value, 1);
    }
    struct local_var *v = find_local(name);
    if (!v) return 0; /* `export NAME` of an unset variable: nothing to pass on */
    int rc = setenv(name, v->value, 1);
    drop_local(name);
    return rc;
}

void var_unset(const char *name) {
    drop_local(name);
    unsetenv(name);
}
