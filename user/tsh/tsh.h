/* tsh.h: the declarations shared by the parts of tsh, SABOS's user shell.
 *
 * tsh implements a subset of the POSIX.1-2017 Shell Command Language (XCU chapter 2):
 * quoting (2.2), parameter expansion (2.6.2, $NAME ${NAME} and the special parameters),
 * field splitting (2.6.5), pathname expansion (2.6.6, through glob(3)), redirection (2.7),
 * pipelines and lists (2.9.2, 2.9.3), and job control as described in XBD 11.1.4 and
 * the Linux man pages setpgid(2), tcsetpgrp(3), wait4(2). docs/userland.md describes the
 * language it accepts and its limits.
 *
 * Parts: parse.c (lexer and parser to the tree below), expand.c (word expansion), vars.c
 * (shell variables), edit.c (line editor and history), jobs.c (job table, waiting, the
 * terminal), exec.c (pipelines, redirections, PATH search), builtins.c, main.c. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TSH_LINE_MAX 4096   /* longest input line in bytes, without its newline */
#define TSH_WORDS_MAX 1024  /* fields of one simple command after expansion */
#define TSH_PIPE_MAX 64     /* commands in one pipeline */
#define TSH_WORD_MAX 65536  /* bytes of one field after expansion */
#define TSH_JOBS_MAX 32     /* jobs in the job table */
#define TSH_HISTORY 100     /* lines the history keeps */
#define TSH_DEFAULT_PATH "/bin:/sbin"

/* ---- arena: everything one input line needs, freed in one go (parse.c) ---- */
struct arena_chunk;
struct arena {
    struct arena_chunk *head;
};
/* Zeroed memory of n bytes that lives until arena_free; exits the shell when out of memory. */
void *arena_alloc(struct arena *a, size_t n);
/* Copy of s[0..n) with a terminating NUL, in the arena. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* Frees every allocation of the arena. */
void arena_free(struct arena *a);

/* ---- syntax tree (parse.c) ---- */
enum redir_kind {
    R_IN,     /* [n]<word     open for reading (n = 0) */
    R_OUT,    /* [n]>word     create/truncate (n = 1) */
    R_APPEND, /* [n]>>word    create/append (n = 1) */
    R_DUP,    /* [n]>&word [n]<&word: dup word (a number) to n, or close n when word is "-" */
};

struct redir {
    int fd;              /* the descriptor being redirected, 0..9 */
    enum redir_kind kind;
    const char *word;    /* raw (unexpanded) target word */
    struct redir *next;
};

/* A simple command: raw words (quotes still in) and redirections in source order. */
struct command {
    const char **words;
    int nwords;
    struct redir *redirs;
};

struct pipeline {
    struct command *cmds;
    int ncmds;
};

enum andor_op { OP_AND, OP_OR };

/* pipeline (op pipeline)*, optionally run in the background as one job. */
struct andor {
    struct pipeline *pipes;
    enum andor_op *ops; /* ops[i] joins pipes[i] and pipes[i + 1] */
    int npipes;
    bool background;
    const char *text;   /* the source text, for job reports */
};

struct program {
    struct andor *items;
    int nitems;
};

/* Parses one line (newlines inside act like ';'). Returns 0, or -1 with a message (without
 * the "tsh: " prefix) in err. */
int parse_line(struct arena *a, const char *line, struct program *out, char *err, size_t errlen);

/* ---- expansion (expand.c) ---- */
/* Expands raw words into a NULL-terminated argv in the arena (tilde, parameters, field
 * splitting, pathname expansion, quote removal). Returns the count, or -1 after printing
 * an error. */
int expand_words(struct arena *a, const char *const *raw, int n, char ***argv_out);
/* Expands one word that must stay one field (redirection targets, assignment values: no
 * field splitting, no pathname expansion). NULL after printing an error. */
