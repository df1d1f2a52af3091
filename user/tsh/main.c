/* main.c: tsh's entry point: options, the interactive loop and script input
 * (POSIX.1-2017 XCU sh: "sh -c STRING [NAME [ARG...]]", "sh FILE [ARG...]", commands from
 * standard input when it is not a terminal).
 *
 *   tsh                      interactive when stdin and stderr are terminals: prompt
 *                            "tsh:CWD$ ", line editing, history, job control
 *   tsh -c STRING [NAME ARG] runs STRING ($0 = NAME)
 *   tsh FILE [ARG...]        runs the lines of FILE
 *   tsh < FILE, ... | tsh    runs the lines of standard input
 *
 * Script input is read so that no byte past the current line is consumed (a seekable file
 * is rewound to the line's end, other input is read one byte at a time): a command in the
 * script that reads standard input gets the lines that follow. A line longer than
 * TSH_LINE_MAX bytes or holding a NUL byte is reported and skipped; a syntax error skips
 * only its line. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsh.h"

int last_status;
pid_t last_bg_pid;
pid_t shell_pid;
int pos_argc;
char **pos_argv;
bool interactive;
bool exit_requested;
int exit_code;

static const char *script_name; /* for messages: "tsh: NAME: line N: ..." */
static unsigned long script_line;

static void where(char *buf, size_t len) {
    if (script_name) snprintf(buf, len, "%s: line %lu: ", script_name, script_line);
    else if (!interactive) snprintf(buf, len, "line %lu: ", script_line);
    else buf[0] = 0;
}

static void run_line(const char *line) {
    struct arena a = {0};
    struct program prog;
    char err[256], loc[PATH_MAX + 32];
    if (parse_line(&a, line, &prog, err, sizeof err) < 0) {
        where(loc, sizeof loc);
        dprintf(2, "tsh: %s%s\n", loc, err);
        last_status = 2;
    } else {
        run_program(&prog, &a);
    }
    arena_free(&a);
}

/* ---- script input ---- */

struct reader {
    int fd;
    bool seekable, eof;
    size_t pos, len;
    char buf[4096];
};

static int rd_byte(struct reader *r) {
    if (r->pos == r->len) {
        if (r->eof) return -1;
        ssize_t n;
        do n = read(r->fd, r->buf, r->seekable ? sizeof r->buf : 1);
        while (n < 0 && errno == EINTR);
        if (n <= 0) {
            r->eof = true;
            return -1;
        }
        r->pos = 0;
        r->len = (size_t)n;
    }
    return (unsigned char)r->buf[r->pos++];
}

/* Reads a line into line[cap]; false at the end of the input. */
static bool rd_line(struct reader *r, char *line, size_t cap, bool *toolong, bool *nul) {
    size_t len = 0;
    bool any = false;
    *toolong = *nul = false;
    for (;;) {
        int c = rd_byte(r);
        if (c < 0) {
            if (!any) return false;
            break;
        }
        any = true;
        if (c == '\n') break;
        if (c == 0) *nul = true;
        else if (len + 1 < cap) line[len++] = (char)c;
        else *toolong = true;
    }
    line[len] = 0;
    return true;
}

/* Gives back what was read past the current line (seekable input only). */
static void rd_sync(struct reader *r) {
    if (r->seekable && r->pos < r->len) lseek(r->fd, -(off_t)(r->len - r->pos), SEEK_CUR);
    r->pos = r->len = 0;
}

static bool check_line(bool toolong, bool nul) {
    char loc[PATH_MAX + 32];
    where(loc, sizeof loc);
    if (toolong) dprintf(2, "tsh: %sline too long (limit %d bytes), skipped\n", loc, TSH_LINE_MAX);
    else if (nul) dprintf(2, "tsh: %sNUL byte in the line, skipped\n", loc);
    else return true;
    last_status = 2;
    return false;
}

