/*
 * Reader processes: spawn, exit meanings, restart backoff. See readers.h.
 *
 * The child between clone and exec runs only async-signal-safe system calls: klsd has
 * pool threads, so a lock (malloc's, stdio's) may be held by a thread that does not
 * exist in the child, and the child shares klsd's memory until it execs (see
 * reader_spawn), so it must not write any. Everything the child needs (argv, the
 * environment, paths) is prepared before the clone.
 */
#include "config.h"

#include "supervisor/readers.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/reader_proto.h"
#include "shm/table.h"

extern char **environ;

#ifndef KLS_PKGLIBEXECDIR
#define KLS_PKGLIBEXECDIR "/usr/local/libexec/kls"
#endif

void
reader_proc_init(struct reader_proc *p, const char *shard, int slot)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->shard, sizeof(p->shard), "%s", shard);
	p->slot = slot;
	p->wake_fd = -1;
	p->last_status = -1;
	p->kill_at = KLS_MONO_NEVER;
}

enum reader_verdict
reader_verdict(int wstatus)
{
	if (!WIFEXITED(wstatus))
		return READER_V_RESTART;
	switch (WEXITSTATUS(wstatus)) {
	case READER_EXIT_DRAINED: return READER_V_DRAINED;
	case READER_EXIT_PERMANENT: return READER_V_PERMANENT;
	case READER_EXIT_LEASE_LOST: return READER_V_LEASE_LOST;
	case READER_EXIT_SHARD_END: return READER_V_SHARD_END;
	default:
		/* 1, and anything the contract does not name (a handler's exit(), a
		 * runtime's abort path): transient. */
		return READER_V_RESTART;
	}
}

void
reader_describe_exit(int wstatus, char *out, size_t size)
{
	if (WIFEXITED(wstatus)) {
		int s = WEXITSTATUS(wstatus);
		snprintf(out, size, "exited with status %d (%s)", s, READER_EXIT_NAME(s));
	} else if (WIFSIGNALED(wstatus)) {
		int sig = WTERMSIG(wstatus);
		const char *name = sigabbrev_np(sig);
		snprintf(out, size, "killed by signal %d (SIG%s%s)", sig, name ? name : "?",
		    WCOREDUMP(wstatus) ? ", core dumped" : "");
	} else {
		snprintf(out, size, "ended with wait status 0x%x", (unsigned)wstatus);
	}
}

int64_t
reader_restart_delay(int64_t *backoff_ms, kls_mono started_at, kls_mono now, int64_t min_ms,
    int64_t max_ms)
{
	int64_t delay;

	if (min_ms < 1)
		min_ms = 1;
	if (max_ms < min_ms)
		max_ms = min_ms;
	/* A reader that ran a healthy while has paid its debt: start over. The first
	 * failure after that restarts at once: one crash (a segfault, an OOM kill) should
	 * cost the shard a process start, not min_ms of idling on top, while a crash loop
	 * still waits min_ms, then 2 min_ms, ... from its second death on. Poison-record
	 * counting (poison.c) does not depend on the delay. */
	if (*backoff_ms <= 0 || mono_diff_ms(started_at, now) >= READER_HEALTHY_MS) {
		*backoff_ms = min_ms;
		return 0;
	}
	delay = *backoff_ms < max_ms ? *backoff_ms : max_ms;
	*backoff_ms = delay > max_ms / 2 ? max_ms : delay * 2;
	return delay;
}

