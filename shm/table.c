/*
 * The shm table's life: klsd creates it (replacing a stale one only when its klsd is
 * gone), readers attach read-write to their own slot, kls-ctl attaches read-only; slot
 * state moves and group copies. The layout and the rules are in table.h and README.md.
 *
 * Creation races: two klsd of one application starting together must not both end up
 * with a table, and neither may remove a table the other is still filling in. The
 * creator takes an exclusive flock on the new object right after O_EXCL creates it and
 * holds it for its life; a klsd that finds an existing table takes the same lock (non-
 * blocking) before judging it, and removes it only while holding that lock. The kernel
 * drops the lock when its holder dies, so a free lock plus a dead recorded pid means
 * the table is stale.
 */
#include "config.h"

#include "shm/table.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm/futex.h"
#include "shm/seqcount.h"

/* Bytes of the header every major version shares (magic .. created_ns). */
#define FROZEN_PREFIX 64

struct kls_shm {
	int fd;
	void *map;
	size_t size;
	uint32_t slot_count; /* validated private copy: never re-read from the table */
	bool writable;
	char name[NAME_MAX + 1];
};

static int __attribute__((format(printf, 4, 5)))
fail(struct kls_shm_err *err, enum kls_shm_check check, int e, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->check = check;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	errno = e;
	return -1;
}

