/*
 * klsd's setup and its one poll loop. Everything klsd does is driven from here: the
 * signalfd (SIGCHLD, SIGTERM, SIGINT, SIGHUP), the pool's completion eventfd, each
 * reader's wake pipe, and timers computed from CLOCK_BOOTTIME (kls_mono) as the poll
 * timeout. The loop never blocks on the network: every AWS call is a pool job.
 *
 * Start:    lease table ensured -> shard sync (leases created) -> first take cycle.
 * Steady:   renew every renew_interval_ms, take every take_interval_ms, shard sync
 *           every shard_sync_interval_ms; readers spawned, reaped, restarted.
 * SIGTERM:  every reader drained (final checkpoints persisted), killed after
 *           drain_timeout_ms, every lease released, exit 0.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/creds.h"
#include "common/kinesis_consumer.h"
#include "common/log.h"
#include "supervisor/klsd_int.h"

/* Slots in the shm table when [lease] max_leases does not bound them. Untouched slots
 * cost address space only. */
#define KLSD_DEFAULT_SLOTS 1024
/* Longest poll: the klsd heartbeat in shm stays this fresh while nothing happens. */
#define KLSD_MAX_SLEEP_MS 1000
/* Extra time a shutdown waits for the last writes after the drain timeout. */
#define KLSD_STOP_SLACK_MS 5000
/* Longest wait for a reader left by a dead klsd to die after SIGKILL. */
#define STALE_READER_WAIT_MS 5000

int64_t
klsd_drain_window_ms(const struct config *cfg)
{
	/* Drain a reader whose lease was not renewed this long before its deadline. A
	 * third of the fenced lifetime leaves two renew intervals' worth of late renewals
	 * before anything is disturbed (defaults: 3000 ms of 9000 ms). */
	int64_t life = (int64_t)cfg->lease.failover_ms - cfg->lease.safety_margin_ms;
	int64_t w = life / 3;

	return w < (int64_t)cfg->reader.drain_timeout_ms ? w : cfg->reader.drain_timeout_ms;
}

/* kls_shm_create's stale-table callback: a reader the dead klsd left behind must be
 * gone before we re-adopt its lease (PR_SET_PDEATHSIG normally took care of it). */
static void
stale_lease(void *arg, uint32_t idx, const struct kls_lease *l)
{
	kls_mono end;

	(void)arg;
	if (l->reader_pid <= 0 || !kls_proc_alive(l->reader_pid, l->reader_start_ticks))
		return;
	log_warnx("reader %.*s pid %d of a previous klsd is still running (slot %u); killing it",
	    (int)sizeof(l->shard_id), l->shard_id, (int)l->reader_pid, idx);
	if (kill(l->reader_pid, SIGKILL) < 0 && errno != ESRCH)
		log_error("kill %d", (int)l->reader_pid);
	end = mono_add_ms(mono_now(), STALE_READER_WAIT_MS);
	while (kls_proc_alive(l->reader_pid, l->reader_start_ticks) && mono_before(mono_now(), end))
		sleep_ms(10);
	if (kls_proc_alive(l->reader_pid, l->reader_start_ticks))
		log_errorx("reader pid %d is still alive after SIGKILL", (int)l->reader_pid);
}

static int
make_clients(struct klsd *k)
{
	const struct config_aws *a = &k->cfg.aws;
	struct creds_config cc = { .profile = a->profile[0] ? a->profile : NULL };
	struct aws_service_config dcfg, kcfg;
	struct aws_error err;

	if (!(k->creds = creds_provider_new(&cc))) {
		log_errorx("credentials: out of memory");
		return -1;
	}
	ddb_service_config(&dcfg, k->cfg.kls.region,
	    a->dynamodb_endpoint[0] ? a->dynamodb_endpoint : NULL, k->creds);
	kinesis_service_config(&kcfg, k->cfg.kls.region,
	    a->kinesis_endpoint[0] ? a->kinesis_endpoint : NULL, k->creds);
	dcfg.connect_timeout_ms = kcfg.connect_timeout_ms = a->connect_timeout_ms;
	dcfg.timeout_ms = kcfg.timeout_ms = a->request_timeout_ms;
	dcfg.max_response_bytes = kcfg.max_response_bytes = a->max_response_bytes;
	for (int i = 0; i < KLSD_POOL_THREADS; i++) {
		k->tctx[i].ddb = ddb_client_new(&dcfg, NULL, &err);
		if (!k->tctx[i].ddb) {
			log_errorx("DynamoDB client: %s", err.message);
			return -1;
		}
		k->tctx[i].kin = kinesis_client_new(&kcfg, NULL, &err);
		if (!k->tctx[i].kin) {
			log_errorx("Kinesis client: %s", err.message);
			return -1;
		}
	}
	return 0;
}

