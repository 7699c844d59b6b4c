/*
 * Tests of shm/ (the shared-memory table: create, attach, validation, stale tables,
 * seqcounts under concurrency, a writer killed mid-update, repair, futex handshake) and
 * of kls-ctl status (text, JSON, torn slots, table choice, refusals). Every table gets a
 * unique name and is unlinked by the suite cleanup even when a test fails half-way.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "ctl/ctl.h"
#include "shm/futex.h"
#include "shm/seqcount.h"
#include "shm/table.h"
#include "tests/harness.h"

/* Names handed out by new_name(), unlinked in cleanup (test-only global: the suites
 * run in one thread). */
static char names[64][64];
static unsigned n_names;

static const char *
new_name(void)
{
	char *n = names[n_names % 64];
	n[0] = '/';
	test_unique_name(n + 1, sizeof(names[0]) - 1, "klstest-shm");
	n_names++;
	return n;
}

static int
cleanup_names(void)
{
	for (unsigned i = 0; i < n_names && i < 64; i++)
		shm_unlink(names[i]);
	return 0;
}

/* kls_shm_create with the test identity. */
static int
create_table(const char *name, uint32_t slots, struct kls_shm **t, struct kls_shm_err *err)
{
	struct kls_shm_params p = { .name = name, .application = "testapp",
		.stream = "teststream", .worker_id = "host1:0f4c", .slot_count = slots };
	return kls_shm_create(&p, t, err);
}

static struct kls_shm *
make_table(const char *name, uint32_t slots)
{
	struct kls_shm_err err;
	struct kls_shm *t = NULL;

	if (create_table(name, slots, &t, &err) < 0) {
		fprintf(stderr, "kls_shm_create %s: %s\n", name, err.msg);
		return NULL;
	}
	return t;
}

static struct kls_lease
lease_for(const char *shard)
{
	struct kls_lease l = { .command = KLS_CMD_RUN, .lease_counter = 1 };
	snprintf(l.shard_id, sizeof(l.shard_id), "%s", shard);
	return l;
}

/* The header is immutable through the API; tests poke it to forge bad tables. */
static struct kls_shm_header *
header_rw(struct kls_shm *t)
{
	return (struct kls_shm_header *)kls_shm_header(t);
}

/* ================================================================ create / attach */

static void
test_shm_create_attach(void)
{
	const char *name = new_name();
	struct kls_shm *t = make_table(name, 4), *rw = NULL, *ro = NULL;
	struct kls_shm_err err;
	struct kls_lease in = lease_for("shardId-000000000007"), out;
	const struct kls_shm_header *h;
	char path[128];
	struct stat st;
	uint64_t ticks = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	h = kls_shm_header(t);
	CU_ASSERT_EQUAL(h->magic, KLS_SHM_MAGIC);
	CU_ASSERT_EQUAL(h->major, KLS_SHM_MAJOR);
	CU_ASSERT_EQUAL(h->header_size, sizeof(struct kls_shm_header));
	CU_ASSERT_EQUAL(h->slot_size, sizeof(struct kls_shm_slot));
	CU_ASSERT_EQUAL(h->slot_count, 4);
	CU_ASSERT_EQUAL(h->klsd_pid, getpid());
	CU_ASSERT_EQUAL(kls_proc_start_ticks(getpid(), &ticks), 0);
	CU_ASSERT_EQUAL(h->klsd_start_ticks, ticks);
	CU_ASSERT_STRING_EQUAL(h->application, "testapp");
	CU_ASSERT_STRING_EQUAL(h->stream, "teststream");
	CU_ASSERT_STRING_EQUAL(h->worker_id, "host1:0f4c");
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	CU_ASSERT_EQUAL(st.st_uid, geteuid());
	CU_ASSERT_EQUAL((size_t)st.st_size, 1024 + 4 * 2048);

	CU_ASSERT_EQUAL_FATAL(kls_shm_attach(name, &rw, &err), 0);
	CU_ASSERT_EQUAL_FATAL(kls_shm_attach_ro(name, &ro, &err), 0);
	CU_ASSERT_EQUAL(kls_shm_slot_count(rw), 4);
	CU_ASSERT_PTR_NULL(kls_shm_slot(rw, 4));
	CU_ASSERT_PTR_NOT_NULL(kls_shm_slot(rw, 3));
	CU_ASSERT_PTR_NULL(kls_shm_slot(ro, 0)); /* read-only handle: no writable slots */
	CU_ASSERT_PTR_NOT_NULL(kls_shm_slot_ro(ro, 0));

	/* Written through klsd's mapping, read through kls-ctl's. */
	CU_ASSERT_EQUAL(kls_shm_slot_assign(t, &in), 0);
	CU_ASSERT_EQUAL(kls_shm_slot_state(kls_shm_slot_ro(ro, 0)), KLS_SLOT_ASSIGNED);
	CU_ASSERT_EQUAL(kls_shm_lease_read(kls_shm_slot_ro(ro, 0), &out, 10), 0);
	CU_ASSERT_STRING_EQUAL(out.shard_id, "shardId-000000000007");
	kls_shm_klsd_heartbeat(t, (kls_mono){ 12345 });
	CU_ASSERT_EQUAL(kls_shm_klsd_heartbeat_get(ro).ns, 12345);

	kls_shm_close(ro);
	kls_shm_close(rw);
	kls_shm_close(t);
	CU_ASSERT_EQUAL(kls_shm_unlink(name), 0);
	CU_ASSERT_EQUAL(kls_shm_attach_ro(name, &ro, &err), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_EQUAL(err.check, KLS_SHM_ESYS);
}

static void
test_shm_create_bad_params(void)
{
	static const struct {
		const char *name, *app;
		uint32_t slots;
	} cases[] = {
		{ "no-slash", "a", 1 },
		{ "/a/b", "a", 1 },
		{ "/", "a", 1 },
		{ NULL, "a", 1 }, /* replaced by a fresh name */
		{ NULL, "", 1 },
		{ NULL, "a", 0 },
		{ NULL, "a", KLS_SHM_MAX_SLOTS + 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kls_shm_params p = { .name = cases[i].name ? cases[i].name : new_name(),
			.application = cases[i].app, .stream = "s", .worker_id = "w",
			.slot_count = cases[i].slots };
		struct kls_shm_err err;
		struct kls_shm *t = NULL;
		int rc = kls_shm_create(&p, &t, &err);
		if (i == 3) { /* the one good case */
			CU_ASSERT_EQUAL(rc, 0);
			kls_shm_close(t);
			continue;
		}
		CU_ASSERT_EQUAL(rc, -1);
		CU_ASSERT_EQUAL(errno, EINVAL);
		CU_ASSERT_EQUAL(err.check, KLS_SHM_EARG);
	}
}

static void
test_shm_check_stat(void)
{
	static const struct {
		uid_t owner, euid;
		mode_t mode;
		bool ro;
		enum kls_shm_check want;
	} cases[] = {
		{ 1000, 1000, 0600, false, KLS_SHM_OK },
		{ 1000, 1000, 0600, true, KLS_SHM_OK },
		{ 1001, 1000, 0600, false, KLS_SHM_EOWNER },
		{ 1001, 1000, 0600, true, KLS_SHM_EOWNER },
		{ 1001, 0, 0600, true, KLS_SHM_OK },      /* root may look */
		{ 1001, 0, 0600, false, KLS_SHM_EOWNER }, /* but not write */
		{ 1000, 1000, 0644, false, KLS_SHM_EMODE },
		{ 1000, 1000, 0700, true, KLS_SHM_EMODE },
		{ 1000, 1000, 04600, false, KLS_SHM_EMODE },
		{ 1000, 1000, 0400, false, KLS_SHM_EMODE },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stat st = { .st_uid = cases[i].owner, .st_mode = S_IFREG | cases[i].mode };
		struct kls_shm_err err = { .check = KLS_SHM_OK };
		int rc = kls_shm_check_stat(&st, cases[i].euid, cases[i].ro, "/t", &err);
		CU_ASSERT_EQUAL(rc, cases[i].want == KLS_SHM_OK ? 0 : -1);
		CU_ASSERT_EQUAL(err.check, cases[i].want);
	}
}

enum poke { POKE_MAGIC, POKE_MAJOR, POKE_SLOT_SIZE, POKE_SLOT_COUNT, POKE_MODE, POKE_OWNER };

static void
poke(const char *name, struct kls_shm *t, enum poke what)
{
	struct kls_shm_header *h = header_rw(t);
	int fd;

	switch (what) {
	case POKE_MAGIC:
		atomic_store(&h->magic, UINT64_C(0x1122334455667788));
		break;
	case POKE_MAJOR:
		h->major = KLS_SHM_MAJOR + 1;
		break;
	case POKE_SLOT_SIZE:
		h->slot_size = 1000;
		break;
	case POKE_SLOT_COUNT:
		h->slot_count = 1000; /* more than the object holds */
		break;
	case POKE_MODE:
	case POKE_OWNER:
		fd = shm_open(name, O_RDWR, 0);
		CU_ASSERT_FATAL(fd >= 0);
		if (what == POKE_MODE) {
			CU_ASSERT_EQUAL(fchmod(fd, 0644), 0);
		} else {
			CU_ASSERT_EQUAL(fchown(fd, 1, (gid_t)-1), 0);
		}
		close(fd);
		break;
	}
}

static void
test_shm_attach_refuses(void)
{
	static const struct {
		enum poke what;
		enum kls_shm_check want;
		const char *says;
		bool ro_too; /* attach_ro refuses as well */
	} cases[] = {
		{ POKE_MAGIC, KLS_SHM_EMAGIC, "bad magic 0x1122334455667788", true },
		{ POKE_MAJOR, KLS_SHM_EMAJOR, "major version 2, this build reads 1", true },
		{ POKE_SLOT_SIZE, KLS_SHM_ESIZE, "slot size", true },
		{ POKE_SLOT_COUNT, KLS_SHM_ESIZE, "1000 slots do not fit", true },
		{ POKE_MODE, KLS_SHM_EMODE, "mode 0644, expected 0600", true },
		/* Only root can give a table away; root may still read it (kls-ctl). */
		{ POKE_OWNER, KLS_SHM_EOWNER, "owner uid 1 is not ours", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *name = new_name();
		struct kls_shm *t = make_table(name, 2), *a = NULL;
		struct kls_shm_err err;

		CU_ASSERT_PTR_NOT_NULL_FATAL(t);
		if (cases[i].what == POKE_OWNER && geteuid() != 0) {
			/* Covered by test_shm_check_stat; fchown needs root. */
			kls_shm_close(t);
			continue;
		}
		poke(name, t, cases[i].what);
		CU_ASSERT_EQUAL(kls_shm_attach(name, &a, &err), -1);
		CU_ASSERT_EQUAL(err.check, cases[i].want);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, cases[i].says));
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, name));
		if (cases[i].ro_too) {
			CU_ASSERT_EQUAL(kls_shm_attach_ro(name, &a, &err), -1);
			CU_ASSERT_EQUAL(err.check, cases[i].want);
		} else {
			CU_ASSERT_EQUAL(kls_shm_attach_ro(name, &a, &err), 0);
			kls_shm_close(a);
		}
		kls_shm_close(t);
	}
}

