/*
 * The test as klsd: see fake_klsd.h.
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "tests/fake_klsd.h"
#include "tests/harness.h"

static void
fk_publish(struct fake_klsd *fx)
{
	kls_shm_lease_publish(fx->s, &fx->l);
	kls_shm_wake_reader(fx->s);
}

/* A table with one slot for shard_id: RUN, deadline in deadline_ms (may be < 0),
 * persisted checkpoint ckpt ("" = none). */
int
fk_open(struct fake_klsd *fx, const char *shard_id, int64_t deadline_ms, const char *ckpt,
    uint64_t subseq)
{
	struct kls_shm_params p = { .application = "readertest",
		.stream = "s",
		.worker_id = FK_WORKER_ID,
		.slot_count = 2 };
	struct kls_shm_err err;
	int idx;

	memset(fx, 0, sizeof(*fx));
	fx->wake[0] = fx->wake[1] = fx->cfg_fd = -1;
	fx->renew = true;
	snprintf(fx->dir, sizeof(fx->dir), "%s/tests/reader-XXXXXX", test_builddir());
	if (!mkdtemp(fx->dir)) {
		perror(fx->dir);
		return -1;
	}
	fx->shm_name[0] = '/';
	test_unique_name(fx->shm_name + 1, sizeof(fx->shm_name) - 1, "klstest-reader");
	p.name = fx->shm_name;
	if (kls_shm_create(&p, &fx->t, &err) < 0) {
		fprintf(stderr, "\n%s\n", err.msg);
		return -1;
	}
	snprintf(fx->shard_id, sizeof(fx->shard_id), "%s", shard_id);
	fx->l.command = KLS_CMD_RUN;
	memcpy(fx->l.shard_id, fx->shard_id, sizeof(fx->l.shard_id));
	fx->l.lease_counter = 3;
	fx->l.deadline_ns = mono_add_ms(mono_now(), deadline_ms).ns;
	snprintf(fx->l.ckpt_seq, sizeof(fx->l.ckpt_seq), "%s", ckpt);
	fx->l.ckpt_subseq = subseq;
	fx->l.ckpt_gen = 5; /* as if an earlier reader had checkpointed: numbering goes on */
	/* Slot 1, so a reader that took the wrong slot would fail. */
	if (kls_shm_slot_assign(fx->t, &(struct kls_lease){ .shard_id = "other" }) != 0 ||
	    (idx = kls_shm_slot_assign(fx->t, &fx->l)) != 1) {
		fprintf(stderr, "\n%s: slots not assigned as expected\n", fx->shm_name);
		return -1;
	}
	fx->s = kls_shm_slot(fx->t, (uint32_t)idx);
	if (pipe2(fx->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		perror("pipe2");
		return -1;
	}
	return fx->s ? 0 : -1;
}

/* The configuration: [kls] and [reader] keys around the given extra lines. */
int
fk_config(struct fake_klsd *fx, const char *stream, const char *endpoint, const char *handler,
    const char *reader_lines, const char *handler_lines)
{
	char text[4096];
	int n = snprintf(text, sizeof(text),
	    "[kls]\napplication = readertest\nstream = %s\nregion = us-east-1\n"
	    "[reader]\nhandler = %s\nidle_backoff_ms = 50\n%s\n"
	    "[aws]\nkinesis_endpoint = %s\nrequest_timeout_ms = %u\n"
	    "[handler]\n%s\n",
	    stream, handler, reader_lines, endpoint,
	    fx->request_timeout_ms ? fx->request_timeout_ms : 5000, handler_lines);

	fx->cfg_fd = memfd_create("kls-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fx->cfg_fd < 0 || n < 0 || (size_t)n >= sizeof(text) ||
	    write(fx->cfg_fd, text, (size_t)n) != n ||
	    fcntl(fx->cfg_fd, F_ADD_SEALS,
	        F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		perror("config memfd");
		return -1;
	}
	return 0;
}

/* fork + exec, as klsd does (the descriptors the reader gets are the only ones left
 * open across exec). */
int
fk_spawn(struct fake_klsd *fx)
{
	char reader[PATH_MAX], cfd[16], wfd[16];

	snprintf(reader, sizeof(reader), "%s/reader/kls-reader", test_builddir());
	snprintf(cfd, sizeof(cfd), "%d", fx->cfg_fd);
	snprintf(wfd, sizeof(wfd), "%d", fx->wake[1]);
	fflush(NULL);
	fx->pid = fork();
	if (fx->pid == 0) {
		const char *asan = getenv("ASAN_OPTIONS");
		char opts[1024];

		/* A crash must stay a crash under AddressSanitizer, which would otherwise
		 * turn SIGSEGV into a report and exit status 1. */
		snprintf(opts, sizeof(opts), "%s%shandle_segv=0", asan ? asan : "",
		    asan ? ":" : "");
		setenv("ASAN_OPTIONS", opts, 1);
		/* The reader takes its credentials from the environment, as under klsd. */
		setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 0);
		setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 0);
		fcntl(fx->cfg_fd, F_SETFD, 0);
		fcntl(fx->wake[1], F_SETFD, 0);
		execl(reader, reader, "--config-fd", cfd, "--shm", fx->shm_name, "--slot", "1",
		    "--wake-fd", wfd, (char *)NULL);
		perror(reader);
		_exit(127);
	}
	return fx->pid > 0 ? 0 : -1;
}