/*
 * read_mode = fan-out: the stream consumer every worker of the application shares,
 * registered here once (idempotent: the first worker registers, the others find it)
 * and ACTIVE before any reader starts; readers only look it up. Before the loop, so the
 * bounded wait (KINESIS_CONSUMER_ACTIVE_TIMEOUT_MS) blocks nothing that runs yet.
 */
static int
ensure_consumer(struct klsd *k)
{
	struct kinesis_stream_summary sum;
	struct aws_error err;
	char arn[KINESIS_ARN_MAX + 1];

	if (k->cfg.reader.read_mode != CONFIG_READ_FAN_OUT)
		return 0;
	if (kinesis_describe_stream_summary(k->tctx[0].kin, k->cfg.kls.stream, &sum, &err) < 0 ||
	    kinesis_ensure_consumer(k->tctx[0].kin, sum.stream_arn, k->cfg.reader.consumer_name,
	        arn, &err) < 0) {
		log_errorx("enhanced fan-out: %s", err.message);
		return -1;
	}
	log_info("enhanced fan-out: consumer %s is %s", k->cfg.reader.consumer_name, arn);
	return 0;
}

int
klsd_make_config_fd(struct klsd *k)
{
	struct kls_buf b;
	int fd;

	buf_init(&b, CONFIG_TEXT_MAX);
	if (config_write_buf(&k->cfg, &b, 0) < 0) {
		log_error("writing the configuration for readers");
		buf_free(&b);
		return -1;
	}
	fd = reader_config_memfd(b.data, b.len);
	buf_free(&b);
	if (fd < 0) {
		log_error("memfd for the readers' configuration");
		return -1;
	}
	/* Readers started earlier keep their own copy (inherited at exec). */
	if (k->config_fd >= 0)
		close(k->config_fd);
	k->config_fd = fd;
	return 0;
}

static int
make_shm(struct klsd *k)
{
	struct kls_shm_params p = {
		.name = k->shm_name,
		.application = k->cfg.kls.application,
		.stream = k->cfg.kls.stream,
		.worker_id = k->me,
		.slot_count =
		    k->cfg.lease.max_leases ? k->cfg.lease.max_leases : KLSD_DEFAULT_SLOTS,
		.stale_lease = stale_lease,
		.stale_arg = k,
	};
	struct kls_shm_err err;

	if (kls_shm_create(&p, &k->shm, &err) < 0) {
		log_errorx("%s", err.msg);
		return -1;
	}
	return 0;
}

static int
make_sigfd(struct klsd *k)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if ((k->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		log_error("signalfd");
		return -1;
	}
	return 0;
}

struct klsd *
klsd_new(const struct config *cfg, const char *worker_id)
{
	struct klsd *k = calloc(1, sizeof(*k));
	void *ctx[KLSD_POOL_THREADS];

	if (!k) {
		log_errorx("klsd: out of memory");
		return NULL;
	}
	k->cfg = *cfg;
	k->config_fd = k->sigfd = -1;
	k->svc.notify.fd = -1;
	snprintf(k->me, sizeof(k->me), "%s", worker_id);
	snprintf(k->shm_name, sizeof(k->shm_name), "%s", cfg->kls.shm_name);
	lease_view_init(&k->view);
	k->next_table = KLS_MONO_ZERO;
	k->next_sync = k->next_take = KLS_MONO_NEVER;
	k->stop_hard = KLS_MONO_NEVER;
	k->exit_status = 1;
	if (reader_exe_path(k->reader_exe, sizeof(k->reader_exe)) < 0) {
		log_error("kls-reader path ($KLS_READER must be absolute)");
		goto fail;
	}
	if (access(k->reader_exe, X_OK) < 0)
		log_warn("kls-reader %s", k->reader_exe);
	if (make_sigfd(k) < 0 || make_clients(k) < 0 || ensure_consumer(k) < 0 ||
	    klsd_make_config_fd(k) < 0 || make_shm(k) < 0 || svc_open(k) < 0)
		goto fail;
	for (int i = 0; i < KLSD_POOL_THREADS; i++)
		ctx[i] = &k->tctx[i];
	if (!(k->pool = pool_new(KLSD_POOL_THREADS, 0, ctx))) {
		log_error("starting %d pool threads", KLSD_POOL_THREADS);
		goto fail;
	}
	log_info("klsd for application %s, stream %s, table %s: worker %s, reader %s, shm %s",
	    cfg->kls.application, cfg->kls.stream, cfg->kls.table, k->me, k->reader_exe,
	    k->shm_name);
	return k;
fail:
	klsd_free(k);
	return NULL;
}