/* ================================================================ stale tables */

struct stale_seen {
	unsigned calls;
	uint32_t idx;
	char shard[KLS_SHM_SHARD_MAX];
	int32_t pid;
};

static void
on_stale(void *arg, uint32_t idx, const struct kls_lease *l)
{
	struct stale_seen *s = arg;
	s->calls++;
	s->idx = idx;
	s->pid = l->reader_pid;
	snprintf(s->shard, sizeof(s->shard), "%s", l->shard_id);
}

/* A child that creates a table, fills slot 1 and dies without cleaning up. */
static pid_t
die_leaving_table(const char *name, bool reap)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct kls_shm *t = make_table(name, 2);
		struct kls_lease l = lease_for("shardId-000000000009");
		l.reader_pid = 4242;
		if (!t || kls_shm_slot_assign(t, &l) != 0 || kls_shm_slot_assign(t, &l) != 1)
			_exit(1);
		kls_shm_slot_release(kls_shm_slot(t, 0));
		_exit(0);
	}
	if (reap) {
		int status;
		CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
		CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	return pid;
}

static void
test_shm_stale_replaced(void)
{
	for (int zombie = 0; zombie < 2; zombie++) {
		const char *name = new_name();
		struct stale_seen seen = { 0 };
		struct kls_shm_params p = { .name = name, .application = "testapp",
			.stream = "s", .worker_id = "w", .slot_count = 3,
			.stale_lease = on_stale, .stale_arg = &seen };
		struct kls_shm_err err;
		struct kls_shm *t = NULL;
		int status;
		/* zombie: the dead klsd is not reaped yet, its pid still exists. */
		pid_t pid = die_leaving_table(name, !zombie);

		if (zombie) {
			/* Wait until it has exited, without reaping it. */
			siginfo_t si;
			CU_ASSERT_EQUAL(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
			CU_ASSERT_EQUAL(si.si_status, 0);
		}
		CU_ASSERT_EQUAL_FATAL(kls_shm_create(&p, &t, &err), 0);
		CU_ASSERT_EQUAL(kls_shm_header(t)->klsd_pid, getpid());
		CU_ASSERT_EQUAL(kls_shm_slot_count(t), 3);
		CU_ASSERT_EQUAL(kls_shm_slot_state(kls_shm_slot(t, 1)), KLS_SLOT_UNUSED);
		/* The dead klsd's reader was reported before its table went away. */
		CU_ASSERT_EQUAL(seen.calls, 1);
		CU_ASSERT_EQUAL(seen.idx, 1);
		CU_ASSERT_EQUAL(seen.pid, 4242);
		CU_ASSERT_STRING_EQUAL(seen.shard, "shardId-000000000009");
		kls_shm_close(t);
		if (zombie)
			CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	}
}

static void
test_shm_stale_incomplete_replaced(void)
{
	/* A klsd that died between shm_open and filling the header leaves an empty or
	 * zero-magic object: nobody holds its lock, so it is replaced. */
	for (int sized = 0; sized < 2; sized++) {
		const char *name = new_name();
		struct kls_shm *t;
		int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);

		CU_ASSERT_FATAL(fd >= 0);
		if (sized)
			CU_ASSERT_EQUAL(ftruncate(fd, 4096), 0);
		close(fd);
		t = make_table(name, 1);
		CU_ASSERT_PTR_NOT_NULL(t);
		kls_shm_close(t);
	}
}