static bool
is_seq(const char *s)
{
	return s[0] >= '0' && s[0] <= '9';
}

/* Answers the reader's pending checkpoint request, as klsd would. */
static void
fk_answer(struct fake_klsd *fx, const struct kls_progress *pr)
{
	enum kls_ckpt_result res = fx->answer;
	int cmp = 0;

	/* klsd never trusts a request beyond what the reader says it delivered. */
	if (res == KLS_CKPT_OK && is_seq(pr->req_seq) &&
	    (kls_seqnum_cmp(pr->req_seq, pr->req_subseq, pr->delivered_seq, pr->delivered_subseq,
	         &cmp) < 0 ||
	        cmp > 0))
		res = KLS_CKPT_BEYOND;
	fx->l.ckpt_gen = pr->req_gen;
	fx->l.ckpt_result = res;
	fx->l.error[0] = '\0';
	if (res == KLS_CKPT_OK) {
		memcpy(fx->l.ckpt_seq, pr->req_seq, sizeof(fx->l.ckpt_seq));
		fx->l.ckpt_subseq = pr->req_subseq;
		if (fx->n_ckpts < MAX_CKPTS) {
			memcpy(fx->ckpts[fx->n_ckpts], pr->req_seq, sizeof(fx->ckpts[0]));
			fx->ckpt_subs[fx->n_ckpts] = pr->req_subseq;
			fx->ckpt_state[fx->n_ckpts++] = pr->handler_state;
		}
	} else {
		snprintf(fx->l.error, sizeof(fx->l.error), "refused by the test (%d)", res);
	}
	fk_publish(fx);
}

/* One turn of klsd's loop: wait up to ms for the wake pipe, answer, renew, reap. */
void
fk_serve(struct fake_klsd *fx, int ms)
{
	struct pollfd p = { .fd = fx->wake[0], .events = POLLIN };
	struct kls_progress pr;
	char buf[64];

	(void)poll(&p, 1, ms);
	while (read(fx->wake[0], buf, sizeof(buf)) > 0)
		;
	if (kls_shm_progress_read(fx->s, &pr, KLS_SHM_READ_TRIES) == 0) {
		fx->prog = pr;
		if (!fx->hold && pr.req_gen > fx->l.ckpt_gen)
			fk_answer(fx, &pr);
	}
	if (fx->renew && !fx->exited) {
		fx->l.deadline_ns = mono_add_ms(mono_now(), 30000).ns;
		kls_shm_lease_publish(fx->s, &fx->l);
	}
	if (!fx->exited && waitpid(fx->pid, &fx->status, WNOHANG) == fx->pid)
		fx->exited = true;
}

/* Serves until cond(fx) holds (NULL: until the reader exits) or timeout_ms passes. */
bool
fk_until(struct fake_klsd *fx, bool (*cond)(const struct fake_klsd *), int timeout_ms)
{
	kls_mono end = mono_add_ms(mono_now(), timeout_ms);

	while (mono_before(mono_now(), end)) {
		fk_serve(fx, 20);
		if (cond ? cond(fx) : fx->exited)
			return true;
		if (fx->exited)
			return false;
	}
	return false;
}

/* Serves until the reader exits; kills it after RUN_TIMEOUT_MS. Its wait status. */
int
fk_wait(struct fake_klsd *fx)
{
	if (!fx->exited && !fk_until(fx, NULL, RUN_TIMEOUT_MS)) {
		/* Killed: its status then fails whatever exit the test expected. */
		fprintf(stderr, "\nkls-reader %ld did not exit in %d ms: killing it\n",
		    (long)fx->pid, RUN_TIMEOUT_MS);
		kill(fx->pid, SIGKILL);
		waitpid(fx->pid, &fx->status, 0);
		fx->exited = true;
	}
	/* The last words in the progress group. */
	(void)kls_shm_progress_read(fx->s, &fx->prog, KLS_SHM_READ_TRIES);
	return fx->status;
}

bool
exited_with(const struct fake_klsd *fx, int code)
{
	if (!WIFEXITED(fx->status) || WEXITSTATUS(fx->status) != code) {
		fprintf(stderr,
		    "\nkls-reader: wait status 0x%x, want exit %d (last error \"%s\")\n",
		    fx->status, code, fx->prog.last_error);
		return false;
	}
	return true;
}

void
fk_command(struct fake_klsd *fx, enum kls_command c)
{
	fx->l.command = c;
	fk_publish(fx);
}

static void
rm_tree(const char *dir)
{
	char cmd[PATH_MAX + 16];

	/* Our own scratch directory under the build tree, made by mkdtemp. */
	if (strstr(dir, "/tests/reader-") == NULL)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "\ncould not remove %s\n", dir);
}

void
fk_close(struct fake_klsd *fx)
{
	if (fx->pid > 0 && !fx->exited) {
		kill(fx->pid, SIGKILL);
		waitpid(fx->pid, &fx->status, 0);
	}
	for (int i = 0; i < 2; i++)
		if (fx->wake[i] >= 0)
			close(fx->wake[i]);
	if (fx->cfg_fd >= 0)
		close(fx->cfg_fd);
	kls_shm_close(fx->t);
	kls_shm_unlink(fx->shm_name);
	rm_tree(fx->dir);
}
