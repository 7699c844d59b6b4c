/*
 * Several klsd workers of one application, their producer and the lease table monitor:
 * see fleet.h.
 */
#include "config.h"

#include "tests/fleet.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/creds.h"
#include "shm/table.h"
#include "supervisor/lease_store.h"
#include "tests/harness.h"
#include "tests/spawn.h"

#define MONITOR_PERIOD_MS 150

int
fleet_init(struct fleet *fl, const char *prefix, int shards, int n, const char *kinesis_var)
{
	memset(fl, 0, sizeof(*fl));
	fl->producer_fd = -1;
	if (n < 1 || n > FLEET_MAX)
		return -1;
	fl->n = 1;
	if (fixture_init_kinesis(&fl->w[0], prefix, shards, kinesis_var) < 0)
		return -1;
	snprintf(fl->out, sizeof(fl->out), "%s", fl->w[0].dir);
	for (; fl->n < n; fl->n++)
		if (fixture_init_worker(&fl->w[fl->n], &fl->w[0], fl->n) < 0)
			return -1;
	return 0;
}

int
fleet_proxy(struct fleet *fl, int i)
{
	const char *dep = test_env("DYNAMODB_ENDPOINT");
	int port = dep ? tcp_proxy_url_port(dep) : -1;

	if (port < 0 || !(fl->proxy[i] = tcp_proxy_start(port))) {
		CU_FAIL("DynamoDB proxy");
		return -1;
	}
	return 0;
}

int
fleet_config(struct fleet *fl, int i, const char *extra)
{
	struct klsd_fixture *w = &fl->w[i];
	char text[2048], ddb[128];
	const char *dep = test_env("DYNAMODB_ENDPOINT");

	if (!dep)
		return -1;
	if (fl->proxy[i])
		snprintf(ddb, sizeof(ddb), "http://127.0.0.1:%d", tcp_proxy_port(fl->proxy[i]));
	else
		snprintf(ddb, sizeof(ddb), "%s", dep);
	fixture_example(w, "filelog");
	/* Small batches and a short idle wait keep batches short, so fencing is checked
	 * at a fine grain; the lease timings are fleet.h's. */
	snprintf(text, sizeof(text),
	    "max_records = 50\nidle_backoff_ms = 100\n"
	    "[lease]\nfailover_ms = %d\ntake_interval_ms = %d\n"
	    "[aws]\nkinesis_endpoint = %s\ndynamodb_endpoint = %s\nrequest_timeout_ms = %d\n"
	    "[handler]\npath = %s/out-%%s.log\n%s",
	    FLEET_FAILOVER_MS, FLEET_TAKE_MS, w->kinesis_url, ddb, FLEET_MS(3000), fl->out,
	    extra ? extra : "");
	return fixture_write_config(w, text);
}

/*
 * Unset KLS_TEST_TIME_SCALE: 1 on a machine with time to spare, more when it is so loaded
 * (above 5 runnable per core) that a klsd on the 3 s failover would miss renewals and
 * rightly fence itself, failing the time bounds for the machine's sake and not kls's.
 * Every time and bound scales together, so the tests assert the same relations.
 */
static int
fleet_scale_for_load(void)
{
	double load;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int scale;

	if (getloadavg(&load, 1) != 1 || cpus < 1)
		return 1;
	scale = 1 + (int)(load / (double)cpus / 5.0);
	if (scale > 4)
		scale = 4;
	if (scale > 1)
		fprintf(stderr,
		    "\nfleet: load average %.1f on %ld CPUs: lease times and bounds scaled by %d "
		    "(KLS_TEST_TIME_SCALE overrides)\n",
		    load, cpus, scale);
	return scale;
}

int
fleet_time_scale(void)
{
	/* Read once per test program: every worker and bound of a run must agree. */
	static int scale;
	const char *s;
	char *end;
	long v;

	if (scale)
		return scale;
	s = getenv("KLS_TEST_TIME_SCALE");
	if (!s || !*s) {
		scale = fleet_scale_for_load();
		return scale;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 10) {
		fprintf(stderr, "KLS_TEST_TIME_SCALE=%s: want a whole number from 1 to 10\n", s);
		exit(2);
	}
	scale = (int)v;
	return scale;
}

bool
fleet_start(struct fleet *fl, int i)
{
	if (fixture_start(&fl->w[i], NULL) < 0) {
		CU_FAIL("start klsd");
		return false;
	}
	return true;
}