static void
test_shm_alive_refused(void)
{
	const char *name = new_name();
	struct kls_shm_err err;
	struct kls_shm *t = NULL, *t2 = NULL;
	int up[2], down[2], status;
	char c, want[64];
	pid_t pid;

	/* A live klsd in another process holds the table. */
	CU_ASSERT_EQUAL_FATAL(pipe(up), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(down), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct kls_shm *mine = make_table(name, 1);
		close(up[0]);
		close(down[1]);
		if (!mine || write(up[1], "r", 1) != 1)
			_exit(1);
		(void)read(down[0], &c, 1); /* until the parent closes its end */
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	CU_ASSERT_EQUAL_FATAL(read(up[0], &c, 1), 1);
	CU_ASSERT_EQUAL(create_table(name, 1, &t, &err), -1);
	CU_ASSERT_EQUAL(errno, EBUSY);
	CU_ASSERT_EQUAL(err.check, KLS_SHM_EALIVE);
	snprintf(want, sizeof(want), "klsd pid %ld", (long)pid);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, want));
	/* Still intact for its readers. */
	CU_ASSERT_EQUAL(kls_shm_attach(name, &t2, &err), 0);
	CU_ASSERT_EQUAL(kls_shm_header(t2)->klsd_pid, pid);
	kls_shm_close(t2);
	close(down[1]);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	close(up[0]);
	/* Its klsd is gone now: replaced. */
	t = make_table(name, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);

	/* Lock released but the recorded klsd (us) alive with the same start time: refused. */
	kls_shm_close(t);
	CU_ASSERT_EQUAL(create_table(name, 1, &t, &err), -1);
	CU_ASSERT_EQUAL(err.check, KLS_SHM_EALIVE);
	snprintf(want, sizeof(want), "klsd pid %ld, still running", (long)getpid());
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, want));
	/* Same pid, other start time: the pid was reused, the table is stale. */
	CU_ASSERT_EQUAL_FATAL(kls_shm_attach(name, &t2, &err), 0);
	header_rw(t2)->klsd_start_ticks += 1;
	kls_shm_close(t2);
	t = make_table(name, 1);
	CU_ASSERT_PTR_NOT_NULL(t);
	kls_shm_close(t);
}