int
kls_shm_name(char *out, size_t size, const char *app)
{
	size_t n = app ? strlen(app) : 0;

	if (n == 0 || n >= KLS_SHM_NAME_MAX || app[0] == '.') {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = app[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '.' || c == '_' || c == '-')) {
			errno = EINVAL;
			return -1;
		}
	}
	if ((size_t)snprintf(out, size, "/kls.%s", app) >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* shm_open names: one leading '/', no other, short enough for /dev/shm. */
static int
check_name(const char *name, struct kls_shm_err *err)
{
	size_t n = name ? strlen(name) : 0;

	if (n < 2 || n > NAME_MAX || name[0] != '/' || strchr(name + 1, '/'))
		return fail(err, KLS_SHM_EARG, EINVAL,
		    "shm name \"%s\": must be \"/\" followed by up to %d characters without \"/\"",
		    name ? name : "(null)", NAME_MAX - 1);
	return 0;
}

int
kls_shm_check_stat(const struct stat *st, uid_t euid, bool read_only, const char *name,
    struct kls_shm_err *err)
{
	/* Another user's table could feed a reader forged leases: refuse it. Root may look
	 * (kls-ctl run by an administrator) but never write. */
	if (st->st_uid != euid && !(read_only && euid == 0))
		return fail(err, KLS_SHM_EOWNER, EPERM, "table %s: owner uid %lu is not ours (%lu)",
		    name, (unsigned long)st->st_uid, (unsigned long)euid);
	if ((st->st_mode & 07777) != 0600)
		return fail(err, KLS_SHM_EMODE, EPERM, "table %s: mode %04o, expected 0600", name,
		    (unsigned)(st->st_mode & 07777));
	return 0;
}

static size_t
table_size(uint32_t slots)
{
	return sizeof(struct kls_shm_header) + (size_t)slots * sizeof(struct kls_shm_slot);
}

/* Checks a mapped header against this build's layout and the object's size. */
static int
check_header(const struct kls_shm_header *h, size_t size, const char *name,
    struct kls_shm_err *err)
{
	/* Acquire: pairs with the creator's release store of the magic, so every header
	 * field read below is the creator's finished value. */
	uint64_t magic = atomic_load_explicit((_Atomic uint64_t *)&h->magic, memory_order_acquire);

	if (magic != KLS_SHM_MAGIC)
		return fail(err, KLS_SHM_EMAGIC, EPROTO,
		    "table %s: bad magic 0x%016" PRIx64 " (expected 0x%016" PRIx64
		    "): not a kls table, or klsd is still creating it",
		    name, magic, KLS_SHM_MAGIC);
	if (h->major != KLS_SHM_MAJOR)
		return fail(err, KLS_SHM_EMAJOR, EPROTONOSUPPORT,
		    "table %s: layout major version %u, this build reads %u (minor %u); "
		    "use the kls of the running klsd",
		    name, h->major, KLS_SHM_MAJOR, h->minor);
	if (h->header_size != sizeof(*h) || h->slot_size != sizeof(struct kls_shm_slot))
		return fail(err, KLS_SHM_ESIZE, EPROTO,
		    "table %s: header/slot size %u/%u, expected %zu/%zu for version %u", name,
		    h->header_size, h->slot_size, sizeof(*h), sizeof(struct kls_shm_slot),
		    KLS_SHM_MAJOR);
	if (h->slot_count == 0 || h->slot_count > KLS_SHM_MAX_SLOTS ||
	    table_size(h->slot_count) > size)
		return fail(err, KLS_SHM_ESIZE, EPROTO,
		    "table %s: %u slots do not fit its %zu bytes (at most %u slots)", name,
		    h->slot_count, size, KLS_SHM_MAX_SLOTS);
	return 0;
}

static void
copy_name(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static bool
text_fits(const char *s, size_t size)
{
	return s && *s && strlen(s) < size;
}

static int
check_params(const struct kls_shm_params *p, struct kls_shm_err *err)
{
	if (check_name(p->name, err) < 0)
		return -1;
	if (p->slot_count == 0 || p->slot_count > KLS_SHM_MAX_SLOTS)
		return fail(err, KLS_SHM_EARG, EINVAL, "table %s: slot count %u not in 1..%u",
		    p->name, p->slot_count, KLS_SHM_MAX_SLOTS);
	if (!text_fits(p->application, KLS_SHM_NAME_MAX) || !text_fits(p->stream, KLS_SHM_NAME_MAX) ||
	    !text_fits(p->worker_id, KLS_SHM_WORKER_MAX))
		return fail(err, KLS_SHM_EARG, EINVAL,
		    "table %s: application and stream must be 1..%d characters, worker id 1..%d",
		    p->name, KLS_SHM_NAME_MAX - 1, KLS_SHM_WORKER_MAX - 1);
	return 0;
}

/* Hands each in-use slot's lease of a stale table to the caller, if the table has our
 * layout (anything else we do not interpret). */
static void
report_stale_leases(const struct kls_shm_params *p, int fd, size_t size)
{
	struct kls_shm_err ignored;
	struct kls_lease l;
	const struct kls_shm_header *h;
	void *map;

	if (!p->stale_lease || size < sizeof(*h) || size > table_size(KLS_SHM_MAX_SLOTS))
		return;
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return;
	h = map;
	if (check_header(h, size, p->name, &ignored) == 0) {
		for (uint32_t i = 0; i < h->slot_count; i++) {
			const struct kls_shm_slot *s =
			    (const void *)((const char *)map + table_size(i));
			if (kls_shm_slot_state(s) == KLS_SLOT_UNUSED)
				continue;
			/* A slot left torn by the dead klsd tells us nothing reliable. */
			if (kls_shm_lease_read(s, &l, KLS_SHM_READ_TRIES) == 0)
				p->stale_lease(p->stale_arg, i, &l);
		}
	}
	munmap(map, size);
}

/*
 * An object already has our name. Returns 0 when it was stale and has been removed (or
 * vanished by itself): the caller tries O_EXCL again. -1 (err filled) when we must not
 * touch it.
 */
static int
replace_stale(const struct kls_shm_params *p, struct kls_shm_err *err)
{
	const char *name = p->name;
	struct stat st, now;
	uint64_t magic = 0, ticks = 0;
	int32_t pid = 0;
	bool locked, complete;
	int fd, fd2, rc = -1;

	fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return errno == ENOENT ? 0 :
		    fail(err, KLS_SHM_ESYS, errno, "shm_open %s (existing table): %s", name,
			strerror(errno));
	if (fstat(fd, &st) < 0) {
		fail(err, KLS_SHM_ESYS, errno, "fstat %s: %s", name, strerror(errno));
		goto out;
	}
	if (kls_shm_check_stat(&st, geteuid(), false, name, err) < 0) {
		snprintf(err->msg + strlen(err->msg), sizeof(err->msg) - strlen(err->msg),
		    "; not replacing it");
		goto out;
	}
	locked = flock(fd, LOCK_EX | LOCK_NB) == 0;
	if (!locked && errno != EWOULDBLOCK) {
		fail(err, KLS_SHM_ESYS, errno, "flock %s: %s", name, strerror(errno));
		goto out;
	}
	complete = (size_t)st.st_size >= FROZEN_PREFIX;
	if (complete) {
		const struct kls_shm_header *h =
		    mmap(NULL, FROZEN_PREFIX, PROT_READ, MAP_SHARED, fd, 0);
		if (h == MAP_FAILED) {
			fail(err, KLS_SHM_ESYS, errno, "mmap %s: %s", name, strerror(errno));
			goto out;
		}
		/* Acquire: the pid and start time were stored before the magic. */
		magic = atomic_load_explicit((_Atomic uint64_t *)&h->magic, memory_order_acquire);
		pid = h->klsd_pid;
		ticks = h->klsd_start_ticks;
		munmap((void *)h, FROZEN_PREFIX);
		complete = magic != 0;
	}
	if (!locked) {
		if (complete && magic == KLS_SHM_MAGIC)
			fail(err, KLS_SHM_EALIVE, EBUSY, "table %s is in use by klsd pid %ld", name,
			    (long)pid);
		else
			fail(err, KLS_SHM_EALIVE, EBUSY,
			    "table %s is being created or replaced by another process", name);
		goto out;
	}
	/* Holding the lock: an incomplete table is one whose creator died while filling it. */
	if (complete && magic != KLS_SHM_MAGIC) {
		fail(err, KLS_SHM_EMAGIC, EPROTO,
		    "%s exists and is not a kls table (magic 0x%016" PRIx64 "); not replacing it",
		    name, magic);
		goto out;
	}
	if (complete && kls_proc_alive(pid, ticks)) {
		fail(err, KLS_SHM_EALIVE, EBUSY, "table %s belongs to klsd pid %ld, still running",
		    name, (long)pid);
		goto out;
	}
	/* The name may have been replaced since we opened it: remove only what we judged. */
	fd2 = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (fd2 < 0 || fstat(fd2, &now) < 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev) {
		if (fd2 >= 0)
			close(fd2);
		rc = 0;
		goto out;
	}
	close(fd2);
	if (complete)
		report_stale_leases(p, fd, (size_t)st.st_size);
	if (shm_unlink(name) < 0 && errno != ENOENT) {
		fail(err, KLS_SHM_ESYS, errno, "shm_unlink %s (stale table of pid %ld): %s", name,
		    (long)pid, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	close(fd); /* also drops our lock on the old object */
	return rc;
}

/* Fills a table we just created with O_EXCL; on failure removes it again. */
static int
init_new(const struct kls_shm_params *p, int fd, struct kls_shm **out, struct kls_shm_err *err)
{
	size_t size = table_size(p->slot_count);
	struct kls_shm_header *h;
	struct kls_shm *t;
	struct stat st;
	uint64_t ticks = 0;

	/* Someone inspecting this name as stale got the lock between our shm_open and here:
	 * they will remove it and create their own, so we step back (and leave it alone). */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return fail(err, KLS_SHM_EALIVE, EBUSY,
		    "table %s: another klsd took it over while we created it", p->name);
	}
	/* The umask may have cleared bits of 0600; fix the mode, then check what we got. */
	if (fchmod(fd, 0600) < 0 || fstat(fd, &st) < 0) {
		fail(err, KLS_SHM_ESYS, errno, "fchmod/fstat %s: %s", p->name, strerror(errno));
		goto undo;
	}
	if (kls_shm_check_stat(&st, geteuid(), false, p->name, err) < 0)
		goto undo;
	if (ftruncate(fd, (off_t)size) < 0) {
		fail(err, KLS_SHM_ESYS, errno, "ftruncate %s to %zu bytes: %s", p->name, size,
		    strerror(errno));
		goto undo;
	}
	h = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		fail(err, KLS_SHM_ESYS, errno, "mmap %s (%zu bytes): %s", p->name, size,
		    strerror(errno));
		goto undo;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		munmap(h, size);
		fail(err, KLS_SHM_ESYS, ENOMEM, "table %s: out of memory", p->name);
		goto undo;
	}
	/* Unknown start time (no /proc) leaves 0: a successor then judges by pid alone. */
	(void)kls_proc_start_ticks(getpid(), &ticks);
	h->major = KLS_SHM_MAJOR;
	h->minor = KLS_SHM_MINOR;
	h->header_size = sizeof(*h);
	h->slot_size = sizeof(struct kls_shm_slot);
	h->slot_count = p->slot_count;
	h->klsd_pid = (int32_t)getpid();
	h->klsd_start_ticks = ticks;
	h->created_ns = mono_now().ns;
	atomic_store_explicit(&h->klsd_heartbeat_ns, h->created_ns, memory_order_relaxed);
	copy_name(h->worker_id, sizeof(h->worker_id), p->worker_id);
	copy_name(h->stream, sizeof(h->stream), p->stream);
	copy_name(h->application, sizeof(h->application), p->application);
	/* Release: publishes every store above to a reader whose acquire load sees the
	 * magic (check_header); until then the table reads as "still being created". */
	atomic_store_explicit(&h->magic, KLS_SHM_MAGIC, memory_order_release);

	t->fd = fd;
	t->map = h;
	t->size = size;
	t->slot_count = p->slot_count;
	t->writable = true;
	copy_name(t->name, sizeof(t->name), p->name);
	*out = t;
	return 0;
undo:
	shm_unlink(p->name); /* ours: created by O_EXCL, still locked by us */
	close(fd);
	return -1;
}

int
kls_shm_create(const struct kls_shm_params *p, struct kls_shm **out, struct kls_shm_err *err)
{
	struct kls_shm_err scratch;

	if (!err)
		err = &scratch;
	if (check_params(p, err) < 0)
		return -1;
	/* Each turn either creates, refuses, or removes one stale object; more than a few
	 * turns means other processes keep recreating the name. */
	for (int turn = 0; turn < 4; turn++) {
		int fd = shm_open(p->name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
		if (fd >= 0)
			return init_new(p, fd, out, err);
		if (errno != EEXIST)
			return fail(err, KLS_SHM_ESYS, errno, "shm_open %s (O_CREAT|O_EXCL): %s",
			    p->name, strerror(errno));
		if (replace_stale(p, err) < 0)
			return -1;
	}
	return fail(err, KLS_SHM_EALIVE, EBUSY,
	    "table %s: kept reappearing while we replaced it (another klsd starting?)", p->name);
}

static int
attach(const char *name, bool ro, struct kls_shm **out, struct kls_shm_err *err)
{
	struct kls_shm_err scratch;
	struct kls_shm *t;
	struct stat st;
	void *map;
	int fd;

	if (!err)
		err = &scratch;
	if (check_name(name, err) < 0)
		return -1;
	fd = shm_open(name, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC, 0);
	if (fd < 0)
		return fail(err, KLS_SHM_ESYS, errno, "shm_open %s: %s", name, strerror(errno));
	if (fstat(fd, &st) < 0) {
		fail(err, KLS_SHM_ESYS, errno, "fstat %s: %s", name, strerror(errno));
		goto fail_fd;
	}
	if (kls_shm_check_stat(&st, geteuid(), ro, name, err) < 0)
		goto fail_fd;
	if ((size_t)st.st_size < sizeof(struct kls_shm_header) ||
	    (size_t)st.st_size > table_size(KLS_SHM_MAX_SLOTS)) {
		fail(err, KLS_SHM_ESIZE, EPROTO,
		    "table %s: %lld bytes is not the size of a kls table "
		    "(not one, or klsd is still creating it)",
		    name, (long long)st.st_size);
		goto fail_fd;
	}
	/* klsd never shrinks the object, so the mapping cannot SIGBUS under us. */
	map = mmap(NULL, (size_t)st.st_size, ro ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	if (map == MAP_FAILED) {
		fail(err, KLS_SHM_ESYS, errno, "mmap %s: %s", name, strerror(errno));
		goto fail_fd;
	}
	if (check_header(map, (size_t)st.st_size, name, err) < 0)
		goto fail_map;
	t = calloc(1, sizeof(*t));
	if (!t) {
		fail(err, KLS_SHM_ESYS, ENOMEM, "table %s: out of memory", name);
		goto fail_map;
	}
	t->fd = fd;
	t->map = map;
	t->size = (size_t)st.st_size;
	t->slot_count = ((const struct kls_shm_header *)map)->slot_count;
	t->writable = !ro;
	copy_name(t->name, sizeof(t->name), name);
	*out = t;
	return 0;
fail_map:
	munmap(map, (size_t)st.st_size);
fail_fd:
	close(fd);
	return -1;
}

int
kls_shm_attach(const char *name, struct kls_shm **out, struct kls_shm_err *err)
{
	return attach(name, false, out, err);
}

int
kls_shm_attach_ro(const char *name, struct kls_shm **out, struct kls_shm_err *err)
{
	return attach(name, true, out, err);
}

void
kls_shm_close(struct kls_shm *t)
{
	if (!t)
		return;
	munmap(t->map, t->size);
	close(t->fd);
	free(t);
}

int
kls_shm_unlink(const char *name)
{
	return shm_unlink(name);
}

const struct kls_shm_header *
kls_shm_header(const struct kls_shm *t)
{
	return t->map;
}

uint32_t
kls_shm_slot_count(const struct kls_shm *t)
{
	return t->slot_count;
}

const char *
kls_shm_name_of(const struct kls_shm *t)
{
	return t->name;
}

const struct kls_shm_slot *
kls_shm_slot_ro(const struct kls_shm *t, uint32_t idx)
{
	if (idx >= t->slot_count)
		return NULL;
	return (const void *)((const char *)t->map + table_size(idx));
}

struct kls_shm_slot *
kls_shm_slot(struct kls_shm *t, uint32_t idx)
{
	if (!t->writable)
		return NULL;
	return (struct kls_shm_slot *)kls_shm_slot_ro(t, idx);
}

/* ---------------------------------------------------------------- groups */

/* A group copied out of shm is foreign input: its strings may lack a NUL. */
#define TERMINATE(a) ((a)[sizeof(a) - 1] = '\0')

void
kls_shm_lease_publish(struct kls_shm_slot *s, const struct kls_lease *l)
{
	kls_seq_publish(&s->lease.seq, &s->lease.v, l, sizeof(*l));
}

int
kls_shm_lease_read(const struct kls_shm_slot *s, struct kls_lease *out, unsigned tries)
{
	if (kls_seq_snapshot(&s->lease.seq, out, &s->lease.v, sizeof(*out), tries) < 0)
		return -1;
	TERMINATE(out->shard_id);
	TERMINATE(out->ckpt_seq);
	TERMINATE(out->error);
	TERMINATE(out->hash_start);
	TERMINATE(out->hash_end);
	return 0;
}

void
kls_shm_progress_publish(struct kls_shm_slot *s, const struct kls_progress *p)
{
	kls_seq_publish(&s->progress.seq, &s->progress.v, p, sizeof(*p));
}

int
kls_shm_progress_read(const struct kls_shm_slot *s, struct kls_progress *out, unsigned tries)
{
	if (kls_seq_snapshot(&s->progress.seq, out, &s->progress.v, sizeof(*out), tries) < 0)
		return -1;
	TERMINATE(out->req_seq);
	TERMINATE(out->delivered_seq);
	TERMINATE(out->last_error);
	return 0;
}

/* Heartbeats are single words: relaxed is enough, nothing else is published with them. */
void
kls_shm_heartbeat(struct kls_shm_slot *s, kls_mono now)
{
	atomic_store_explicit(&s->progress.heartbeat_ns, now.ns, memory_order_relaxed);
}

kls_mono
kls_shm_heartbeat_get(const struct kls_shm_slot *s)
{
	return (kls_mono){ atomic_load_explicit((_Atomic int64_t *)&s->progress.heartbeat_ns,
	    memory_order_relaxed) };
}

void
kls_shm_klsd_heartbeat(struct kls_shm *t, kls_mono now)
{
	struct kls_shm_header *h = t->map;
	if (t->writable)
		atomic_store_explicit(&h->klsd_heartbeat_ns, now.ns, memory_order_relaxed);
}

kls_mono
kls_shm_klsd_heartbeat_get(const struct kls_shm *t)
{
	const struct kls_shm_header *h = t->map;
	return (kls_mono){ atomic_load_explicit((_Atomic int64_t *)&h->klsd_heartbeat_ns,
	    memory_order_relaxed) };
}

/* ---------------------------------------------------------------- slot life */

uint32_t
kls_shm_slot_state(const struct kls_shm_slot *s)
{
	/* Acquire: whoever moved the state published its group first. */
	return atomic_load_explicit((_Atomic uint32_t *)&s->state, memory_order_acquire);
}

static bool
slot_cas(struct kls_shm_slot *s, uint32_t from, uint32_t to)
{
	/* Acq_rel: a successful move publishes our earlier group writes (release) and sees
	 * those of the previous mover (acquire). */
	return atomic_compare_exchange_strong_explicit(&s->state, &from, to,
	    memory_order_acq_rel, memory_order_acquire);
}

static void
clear_progress(struct kls_shm_slot *s)
{
	struct kls_progress zero = { .millis_behind = -1 };
	kls_seq_publish(&s->progress.seq, &s->progress.v, &zero, sizeof(zero));
	atomic_store_explicit(&s->progress.heartbeat_ns, 0, memory_order_relaxed);
}

int
kls_shm_slot_assign(struct kls_shm *t, const struct kls_lease *l)
{
	for (uint32_t i = 0; i < t->slot_count; i++) {
		struct kls_shm_slot *s = kls_shm_slot(t, i);
		/* klsd is the only process that moves a slot out of UNUSED. */
		if (!s || kls_shm_slot_state(s) != KLS_SLOT_UNUSED)
			continue;
		clear_progress(s);
		kls_shm_lease_publish(s, l);
		/* Release: a reader that sees ASSIGNED also sees the lease and clean progress. */
		atomic_store_explicit(&s->state, KLS_SLOT_ASSIGNED, memory_order_release);
		return (int)i;
	}
	errno = ENOSPC;
	return -1;
}

void
kls_shm_slot_release(struct kls_shm_slot *s)
{
	struct kls_lease zero = { 0 };

	kls_shm_lease_publish(s, &zero);
	clear_progress(s);
	atomic_store_explicit(&s->state, KLS_SLOT_UNUSED, memory_order_release);
}

void
kls_shm_slot_fail(struct kls_shm_slot *s, const struct kls_lease *l)
{
	kls_shm_lease_publish(s, l);
	atomic_store_explicit(&s->state, KLS_SLOT_FAILED, memory_order_release);
}

const char *
kls_slot_state_name(uint32_t state)
{
	static const char *names[] = { "unused", "assigned", "active", "failed" };
	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
}

struct kls_shm_slot *
kls_shm_slot_activate(struct kls_shm *t, uint32_t idx, const char *shard_id,
    struct kls_shm_err *err)
{
	struct kls_shm_slot *s = kls_shm_slot(t, idx);
	struct kls_lease l;
	uint32_t st;

	if (!s) {
		fail(err, KLS_SHM_EARG, EINVAL, "table %s: no writable slot %u (%u slots)", t->name,
		    idx, t->slot_count);
		return NULL;
	}
	if (kls_shm_lease_read(s, &l, KLS_SHM_READ_TRIES) < 0) {
		fail(err, KLS_SHM_ESTATE, EAGAIN, "table %s slot %u: lease group torn", t->name, idx);
		return NULL;
	}
	if (strcmp(l.shard_id, shard_id) != 0) {
		fail(err, KLS_SHM_ESTATE, ESTALE, "table %s slot %u holds shard \"%s\", not \"%s\"",
		    t->name, idx, l.shard_id, shard_id);
		return NULL;
	}
	if (l.command != KLS_CMD_RUN) {
		fail(err, KLS_SHM_ESTATE, ESTALE, "table %s slot %u: command %u, not RUN", t->name,
		    idx, l.command);
		return NULL;
	}
	if (!slot_cas(s, KLS_SLOT_ASSIGNED, KLS_SLOT_ACTIVE)) {
		st = kls_shm_slot_state(s);
		fail(err, KLS_SHM_ESTATE, ESTALE, "table %s slot %u is %s, not assigned", t->name,
		    idx, kls_slot_state_name(st));
		return NULL;
	}
	return s;
}

void
kls_shm_slot_deactivate(struct kls_shm_slot *s)
{
	/* Fails only when klsd already moved the slot on; then its state stands. */
	(void)slot_cas(s, KLS_SLOT_ACTIVE, KLS_SLOT_ASSIGNED);
}

unsigned
kls_shm_slot_reaped(struct kls_shm_slot *s, const struct kls_progress *last_good)
{
	struct kls_progress base = { .millis_behind = -1 };
	unsigned flags = 0;

	if (last_good)
		base = *last_good;
	if (kls_seq_repair(&s->progress.seq, &s->progress.v, &base, sizeof(base)))
		flags |= KLS_REAPED_REPAIRED;
	if (slot_cas(s, KLS_SLOT_ACTIVE, KLS_SLOT_ASSIGNED))
		flags |= KLS_REAPED_WAS_ACTIVE;
	return flags;
}

/* ---------------------------------------------------------------- checkpoint handshake */

void
kls_shm_wake_reader(struct kls_shm_slot *s)
{
	/* Release: the lease publish before this is visible to a reader that sees the new
	 * wake value (it re-reads the lease group after waking). */
	atomic_fetch_add_explicit(&s->wake, 1, memory_order_release);
	(void)kls_futex_wake(&s->wake);
}

int
kls_shm_await_persisted(struct kls_shm_slot *s, uint64_t gen, int64_t timeout_ms,
    struct kls_lease *out)
{
	kls_mono end = timeout_ms < 0 ? KLS_MONO_NEVER : mono_add_ms(mono_now(), timeout_ms);
	struct kls_lease l;

	for (;;) {
		/* Read the wake word before the lease: a bump that lands after this load
		 * makes the futex wait below return at once instead of being missed.
		 * Acquire pairs with kls_shm_wake_reader's release. */
		uint32_t w = atomic_load_explicit(&s->wake, memory_order_acquire);
		bool torn = kls_shm_lease_read(s, &l, KLS_SHM_READ_TRIES) < 0;
		int64_t left_ns, wait_ms;

		if (!torn) {
			if (out)
				*out = l;
			if (l.ckpt_gen >= gen)
				return 0;
			if (l.command != KLS_CMD_RUN)
				return 1;
		}
		left_ns = end.ns - mono_now().ns;
		if (left_ns <= 0) {
			errno = torn ? EAGAIN : ETIMEDOUT;
			return -1;
		}
		wait_ms = end.ns == INT64_MAX ? -1 : (left_ns + 999999) / 1000000;
		/* klsd stuck mid-write will not wake us: look again soon. */
		if (torn && (wait_ms < 0 || wait_ms > 10))
			wait_ms = 10;
		if (kls_futex_wait(&s->wake, w, wait_ms) < 0 && errno != ETIMEDOUT && errno != EINTR)
			return -1;
	}
}

/* Decimal digits without leading zeros; NULL when s is not a sequence number. */
static const char *
digits(const char *s)
{
	if (!s || !*s)
		return NULL;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return NULL;
	while (s[0] == '0' && s[1])
		s++;
	return s;
}

int
kls_seqnum_cmp(const char *a, uint64_t a_sub, const char *b, uint64_t b_sub, int *cmp)
{
	const char *x = digits(a), *y = digits(b);
	size_t nx, ny;
	int c;

	if (!x || !y) {
		errno = EINVAL;
		return -1;
	}
	nx = strlen(x);
	ny = strlen(y);
	c = nx != ny ? (nx < ny ? -1 : 1) : strcmp(x, y);
	if (c == 0)
		c = a_sub == b_sub ? 0 : (a_sub < b_sub ? -1 : 1);
	*cmp = c < 0 ? -1 : (c > 0 ? 1 : 0);
	return 0;
}