void
fleet_stop_all(struct fleet *fl)
{
	/* All at once, so no worker takes over what another is releasing. */
	for (int i = 0; i < fl->n; i++)
		if (fl->w[i].pid)
			kill(fl->w[i].pid, SIGTERM);
	for (int i = 0; i < fl->n; i++)
		if (fl->w[i].pid)
			CU_ASSERT_EQUAL(fixture_clean_exit(&fl->w[i]), 0);
}

void
fleet_done(struct fleet *fl)
{
	if (fl->mon.running)
		fleet_monitor_stop(fl);
	if (fl->producer)
		fleet_produce_stop(fl);
	for (int i = 0; i < fl->n; i++)
		if (fl->w[i].pid)
			fixture_stop(&fl->w[i], SIGKILL, 5000);
	/* Workers first: w[0] removes the stream and the table they share. */
	for (int i = fl->n - 1; i >= 0; i--) {
		if (getenv("KLS_TEST_VERBOSE") && fl->w[i].log[0])
			fprintf(stderr, "\n== worker %d (%s)\n", i, fl->w[i].worker);
		fixture_done(&fl->w[i]);
		tcp_proxy_stop(fl->proxy[i]);
	}
	ov_free(&fl->ov);
	if (fl->mon.ev) {
		free(fl->mon.ev);
		pthread_mutex_destroy(&fl->mon.mu);
	}
	memset(fl, 0, sizeof(*fl));
}

/* ---------------------------------------------------------------- the table */

static int
worker_of(const struct fleet *fl, const char *owner)
{
	for (int i = 0; i < fl->n; i++)
		if (strcmp(fl->w[i].worker, owner) == 0)
			return i;
	return -1;
}

int
fleet_held(struct fleet *fl, int held[FLEET_MAX], int *unheld)
{
	struct lease *v;
	int n = fixture_leases(&fl->w[0], &v), total = 0;

	memset(held, 0, FLEET_MAX * sizeof(*held));
	*unheld = 0;
	if (n < 0)
		return -1;
	for (int j = 0; j < n; j++) {
		int i = worker_of(fl, v[j].owner);
		if (lease_is_finished(&v[j]))
			continue;
		total++;
		if (i >= 0 && !v[j].checkpoint_owner[0])
			held[i]++;
		else
			(*unheld)++;
	}
	free(v);
	return total;
}

int64_t
fleet_wait_spread(struct fleet *fl, const bool *live, int lo, int hi, int timeout_ms)
{
	kls_mono start = mono_now(), end = mono_add_ms(start, timeout_ms);

	do {
		int held[FLEET_MAX], unheld, total = fleet_held(fl, held, &unheld);
		bool ok = total > 0 && unheld == 0;
		for (int i = 0; ok && i < fl->n; i++)
			ok = live[i] ? held[i] >= lo && held[i] <= hi : held[i] == 0;
		if (ok)
			return mono_diff_ms(start, mono_now());
		sleep_ms(100);
	} while (mono_before(mono_now(), end));
	return -1;
}

/* Owner of every lease, in table order, as one string ("" when the scan failed or a
 * handoff is in progress: never stable then). */
static void
owner_map(struct fleet *fl, char *out, size_t size)
{
	struct lease *v;
	int n = fixture_leases(&fl->w[0], &v);
	size_t len = 0;

	out[0] = '\0';
	for (int j = 0; j < n; j++) {
		if (v[j].checkpoint_owner[0]) {
			out[0] = '\0';
			break;
		}
		len += (size_t)snprintf(out + len, size - len, "%s=%s;", v[j].key, v[j].owner);
		if (len >= size) {
			out[0] = '\0';
			break;
		}
	}
	if (n > 0)
		free(v);
}

bool
fleet_wait_stable(struct fleet *fl, int stable_ms, int timeout_ms)
{
	kls_mono end = mono_add_ms(mono_now(), timeout_ms), since = mono_now();
	static char prev[16384], cur[16384];

	owner_map(fl, prev, sizeof(prev));
	do {
		sleep_ms(200);
		owner_map(fl, cur, sizeof(cur));
		if (!cur[0] || strcmp(cur, prev) != 0) {
			memcpy(prev, cur, sizeof(prev));
			since = mono_now();
		} else if (mono_diff_ms(since, mono_now()) >= stable_ms) {
			return true;
		}
	} while (mono_before(mono_now(), end));
	CU_FAIL("the lease owners never settled");
	return false;
}

