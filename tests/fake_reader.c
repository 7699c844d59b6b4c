/*
 * The stand-in kls-reader of klsd's integration tests: see fake_reader.h.
 */
#include "config.h"

#include "tests/fake_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/conf.h"
#include "shm/seqcount.h"
#include "shm/table.h"

static char log_path[512];

static void __attribute__((format(printf, 1, 2))) fr_log(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n, fd;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || !log_path[0])
		return;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write with O_APPEND: lines of concurrent readers never interleave. */
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) < 0) {
		}
		close(fd);
	}
}

/* Counts this run in DIR/<shard>.runs and returns its number (1 = first). */
static int
next_run(const char *dir, const char *shard)
{
	char path[512], buf[32] = "";
	int run = 0, fd;

	snprintf(path, sizeof(path), "%s/%s.runs", dir, shard);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return 1;
	if (read(fd, buf, sizeof(buf) - 1) > 0)
		run = atoi(buf);
	run++;
	snprintf(buf, sizeof(buf), "%d\n", run);
	if (pwrite(fd, buf, strlen(buf), 0) < 0) {
	}
	close(fd);
	return run;
}

/* "mode:arg" matches when the mode is `mode` and, if arg is a shard, it is ours. */
static bool
mode_is(const char *mode, const char *name, const char *shard)
{
	size_t n = strlen(name);
	const char *last;

	if (strncmp(mode, name, n) != 0 || (mode[n] != '\0' && mode[n] != ':'))
		return false;
	if (!shard)
		return true;
	last = strrchr(mode, ':');
	return last && strcmp(last + 1, shard) == 0;
}

static const char *
result_name(int rc, const struct kls_lease *l)
{
	if (rc != 0)
		return "TIMEOUT";
	switch (l->ckpt_result) {
	case KLS_CKPT_OK: return "OK";
	case KLS_CKPT_FAILED: return "FAILED";
	case KLS_CKPT_BEYOND: return "BEYOND";
	case KLS_CKPT_LEASE_LOST: return "LEASE_LOST";
	}
	return "?";
}

static void
checkpoint(struct kls_shm_slot *s, int wake_fd, struct kls_progress *p, const char *shard,
    const char *seq)
{
	struct kls_lease l;
	int rc;

	snprintf(p->req_seq, sizeof(p->req_seq), "%s", seq);
	p->req_subseq = 0;
	p->req_gen++;
	p->handler_state = KLS_HANDLER_CHECKPOINT;
	kls_shm_progress_publish(s, p);
	if (write(wake_fd, "c", 1) < 0) {
	}
	rc = kls_shm_await_persisted(s, p->req_gen, 10000, &l);
	if (rc == 1)
		fr_log("ckpt %s %s result=COMMAND", shard, seq);
	else
		fr_log("ckpt %s %s result=%s persisted=%s", shard, seq, result_name(rc, &l),
		    l.ckpt_seq);
	p->handler_state = KLS_HANDLER_IDLE;
	kls_shm_progress_publish(s, p);
}

static int __attribute__((noreturn)) finish(struct kls_shm_slot *s, const char *shard, int code)
{
	fr_log("exit %s pid=%d code=%d", shard, (int)getpid(), code);
	if (code == 0 || code == 3 || code == 4)
		kls_shm_slot_deactivate(s);
	_exit(code);
}