static void
test_shm_foreign_object_kept(void)
{
	const char *name = new_name();
	struct kls_shm_err err;
	struct kls_shm *t = NULL;
	char junk[128];
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);

	CU_ASSERT_FATAL(fd >= 0);
	memset(junk, 'x', sizeof(junk));
	CU_ASSERT_EQUAL(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	CU_ASSERT_EQUAL(create_table(name, 1, &t, &err), -1);
	CU_ASSERT_EQUAL(err.check, KLS_SHM_EMAGIC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not a kls table"));
	fd = shm_open(name, O_RDONLY, 0);
	CU_ASSERT(fd >= 0); /* not removed */
	if (fd >= 0)
		close(fd);
}

/* ================================================================ seqcounts */

static void
test_shm_seqcount_protocol(void)
{
	_Atomic uint32_t seq = 0;
	uint64_t src[4] = { 1, 2, 3, 4 }, dst[4] = { 0 }, shared[4] = { 0 };
	uint32_t s;

	s = kls_seq_read_begin(&seq);
	CU_ASSERT_FALSE(kls_seq_read_retry(&seq, s));
	/* A write that starts and ends after read_begin invalidates the copy. */
	kls_seq_publish(&seq, shared, src, sizeof(src));
	CU_ASSERT_TRUE(kls_seq_read_retry(&seq, s));
	CU_ASSERT_EQUAL(atomic_load(&seq), 2);
	/* A writer inside: odd, and snapshots give up after their tries. */
	kls_seq_write_begin(&seq);
	CU_ASSERT_EQUAL(atomic_load(&seq) & 1, 1);
	CU_ASSERT_TRUE(kls_seq_read_retry(&seq, kls_seq_read_begin(&seq)));
	errno = 0;
	CU_ASSERT_EQUAL(kls_seq_snapshot(&seq, dst, shared, sizeof(dst), 3), -1);
	CU_ASSERT_EQUAL(errno, EAGAIN);
	/* A new writer on a counter left odd keeps it odd until it is done. */
	kls_seq_write_begin(&seq);
	CU_ASSERT_EQUAL(atomic_load(&seq), 5);
	kls_seq_write_end(&seq);
	CU_ASSERT_EQUAL(atomic_load(&seq), 6);
	CU_ASSERT_EQUAL(kls_seq_snapshot(&seq, dst, shared, sizeof(dst), 3), 0);
	CU_ASSERT_EQUAL(memcmp(dst, src, sizeof(src)), 0);
	/* Repair acts only on an odd counter. */
	CU_ASSERT_FALSE(kls_seq_repair(&seq, shared, dst, sizeof(dst)));
	kls_seq_write_begin(&seq);
	shared[0] = 99;
	CU_ASSERT_TRUE(kls_seq_repair(&seq, shared, src, sizeof(src)));
	CU_ASSERT_EQUAL(atomic_load(&seq), 8);
	CU_ASSERT_EQUAL(kls_seq_snapshot(&seq, dst, shared, sizeof(dst), 1), 0);
	CU_ASSERT_EQUAL(dst[0], 1);
}

/* Every field of the progress group derived from one number, so a mixed snapshot shows. */
static void
progress_from(uint64_t k, struct kls_progress *p)
{
	memset(p, 0, sizeof(*p));
	p->records = k;
	p->bytes = k * 3;
	p->millis_behind = (int64_t)(k * 5);
	p->req_gen = k;
	p->delivered_subseq = ~k;
	p->handler_state = (uint32_t)(k % 8);
	snprintf(p->delivered_seq, sizeof(p->delivered_seq), "%056" PRIu64, k);
	snprintf(p->req_seq, sizeof(p->req_seq), "%0130" PRIu64, k);
	memset(p->last_error, 'a' + (int)(k % 26), 200);
}

static bool
progress_consistent(const struct kls_progress *p)
{
	struct kls_progress want;
	progress_from(p->records, &want);
	return memcmp(&want, p, sizeof(want)) == 0;
}

static void
test_shm_seqcount_concurrent(void)
{
	const char *name = new_name();
	struct kls_shm *t = make_table(name, 1);
	struct kls_shm_slot *s;
	struct kls_lease l = lease_for("shardId-000000000000");
	unsigned long good = 0, torn = 0, bad = 0, moved = 0;
	uint64_t last = 0;
	int status;
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL_FATAL(kls_shm_slot_assign(t, &l), 0);
	s = kls_shm_slot(t, 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		/* The reader process: its own mapping, publishing as fast as it can. */
		struct kls_shm_err err;
		struct kls_shm *mine;
		struct kls_shm_slot *ms;
		struct kls_progress p;
		if (kls_shm_attach(name, &mine, &err) < 0 ||
		    !(ms = kls_shm_slot_activate(mine, 0, "shardId-000000000000", &err)))
			_exit(1);
		for (uint64_t k = 1; k <= 300000; k++) {
			progress_from(k, &p);
			kls_shm_progress_publish(ms, &p);
		}
		_exit(0);
	}
	for (unsigned long i = 0;; i++) {
		struct kls_progress p;
		/* Not every turn: the system call would leave the writer alone most of the time. */
		bool done = i % 512 == 0 && waitpid(pid, &status, WNOHANG) == pid;
		if (kls_shm_progress_read(s, &p, 1000) < 0) {
			torn++;
		} else if (p.records != 0 && !progress_consistent(&p)) {
			bad++;
		} else {
			good++;
			moved += p.records != last;
			last = p.records;
		}
		if (done)
			break;
	}
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(good > 0);
	CU_ASSERT_EQUAL(last, 300000); /* the final read after the writer exited */
	printf("\n    %lu consistent snapshots (%lu distinct), %lu torn, %lu mixed ", good, moved,
	    torn, bad);
	kls_shm_close(t);
}

/* ================================================================ writer killed */

static void
test_shm_torn_writer_killed(void)
{
	const char *name = new_name();
	struct kls_shm *t = make_table(name, 2), *ro = NULL;
	struct kls_shm_err err;
	struct kls_lease l = lease_for("shardId-000000000001");
	struct kls_progress good, got;
	struct kls_shm_slot *s;
	int status;
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL_FATAL(kls_shm_slot_assign(t, &l), 0);
	s = kls_shm_slot(t, 0);
	progress_from(7, &good);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct kls_shm *mine;
		struct kls_shm_slot *ms;
		struct kls_progress p;
		if (kls_shm_attach(name, &mine, &err) < 0 ||
		    !(ms = kls_shm_slot_activate(mine, 0, "shardId-000000000001", &err)))
			_exit(1);
		kls_shm_progress_publish(ms, &good);
		/* Die between the two counter bumps, half-way through the data. */
		progress_from(8, &p);
		kls_seq_write_begin(&ms->progress.seq);
		kls_seq_store_words(&ms->progress.v, &p, sizeof(p) / 2);
		raise(SIGKILL);
		_exit(2);
	}
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT_FATAL(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* Readers see "torn" after their bounded tries, never the half-written data. */
	CU_ASSERT_EQUAL_FATAL(kls_shm_attach_ro(name, &ro, &err), 0);
	errno = 0;
	CU_ASSERT_EQUAL(kls_shm_progress_read(kls_shm_slot_ro(ro, 0), &got, 50), -1);
	CU_ASSERT_EQUAL(errno, EAGAIN);
	CU_ASSERT_EQUAL(kls_shm_lease_read(kls_shm_slot_ro(ro, 0), &l, 50), 0);
	CU_ASSERT_EQUAL(kls_shm_slot_state(s), KLS_SLOT_ACTIVE);

	/* klsd reaps: it died mid-use and its group is repaired from klsd's last good read. */
	CU_ASSERT_EQUAL(kls_shm_slot_reaped(s, &good), KLS_REAPED_WAS_ACTIVE | KLS_REAPED_REPAIRED);
	CU_ASSERT_EQUAL(kls_shm_slot_state(s), KLS_SLOT_ASSIGNED);
	CU_ASSERT_EQUAL_FATAL(kls_shm_progress_read(kls_shm_slot_ro(ro, 0), &got, 50), 0);
	CU_ASSERT_EQUAL(got.records, 7);
	CU_ASSERT(progress_consistent(&got));
	CU_ASSERT_EQUAL(kls_shm_slot_reaped(s, &good), 0); /* nothing left to do */
	/* And the slot takes a new reader. */
	CU_ASSERT_PTR_NOT_NULL(kls_shm_slot_activate(t, 0, "shardId-000000000001", &err));
	kls_shm_close(ro);
	kls_shm_close(t);
}

/* ================================================================ slots */

static void
test_shm_slot_lifecycle(void)
{
	const char *name = new_name();
	struct kls_shm *t = make_table(name, 2);
	struct kls_lease a = lease_for("shardId-a"), b = lease_for("shardId-b"), got;
	struct kls_shm_err err;
	struct kls_shm_slot *s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	b.command = KLS_CMD_NONE;
	CU_ASSERT_EQUAL(kls_shm_slot_assign(t, &a), 0);
	CU_ASSERT_EQUAL(kls_shm_slot_assign(t, &b), 1);
	CU_ASSERT_EQUAL(kls_shm_slot_assign(t, &a), -1);
	CU_ASSERT_EQUAL(errno, ENOSPC);

	CU_ASSERT_PTR_NULL(kls_shm_slot_activate(t, 0, "shardId-b", &err));
	CU_ASSERT_EQUAL(err.check, KLS_SHM_ESTATE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "holds shard \"shardId-a\", not \"shardId-b\""));
	CU_ASSERT_PTR_NULL(kls_shm_slot_activate(t, 1, "shardId-b", &err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not RUN"));
	CU_ASSERT_PTR_NULL(kls_shm_slot_activate(t, 2, "shardId-b", &err));
	CU_ASSERT_EQUAL(err.check, KLS_SHM_EARG);

	s = kls_shm_slot_activate(t, 0, "shardId-a", &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(kls_shm_slot_state(s), KLS_SLOT_ACTIVE);
	CU_ASSERT_PTR_NULL(kls_shm_slot_activate(t, 0, "shardId-a", &err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "is active, not assigned"));
	kls_shm_slot_deactivate(s); /* clean exit */
	CU_ASSERT_EQUAL(kls_shm_slot_state(s), KLS_SLOT_ASSIGNED);
	CU_ASSERT_EQUAL(kls_shm_slot_reaped(s, NULL), 0);

	/* Exit 2: failed for good, no reader may attach. */
	a.exit_kind = KLS_EXIT_CODE;
	a.exit_value = 2;
	snprintf(a.error, sizeof(a.error), "permanent: handler ABI 3, expected 1");
	kls_shm_slot_fail(s, &a);
	CU_ASSERT_EQUAL(kls_shm_slot_state(s), KLS_SLOT_FAILED);
	CU_ASSERT_PTR_NULL(kls_shm_slot_activate(t, 0, "shardId-a", &err));
	CU_ASSERT_EQUAL(kls_shm_lease_read(s, &got, 10), 0);
	CU_ASSERT_STRING_EQUAL(got.error, "permanent: handler ABI 3, expected 1");

	kls_shm_slot_release(s);
	CU_ASSERT_EQUAL(kls_shm_slot_state(s), KLS_SLOT_UNUSED);
	CU_ASSERT_EQUAL(kls_shm_lease_read(s, &got, 10), 0);
	CU_ASSERT_STRING_EQUAL(got.shard_id, "");
	CU_ASSERT_EQUAL(kls_shm_slot_assign(t, &b), 0);
	kls_shm_close(t);
}

static void
test_shm_strings_terminated(void)
{
	const char *name = new_name();
	struct kls_shm *t = make_table(name, 1);
	struct kls_lease l, got;
	struct kls_progress p, pgot;
	struct kls_shm_slot *s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	s = kls_shm_slot(t, 0);
	/* A writer that forgot the NUL: readers still get bounded strings. */
	memset(&l, 'z', sizeof(l));
	memset(&p, 'y', sizeof(p));
	kls_shm_lease_publish(s, &l);
	kls_shm_progress_publish(s, &p);
	CU_ASSERT_EQUAL(kls_shm_lease_read(s, &got, 10), 0);
	CU_ASSERT_EQUAL(strlen(got.shard_id), sizeof(got.shard_id) - 1);
	CU_ASSERT_EQUAL(strlen(got.ckpt_seq), sizeof(got.ckpt_seq) - 1);
	CU_ASSERT_EQUAL(strlen(got.error), sizeof(got.error) - 1);
	CU_ASSERT_EQUAL(kls_shm_progress_read(s, &pgot, 10), 0);
	CU_ASSERT_EQUAL(strlen(pgot.last_error), sizeof(pgot.last_error) - 1);
	CU_ASSERT_EQUAL(strlen(pgot.delivered_seq), sizeof(pgot.delivered_seq) - 1);
	kls_shm_close(t);
}

/* ================================================================ futex handshake */

static void
test_shm_futex_wait_wake(void)
{
	_Atomic uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	kls_mono t0;
	int status;
	pid_t pid;

	CU_ASSERT_FATAL(w != MAP_FAILED);
	atomic_store(w, 5);
	/* Value already moved on: no sleep. */
	CU_ASSERT_EQUAL(kls_futex_wait(w, 4, 10000), 0);
	/* Nobody wakes us: the timeout. */
	t0 = mono_now();
	CU_ASSERT_EQUAL(kls_futex_wait(w, 5, 200), -1);
	CU_ASSERT_EQUAL(errno, ETIMEDOUT);
	CU_ASSERT(mono_diff_ms(t0, mono_now()) >= 150);
	/* Another process bumps and wakes. */
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		sleep_ms(100);
		atomic_fetch_add(w, 1);
		kls_futex_wake(w);
		_exit(0);
	}
	t0 = mono_now();
	while (atomic_load(w) == 5)
		if (kls_futex_wait(w, 5, 30000) < 0 && errno != EINTR)
			break;
	CU_ASSERT_EQUAL(atomic_load(w), 6);
	CU_ASSERT(mono_diff_ms(t0, mono_now()) < 20000);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	munmap((void *)w, 4096);
}

/* klsd in a child: after a pause, answers request `gen` or changes the command. */
static pid_t
klsd_answers(struct kls_shm_slot *s, struct kls_lease l, uint64_t gen, uint32_t command)
{
	pid_t pid = fork();
	if (pid == 0) {
		sleep_ms(150);
		l.ckpt_gen = gen;
		l.ckpt_result = KLS_CKPT_OK;
		l.command = command;
		snprintf(l.ckpt_seq, sizeof(l.ckpt_seq), "49590338271490256608559692538361571095921575989136588898");
		l.ckpt_subseq = 2;
		kls_shm_lease_publish(s, &l);
		kls_shm_wake_reader(s);
		_exit(0);
	}
	return pid;
}

static void
test_shm_await_persisted(void)
{
	const char *name = new_name();
	struct kls_shm *t = make_table(name, 1);
	struct kls_lease l = lease_for("shardId-000000000003"), got;
	struct kls_shm_slot *s;
	kls_mono t0;
	int status;
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL_FATAL(kls_shm_slot_assign(t, &l), 0);
	s = kls_shm_slot(t, 0);

	/* Not answered: times out with the lease as it was. */
	t0 = mono_now();
	CU_ASSERT_EQUAL(kls_shm_await_persisted(s, 1, 200, &got), -1);
	CU_ASSERT_EQUAL(errno, ETIMEDOUT);
	CU_ASSERT(mono_diff_ms(t0, mono_now()) >= 150);
	CU_ASSERT_EQUAL(got.ckpt_gen, 0);

	/* Answered by another process: woken long before the 30 s timeout. */
	pid = klsd_answers(s, l, 3, KLS_CMD_RUN);
	t0 = mono_now();
	CU_ASSERT_EQUAL(kls_shm_await_persisted(s, 3, 30000, &got), 0);
	CU_ASSERT(mono_diff_ms(t0, mono_now()) < 20000);
	CU_ASSERT_EQUAL(got.ckpt_gen, 3);
	CU_ASSERT_EQUAL(got.ckpt_result, KLS_CKPT_OK);
	CU_ASSERT_EQUAL(got.ckpt_subseq, 2);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);

	/* A drain instead of an answer ends the wait too. */
	l.ckpt_gen = 3;
	pid = klsd_answers(s, l, 3, KLS_CMD_DRAIN);
	CU_ASSERT_EQUAL(kls_shm_await_persisted(s, 4, 30000, &got), 1);
	CU_ASSERT_EQUAL(got.command, KLS_CMD_DRAIN);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);

	/* klsd stuck mid-publish: the wait ends at its timeout, saying why. */
	kls_seq_write_begin(&s->lease.seq);
	CU_ASSERT_EQUAL(kls_shm_await_persisted(s, 5, 100, &got), -1);
	CU_ASSERT_EQUAL(errno, EAGAIN);
	kls_seq_write_end(&s->lease.seq);
	kls_shm_close(t);
}

