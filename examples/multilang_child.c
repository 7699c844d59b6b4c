/*
 * The multilang handler's child process and its pipes: see multilang.h.
 *
 * kls-reader may run threads besides the one calling the handler, so between fork
 * and exec the child calls only async-signal-safe functions: everything it needs
 * (resolved path, argv, envp) is built before fork.
 */
#include "config.h"

#include "examples/multilang.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- command line ---- */

int
ml_split_command(struct ml_spawn *sp, const char *command, char *why, size_t whylen)
{
	size_t o = 0, n = 0;
	const char *p = command;

	for (;;) {
		bool in_word = false;
		char quote = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (n == ML_ARGV_MAX) {
			snprintf(why, whylen, "command has more than %d words", ML_ARGV_MAX);
			return -1;
		}
		sp->argv[n] = sp->words + o;
		for (; *p != '\0'; p++) {
			char c = *p;

			if (quote == '\'') {
				if (c == '\'') {
					quote = 0;
					continue;
				}
			} else if (quote == '"') {
				if (c == '"') {
					quote = 0;
					continue;
				}
				if (c == '\\' && (p[1] == '"' || p[1] == '\\'))
					c = *++p;
			} else if (c == ' ' || c == '\t') {
				break;
			} else if (c == '\'' || c == '"') {
				quote = c;
				in_word = true;
				continue;
			} else if (c == '\\' && p[1] != '\0') {
				c = *++p;
			}
			if (o + 2 > sizeof(sp->words)) {
				snprintf(why, whylen, "command is longer than %zu bytes",
				    sizeof(sp->words) - 2);
				return -1;
			}
			sp->words[o++] = c;
			in_word = true;
		}
		if (quote) {
			snprintf(why, whylen, "unterminated %c quote in command", quote);
			return -1;
		}
		if (in_word) {
			sp->words[o++] = '\0';
			n++;
		}
	}
	if (n == 0) {
		snprintf(why, whylen, "command is empty");
		return -1;
	}
	sp->argv[n] = NULL;
	return 0;
}

static bool
is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int
ml_resolve_program(struct ml_spawn *sp, const char *path)
{
	const char *name = sp->argv[0];
	bool denied = false;

	if (strchr(name, '/') != NULL) {
		if ((size_t)snprintf(sp->path, sizeof(sp->path), "%s", name) >= sizeof(sp->path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		return 0;
	}
	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path != '\0') {
		const char *end = strchr(path, ':');
		size_t dlen = end ? (size_t)(end - path) : strlen(path);
		/* An empty PATH element means the working directory, which a daemon should
		 * never search implicitly. */
		if (dlen > 0 && (size_t)snprintf(sp->path, sizeof(sp->path), "%.*s/%s", (int)dlen,
		                    path, name) < sizeof(sp->path)) {
			if (is_executable(sp->path))
				return 0;
			if (access(sp->path, F_OK) == 0)
				denied = true;
		}
		path += dlen;
		if (*path == ':')
			path++;
	}
	sp->path[0] = '\0';
	errno = denied ? EACCES : ENOENT;
	return -1;
}

/* ---- line buffers ---- */

int
ml_lines_init(struct ml_lines *l, size_t max)
{
	memset(l, 0, sizeof(*l));
	l->max = max;
	/* One line, its newline and a terminating NUL. */
	l->buf = malloc(max + 2);
	return l->buf ? 0 : -1;
}

void
ml_lines_free(struct ml_lines *l)
{
	free(l->buf);
	l->buf = NULL;
}

enum ml_fill
ml_lines_fill(struct ml_lines *l, int fd)
{
	ssize_t n;

	if (l->eof)
		return ML_FILL_EOF;
	if (l->start > 0) {
		memmove(l->buf, l->buf + l->start, l->len - l->start);
		l->len -= l->start;
		l->start = 0;
	}
	/* Room for max bytes and a newline: a full buffer without one is a line too long. */
	if (l->len >= l->max + 1)
		return ML_FILL_TOO_LONG;
	n = read(fd, l->buf + l->len, l->max + 1 - l->len);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? ML_FILL_DATA : ML_FILL_ERROR;
	if (n == 0) {
		l->eof = true;
		return ML_FILL_EOF;
	}
	l->len += (size_t)n;
	if (l->len >= l->max + 1 && memchr(l->buf, '\n', l->len) == NULL)
		return ML_FILL_TOO_LONG;
	return ML_FILL_DATA;
}

char *
ml_lines_next(struct ml_lines *l, size_t *len)
{
	char *s = l->buf + l->start;
	size_t avail = l->len - l->start;
	char *nl = memchr(s, '\n', avail);
	size_t n;

	if (nl != NULL) {
		n = (size_t)(nl - s);
		l->start += n + 1;
	} else if (l->eof && avail > 0) {
		n = avail;
		l->start = l->len;
	} else {
		return NULL;
	}
	if (n > 0 && s[n - 1] == '\r')
		n--;
	s[n] = '\0';
	*len = n;
	return s;
}

/* ---- the child ---- */

/* What the child reports through the exec pipe when it cannot exec. */
struct exec_failure {
	int stage; /* 0 chdir, 1 exec, 2 setup */
	int err;
};

static void
child_fail(int fd, int stage)
{
	struct exec_failure f = { stage, errno };
	ssize_t w = write(fd, &f, sizeof(f));

	(void)w;
	_exit(127);
}

/* Runs in the forked child: only async-signal-safe calls. */
static void
child_exec(const struct ml_spawn *sp, pid_t parent, int in, int out, int err, int report)
{
	struct sigaction dfl;
	sigset_t none;

	setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		child_fail(report, 2);
	/* The parent may have died before prctl: then nobody would kill us. */
	if (getppid() != parent)
		_exit(127);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL); /* fails harmlessly for SIGKILL, SIGSTOP */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(err, 2) == -1)
		child_fail(report, 2);
