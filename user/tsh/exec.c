/* exec.c: running parsed lines: lists and and-or lists (POSIX.1-2017 XCU 2.9.3), pipelines
 * (2.9.2), redirection (2.7), command search and execution (2.9.1.1: builtins first, then
 * PATH; a name with '/' is run as given; 127 when not found, 126 when it cannot run).
 *
 * Pipe ends are made close-on-exec, so each child keeps exactly the ends it dup2'ed onto
 * 0 and 1. A builtin alone in the foreground runs in the shell itself, its redirections
 * undone afterwards (the old descriptors are parked at 10 and up, close-on-exec); in a
 * pipeline or in the background it runs in a child like any other command. */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsh.h"

extern char **environ;

#define SAVE_NONE -1
#define SAVE_CLOSED -2

/* A command ready to run: expanded words and prefix assignments. */
struct xcmd {
    struct command *c;
    char **argv;
    int argc;
    char **assign_names, **assign_values;
    int nassign;
    builtin_fn bi;
};

static int prepare(struct arena *a, struct command *c, struct xcmd *x) {
    x->c = c;
    int k = 0;
    while (k < c->nwords && assignment_name_len(c->words[k])) k++;
    x->nassign = k;
    if (k) {
        x->assign_names = arena_alloc(a, (size_t)k * sizeof(char *));
        x->assign_values = arena_alloc(a, (size_t)k * sizeof(char *));
    }
    for (int i = 0; i < k; i++) {
        size_t n = assignment_name_len(c->words[i]);
        x->assign_names[i] = arena_strndup(a, c->words[i], n);
        x->assign_values[i] = expand_one(a, c->words[i] + n + 1);
        if (!x->assign_values[i]) return -1;
    }
    x->argc = expand_words(a, c->words + k, c->nwords - k, &x->argv);
    if (x->argc < 0) return -1;
    x->bi = x->argc ? builtin_find(x->argv[0]) : NULL;
    return 0;
}

static bool parse_fd(const char *s, int *fd) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 0 || v > INT_MAX) return false;
    *fd = (int)v;
    return true;
}

/* Applies redirections left to right. With saved (10 entries), the shell's descriptors are
 * parked first so restore_fds can put them back. Returns -1 after a message. */
static int apply_redirs(struct arena *a, struct redir *r, int *saved) {
    for (; r; r = r->next) {
        char *target = expand_one(a, r->word);
        if (!target) return -1;
        if (saved && saved[r->fd] == SAVE_NONE) {
            int s = fcntl(r->fd, F_DUPFD_CLOEXEC, 10);
            saved[r->fd] = s >= 0 ? s : SAVE_CLOSED;
        }
        if (r->kind == R_DUP) {
            int src;
            if (!strcmp(target, "-")) {
                close(r->fd);
                continue;
            }
            if (!parse_fd(target, &src)) {
                dprintf(2, "tsh: %s: a file descriptor number or '-' is needed after >& or <&\n", target);
                return -1;
            }
            if (src != r->fd && dup2(src, r->fd) < 0) {
                dprintf(2, "tsh: %d: %s\n", src, strerror(errno));
                return -1;
            }
            continue;
        }
        int flags = r->kind == R_IN       ? O_RDONLY
                    : r->kind == R_APPEND ? O_WRONLY | O_CREAT | O_APPEND
                                          : O_WRONLY | O_CREAT | O_TRUNC;
        if (!*target) {
            dprintf(2, "tsh: empty file name in a redirection\n");
            return -1;
        }
        int fd = open(target, flags | O_CLOEXEC, 0666);
        if (fd < 0) {
            dprintf(2, "tsh: %s: %s\n", target, strerror(errno));
            return -1;
        }
        if (fd == r->fd) {
            fcntl(fd, F_SETFD, 0);
        } else {
            int rc = dup2(fd, r->fd);
            int e = errno;
            close(fd);
            if (rc < 0) {
                dprintf(2, "tsh: %s: %s\n", target, strerror(e));
                return -1;
            }
        }
    }
    return 0;
}