/* ================================================================ small helpers */

static void
test_shm_proc_alive(void)
{
	uint64_t ticks = 0;
	int status;
	pid_t pid;

	CU_ASSERT_EQUAL_FATAL(kls_proc_start_ticks(getpid(), &ticks), 0);
	CU_ASSERT(ticks > 0);
	CU_ASSERT_TRUE(kls_proc_alive(getpid(), ticks));
	CU_ASSERT_TRUE(kls_proc_alive(getpid(), 0));
	CU_ASSERT_FALSE(kls_proc_alive(getpid(), ticks + 1)); /* a reused pid */
	CU_ASSERT_FALSE(kls_proc_alive(0, 0));
	CU_ASSERT_FALSE(kls_proc_alive(-1, 0));
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0)
		_exit(0);
	{
		siginfo_t si;
		CU_ASSERT_EQUAL(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	}
	CU_ASSERT_FALSE(kls_proc_alive(pid, 0)); /* zombie */
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT_FALSE(kls_proc_alive(pid, 0));
}

static void
test_shm_seqnum_cmp(void)
{
	static const struct {
		const char *a;
		uint64_t asub;
		const char *b;
		uint64_t bsub;
		int rc, cmp;
	} cases[] = {
		{ "49590338271490256608559692538361571095921575989136588898", 0,
		    "49590338271490256608559692538361571095921575989136588898", 0, 0, 0 },
		{ "49590338271490256608559692538361571095921575989136588898", 0,
		    "49590338271490256608559692538361571095921575989136588899", 0, 0, -1 },
		{ "9", 0, "10", 0, 0, -1 },      /* numeric, not lexicographic */
		{ "0010", 0, "9", 0, 0, 1 },     /* leading zeros do not count */
		{ "5", 3, "5", 2, 0, 1 },        /* then the sub-sequence */
		{ "5", 2, "5", 3, 0, -1 },
		{ "0", 0, "0", 0, 0, 0 },
		{ "TRIM_HORIZON", 0, "5", 0, -1, 0 },
		{ "", 0, "5", 0, -1, 0 },
		{ "5", 0, "5x", 0, -1, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int cmp = 42;
		CU_ASSERT_EQUAL(kls_seqnum_cmp(cases[i].a, cases[i].asub, cases[i].b, cases[i].bsub,
				    &cmp), cases[i].rc);
		if (cases[i].rc == 0)
			CU_ASSERT_EQUAL(cmp, cases[i].cmp);
	}
}

static void
test_shm_name(void)
{
	static const struct {
		const char *app, *want;
		int err;
	} cases[] = {
		{ "orders", "/kls.orders", 0 },
		{ "my-app_2.prod", "/kls.my-app_2.prod", 0 },
		{ "", NULL, EINVAL },
		{ ".hidden", NULL, EINVAL },
		{ "a/b", NULL, EINVAL },
		{ "a b", NULL, EINVAL },
		{ "caf\xc3\xa9", NULL, EINVAL },
	};
	char out[64], longapp[200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		errno = 0;
		CU_ASSERT_EQUAL(kls_shm_name(out, sizeof(out), cases[i].app), cases[i].want ? 0 : -1);
		if (cases[i].want) {
			CU_ASSERT_STRING_EQUAL(out, cases[i].want);
		} else {
			CU_ASSERT_EQUAL(errno, cases[i].err);
		}
	}
	memset(longapp, 'a', sizeof(longapp) - 1);
	longapp[sizeof(longapp) - 1] = '\0';
	CU_ASSERT_EQUAL(kls_shm_name(out, sizeof(out), longapp), -1);
	CU_ASSERT_EQUAL(kls_shm_name(out, 8, "orders"), -1);
	CU_ASSERT_EQUAL(errno, ENAMETOOLONG);
}

/* ================================================================ kls-ctl */

struct ctl_run {
	int rc;
	char *out, *err;
	size_t out_len, err_len;
};

static struct ctl_run
run_ctl(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5)
{
	const char *args[] = { "kls-ctl", a1, a2, a3, a4, a5, NULL };
	char *argv[7];
	struct ctl_run r = { 0 };
	FILE *out = open_memstream(&r.out, &r.out_len), *err = open_memstream(&r.err, &r.err_len);
	int argc = 0;

	while (args[argc]) {
		argv[argc] = (char *)args[argc];
		argc++;
	}
	argv[argc] = NULL;
	r.rc = ctl_main(argc, argv, out, err);
	fclose(out);
	fclose(err);
	return r;
}

static void
ctl_run_free(struct ctl_run *r)
{
	free(r->out);
	free(r->err);
}

#define SEQ56 "49590338271490256608559692538361571095921575989136588898"

/* A table as a running klsd would have it: an active reader, a failed slot, a slot whose
 * reader is mid-update (progress torn) and one whose klsd is mid-update (lease torn). */
static struct kls_shm *
status_table(const char *name)
{
	struct kls_shm *t = make_table(name, 8);
	struct kls_shm_err err;
	struct kls_shm_slot *s;
	struct kls_lease l;
	struct kls_progress p = { .millis_behind = 250, .records = 1200, .bytes = 123456 }, fan;
	kls_mono now = mono_now();

	if (!t)
		return NULL;
	kls_shm_klsd_heartbeat(t, now);
	l = lease_for("shardId-000000000000");
	l.reader_pid = 31337;
	l.reader_started_ns = now.ns - 65 * INT64_C(1000000000);
	l.restarts = 2;
	l.lease_counter = 17;
	l.deadline_ns = mono_add_ms(now, 6000).ns;
	snprintf(l.ckpt_seq, sizeof(l.ckpt_seq), SEQ56);
	l.ckpt_subseq = 3;
	CU_ASSERT_EQUAL(kls_shm_slot_assign(t, &l), 0);
	s = kls_shm_slot_activate(t, 0, "shardId-000000000000", &err);
	/* Slot 0 reads with fan-out: a subscription 42 s old, the run's eighth. */
	fan = p;
	fan.read_mode = KLS_READ_FANOUT;
	fan.fanout_started_ns = now.ns - 42 * INT64_C(1000000000);
	fan.fanout_resubscribes = 7;
	kls_shm_progress_publish(s, &fan);

	l = lease_for("shardId-000000000001");
	CU_ASSERT_EQUAL(kls_shm_slot_assign(t, &l), 1);
	l.exit_kind = KLS_EXIT_CODE;
	l.exit_value = 2;
	l.error_ns = now.ns;
	snprintf(l.error, sizeof(l.error), "permanent: handler \"/x\" is world-writable\x1b[31m");
	kls_shm_slot_fail(kls_shm_slot(t, 1), &l);

	l = lease_for("shardId-000000000002");
	l.deadline_ns = mono_add_ms(now, -1500).ns; /* expired */
	CU_ASSERT_EQUAL(kls_shm_slot_assign(t, &l), 2);
	s = kls_shm_slot_activate(t, 2, "shardId-000000000002", &err);
	kls_shm_progress_publish(s, &p);
	kls_seq_write_begin(&s->progress.seq);

	l = lease_for("shardId-000000000003");
	CU_ASSERT_EQUAL(kls_shm_slot_assign(t, &l), 3);
	kls_seq_write_begin(&kls_shm_slot(t, 3)->lease.seq);
	return t;
}

/* The line of the text table that mentions `what`, copied into line. */
static bool
find_line(const char *text, const char *what, char *line, size_t size)
{
	const char *p = strstr(text, what), *start, *end;
	if (!p)
		return false;
	for (start = p; start > text && start[-1] != '\n'; start--)
		;
	end = strchr(p, '\n');
	snprintf(line, size, "%.*s", (int)(end ? end - start : (ptrdiff_t)strlen(start)), start);
	return true;
}

static void
test_ctl_status_text(void)
{
	const char *name = new_name();
	struct kls_shm *t = status_table(name);
	struct ctl_run r;
	char line[1024];
	int lines = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	r = run_ctl("status", "--shm", name, NULL, NULL);
	CU_ASSERT_EQUAL(r.rc, 0);
	CU_ASSERT_STRING_EQUAL(r.err, "");
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "application testapp  stream teststream  worker host1:0f4c"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "4 of 8 slots in use"));
	snprintf(line, sizeof(line), "klsd pid %ld, heartbeat", (long)getpid());
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, line));
	for (const char *p = r.out; (p = strchr(p, '\n')); p++)
		lines++;
	CU_ASSERT_EQUAL(lines, 2 + 1 + 4); /* header, headings, one row per slot in use */

	CU_ASSERT_FATAL(find_line(r.out, "shardId-000000000000", line, sizeof(line)));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, " active "));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, " 31337 "));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, " 1m05s ") || strstr(line, " 1m06s "));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, " " SEQ56 ":3 "));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, " 1200 "));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, " 123456 "));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, " 250 "));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, " 17 "));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, " fan-out "));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, " 0m42s ") || strstr(line, " 0m43s "));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, " 7 "));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, " MODE "));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, " SUB_AGE "));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, " RESUBS "));

	CU_ASSERT_FATAL(find_line(r.out, "shardId-000000000001", line, sizeof(line)));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, " failed "));
	/* The escape sequence a handler path could smuggle in is neutralised. */
	CU_ASSERT_PTR_NOT_NULL(strstr(line, "permanent: handler \"/x\" is world-writable?[31m"));
	CU_ASSERT_PTR_NULL(strchr(r.out, '\x1b'));

	CU_ASSERT_FATAL(find_line(r.out, "shardId-000000000002", line, sizeof(line)));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, " torn "));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, " expired "));
	CU_ASSERT_PTR_NULL(strstr(line, "1200")); /* nothing from the torn group */

	CU_ASSERT_PTR_NOT_NULL_FATAL(strstr(r.out, "\n3 "));
	CU_ASSERT_FATAL(find_line(strstr(r.out, "\n3 ") + 1, "3 ", line, sizeof(line)));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, " torn "));
	CU_ASSERT_PTR_NULL(strstr(line, "shardId"));
	ctl_run_free(&r);
	kls_shm_close(t);
}