static int run_fd(int fd) {
    struct reader *r = calloc(1, sizeof *r);
    char *line = malloc(TSH_LINE_MAX + 1);
    if (!r || !line) {
        dprintf(2, "tsh: out of memory\n");
        return 2;
    }
    r->fd = fd;
    r->seekable = lseek(fd, 0, SEEK_CUR) >= 0;
    bool toolong, nul;
    while (!exit_requested && rd_line(r, line, TSH_LINE_MAX + 1, &toolong, &nul)) {
        script_line++;
        if (!check_line(toolong, nul)) continue;
        rd_sync(r);
        jobs_notify();
        run_line(line);
    }
    free(line);
    free(r);
    return exit_requested ? exit_code : last_status;
}

static int run_string(const char *s) {
    char *line = malloc(TSH_LINE_MAX + 1);
    if (!line) return 2;
    while (*s && !exit_requested) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        script_line++;
        if (check_line(n > TSH_LINE_MAX, false)) {
            memcpy(line, s, n);
            line[n] = 0;
            jobs_notify();
            run_line(line);
        }
        s += n + (nl ? 1 : 0);
    }
    free(line);
    return exit_requested ? exit_code : last_status;
}

/* ---- interactive ---- */

static int run_interactive(void) {
    jobs_init();
    char *line = malloc(TSH_LINE_MAX + 1);
    if (!line) return 2;
    bool warned = false;
    for (;;) {
        jobs_notify();
        char cwd[PATH_MAX], prompt[PATH_MAX + 16];
        snprintf(prompt, sizeof prompt, "tsh:%s$ ", getcwd(cwd, sizeof cwd) ? cwd : "?");
        enum edit_result r = edit_readline(prompt, line, TSH_LINE_MAX + 1);
        if (r == EDIT_EOF) {
            exit_requested = true;
            exit_code = last_status;
        }
        if (r == EDIT_INTR) {
            last_status = 130;
            continue;
        }
        if (r == EDIT_TOOLONG) {
            dprintf(2, "tsh: line too long (limit %d bytes), not run\n", TSH_LINE_MAX);
            last_status = 2;
            continue;
        }
        if (r == EDIT_LINE) {
            history_add(line);
            run_line(line);
        }
        if (exit_requested) {
            if (jobs_any_stopped() && !warned) {
                dprintf(2, "tsh: there are stopped jobs (exit again to leave anyway)\n");
                exit_requested = false;
                warned = true;
                continue;
            }
            if (r == EDIT_EOF) dprintf(2, "exit\n");
            break;
        }
        warned = false;
    }
    free(line);
    jobs_hangup_stopped();
    return exit_code;
}

static void usage(void) {
    dprintf(2, "usage: tsh [-c COMMANDS [NAME [ARG...]] | FILE [ARG...]]\n");
}

int main(int argc, char **argv) {
    /* Descriptors 0-2 must exist, or pipes and files would take their numbers. */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0) break;
    shell_pid = getpid();
    shell_pgid = getpgrp();
    if (!getenv("PATH")) setenv("PATH", TSH_DEFAULT_PATH, 1);
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd)) var_set("PWD", cwd);

    const char *command = NULL;
    int i = 1;
    if (i < argc && (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))) {
        usage();
        return 0;
    }
    if (i < argc && !strcmp(argv[i], "-c")) {
        if (i + 1 >= argc) {
            dprintf(2, "tsh: -c: a command string is needed\n");
            usage();
            return 2;
        }
        command = argv[i + 1];
        i += 2;
    } else if (i < argc && !strcmp(argv[i], "--")) {
        i++;
    } else if (i < argc && argv[i][0] == '-' && argv[i][1]) {
        dprintf(2, "tsh: %s: unknown option\n", argv[i]);
        usage();
        return 2;
    }
    if (command) {
        pos_argv = i < argc ? argv + i : argv;
        pos_argc = i < argc ? argc - i : 1;
        return run_string(command);
    }
    if (i < argc) { /* a script file */
        int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            dprintf(2, "tsh: %s: %s\n", argv[i], strerror(errno));
            return 127;
        }
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
            dprintf(2, "tsh: %s: %s\n", argv[i], strerror(EISDIR));
            return 126;
        }
        script_name = argv[i];
        pos_argv = argv + i;
        pos_argc = argc - i;
        return run_fd(fd);
    }
    pos_argv = argv;
    pos_argc = argc > 0 ? 1 : 0;
    if (isatty(0) && isatty(2)) {
        interactive = true;
        return run_interactive();
    }
    return run_fd(0);
}