int
reader_exe_path(char *out, size_t size)
{
	const char *env = getenv("KLS_READER");
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		if (env[0] != '/' || strlen(env) >= size) {
			errno = EINVAL;
			return -1;
		}
		memcpy(out, env, strlen(env) + 1);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char cand[PATH_MAX + 32];
		self[n] = '\0';
		/* Running from the build tree: supervisor/klsd beside reader/kls-reader. */
		snprintf(cand, sizeof(cand), "%s/../reader/kls-reader", dirname(self));
		if (access(cand, X_OK) == 0) {
			char real[PATH_MAX];
			if (realpath(cand, real) && strlen(real) < size) {
				memcpy(out, real, strlen(real) + 1);
				return 0;
			}
		}
	}
	if ((size_t)snprintf(out, size, "%s/kls-reader", KLS_PKGLIBEXECDIR) >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* What the child needs, prepared by reader_spawn before the clone. */
struct child_args {
	pid_t parent;
	int config_fd, wake_wr;
	const char *exe;
	char *const *argv, *const *envp;
};

/* The child's side of reader_spawn: async-signal-safe calls only, then exec. */
static int
child(void *arg)
{
	const struct child_args *a = arg;
	sigset_t none;
	int c, w;

	/* If klsd dies, the reader dies with it (SIGKILL: no handler can delay it); a
	 * klsd that died before this line would never deliver it, hence the check. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != a->parent)
		_exit(127);
	/* klsd blocks its signals for signalfd and may ignore SIGPIPE; both would be
	 * inherited across exec. (Without CLONE_SIGHAND these are the child's own.) */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Move both descriptors out of the way first, so neither dup2 clobbers the other. */
	c = fcntl(a->config_fd, F_DUPFD, 10);
	w = fcntl(a->wake_wr, F_DUPFD, 10);
	if (c < 0 || w < 0 || dup2(c, READER_CONFIG_FD) < 0 || dup2(w, READER_WAKE_FD) < 0)
		_exit(127);
	if (close_range(READER_WAKE_FD + 1, ~0U, 0) < 0) {
		for (int fd = READER_WAKE_FD + 1; fd < 65536; fd++)
			close(fd);
	}
	execve(a->exe, a->argv, a->envp);
	_exit(127);
}

/*
 * klsd's environment for a reader, plus GNUTLS_NO_IMPLICIT_INIT=1: libcurl pulls in
 * GnuTLS (through librtmp) whose constructor initializes it in every process that
 * loads it, which cost each reader start ~7 ms of CPU and 0.8 MB of memory, for a
 * library kls never uses (its libcurl is built on OpenSSL; one built on GnuTLS still
 * initializes it explicitly). NULL when out of memory; free() the array only.
 */
static char **
reader_env(void)
{
	static char no_gnutls_init[] = "GNUTLS_NO_IMPLICIT_INIT=1";
	size_t n = 0;
	bool have = false;
	char **env;

	for (; environ[n]; n++)
		have = have || strncmp(environ[n], "GNUTLS_NO_IMPLICIT_INIT=", 24) == 0;
	if (!(env = calloc(n + 2, sizeof(*env))))
		return NULL;
	memcpy(env, environ, n * sizeof(*env));
	if (!have)
		env[n] = no_gnutls_init;
	return env;
}

#define CHILD_STACK (64 << 10)

int
reader_spawn(const struct reader_spawn *s, struct reader_proc *p, kls_mono now)
{
	char slot[16], cfd[8], wfd[8];
	char *argv[] = { "kls-reader", "--config-fd", cfd, "--shm", (char *)s->shm_name, "--slot",
		slot, "--wake-fd", wfd, NULL };
	struct child_args a = { .parent = getpid(), .config_fd = s->config_fd, .exe = s->exe,
		.argv = argv };
	char **env;
	void *stack;
	pid_t pid;
	int pipefd[2], saved;

	snprintf(slot, sizeof(slot), "%d", p->slot);
	snprintf(cfd, sizeof(cfd), "%d", READER_CONFIG_FD);
	snprintf(wfd, sizeof(wfd), "%d", READER_WAKE_FD);
	if (!(env = reader_env()))
		return -1;
	stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
	    -1, 0);
	if (stack == MAP_FAILED) {
		free(env);
		return -1;
	}
	/* Both ends close-on-exec in klsd; the child's dup2 copy of the write end is not. */
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
		saved = errno;
		munmap(stack, CHILD_STACK);
		free(env);
		errno = saved;
		return -1;
	}
	a.wake_wr = pipefd[1];
	a.envp = env;
	/* As posix_spawn does: the child borrows klsd's memory on a stack of its own until
	 * it execs (CLONE_VM) while this thread waits (CLONE_VFORK), instead of a fork that
	 * copied klsd's page tables (2 to 8 ms per reader on a loaded host) and left every
	 * page klsd then wrote to be copied too. */
	pid = clone(child, (char *)stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	saved = errno;
	munmap(stack, CHILD_STACK);
	free(env);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		errno = saved;
		return -1;
	}
	p->pid = pid;
	p->wake_fd = pipefd[0];
	p->state = READER_RUNNING;
	p->started_at = now;
	p->drain_sent = p->stop_sent = p->kill_sent = false;
	p->kill_at = KLS_MONO_NEVER;
	if (kls_proc_start_ticks(pid, &p->start_ticks) < 0)
		p->start_ticks = 0;
	return 0;
}

void
reader_reaped(struct reader_proc *p, int wstatus)
{
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	p->wake_fd = -1;
	p->pid = 0;
	p->start_ticks = 0;
	p->last_status = wstatus;
	p->kill_at = KLS_MONO_NEVER;
}

int
reader_config_memfd(const char *text, size_t len)
{
	int fd = memfd_create("kls-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	/* Sealed: no reader (nor anyone holding the descriptor) can change what the
	 * next reader will read. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		goto fail;
	return fd;
fail : {
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}
}
