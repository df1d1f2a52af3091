/* builtins.c: the commands tsh runs itself. Their behaviour follows the POSIX.1-2017 XCU
 * descriptions of cd, pwd, exit, export, unset, echo (without options other than -n),
 * true, false, ':' and exec; jobs, fg, bg and wait live in jobs.c. Output goes straight to
 * the descriptors (dprintf), never through a stdio buffer, so redirections and fork are
 * safe. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tsh.h"

extern char **environ;

static int b_true(int argc, char **argv) { return 0; }
static int b_false(int argc, char **argv) { return 1; }

struct outbuf {
    char buf[4096];
    size_t len;
    bool failed;
};

static void ob_flush(struct outbuf *o) {
    size_t off = 0;
    while (off < o->len && !o->failed) {
        ssize_t n = write(1, o->buf + off, o->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) o->failed = true;
        else off += (size_t)n;
    }
    o->len = 0;
}

static void ob_add(struct outbuf *o, const char *s, size_t n) {
    while (n && !o->failed) {
        if (o->len == sizeof o->buf) ob_flush(o);
        size_t k = sizeof o->buf - o->len < n ? sizeof o->buf - o->len : n;
        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
    }
}

/* One write for output up to 4 KiB, so a pipeline reader sees whole lines. */
static int b_echo(int argc, char **argv) {
    static struct outbuf o;
    int i = 1;
    bool newline = true;
    if (i < argc && !strcmp(argv[i], "-n")) {
        newline = false;
        i++;
    }
    o.len = 0;
    o.failed = false;
    for (; i < argc; i++) {
        ob_add(&o, argv[i], strlen(argv[i]));
        if (i + 1 < argc) ob_add(&o, " ", 1);
    }
    if (newline) ob_add(&o, "\n", 1);
    ob_flush(&o);
    if (o.failed) {
        dprintf(2, "tsh: echo: write error: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

static int b_pwd(int argc, char **argv) {
    char buf[PATH_MAX];
    if (!getcwd(buf, sizeof buf)) {
        dprintf(2, "tsh: pwd: %s\n", strerror(errno));
        return 1;
    }
    dprintf(1, "%s\n", buf);
    return 0;
}

static int b_cd(int argc, char **argv) {
    if (argc > 2) {
        dprintf(2, "tsh: cd: too many arguments\n");
        return 2;
    }
    const char *dir = argc > 1 ? argv[1] : var_get("HOME");
    bool print = false;
    if (!dir || !*dir) dir = "/";
    if (!strcmp(dir, "-")) {
        dir = var_get("OLDPWD");
        if (!dir) {
            dprintf(2, "tsh: cd: OLDPWD not set\n");
            return 1;
        }
        print = true;
    }
    char old[PATH_MAX];
    bool have_old = getcwd(old, sizeof old) != NULL;
    if (chdir(dir) < 0) {
        dprintf(2, "tsh: cd: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char now[PATH_MAX];
    if (have_old) var_set("OLDPWD", old);
    if (getcwd(now, sizeof now)) {
        var_set("PWD", now);
        if (print) dprintf(1, "%s\n", now);
    }
    return 0;
}

static int b_exit(int argc, char **argv) {
    int code = last_status;
    if (argc > 2) {
        dprintf(2, "tsh: exit: too many arguments\n");
        return 2;
    }
    if (argc == 2) {
        char *end;
        errno = 0;
        long v = strtol(argv[1], &end, 10);
        if (!*argv[1] || *end || errno) {
            dprintf(2, "tsh: exit: %s: a number is needed\n", argv[1]);
            code = 2;
        } else {
            code = (int)(v & 255);
        }
    }
    exit_requested = true;
    exit_code = code;
    return code;
}

static int b_export(int argc, char **argv) {
    int status = 0;
    if (argc == 1) {
        for (char **e = environ; *e; e++) dprintf(1, "export %s\n", *e);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        size_t n = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
        if (!var_valid_name(argv[i], n)) {
            dprintf(2, "tsh: export: '%s': not a valid name\n", argv[i]);
            status = 1;
            continue;
        }
        char name[256];
        if (n >= sizeof name) {
            dprintf(2, "tsh: export: name too long\n");
            status = 1;
            continue;
        }
        memcpy(name, argv[i], n);
        name[n] = 0;
        if (var_export(name, eq ? eq + 1 : NULL) < 0) {
            dprintf(2, "tsh: export: %s: %s\n", name, strerror(errno));
            status = 1;
        }
    }
    return status;
}

static int b_unset(int argc, char **argv) {
    int status = 0;
    for (int i = 1; i < argc; i++) {
        if (!var_valid_name(argv[i], strlen(argv[i]))) {
            dprintf(2, "tsh: unset: '%s': not a valid name\n", argv[i]);
            status = 1;
            continue;
        }
        var_unset(argv[i]);
    }
    return status;
}

static int b_exec(int argc, char **argv) {
    if (argc < 2) return 0; /* only redirections: run_in_shell keeps them */
    signals_child_defaults(false);
    exec_command(argv + 1);
}

static int b_history(int argc, char **argv) {
    history_print();
    return 0;
}

static int b_help(int argc, char **argv);

static const struct {
    const char *name;
    builtin_fn fn;
    const char *usage;
} builtins[] = {
    {":", b_true, ":                  do nothing, successfully"},
    {"bg", builtin_bg, "bg [%n]            continue a stopped job in the background"},
    {"cd", b_cd, "cd [DIR|-]         change directory (default $HOME)"},
    {"echo", b_echo, "echo [-n] ARGS     print the arguments"},
    {"exec", b_exec, "exec [CMD ARGS]    replace the shell by CMD, or keep redirections"},
    {"exit", b_exit, "exit [N]           leave the shell with status N (default $?)"},
    {"export", b_export, "export [NAME[=V]]  export variables (none: list the environment)"},
    {"false", b_false, "false              fail (status 1)"},
    {"fg", builtin_fg, "fg [%n]            bring a job to the foreground"},
    {"help", b_help, "help               this list"},
    {"history", b_history, "history            the last lines typed"},
    {"jobs", builtin_jobs, "jobs               list the jobs"},
    {"pwd", b_pwd, "pwd                print the working directory"},
    {"true", b_true, "true               succeed (status 0)"},
    {"unset", b_unset, "unset NAME...      remove variables"},
    {"wait", builtin_wait, "wait [%n|PID...]   wait for background jobs"},
};

static int b_help(int argc, char **argv) {
    dprintf(1, "tsh, the SABOS shell. Builtins:\n");
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        dprintf(1, "  %s\n", builtins[i].usage);
    dprintf(1, "Syntax: cmd args; a | b; a && b; a || b; cmd &; < > >> 2> 2>&1 &>; '...' \"...\" \\;\n"
               "        $VAR ${VAR} $? $$ $! $# $0-$9; ~; * ? [..]; NAME=value; # comment\n"
               "Other commands are looked up in $PATH (default " TSH_DEFAULT_PATH ").\n"
               "Keys: arrows, ^A ^E ^B ^F ^U ^K ^W ^L ^P ^N, ^C cancels, ^D on an empty line exits.\n");
    return 0;
}

builtin_fn builtin_find(const char *name) {
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (!strcmp(builtins[i].name, name)) return builtins[i].fn;
    return NULL;
}