char *expand_one(struct arena *a, const char *raw);
/* Length of the NAME in a raw word of the form NAME=..., or 0. */
size_t assignment_name_len(const char *word);

/* ---- variables (vars.c) ---- */
bool var_valid_name(const char *s, size_t n);
/* Value of a shell or environment variable, or NULL. */
const char *var_get(const char *name);
/* Sets a variable: exported ones stay exported (environment), others are shell-local. */
int var_set(const char *name, const char *value);
/* export NAME=VALUE (value non-NULL) or export NAME. */
int var_export(const char *name, const char *value);
void var_unset(const char *name);

/* ---- shell state (main.c) ---- */
extern int last_status;   /* $? */
extern pid_t last_bg_pid; /* $! (0: none) */
extern pid_t shell_pid;   /* $$ */
extern int pos_argc;      /* positional parameters: pos_argv[0] is $0 */
extern char **pos_argv;
extern bool interactive;
extern bool exit_requested; /* set by `exit`: stop running and leave */
extern int exit_code;

/* ---- line editor (edit.c) ---- */
enum edit_result { EDIT_LINE, EDIT_EOF, EDIT_INTR, EDIT_TOOLONG };
/* Shows prompt and reads one line from the terminal on fd 0 with editing in raw mode, into
 * buf (NUL-terminated, cap >= TSH_LINE_MAX + 1). The terminal mode is restored before it
 * returns. */
enum edit_result edit_readline(const char *prompt, char *buf, size_t cap);
/* Adds a line to the in-memory history (empty lines and repeats are skipped). */
void history_add(const char *line);
/* Prints the history, numbered (the `history` builtin). */
void history_print(void);

/* ---- jobs and the terminal (jobs.c) ---- */
extern bool job_control; /* interactive, with a controlling terminal we own */
extern pid_t shell_pgid;
extern bool fg_interrupted; /* a foreground job died of SIGINT: drop the rest of the line */

struct job;
/* Prepares job control for an interactive shell (process group, terminal, signals). */
void jobs_init(void);
/* A new job for the text; NULL (after a message) when the table is full. */
struct job *job_new(const char *text);
/* Records a started process (name: its argv[0]) in the job. */
void job_add_proc(struct job *j, pid_t pid, const char *name);
/* The job's process group (0 until the first process is added). */
pid_t job_pgid(const struct job *j);
/* Forgets a job that never got a process (fork failed). */
void job_discard(struct job *j);
/* Marks a job as running in the background and reports "[n] PID" when interactive. */
void job_background(struct job *j);
/* Waits for a foreground job to end or stop, takes the terminal back and returns its
 * status ($?), reporting signals that killed it. */
int job_wait_fg(struct job *j);
/* Reaps finished children without blocking and reports changed background jobs (only when
 * interactive; a script just forgets them). */
void jobs_notify(void);
/* True when some job is stopped. */
bool jobs_any_stopped(void);
/* Sends SIGHUP and SIGCONT to stopped jobs (the shell is leaving). */
void jobs_hangup_stopped(void);
/* Builtins living with the job table. */
int builtin_jobs(int argc, char **argv);
int builtin_fg(int argc, char **argv);
int builtin_bg(int argc, char **argv);
int builtin_wait(int argc, char **argv);
/* Signal abbreviation ("SEGV") or NULL. */
const char *signal_name(int sig);
/* Restores the signal dispositions a child process must start with. */
void signals_child_defaults(bool ignore_int);

/* ---- execution (exec.c) ---- */
/* Runs a parsed line; returns the last status. */
int run_program(struct program *p, struct arena *a);
/* Replaces the process image: PATH search and the error report; never returns (exit 126/127). */
void exec_command(char **argv) __attribute__((noreturn));

/* ---- builtins (builtins.c) ---- */
typedef int (*builtin_fn)(int argc, char **argv);
/* The builtin named name, or NULL. */
builtin_fn builtin_find(const char *name);