int
fleet_keys(struct fleet *fl, int i, char (*keys)[LEASE_KEY_MAX], int max)
{
	struct lease *v;
	int n = fixture_leases(&fl->w[0], &v), c = 0;

	if (n < 0)
		return -1;
	for (int j = 0; j < n && c < max; j++)
		if (strcmp(v[j].owner, fl->w[i].worker) == 0 && !v[j].checkpoint_owner[0] &&
		    !lease_is_finished(&v[j]))
			snprintf(keys[c++], LEASE_KEY_MAX, "%s", v[j].key);
	free(v);
	return c;
}

int64_t
fleet_wait_moved(struct fleet *fl, int i, char (*keys)[LEASE_KEY_MAX], int nkeys, int timeout_ms)
{
	kls_mono start = mono_now(), end = mono_add_ms(start, timeout_ms);

	do {
		struct lease *v;
		int n = fixture_leases(&fl->w[0], &v), moved = 0;
		for (int j = 0; j < n; j++)
			for (int k = 0; k < nkeys; k++)
				if (strcmp(v[j].key, keys[k]) == 0 && v[j].owner[0] &&
				    worker_of(fl, v[j].owner) != i && !v[j].checkpoint_owner[0])
					moved++;
		if (n > 0)
			free(v);
		if (moved == nkeys)
			return mono_diff_ms(start, mono_now());
		sleep_ms(100);
	} while (mono_before(mono_now(), end));
	return -1;
}

int
fleet_shm_leases(struct fleet *fl, int i, struct kls_lease *out, int max)
{
	struct kls_shm *t;
	struct kls_shm_err err;
	int n = 0;

	if (kls_shm_attach_ro(fl->w[i].shm, &t, &err) < 0) {
		fprintf(stderr, "\nshm %s: %s\n", fl->w[i].shm, err.msg);
		return -1;
	}
	for (uint32_t s = 0; s < kls_shm_slot_count(t) && n < max; s++) {
		const struct kls_shm_slot *slot = kls_shm_slot_ro(t, s);
		uint32_t st = kls_shm_slot_state(slot);
		if ((st == KLS_SLOT_ASSIGNED || st == KLS_SLOT_ACTIVE) &&
		    kls_shm_lease_read(slot, &out[n], KLS_SHM_READ_TRIES) == 0)
			n++;
	}
	kls_shm_close(t);
	return n;
}

/* ---------------------------------------------------------------- records */

int
fleet_produce_start(struct fleet *fl, int rate)
{
	static char env_ep[300];
	char r[16];
	const char *args[] = { "--stream", fl->w[0].stream, "--rate", r, "--bytes", "40",
		"--partition-keys", "1000", NULL };
	const char *env[] = { env_ep, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKIDKLSTEST",
		"AWS_SECRET_ACCESS_KEY=kls-test-secret", NULL };

	/* putenv in the child keeps a pointer: a static buffer outlives the fork. */
	snprintf(env_ep, sizeof(env_ep), "KINESIS_ENDPOINT=%s", fl->w[0].kinesis_url);
	snprintf(r, sizeof(r), "%d", rate);
	fl->producer = spawn_program("tools/kls-produce", args, env, &fl->producer_fd);
	if (fl->producer < 0) {
		fl->producer = 0;
		CU_FAIL("start kls-produce");
		return -1;
	}
	return 0;
}