void
klsd_free(struct klsd *k)
{
	if (!k)
		return;
	pool_free(k->pool);
	svc_close(k);
	while (k->nheld) {
		struct held *h = k->held[k->nheld - 1];
		if (h->proc.wake_fd >= 0)
			close(h->proc.wake_fd);
		held_remove(k, h);
	}
	free(k->held);
	if (k->shm) {
		if (k->clean_exit)
			kls_shm_unlink(k->shm_name);
		kls_shm_close(k->shm);
	}
	for (int i = 0; i < KLSD_POOL_THREADS; i++) {
		ddb_client_free(k->tctx[i].ddb);
		kinesis_client_free(k->tctx[i].kin);
	}
	creds_provider_free(k->creds);
	lease_view_free(&k->view);
	kinesis_shard_list_free(&k->shards);
	if (k->config_fd >= 0)
		close(k->config_fd);
	if (k->sigfd >= 0)
		close(k->sigfd);
	free(k);
}

void
klsd_stop(struct klsd *k, const char *why)
{
	kls_mono now = mono_now();

	if (k->phase == PHASE_STOPPING || k->phase == PHASE_DONE)
		return;
	svc_stopping(k, why);
	log_info("%s: draining %zu reader%s and releasing leases", why, k->nheld,
	    k->nheld == 1 ? "" : "s");
	k->phase = PHASE_STOPPING;
	k->stop_hard = mono_add_ms(now, (int64_t)k->cfg.reader.drain_timeout_ms +
	                                    k->cfg.aws.request_timeout_ms + KLSD_STOP_SLACK_MS);
	for (size_t i = 0; i < k->nheld; i++) {
		struct held *h = k->held[i];
		if (h->state == HELD_ACTIVE || h->state == HELD_ADOPTING)
			held_release(k, h, "shutting down");
	}
	klsd_stopping_handed(k);
}

static void
handle_signals(struct klsd *k)
{
	struct signalfd_siginfo si;

	while (read(k->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD: supervise_reap(k); break;
		case SIGTERM: klsd_stop(k, "SIGTERM"); break;
		case SIGINT: klsd_stop(k, "SIGINT"); break;
		case SIGHUP: {
			char msg[512];
			reload_start(k, "SIGHUP", msg, sizeof(msg)); /* it logs the outcome */
			break;
		}
		default: break;
		}
	}
	/* Several SIGCHLD may merge into one; reaping until waitpid says none is left
	 * covers them all, and a call with nothing to reap is cheap. */
	supervise_reap(k);
}

static kls_mono
earliest(kls_mono a, kls_mono b)
{
	return mono_before(a, b) ? a : b;
}

/* Everything due at `now`; returns when the next thing is due. */
static kls_mono
tick(struct klsd *k, kls_mono now)
{
	kls_mono next = KLS_MONO_NEVER;

	if (k->phase == PHASE_TABLE && !k->table_busy && !mono_before(now, k->next_table))
		klsd_start_table(k);
	if (k->phase == PHASE_RUNNING) {
		if (!k->sync_busy && !mono_before(now, k->next_sync))
			klsd_start_sync(k);
		if (!k->scan_busy && k->synced_once && !mono_before(now, k->next_take))
			klsd_start_scan(k);
		if (!k->sync_busy)
			next = earliest(next, k->next_sync);
		if (!k->scan_busy && k->synced_once)
			next = earliest(next, k->next_take);
	}
	if (k->phase == PHASE_TABLE && !k->table_busy)
		next = earliest(next, k->next_table);
	if (k->phase == PHASE_STOPPING && k->handed_pending && !k->scan_busy) {
		if (!mono_before(now, k->next_take))
			klsd_start_scan(k);
		next = earliest(next, k->next_take);
	}
	for (size_t i = 0; i < k->nheld;) {
		struct held *h = k->held[i];
		next = earliest(next, held_tick(k, h, now));
		next = earliest(next, supervise_tick(k, h, now));
		/* A spawn or a kill may have made a write due (or finished the lease). */
		next = earliest(next, held_tick(k, h, now));
		if (held_finished(h)) {
			held_remove(k, h);
			continue;
		}
		i++;
	}
	return next;
}