static void
expect_keys(json_object *o, const char *const *keys, size_t n)
{
	size_t i = 0;
	CU_ASSERT_EQUAL_FATAL(json_object_get_type(o), json_type_object);
	CU_ASSERT_EQUAL(json_object_object_length(o), (int)n);
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		if (i < n)
			CU_ASSERT_STRING_EQUAL(key, keys[i]);
		i++;
	}
}

static json_object *
get(json_object *o, const char *key)
{
	json_object *v = NULL;
	CU_ASSERT(json_object_object_get_ex(o, key, &v));
	return v;
}

static void
test_ctl_status_json(void)
{
	static const char *const root_keys[] = { "application", "stream", "worker_id", "shards" };
	static const char *const shard_keys[] = { "shard_id", "state", "reader_pid", "restarts",
		"records", "bytes", "checkpoint", "lease_counter", "lease_ms_left", "millis_behind",
		"read_mode", "subscription_age_ms", "resubscribes", "last_error" };
	const char *name = new_name();
	struct kls_shm *t = status_table(name);
	json_object *root, *shards, *s;
	struct ctl_run r;
	int64_t left;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	r = run_ctl("status", "--json", "--shm", name + 1, NULL); /* also without the '/' */
	CU_ASSERT_EQUAL(r.rc, 0);
	root = json_tokener_parse(r.out);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	expect_keys(root, root_keys, 4);
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(root, "application")), "testapp");
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(root, "stream")), "teststream");
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(root, "worker_id")), "host1:0f4c");
	shards = get(root, "shards");
	CU_ASSERT_EQUAL_FATAL(json_object_array_length(shards), 4);
	for (size_t i = 0; i < 4; i++)
		expect_keys(json_object_array_get_idx(shards, i), shard_keys, 14);

	s = json_object_array_get_idx(shards, 0);
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(s, "shard_id")), "shardId-000000000000");
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(s, "state")), "active");
	CU_ASSERT_EQUAL(json_object_get_int64(get(s, "reader_pid")), 31337);
	CU_ASSERT_EQUAL(json_object_get_int64(get(s, "restarts")), 2);
	CU_ASSERT_EQUAL(json_object_get_uint64(get(s, "records")), 1200);
	CU_ASSERT_EQUAL(json_object_get_uint64(get(s, "bytes")), 123456);
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(s, "checkpoint")), SEQ56 ":3");
	CU_ASSERT_EQUAL(json_object_get_uint64(get(s, "lease_counter")), 17);
	left = json_object_get_int64(get(s, "lease_ms_left"));
	CU_ASSERT(left > 0 && left <= 6000);
	CU_ASSERT_EQUAL(json_object_get_int64(get(s, "millis_behind")), 250);
	CU_ASSERT_PTR_NULL(get(s, "last_error"));
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(s, "read_mode")), "fan-out");
	left = json_object_get_int64(get(s, "subscription_age_ms"));
	CU_ASSERT(left >= 42000 && left < 100000);
	CU_ASSERT_EQUAL(json_object_get_uint64(get(s, "resubscribes")), 7);

	s = json_object_array_get_idx(shards, 1);
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(s, "state")), "failed");
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(s, "last_error")),
	    "permanent: handler \"/x\" is world-writable\x1b[31m"); /* JSON escapes it */
	CU_ASSERT_PTR_NULL(strchr(r.out, '\x1b'));
	CU_ASSERT_PTR_NULL(get(s, "reader_pid"));
	CU_ASSERT_PTR_NULL(get(s, "checkpoint"));
	/* No reader ran: no mode, and no fan-out fields. */
	CU_ASSERT_PTR_NULL(get(s, "read_mode"));
	CU_ASSERT_PTR_NULL(get(s, "subscription_age_ms"));
	CU_ASSERT_PTR_NULL(get(s, "resubscribes"));

	s = json_object_array_get_idx(shards, 2);
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(s, "state")), "torn");
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(s, "shard_id")), "shardId-000000000002");
	CU_ASSERT(json_object_get_int64(get(s, "lease_ms_left")) <= -1500);
	CU_ASSERT_PTR_NULL(get(s, "records"));
	CU_ASSERT_PTR_NULL(get(s, "bytes"));
	CU_ASSERT_PTR_NULL(get(s, "millis_behind"));
	CU_ASSERT_PTR_NULL(get(s, "read_mode"));

	s = json_object_array_get_idx(shards, 3);
	CU_ASSERT_STRING_EQUAL(json_object_get_string(get(s, "state")), "torn");
	CU_ASSERT_PTR_NULL(get(s, "shard_id"));
	CU_ASSERT_PTR_NULL(get(s, "lease_counter"));
	CU_ASSERT_EQUAL(json_object_get_uint64(get(s, "records")), 0);

	json_object_put(root);
	ctl_run_free(&r);
	kls_shm_close(t);
}