long long
fleet_produce_stop(struct fleet *fl)
{
	char buf[512];
	ssize_t n, len = 0;
	long long put = -1;
	int st;

	if (!fl->producer)
		return -1;
	kill(fl->producer, SIGTERM);
	while ((n = read(fl->producer_fd, buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
		len += n;
	buf[len] = '\0';
	close(fl->producer_fd);
	waitpid(fl->producer, &st, 0);
	fl->producer = 0;
	fl->producer_fd = -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
	    sscanf(buf, "kls-produce: put %lld", &put) != 1) {
		fprintf(stderr, "\nkls-produce: status 0x%x: %s\n", (unsigned)st, buf);
		return -1;
	}
	return put;
}

/* The last n lines of a worker's log that are not debug chatter, for a failure. */
static void
dump_tail(const struct klsd_fixture *w, int n)
{
	char line[1024], (*ring)[160] = calloc((size_t)n, sizeof(*ring));
	FILE *fp = fopen(w->log, "r");
	int k = 0;

	if (fp && ring) {
		while (fgets(line, sizeof(line), fp))
			if (!strstr(line, " debug: "))
				snprintf(ring[k++ % n], sizeof(ring[0]), "%.159s", line);
		fprintf(stderr, "---- last lines of %s (%s) ----\n", w->log, w->worker);
		for (int i = k > n ? k - n : 0; i < k; i++)
			fputs(ring[i % n], stderr);
	}
	if (fp)
		fclose(fp);
	free(ring);
}

bool
fleet_wait_delivered(struct fleet *fl, long long n, int timeout_ms, struct ov_delivery *d)
{
	kls_mono end = mono_add_ms(mono_now(), timeout_ms);

	for (;;) {
		if (ov_load(&fl->ov, fl->out) < 0)
			memset(d, 0, sizeof(*d));
		else
			ov_delivery(&fl->ov, n, d);
		if ((long long)d->distinct == n)
			return true;
		if (!mono_before(mono_now(), end))
			break;
		sleep_ms(250);
	}
	fprintf(stderr, "\n%zu of %lld records delivered; first missing %lld\n", d->distinct, n,
	    d->first_missing);
	for (size_t s = 0; s < fl->ov.n; s++)
		fprintf(stderr, "%s: %zu lines, the last ending %.1f s ago\n", fl->ov.s[s].id,
		    fl->ov.s[s].n,
		    fl->ov.s[s].n
		        ? (double)(mono_now().ns - fl->ov.s[s].v[fl->ov.s[s].n - 1].t1) / 1e9
		        : 0.0);
	for (int i = 0; i < fl->n; i++)
		dump_tail(&fl->w[i], 30);
	return false;
}

static int
cmp_line_rec(const void *a, const void *b)
{
	const struct ov_line *x = *(const struct ov_line *const *)a;
	const struct ov_line *y = *(const struct ov_line *const *)b;

	if (x->rec != y->rec)
		return x->rec < y->rec ? -1 : 1;
	return (x->t0 > y->t0) - (x->t0 < y->t0);
}

/* Whether shard's lease went from worker `from` to worker `to` gracefully, as the last
 * move before `before`: the events show to's ownership start right after a handoff
 * from `from`, or after a release that followed from's ownership. */
static bool
moved_gracefully(const struct fleet_monitor *m, const char *shard, const char *from, const char *to,
    int64_t before)
{
	const struct fleet_event *start = NULL, *prev = NULL, *prev2 = NULL;
	const struct fleet_event *p = NULL, *p2 = NULL;

	for (size_t i = 0; i < m->nev && m->ev[i].t <= before; i++) {
		const struct fleet_event *e = &m->ev[i];
		if (strcmp(e->key, shard) != 0)
			continue;
		if (strcmp(e->owner, to) == 0 && !e->checkpoint_owner[0] &&
		    (!p || strcmp(p->owner, to) != 0 || p->checkpoint_owner[0])) {
			start = e;
			prev = p;
			prev2 = p2;
		}
		p2 = p;
		p = e;
	}
	if (!start || !prev)
		return false;
	if (strcmp(prev->owner, to) == 0 && strcmp(prev->checkpoint_owner, from) == 0)
		return true;                                                /* handoff */
	return !prev->owner[0] && prev2 && strcmp(prev2->owner, from) == 0; /* release */
}

size_t
fleet_graceful_dups(struct fleet *fl)
{
	size_t dups = 0;

	for (size_t s = 0; s < fl->ov.n; s++) {
		const struct ov_shard *sh = &fl->ov.s[s];
		const struct ov_line **v = sh->n ? malloc(sh->n * sizeof(*v)) : NULL;
		size_t n = 0;
		for (size_t j = 0; v && j < sh->n; j++)
			if (sh->v[j].rec >= 0)
				v[n++] = &sh->v[j];
		if (n)
			qsort(v, n, sizeof(*v), cmp_line_rec);
		for (size_t j = 1; j < n; j++) {
			const struct ov_line *a = v[j - 1], *b = v[j];
			if (a->rec != b->rec || strcmp(a->worker, b->worker) == 0)
				continue;
			if (moved_gracefully(&fl->mon, sh->id, a->worker, b->worker, b->t0)) {
				fprintf(stderr,
				    "\nrecord %lld of %s: delivered by %s, and after a graceful "
				    "move again by %s\n",
				    a->rec, sh->id, a->worker, b->worker);
				dups++;
			}
		}
		free(v);
	}
	return dups;
}

void
fleet_check_fencing(struct fleet *fl)
{
	char why[512];

	if (ov_check_overlap(&fl->ov, why, sizeof(why)) < 0) {
		fprintf(stderr, "\nfencing: %s\n", why);
		CU_FAIL("two readers of one shard ran at the same time");
	}
}

/* ---------------------------------------------------------------- the monitor */

static int
checkpoint_rank(const char *c)
{
	if (strcmp(c, CHECKPOINT_SHARD_END) == 0)
		return 2;
	if (strcmp(c, CHECKPOINT_TRIM_HORIZON) == 0 || strcmp(c, CHECKPOINT_LATEST) == 0 ||
	    strcmp(c, CHECKPOINT_AT_TIMESTAMP) == 0)
		return 0;
	return 1;
}

/* <0, 0, >0 as checkpoint a is before, at or after b. */
static int
checkpoint_cmp(const struct lease *a, const struct lease *b)
{
	int ra = checkpoint_rank(a->checkpoint), rb = checkpoint_rank(b->checkpoint), cmp = 0;

	if (ra != rb || ra != 1)
		return ra - rb;
	if (kls_seqnum_cmp(a->checkpoint, a->checkpoint_sub, b->checkpoint, b->checkpoint_sub,
	        &cmp) < 0)
		return 0;
	return cmp;
}

static struct lease *
find_lease(struct lease *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return &v[i];
	return NULL;
}

static void
monitor_fail(struct fleet_monitor *m, int *counter, const char *what)
{
	if ((*counter)++ == 0 && !m->why[0])
		snprintf(m->why, sizeof(m->why), "%s", what);
}

/* One scan's worth of checks and events; m->mu held. */
static void
monitor_sample(struct fleet_monitor *m, struct ddb_client *ddb, const char *table, struct lease *v,
    size_t n, int64_t t)
{
	char what[LEASE_KEY_MAX * 2 + LEASE_OWNER_MAX + 64];

	for (size_t i = 0; i < n; i++) {
		struct lease *l = &v[i], *prev = find_lease(m->last, m->nlast, l->key);
		struct lease *max = find_lease(m->max, m->nmax, l->key);

		if (!prev || strcmp(prev->owner, l->owner) != 0 ||
		    strcmp(prev->checkpoint_owner, l->checkpoint_owner) != 0 ||
		    lease_is_finished(prev) != lease_is_finished(l)) {
			if (m->nev < FLEET_EVENTS_MAX) {
				struct fleet_event *e = &m->ev[m->nev++];
				e->t = t;
				snprintf(e->key, sizeof(e->key), "%s", l->key);
				snprintf(e->owner, sizeof(e->owner), "%s", l->owner);
				snprintf(e->checkpoint_owner, sizeof(e->checkpoint_owner), "%s",
				    l->checkpoint_owner);
				e->finished = lease_is_finished(l);
			}
		}
		if (max && checkpoint_cmp(l, max) < 0) {
			snprintf(what, sizeof(what), "lease %s: checkpoint went back from %s to %s",
			    l->key, max->checkpoint, l->checkpoint);
			monitor_fail(m, &m->backwards, what);
		} else if (max) {
			*max = *l;
		} else if (m->nmax < 4096 &&
		           (max = realloc(m->max, (m->nmax + 1) * sizeof(*max)))) {
			m->max = max;
			m->max[m->nmax++] = *l;
		}
		/* A child is taken only after every parent finished. The scan is not a
		 * snapshot, so a parent seen unfinished is read again: SHARD_END is final, so
		 * still unfinished now means it was unfinished when the child was owned. */
		for (int p = 0; l->owner[0] && p < l->nparents; p++) {
			struct lease *par = find_lease(v, n, l->parents[p]), again;
			struct aws_error err;
			if (!par || lease_is_finished(par))
				continue;
			if (lease_store_get(ddb, table, par->key, &again, &err) == DDB_OK &&
			    !lease_is_finished(&again)) {
				snprintf(what, sizeof(what),
				    "child %s owned by %s while its parent %s is not finished",
				    l->key, l->owner, par->key);
				monitor_fail(m, &m->early_child, what);
			}
		}
	}
	free(m->last);
	m->last = v;
	m->nlast = n;
	m->samples++;
}

static void *
monitor_main(void *arg)
{
	struct fleet *fl = arg;
	struct fleet_monitor *m = &fl->mon;
	struct aws_creds_provider *creds =
	    creds_provider_new_static("AKIDKLSTEST", "kls-test-secret", NULL);
	struct aws_service_config cfg;
	struct aws_error err;
	struct ddb_client *ddb;

	/* A client of its own: clients are not shared between threads. */
	ddb_service_config(&cfg, "us-east-1", test_env("DYNAMODB_ENDPOINT"), creds);
	ddb = ddb_client_new(&cfg, NULL, &err);
	while (ddb && !atomic_load(&m->stop)) {
		struct lease *v;
		size_t n, skipped;
		if (lease_store_scan(ddb, fl->w[0].app, 0, &v, &n, &skipped, &err) == DDB_OK) {
			int64_t t = mono_now().ns;
			pthread_mutex_lock(&m->mu);
			monitor_sample(m, ddb, fl->w[0].app, v, n, t);
			pthread_mutex_unlock(&m->mu);
		}
		sleep_ms(MONITOR_PERIOD_MS);
	}
	ddb_client_free(ddb);
	creds_provider_free(creds);
	return NULL;
}

void
fleet_monitor_start(struct fleet *fl)
{
	struct fleet_monitor *m = &fl->mon;

	memset(m, 0, sizeof(*m));
	atomic_init(&m->stop, false);
	pthread_mutex_init(&m->mu, NULL);
	if (!test_env("DYNAMODB_ENDPOINT") || !(m->ev = calloc(FLEET_EVENTS_MAX, sizeof(*m->ev))) ||
	    pthread_create(&m->thread, NULL, monitor_main, fl) != 0) {
		free(m->ev);
		m->ev = NULL;
		pthread_mutex_destroy(&m->mu);
		CU_FAIL("lease table monitor");
		return;
	}
	m->running = true;
}

void
fleet_monitor_stop(struct fleet *fl)
{
	struct fleet_monitor *m = &fl->mon;

	if (!m->running)
		return;
	atomic_store(&m->stop, true);
	pthread_join(m->thread, NULL);
	m->running = false;
	if (m->why[0])
		fprintf(stderr, "\nlease table: %s\n", m->why);
	CU_ASSERT_TRUE(m->samples >= 2);
	CU_ASSERT_EQUAL(m->backwards, 0);
	CU_ASSERT_EQUAL(m->early_child, 0);
	free(m->last);
	free(m->max);
	m->last = m->max = NULL;
	m->nlast = m->nmax = 0;
	/* The events stay for fleet_event_owner until fleet_done. */
}

int64_t
fleet_event_owner(struct fleet *fl, const char *key, const char *owner, int64_t after,
    bool checkpoint_owner_set)
{
	struct fleet_monitor *m = &fl->mon;
	int64_t t = 0;

	if (m->running)
		pthread_mutex_lock(&m->mu);
	for (size_t i = 0; m->ev && i < m->nev && !t; i++) {
		const struct fleet_event *e = &m->ev[i];
		if (e->t >= after && strcmp(e->key, key) == 0 && strcmp(e->owner, owner) == 0 &&
		    (e->checkpoint_owner[0] != '\0') == checkpoint_owner_set)
			t = e->t;
	}
	if (m->running)
		pthread_mutex_unlock(&m->mu);
	return t;
}

bool
fleet_run_all(struct fleet *fl, int rate, int lo, int hi)
{
	bool live[FLEET_MAX];
	int64_t ms;

	fleet_monitor_start(fl);
	if (fleet_produce_start(fl, rate) < 0)
		return false;
	for (int i = 0; i < fl->n; i++) {
		live[i] = true;
		if (!fleet_start(fl, i))
			return false;
	}
	ms = fleet_wait_spread(fl, live, lo, hi, 60000);
	fprintf(stderr, "\nmeasure: %d workers started together spread the leases in %lld ms\n",
	    fl->n, (long long)ms);
	CU_ASSERT_TRUE(ms >= 0);
	/* Settled: no handoff in progress or coming in the next take cycle. */
	return ms >= 0 && fleet_wait_stable(fl, FLEET_TAKE_MS + 1000, 30000);
}

long long
fleet_finish(struct fleet *fl)
{
	struct ov_delivery d;
	long long put = fleet_produce_stop(fl);

	CU_ASSERT_TRUE(put > 0);
	if (put > 0) {
		CU_ASSERT_TRUE(fleet_wait_delivered(fl, put, 60000, &d));
		fprintf(stderr, "measure: %lld records, %zu delivered lines, %zu duplicates\n", put,
		    d.lines, d.dups);
	}
	fleet_monitor_stop(fl);
	/* Expiry (a failure, or fencing under load) may repeat records; a graceful move
	 * never. */
	CU_ASSERT_EQUAL(fleet_graceful_dups(fl), 0);
	fleet_check_fencing(fl);
	fleet_stop_all(fl);
	CU_ASSERT_EQUAL(fixture_owned(&fl->w[0], NULL), 0);
	return put;
}