static void restore_fds(int *saved) {
    for (int fd = 0; fd < 10; fd++) {
        if (saved[fd] >= 0) {
            dup2(saved[fd], fd);
            close(saved[fd]);
        } else if (saved[fd] == SAVE_CLOSED) {
            close(fd);
        }
    }
}

__attribute__((noreturn)) static void report_exec_error(const char *name, int err) {
    int status = 126;
    if (err == ENOENT || err == ENOTDIR) {
        status = 127;
        if (strchr(name, '/')) dprintf(2, "tsh: %s: %s\n", name, strerror(err));
        else dprintf(2, "tsh: %s: command not found\n", name);
    } else {
        struct stat st;
        if (err == EACCES && stat(name, &st) == 0 && S_ISDIR(st.st_mode)) err = EISDIR;
        dprintf(2, "tsh: %s: %s\n", name, strerror(err));
    }
    _exit(status);
}

void exec_command(char **argv) {
    const char *name = argv[0];
    if (strchr(name, '/')) {
        execve(name, argv, environ);
        report_exec_error(name, errno);
    }
    const char *path = var_get("PATH");
    if (!path) path = TSH_DEFAULT_PATH;
    int err = ENOENT;
    size_t nlen = strlen(name);
    if (!*name) report_exec_error(name, ENOENT);
    for (const char *p = path;;) {
        const char *colon = strchr(p, ':');
        size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
        char buf[PATH_MAX];
        if (dlen + nlen + 2 <= sizeof buf) {
            if (dlen) {
                memcpy(buf, p, dlen);
                buf[dlen] = '/';
                memcpy(buf + dlen + 1, name, nlen + 1);
            } else {
                memcpy(buf, name, nlen + 1); /* an empty entry is the current directory */
            }
            execve(buf, argv, environ);
            int e = errno;
            if (e == EACCES) err = EACCES;
            else if (e != ENOENT && e != ENOTDIR && e != ENAMETOOLONG) report_exec_error(name, e);
        }
        if (!colon) break;
        p = colon + 1;
    }
    if (err == EACCES) {
        dprintf(2, "tsh: %s: %s\n", name, strerror(EACCES));
        _exit(126);
    }
    report_exec_error(name, ENOENT);
}

/* The child side of a pipeline element; never returns. */
static void child(struct arena *a, struct xcmd *x, int in, int out, pid_t pgid, bool fg,
                  bool bg_nojc) {
    if (job_control) {
        setpgid(0, pgid);
        if (fg) tcsetpgrp(0, pgid ? pgid : getpid());
    }
    signals_child_defaults(bg_nojc);
    job_control = false;
    interactive = false;
    if (in >= 0) {
        dup2(in, 0);
        close(in);
    } else if (bg_nojc) { /* background without job control: no terminal input */
        int fd = open("/dev/null", O_RDONLY);
        if (fd > 0) {
            dup2(fd, 0);
            close(fd);
        }
    }
    if (out >= 0) {
        dup2(out, 1);
        close(out);
    }
    if (apply_redirs(a, x->c->redirs, NULL) < 0) _exit(1);
    if (x->argc == 0) _exit(0);
    if (x->bi) _exit(x->bi(x->argc, x->argv));
    for (int i = 0; i < x->nassign; i++) setenv(x->assign_names[i], x->assign_values[i], 1);
    exec_command(x->argv);
}

/* A lone foreground builtin or assignment runs in the shell. */
static int run_in_shell(struct arena *a, struct xcmd *x) {
    int saved[10];
    for (int i = 0; i < 10; i++) saved[i] = SAVE_NONE;
    int status = 0;
    if (apply_redirs(a, x->c->redirs, saved) < 0) {
        status = 1;
    } else {
        for (int i = 0; i < x->nassign; i++)
            if (var_set(x->assign_names[i], x->assign_values[i]) < 0) status = 1;
        if (x->argc) status = x->bi(x->argc, x->argv);
    }
    if (x->argc == 1 && !strcmp(x->argv[0], "exec")) { /* `exec >file`: keep the redirections */
        for (int i = 0; i < 10; i++)
            if (saved[i] >= 0) close(saved[i]);
    } else {
        restore_fds(saved);
    }
    return status;
}