int
fake_reader_main(int argc, char **argv)
{
	const char *shm_name = NULL, *dir = getenv("FAKE_READER_DIR"),
	           *mode = getenv("FAKE_READER");
	int config_fd = -1, wake_fd = -1, slot = -1, run, leaked = 0;
	struct kls_shm *t;
	struct kls_shm_err err;
	struct kls_shm_slot *s;
	struct kls_lease l;
	struct kls_progress p;
	struct config *cfg;
	kls_mono drain_asked; /* slowdrain: when klsd first asked */
	char shard[KLS_SHM_SHARD_MAX];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--config-fd") == 0)
			config_fd = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--shm") == 0)
			shm_name = argv[i + 1];
		else if (strcmp(argv[i], "--slot") == 0)
			slot = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--wake-fd") == 0)
			wake_fd = atoi(argv[i + 1]);
	}
	if (!mode)
		mode = "run";
	if (dir)
		snprintf(log_path, sizeof(log_path), "%s/log", dir);
	/* Nothing of klsd's but 0-4 may be open. */
	for (int fd = wake_fd + 1; fd < 64; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			leaked++;
	cfg = config_load_fd(config_fd, "config-fd");
	if (!shm_name || slot < 0 || kls_shm_attach(shm_name, &t, &err) < 0) {
		fr_log("attach failed: %s", shm_name ? err.msg : "no --shm");
		_exit(2);
	}
	s = kls_shm_slot(t, (uint32_t)slot);
	if (!s || kls_shm_lease_read(s, &l, KLS_SHM_READ_TRIES) < 0) {
		fr_log("slot %d unreadable", slot);
		_exit(2);
	}
	snprintf(shard, sizeof(shard), "%s", l.shard_id);
	if (!kls_shm_slot_activate(t, (uint32_t)slot, shard, &err)) {
		fr_log("activate %s: %s", shard, err.msg);
		_exit(2);
	}
	run = dir ? next_run(dir, shard) : 1;
	fr_log("start %s pid=%d run=%d config=%s fds=%s deadline=%s", shard, (int)getpid(), run,
	    cfg && config_error_count(cfg) == 0 ? "ok" : "bad", leaked ? "leaked" : "ok",
	    l.deadline_ns > mono_now().ns ? "ok" : "none");
	config_free(cfg);
	if (kls_shm_progress_read(s, &p, KLS_SHM_READ_TRIES) < 0)
		memset(&p, 0, sizeof(p));
	/* Number requests after whatever klsd answered last. */
	if (l.ckpt_gen > p.req_gen)
		p.req_gen = l.ckpt_gen;
	kls_shm_heartbeat(s, mono_now());

	if (mode_is(mode, "exit", shard)) {
		int code = atoi(strchr(mode, ':') + 1);
		snprintf(p.last_error, sizeof(p.last_error), "fake reader told to exit %d", code);
		p.error_ns = mono_now().ns;
		kls_shm_progress_publish(s, &p);
		finish(s, shard, code);
	}
	if (mode_is(mode, "torn", shard) && run == 1) {
		/* Die between the two counter bumps of a progress publish. */
		kls_seq_write_begin(&s->progress.seq);
		raise(SIGKILL);
	}
	if (mode_is(mode, "checkpoint", NULL)) {
		char seq[64], beyond[80];
		snprintf(seq, sizeof(seq), "4900000000000000000000000%d", run);
		snprintf(beyond, sizeof(beyond), "%s1", seq);
		snprintf(p.delivered_seq, sizeof(p.delivered_seq), "%s", seq);
		p.records = 10;
		checkpoint(s, wake_fd, &p, shard, seq);
		checkpoint(s, wake_fd, &p, shard, beyond);
	}
	drain_asked = KLS_MONO_ZERO;
	for (int i = 0;; i++) {
		kls_mono now = mono_now();
		if (mode_is(mode, "crash", NULL) && run <= atoi(mode + 6) && i == 6) {
			signal(SIGSEGV, SIG_DFL);
			raise(SIGSEGV);
		}
		if (!(mode_is(mode, "hang", shard) && run == 1))
			kls_shm_heartbeat(s, now);
		if (kls_shm_lease_read(s, &l, KLS_SHM_READ_TRIES) == 0) {
			if (l.command == KLS_CMD_DRAIN && mode_is(mode, "slowdrain", NULL)) {
				if (!drain_asked.ns)
					drain_asked = now;
				if (mono_diff_ms(drain_asked, now) >= atoi(mode + 10))
					finish(s, shard, 0);
			} else if (l.command == KLS_CMD_DRAIN) {
				finish(s, shard, 0);
			}
			if (l.command == KLS_CMD_STOP)
				finish(s, shard, 3);
		}
		/* The reader's own fence: past the deadline it stops, whatever klsd does. */
		if (l.deadline_ns && now.ns > l.deadline_ns)
			finish(s, shard, 3);
		sleep_ms(50);
	}
}

int
fake_reader_test_main(int argc, char **argv, CU_SuiteInfo *suites)
{
	if (argc > 1 && strcmp(argv[1], "--config-fd") == 0)
		return fake_reader_main(argc, argv);
	/* klsd's children (our fake readers) inherit nothing from CUnit but this. */
	return test_main(argc, argv, suites);
}