#ifdef CLOSE_RANGE_CLOEXEC
	/* Nothing of the reader's (shm, klsd's pipe, sockets) may reach the program; the
	 * report pipe goes too, which is how the parent learns that exec worked. */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
#endif
	if (sp->dir[0] != '\0' && chdir(sp->dir) == -1)
		child_fail(report, 0);
	execve(sp->path, sp->argv, sp->envp);
	child_fail(report, 1);
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int
ml_child_start(struct ml_child *c, const struct ml_spawn *sp, char *why, size_t whylen)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, rep[2] = { -1, -1 };
	struct exec_failure f;
	pid_t parent = getpid(), pid;
	ssize_t n;
	int saved;

	memset(c, 0, sizeof(*c));
	c->pid = -1;
	c->in_fd = c->out_fd = c->err_fd = -1;
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1 ||
	    pipe2(err, O_CLOEXEC) == -1 || pipe2(rep, O_CLOEXEC) == -1) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid == -1) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		child_exec(sp, parent, in[0], out[1], err[1], rep[1]);
	/* Also here, so that a kill of the group cannot come before the child's setpgid. */
	setpgid(pid, pid);
	c->pid = pid;
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	close_fd(&rep[1]);
	do
		n = read(rep[0], &f, sizeof(f));
	while (n == -1 && errno == EINTR);
	close_fd(&rep[0]);
	if (n == (ssize_t)sizeof(f)) {
		static const char *const stage[] = { "chdir", "exec", "child setup" };
		snprintf(why, whylen, "%s %s: %s", stage[f.stage < 3 ? f.stage : 2],
		    f.stage == 0 ? sp->dir : sp->path, strerror(f.err));
		waitpid(pid, &c->status, 0);
		c->pid = -1;
		errno = f.err;
		goto fail;
	}
	c->in_fd = in[1];
	c->out_fd = out[0];
	c->err_fd = err[0];
	fcntl(c->in_fd, F_SETFL, O_NONBLOCK);
	fcntl(c->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(c->err_fd, F_SETFL, O_NONBLOCK);
	return 0;

fail:
	saved = errno;
	for (int i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&out[i]);
		close_fd(&err[i]);
		close_fd(&rep[i]);
	}
	errno = saved;
	return -1;
}

void
ml_child_close_stdin(struct ml_child *c)
{
	close_fd(&c->in_fd);
}

bool
ml_child_try_reap(struct ml_child *c)
{
	pid_t r;

	if (c->pid < 0 || c->reaped)
		return true;
	do
		r = waitpid(c->pid, &c->status, WNOHANG);
	while (r == -1 && errno == EINTR);
	if (r == c->pid || (r == -1 && errno == ECHILD))
		c->reaped = true;
	return c->reaped;
}

void
ml_child_kill(struct ml_child *c)
{
	pid_t r;

	if (c->pid < 0 || c->reaped)
		return;
	/* The group: whatever the program started dies with it. */
	kill(-c->pid, SIGKILL);
	kill(c->pid, SIGKILL);
	do
		r = waitpid(c->pid, &c->status, 0);
	while (r == -1 && errno == EINTR);
	c->reaped = true;
}

void
ml_child_close(struct ml_child *c)
{
	close_fd(&c->in_fd);
	close_fd(&c->out_fd);
	close_fd(&c->err_fd);
}

void
ml_child_describe(const struct ml_child *c, char *out, size_t size)
{
	if (c->pid < 0 || !c->reaped)
		snprintf(out, size, "still running");
	else if (WIFEXITED(c->status))
		snprintf(out, size, "exit status %d", WEXITSTATUS(c->status));
	else if (WIFSIGNALED(c->status))
		snprintf(out, size, "killed by signal %d (%s)", WTERMSIG(c->status),
		    strsignal(WTERMSIG(c->status)));
	else
		snprintf(out, size, "status 0x%x", (unsigned)c->status);
}

int
ml_write_some(int fd, const char *buf, size_t len, size_t *off)
{
	sigset_t pipe_set, old, pending;
	bool was_pending;
	ssize_t w;
	int saved = 0, rc = 0;

	/* A write to a pipe whose reader is gone raises SIGPIPE, whose default action
	 * would end the reader. kls-reader ignores it, but a handler must not depend on
	 * its host: block it in this thread and take back a SIGPIPE we caused. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	do
		w = write(fd, buf + *off, len - *off);
	while (w == -1 && errno == EINTR);
	if (w > 0) {
		*off += (size_t)w;
	} else if (w == -1 && errno != EAGAIN) {
		saved = errno;
		rc = -1;
		if (saved == EPIPE && !was_pending) {
			const struct timespec zero = { 0, 0 };
			sigtimedwait(&pipe_set, NULL, &zero);
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return rc;
}

long long
ml_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