static int run_pipeline(struct arena *a, struct pipeline *pl, bool bg, const char *text) {
    struct xcmd *x = arena_alloc(a, (size_t)pl->ncmds * sizeof *x);
    for (int i = 0; i < pl->ncmds; i++)
        if (prepare(a, &pl->cmds[i], &x[i]) < 0) return 1;
    if (pl->ncmds == 1 && !bg && (x[0].argc == 0 || x[0].bi)) return run_in_shell(a, &x[0]);

    struct job *j = job_new(text);
    if (!j) return 1;
    int in = -1;
    pid_t pgid = 0, pid = 0;
    for (int i = 0; i < pl->ncmds; i++) {
        int pfd[2] = {-1, -1};
        if (i < pl->ncmds - 1 && pipe2(pfd, O_CLOEXEC) < 0) {
            dprintf(2, "tsh: pipe: %s\n", strerror(errno));
            break;
        }
        pid = fork();
        if (pid == 0) child(a, &x[i], in, pfd[1], pgid, !bg, bg && !job_control);
        if (pid < 0) {
            dprintf(2, "tsh: fork: %s\n", strerror(errno));
            if (pfd[0] >= 0) close(pfd[0]);
            if (pfd[1] >= 0) close(pfd[1]);
            break;
        }
        if (job_control) {
            if (!pgid) pgid = pid;
            setpgid(pid, pgid);
        }
        job_add_proc(j, pid, x[i].argc ? x[i].argv[0] : "");
        if (in >= 0) close(in);
        if (pfd[1] >= 0) close(pfd[1]);
        in = pfd[0];
    }
    if (in >= 0) close(in);
    if (job_pgid(j) == 0) { /* not even the first fork worked */
        job_discard(j);
        return 1;
    }
    if (bg) {
        job_background(j);
        return 0;
    }
    if (job_control) tcsetpgrp(0, pgid);
    return job_wait_fg(j);
}

static int run_andor_fg(struct arena *a, struct andor *ao) {
    int status = run_pipeline(a, &ao->pipes[0], false, ao->text);
    last_status = status;
    for (int i = 1; i < ao->npipes && !exit_requested && !fg_interrupted; i++) {
        bool run = ao->ops[i - 1] == OP_AND ? status == 0 : status != 0;
        if (!run) continue;
        status = run_pipeline(a, &ao->pipes[i], false, ao->text);
        last_status = status;
    }
    return status;
}

/* A background and-or list of several pipelines runs in a forked copy of the shell. */
static int run_andor_bg(struct arena *a, struct andor *ao) {
    if (ao->npipes == 1) return run_pipeline(a, &ao->pipes[0], true, ao->text);
    struct job *j = job_new(ao->text);
    if (!j) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        if (job_control) setpgid(0, 0);
        signals_child_defaults(!job_control);
        job_control = false;
        interactive = false;
        _exit(run_andor_fg(a, ao));
    }
    if (pid < 0) {
        dprintf(2, "tsh: fork: %s\n", strerror(errno));
        job_discard(j);
        return 1;
    }
    if (job_control) setpgid(pid, pid);
    job_add_proc(j, pid, "tsh");
    job_background(j);
    return 0;
}

int run_program(struct program *p, struct arena *a) {
    fg_interrupted = false;
    for (int i = 0; i < p->nitems && !exit_requested && !fg_interrupted; i++) {
        struct andor *ao = &p->items[i];
        last_status = ao->background ? run_andor_bg(a, ao) : run_andor_fg(a, ao);
    }
    return last_status;
}