static void
test_ctl_status_klsd_stopped(void)
{
	/* klsd stopped with SIGSTOP while renewing as fast as it can: status still answers,
	 * and a slot caught mid-update reads as torn, not as garbage. */
	const char *name = new_name();
	json_object *root, *s;
	struct ctl_run r;
	int up[2], status;
	const char *state;
	char c, want[64];
	pid_t pid;

	CU_ASSERT_EQUAL_FATAL(pipe(up), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct kls_shm *t = make_table(name, 4);
		struct kls_lease l = lease_for("shardId-000000000005");
		struct kls_shm_slot *sl;
		close(up[0]);
		if (!t || kls_shm_slot_assign(t, &l) != 0 || write(up[1], "r", 1) != 1)
			_exit(1);
		sl = kls_shm_slot(t, 0);
		for (;;) {
			l.lease_counter++;
			l.deadline_ns = mono_add_ms(mono_now(), 10000).ns;
			kls_shm_lease_publish(sl, &l);
			kls_shm_klsd_heartbeat(t, mono_now());
		}
	}
	close(up[1]);
	CU_ASSERT_EQUAL_FATAL(read(up[0], &c, 1), 1);
	close(up[0]);
	CU_ASSERT_EQUAL(kill(pid, SIGSTOP), 0);
	CU_ASSERT_EQUAL(waitpid(pid, &status, WUNTRACED), pid);
	r = run_ctl("status", "--json", "--shm", name, NULL);
	CU_ASSERT_EQUAL(r.rc, 0);
	root = json_tokener_parse(r.out);
	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	CU_ASSERT_EQUAL_FATAL(json_object_array_length(get(root, "shards")), 1);
	s = json_object_array_get_idx(get(root, "shards"), 0);
	state = json_object_get_string(get(s, "state"));
	CU_ASSERT(!strcmp(state, "assigned") || !strcmp(state, "torn"));
	if (!strcmp(state, "assigned")) {
		CU_ASSERT_STRING_EQUAL(json_object_get_string(get(s, "shard_id")),
		    "shardId-000000000005");
		CU_ASSERT(json_object_get_uint64(get(s, "lease_counter")) >= 1);
	} else {
		CU_ASSERT_PTR_NULL(get(s, "shard_id"));
	}
	json_object_put(root);
	ctl_run_free(&r);
	/* Its table outlives it; status says so. */
	kill(pid, SIGKILL);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	r = run_ctl("status", "--shm", name, NULL, NULL);
	CU_ASSERT_EQUAL(r.rc, 0);
	snprintf(want, sizeof(want), "klsd pid %ld (not running)", (long)pid);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, want));
	ctl_run_free(&r);
}

