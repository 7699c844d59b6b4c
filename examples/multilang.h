/*
 * The multilang handler's child process: starting the configured command with its
 * stdin, stdout and stderr on pipes, the line buffers that read its output with a
 * bound, and ending it (the whole process group). multilang.c speaks KCL's MultiLang
 * protocol over these pipes; this part knows nothing of the protocol.
 *
 * Compiled into multilang.so only; the module exports nothing but kls_handler.
 */
#ifndef KLS_EXAMPLES_MULTILANG_H
#define KLS_EXAMPLES_MULTILANG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Most words in `command' and most env.NAME keys: both come from a [handler] value or
 * key, so these are far above anything a configuration can hold. */
#define ML_ARGV_MAX 64

/* What to start: argv[0] is resolved to path before fork (PATH search when it has no
 * '/'), envp is the complete environment, dir "" = the reader's working directory. */
struct ml_spawn {
	char path[PATH_MAX];
	char *argv[ML_ARGV_MAX + 1];
	char **envp;
	char dir[PATH_MAX];
	char words[4096]; /* storage of argv's strings */
};

/*
 * Splits a command line into spawn->argv without a shell: words separated by blanks,
 * '...' taken literally, "..." with \" and \\ as escapes, a backslash outside quotes
 * escaping the next character. Returns 0, or -1 with why filled (unterminated quote,
 * too many words, too long, empty).
 */
int ml_split_command(struct ml_spawn *sp, const char *command, char *why, size_t whylen);

/*
 * Finds argv[0]: as given when it contains '/', else the first executable file in
 * the directories of path (NULL or "": "/usr/local/bin:/usr/bin:/bin"). 0, or -1 with
 * errno ENOENT/EACCES.
 */
int ml_resolve_program(struct ml_spawn *sp, const char *path);

/* A read buffer that hands out complete lines of at most max bytes. */
struct ml_lines {
	char *buf;
	size_t len;   /* bytes held */
	size_t start; /* first byte not yet handed out */
	size_t max;   /* longest line accepted, without its newline */
	bool eof;
};

/* Outcome of ml_lines_fill. */
enum ml_fill {
	ML_FILL_DATA,     /* read something (or nothing yet: EAGAIN) */
	ML_FILL_EOF,      /* the writer closed the pipe; a last unterminated line is kept */
	ML_FILL_TOO_LONG, /* a line exceeds max */
	ML_FILL_ERROR,    /* read failed (errno) or out of memory */
};

int ml_lines_init(struct ml_lines *l, size_t max);
void ml_lines_free(struct ml_lines *l);
/* Reads what the nonblocking fd has, up to the buffer's bound. */
enum ml_fill ml_lines_fill(struct ml_lines *l, int fd);
/*
 * The next complete line (without '\n' and a '\r' before it), NUL-terminated in
 * place, or NULL. After EOF a last line without newline is returned too. The pointer
 * is valid until the next fill.
 */
char *ml_lines_next(struct ml_lines *l, size_t *len);

/* The running child. */
struct ml_child {
	pid_t pid; /* also its process group id; -1 when there is none */
	int in_fd, out_fd, err_fd;
	bool reaped;
	int status; /* waitpid status once reaped */
};

/*
 * Starts the child: fork, then in the child its own process group, PR_SET_PDEATHSIG
 * SIGKILL (so it dies with the reader), default signal dispositions and an empty
 * signal mask (kls-reader ignores SIGPIPE, which exec would pass on), the pipes as
 * 0, 1 and 2, every other descriptor closed at exec, the working directory, execve.
 * An exec or chdir failure comes back through a close-on-exec pipe, so it is
 * reported here. Our ends are nonblocking and close-on-exec. 0, or -1 with errno and
 * why filled ("chdir /x: No such file or directory").
 */
int ml_child_start(struct ml_child *c, const struct ml_spawn *sp, char *why, size_t whylen);

/* Closes the child's stdin (the protocol's "no more messages"). */
void ml_child_close_stdin(struct ml_child *c);

/* Reaps the child if it has exited (WNOHANG); true once it is reaped. */
bool ml_child_try_reap(struct ml_child *c);

/* SIGKILL to the whole process group, then reaps the leader. */
void ml_child_kill(struct ml_child *c);

/* Closes our pipe ends (after the child is reaped). */
void ml_child_close(struct ml_child *c);

/* "exit status 3", "killed by signal 9", or "still running". */
void ml_child_describe(const struct ml_child *c, char *out, size_t size);

/* Writes what it can of buf[*off..len) to the nonblocking fd without raising
 * SIGPIPE in this process. 0 (progress or EAGAIN), or -1 with errno (EPIPE: the
 * child closed its stdin). */
int ml_write_some(int fd, const char *buf, size_t len, size_t *off);

/* CLOCK_MONOTONIC in ms. */
long long ml_now_ms(void);

#endif