static int
poll_timeout(kls_mono now, kls_mono next)
{
	int64_t ms;

	if (!mono_before(now, next))
		return 0;
	ms = (next.ns - now.ns + 999999) / 1000000;
	return ms > KLSD_MAX_SLEEP_MS ? KLSD_MAX_SLEEP_MS : (int)ms;
}

int
klsd_run(struct klsd *k)
{
	struct pollfd *fds = NULL;
	struct held **who = NULL;
	size_t cap = 0, nsvc;

	k->phase = PHASE_TABLE;
	for (;;) {
		kls_mono now = mono_now();
		kls_mono next;
		size_t n = 0;
		int rc;

		kls_shm_klsd_heartbeat(k->shm, now);
		next = tick(k, now);
		next = earliest(next, svc_tick(k, now));
		if (k->phase == PHASE_STOPPING) {
			if (k->nheld == 0 && !k->writes && !k->handed_pending) {
				k->exit_status = 0;
				k->clean_exit = true;
				break;
			}
			if (!mono_before(now, k->stop_hard)) {
				log_errorx(
				    "shutdown: %zu lease%s not released within the time limit; "
				    "they will expire",
				    k->nheld, k->nheld == 1 ? "" : "s");
				for (size_t i = 0; i < k->nheld; i++)
					supervise_kill(k->held[i], "shutdown time limit");
				k->exit_status = 1;
				break;
			}
			next = earliest(next, k->stop_hard);
		}
		if (cap < k->nheld + 2 + SVC_POLLFDS) {
			size_t ncap = k->nheld + 16 + SVC_POLLFDS;
			struct pollfd *nf = realloc(fds, ncap * sizeof(*nf));
			struct held **nw = nf ? realloc(who, ncap * sizeof(*nw)) : NULL;
			if (nf)
				fds = nf;
			if (!nf || !nw) {
				log_errorx("poll set: out of memory");
				k->exit_status = 1;
				break;
			}
			who = nw;
			cap = ncap;
		}
		fds[n++] = (struct pollfd){ .fd = k->sigfd, .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = pool_fd(k->pool), .events = POLLIN };
		nsvc = svc_pollfds(k, fds + n);
		n += nsvc;
		for (size_t i = 0; i < k->nheld; i++) {
			struct held *h = k->held[i];
			if (h->proc.wake_fd < 0 || h->wake_hup)
				continue;
			who[n] = h;
			fds[n++] = (struct pollfd){ .fd = h->proc.wake_fd, .events = POLLIN };
		}
		rc = poll(fds, n, poll_timeout(mono_now(), next));
		if (rc < 0 && errno != EINTR) {
			log_error("poll");
			k->exit_status = 1;
			break;
		}
		if (rc <= 0)
			continue;
		if (fds[0].revents)
			handle_signals(k);
		if (fds[1].revents)
			pool_complete(k->pool);
		svc_polled(k, fds + 2, nsvc);
		for (size_t i = 2 + nsvc; i < n; i++) {
			/* The set was built before the handlers above ran: a reader reaped
			 * meanwhile has closed its pipe, so check it is still the same. */
			struct held *h = who[i];
			bool live = false;
			for (size_t j = 0; j < k->nheld && !live; j++)
				live = k->held[j] == h;
			if (!live || !fds[i].revents || h->proc.wake_fd != fds[i].fd)
				continue;
			supervise_wake(k, h);
		}
	}
	free(fds);
	free(who);
	/* Wait for writes still in flight (a time-limited exit may leave some), so their
	 * completions do not touch freed state. */
	k->phase = PHASE_DONE;
	return k->exit_status;
}