static void
test_ctl_refuses(void)
{
	static const struct {
		bool major; /* else magic */
		const char *says;
	} cases[] = {
		{ false, "bad magic" },
		{ true, "layout major version 2, this build reads 1" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *name = new_name();
		struct kls_shm *t = make_table(name, 1);
		struct ctl_run r;

		CU_ASSERT_PTR_NOT_NULL_FATAL(t);
		if (cases[i].major)
			header_rw(t)->major = 2;
		else
			atomic_store(&header_rw(t)->magic, 0);
		r = run_ctl("status", "--shm", name, NULL, NULL);
		CU_ASSERT_EQUAL(r.rc, 1);
		CU_ASSERT_STRING_EQUAL(r.out, "");
		CU_ASSERT_PTR_NOT_NULL(strstr(r.err, cases[i].says));
		ctl_run_free(&r);
		kls_shm_close(t);
	}
}

static void
test_ctl_usage(void)
{
	static const struct {
		const char *a1, *a2, *a3, *a4;
		int rc;
		const char *err_says;
	} cases[] = {
		{ NULL, NULL, NULL, NULL, 1, "usage: kls-ctl" },
		{ "help", NULL, NULL, NULL, 0, "" },
		{ "frobnicate", NULL, NULL, NULL, 1, "unknown command \"frobnicate\"" },
		{ "status", "--bogus", NULL, NULL, 1, "unknown option --bogus" },
		{ "status", "--shm", NULL, NULL, 1, "needs an argument" },
		{ "status", "-a", "x", "--shm", 1, "needs an argument" },
		{ "status", "-a", "x", "extra", 1, "unexpected argument \"extra\"" },
		{ "status", "-a", "bad/app", NULL, 1, "bad application name" },
		{ "status", "--shm", "/klstest-absent-table", NULL, 1, "No such file" },
		{ "status", "--help", NULL, NULL, 0, "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ctl_run r = run_ctl(cases[i].a1, cases[i].a2, cases[i].a3, cases[i].a4, NULL);
		CU_ASSERT_EQUAL(r.rc, cases[i].rc);
		if (cases[i].err_says[0]) {
			CU_ASSERT_PTR_NOT_NULL(strstr(r.err, cases[i].err_says));
		} else {
			CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "usage: kls-ctl"));
		}
		ctl_run_free(&r);
	}
	{
		struct ctl_run r = run_ctl("status", "-a", "x", "--shm", "/y");
		CU_ASSERT_EQUAL(r.rc, 1);
		CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "not both"));
		ctl_run_free(&r);
	}
}

static void
touch(const char *dir, const char *file)
{
	char path[512];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fclose(f);
}

static void
test_ctl_pick_table(void)
{
	char dir[] = "/tmp/klstest-pick-XXXXXX", name[256], msg[512], path[512];

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	CU_ASSERT_EQUAL(ctl_pick_table(dir, NULL, NULL, name, sizeof(name), msg, sizeof(msg)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "no kls table in"));
	touch(dir, "kls.alpha");
	touch(dir, "sem.other");
	touch(dir, "klsd-notes");
	CU_ASSERT_EQUAL(ctl_pick_table(dir, NULL, NULL, name, sizeof(name), msg, sizeof(msg)), 0);
	CU_ASSERT_STRING_EQUAL(name, "/kls.alpha");
	touch(dir, "kls.beta");
	CU_ASSERT_EQUAL(ctl_pick_table(dir, NULL, NULL, name, sizeof(name), msg, sizeof(msg)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "2 kls tables"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "kls.alpha"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "kls.beta"));
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "-a APP"));
	CU_ASSERT_EQUAL(ctl_pick_table(dir, "beta", NULL, name, sizeof(name), msg, sizeof(msg)), 0);
	CU_ASSERT_STRING_EQUAL(name, "/kls.beta");
	CU_ASSERT_EQUAL(ctl_pick_table(dir, NULL, "mine", name, sizeof(name), msg, sizeof(msg)), 0);
	CU_ASSERT_STRING_EQUAL(name, "/mine");
	CU_ASSERT_EQUAL(ctl_pick_table(dir, NULL, "/mine", name, sizeof(name), msg, sizeof(msg)), 0);
	CU_ASSERT_STRING_EQUAL(name, "/mine");
	CU_ASSERT_EQUAL(ctl_pick_table(dir, "../x", NULL, name, sizeof(name), msg, sizeof(msg)), -1);
	CU_ASSERT_EQUAL(ctl_pick_table("/nonexistent-klstest", NULL, NULL, name, sizeof(name), msg,
			    sizeof(msg)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "opendir"));
	for (const char *const *f = (const char *const[]){ "kls.alpha", "kls.beta", "sem.other",
		 "klsd-notes", NULL }; *f; f++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *f);
		unlink(path);
	}
	CU_ASSERT_EQUAL(rmdir(dir), 0);
}

static CU_TestInfo shm_tests[] = {
	{ "create and attach", test_shm_create_attach },
	{ "create refuses bad parameters", test_shm_create_bad_params },
	{ "owner and mode checks", test_shm_check_stat },
	{ "attach refuses bad tables", test_shm_attach_refuses },
	{ "stale table replaced", test_shm_stale_replaced },
	{ "half-created table replaced", test_shm_stale_incomplete_replaced },
	{ "refused while its klsd lives", test_shm_alive_refused },
	{ "foreign object kept", test_shm_foreign_object_kept },
	{ "seqcount protocol", test_shm_seqcount_protocol },
	{ "seqcount under a concurrent writer", test_shm_seqcount_concurrent },
	{ "writer killed mid-update, repair", test_shm_torn_writer_killed },
	{ "slot life cycle", test_shm_slot_lifecycle },
	{ "strings terminated", test_shm_strings_terminated },
	{ "futex wait and wake", test_shm_futex_wait_wake },
	{ "await persisted checkpoint", test_shm_await_persisted },
	{ "process liveness", test_shm_proc_alive },
	{ "sequence number compare", test_shm_seqnum_cmp },
	{ "table names", test_shm_name },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo ctl_tests[] = {
	{ "status text", test_ctl_status_text },
	{ "status json", test_ctl_status_json },
	{ "status while klsd is stopped", test_ctl_status_klsd_stopped },
	{ "refuses bad tables", test_ctl_refuses },
	{ "usage and options", test_ctl_usage },
	{ "table choice", test_ctl_pick_table },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "shm", NULL, cleanup_names, NULL, NULL, shm_tests },
	{ "kls-ctl", NULL, cleanup_names, NULL, NULL, ctl_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
