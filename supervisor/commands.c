/*
 * The commands of klsd's control socket (supervisor/control.h does the socket, framing,
 * peer checks and limits; kls-ctl sends them):
 *   status         klsd's own view: phase, readiness, counters, reload, and each held
 *                  lease with its reader (args: "shard" for one lease)
 *   workers        the lease table as the fleet sees it, from the last scan: each
 *                  worker with its lease count, and the free, expired, in-handoff leases
 *   release SHARD  drain that reader, persist its checkpoint, release the lease
 *                  conditionally, and leave the shard alone for one take cycle
 *   drain          hand every lease off as SIGTERM does (drain, release), then exit 0
 *   reload         as SIGHUP: the reply says what was applied or why it was refused
 * Replies are bounded: lists stop at the limits below and say they were cut, so a host
 * with thousands of shards still fits in one frame.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/control.h"
#include "supervisor/klsd_int.h"

/* Leases listed by status (all of them: kls-ctl status reads shm), shards per list
 * and workers listed by workers. */
#define STATUS_LEASES_MAX 64
#define WORKERS_LIST_MAX 64
#define WORKERS_MAX 128

static const char *const held_names[] = {
	[HELD_ADOPTING] = "adopting",
	[HELD_ACTIVE] = "active",
	[HELD_HANDOFF] = "handoff",
	[HELD_RELEASING] = "releasing",
	[HELD_LOST] = "lost",
};

static const char *const reader_names[] = {
	[READER_IDLE] = "idle",
	[READER_BACKOFF] = "backoff",
	[READER_RUNNING] = "running",
	[READER_FAILED] = "failed",
};

static const char *const phase_names[] = {
	[PHASE_TABLE] = "starting",
	[PHASE_RUNNING] = "running",
	[PHASE_STOPPING] = "stopping",
	[PHASE_DONE] = "stopped",
};

/* ---------------------------------------------------------------- packing */

static void
k_str(msgpack_packer *pk, const char *key, const char *v)
{
	frame_pack_cstr(pk, key);
	if (v && *v)
		frame_pack_cstr(pk, v);
	else
		msgpack_pack_nil(pk);
}

static void
k_uint(msgpack_packer *pk, const char *key, uint64_t v)
{
	frame_pack_cstr(pk, key);
	msgpack_pack_uint64(pk, v);
}

static void
k_int(msgpack_packer *pk, const char *key, int64_t v)
{
	frame_pack_cstr(pk, key);
	msgpack_pack_int64(pk, v);
}

static void
k_bool(msgpack_packer *pk, const char *key, bool v)
{
	frame_pack_cstr(pk, key);
	if (v)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

/* ---------------------------------------------------------------- status */

static void
pack_lease(msgpack_packer *pk, const struct held *h, kls_mono now)
{
	char ckpt[KLS_SHM_SEQ_MAX + 24];
	bool prog = h->have_progress;

	if (h->pub.ckpt_subseq)
		snprintf(ckpt, sizeof(ckpt), "%s:%llu", h->pub.ckpt_seq,
		    (unsigned long long)h->pub.ckpt_subseq);
	else
		snprintf(ckpt, sizeof(ckpt), "%s", h->pub.ckpt_seq);
	msgpack_pack_map(pk, 13);
	k_str(pk, "shard", h->l.key);
	k_str(pk, "state", held_names[h->state]);
	k_uint(pk, "lease_counter", h->l.counter);
	k_str(pk, "checkpoint", ckpt);
	frame_pack_cstr(pk, "deadline_ms");
	if (h->deadline.ns)
		msgpack_pack_int64(pk, mono_diff_ms(now, h->deadline));
	else
		msgpack_pack_nil(pk);
	k_str(pk, "reader", reader_names[h->proc.state]);
	frame_pack_cstr(pk, "reader_pid");
	if (h->proc.pid)
		msgpack_pack_int64(pk, h->proc.pid);
	else
		msgpack_pack_nil(pk);
	k_uint(pk, "restarts", h->proc.restarts);
	k_uint(pk, "records", prog ? h->progress.records : 0);
	k_uint(pk, "bytes", prog ? h->progress.bytes : 0);
	frame_pack_cstr(pk, "millis_behind");
	if (prog && h->progress.millis_behind >= 0)
		msgpack_pack_int64(pk, h->progress.millis_behind);
	else
		msgpack_pack_nil(pk);
	k_uint(pk, "poison_deaths", h->svc.crashes);
	k_str(pk, "error", h->pub.error);
}

static int
cmd_status(void *ctx, const struct frame_request *req, msgpack_packer *pk, char *err, size_t errlen)
{
	struct klsd *k = ctx;
	const struct klsd_svc *s = &k->svc;
	kls_mono now = mono_now();
	char shard[LEASE_KEY_MAX], progress[32];
	size_t n = 0;
	int one = frame_arg_str(req, "shard", shard, sizeof(shard), err, errlen);

	if (one < 0)
		return -1;
	if (one) {
		const struct held *h = held_find(k, shard);
		if (!h) {
			snprintf(err, errlen, "shard %s is not held by this worker", shard);
			return -1;
		}
		pack_lease(pk, h, now);
		return 0;
	}
	/* Progress groups are read on wakes and reaps; refresh them for the answer. */
	for (size_t i = 0; i < k->nheld; i++) {
		struct held *h = k->held[i];
		if (h->proc.pid &&
		    kls_shm_progress_read(h->s, &h->progress, KLS_SHM_READ_TRIES) == 0)
			h->have_progress = true;
	}
	msgpack_pack_map(pk, 16);
	k_str(pk, "application", k->cfg.kls.application);
	k_str(pk, "stream", k->cfg.kls.stream);
	k_str(pk, "table", k->cfg.kls.table);
	k_str(pk, "worker", k->me);
	k_int(pk, "pid", getpid());
	k_str(pk, "phase", phase_names[k->phase]);
	k_bool(pk, "ready", s->ready);
	k_int(pk, "uptime_ms", mono_diff_ms(s->started, now));
	k_str(pk, "config", s->src.file);
	frame_pack_cstr(pk, "counters");
	msgpack_pack_map(pk, 7);
	k_uint(pk, "renewals", s->count[SVC_RENEWALS]);
	k_uint(pk, "takes", s->count[SVC_TAKES]);
	k_uint(pk, "losses", s->count[SVC_LOSSES]);
	k_uint(pk, "reader_restarts", s->count[SVC_READER_RESTARTS]);
	k_uint(pk, "poison_records", s->count[SVC_POISON_RECORDS]);
	k_uint(pk, "reloads", s->reload.applied);
	k_uint(pk, "reloads_refused", s->reload.refused);
	frame_pack_cstr(pk, "reload");
	msgpack_pack_map(pk, 3);
	k_bool(pk, "rolling", s->reload.rolling);
	snprintf(progress, sizeof(progress), "%u/%u", s->reload.done, s->reload.total);
	k_str(pk, "readers_restarted", progress);
	k_str(pk, "last", s->reload.last);
	k_str(pk, "metrics", k->cfg.metrics.listen);
	k_uint(pk, "leases_held", k->nheld);
	frame_pack_cstr(pk, "leases");
	n = k->nheld < STATUS_LEASES_MAX ? k->nheld : STATUS_LEASES_MAX;
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++)
		pack_lease(pk, k->held[i], now);
	k_bool(pk, "leases_truncated", n < k->nheld);
	frame_pack_cstr(pk, "avoiding");
	msgpack_pack_array(pk, s->navoid);
	for (size_t i = 0; i < s->navoid; i++) {
		msgpack_pack_map(pk, 3);
		k_str(pk, "shard", s->avoid[i].key);
		k_uint(pk, "take_cycles", s->avoid[i].cycles);
		k_str(pk, "why", s->avoid[i].why);
	}
	return 0;
}

/* ---------------------------------------------------------------- workers */

struct worker_row {
	const char *id;
	unsigned leases, expired, handoff;
};

static int
by_leases(const void *a, const void *b)
{
	const struct worker_row *x = a, *y = b;

	if (x->leases != y->leases)
		return x->leases < y->leases ? 1 : -1;
	return strcmp(x->id, y->id);
}

enum lease_kind { LK_FREE, LK_EXPIRED, LK_HANDOFF, LK_N };
static const char *const kind_names[LK_N] = { "free", "expired", "handoff" };

static int
cmd_workers(void *ctx, const struct frame_request *req, msgpack_packer *pk, char *err,
    size_t errlen)
{
	struct klsd *k = ctx;
	const struct lease_view *v = &k->view;
	kls_mono now = mono_now();
	struct worker_row *w = calloc(v->n + 1, sizeof(*w));
	size_t nw = 0, finished = 0, count[LK_N] = { 0 };

	(void)req;
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* This worker is always listed, with no leases if need be. */
	w[nw++] = (struct worker_row){ .id = k->me };
	for (size_t i = 0; i < v->n; i++) {
		const struct lease_obs *o = &v->v[i];
		struct worker_row *r = NULL;
		bool expired;

		if (lease_is_finished(&o->l)) {
			finished++;
			continue;
		}
		if (!o->l.owner[0]) {
			count[LK_FREE]++;
			continue;
		}
		expired = lease_is_expired(o, now, k->cfg.lease.failover_ms);
		count[LK_EXPIRED] += expired;
		count[LK_HANDOFF] += o->l.checkpoint_owner[0] != '\0';
		for (size_t j = 0; j < nw && !r; j++)
			if (strcmp(w[j].id, o->l.owner) == 0)
				r = &w[j];
		if (!r) {
			r = &w[nw++];
			r->id = o->l.owner;
		}
		r->leases++;
		r->expired += expired;
		r->handoff += o->l.checkpoint_owner[0] != '\0';
	}
	qsort(w, nw, sizeof(*w), by_leases);

	msgpack_pack_map(pk, 9);
	k_str(pk, "me", k->me);
	frame_pack_cstr(pk, "scan_age_ms");
	if (k->svc.last_scan_at.ns)
		msgpack_pack_int64(pk, mono_diff_ms(k->svc.last_scan_at, now));
	else
		msgpack_pack_nil(pk);
	k_uint(pk, "leases", v->n);
	k_uint(pk, "finished", finished);
	for (int kind = 0; kind < LK_N; kind++) {
		size_t listed = 0,
		       cap = count[kind] < WORKERS_LIST_MAX ? count[kind] : WORKERS_LIST_MAX;

		frame_pack_cstr(pk, kind_names[kind]);
		msgpack_pack_map(pk, 2);
		k_uint(pk, "count", count[kind]);
		frame_pack_cstr(pk, "shards");
		msgpack_pack_array(pk, cap);
		for (size_t i = 0; i < v->n && listed < cap; i++) {
			const struct lease_obs *o = &v->v[i];
			bool in;
			if (lease_is_finished(&o->l))
				continue;
			switch (kind) {
			case LK_FREE: in = !o->l.owner[0]; break;
			case LK_EXPIRED:
				in = o->l.owner[0] &&
				     lease_is_expired(o, now, k->cfg.lease.failover_ms);
				break;
			default: in = o->l.owner[0] && o->l.checkpoint_owner[0]; break;
			}
			if (in) {
				frame_pack_cstr(pk, o->l.key);
				listed++;
			}
		}
	}
	frame_pack_cstr(pk, "workers");
	msgpack_pack_array(pk, nw < WORKERS_MAX ? nw : WORKERS_MAX);
	for (size_t i = 0; i < nw && i < WORKERS_MAX; i++) {
		msgpack_pack_map(pk, 5);
		k_str(pk, "worker", w[i].id);
		k_uint(pk, "leases", w[i].leases);
		k_uint(pk, "expired", w[i].expired);
		k_uint(pk, "handoff", w[i].handoff);
		k_bool(pk, "me", strcmp(w[i].id, k->me) == 0);
	}
	k_bool(pk, "workers_truncated", nw > WORKERS_MAX);
	free(w);
	return 0;
}

/* ---------------------------------------------------------------- actions */

static int
cmd_release(void *ctx, const struct frame_request *req, msgpack_packer *pk, char *err,
    size_t errlen)
{
	struct klsd *k = ctx;
	char shard[LEASE_KEY_MAX];
	struct held *h;
	int rc = frame_arg_str(req, "shard", shard, sizeof(shard), err, errlen);

	if (rc < 0)
		return -1;
	if (rc == 0) {
		snprintf(err, errlen, "release needs the argument \"shard\"");
		return -1;
	}
	if (k->phase != PHASE_RUNNING) {
		snprintf(err, errlen, "klsd is %s", phase_names[k->phase]);
		return -1;
	}
	if (!(h = held_find(k, shard))) {
		snprintf(err, errlen, "shard %s is not held by this worker (it holds %zu)", shard,
		    k->nheld);
		return -1;
	}
	if (h->state != HELD_ACTIVE && h->state != HELD_ADOPTING) {
		snprintf(err, errlen, "lease %s is already %s", shard, held_names[h->state]);
		return -1;
	}
	log_info("control: release %s requested", shard);
	msgpack_pack_map(pk, 3);
	k_str(pk, "shard", shard);
	k_bool(pk, "draining", h->proc.pid != 0);
	k_uint(pk, "take_cycles_skipped", 1);
	held_release(k, h, "kls-ctl release");
	svc_avoid(k, shard, 1, "released by kls-ctl release");
	return 0;
}

static int
cmd_drain(void *ctx, const struct frame_request *req, msgpack_packer *pk, char *err, size_t errlen)
{
	struct klsd *k = ctx;
	size_t running = 0;

	(void)req;
	if (k->phase == PHASE_STOPPING || k->phase == PHASE_DONE) {
		snprintf(err, errlen, "klsd is already stopping");
		return -1;
	}
	for (size_t i = 0; i < k->nheld; i++)
		running += k->held[i]->proc.pid != 0;
	msgpack_pack_map(pk, 2);
	k_uint(pk, "leases", k->nheld);
	k_uint(pk, "readers_draining", running);
	klsd_stop(k, "kls-ctl drain");
	return 0;
}

static int
cmd_reload(void *ctx, const struct frame_request *req, msgpack_packer *pk, char *err, size_t errlen)
{
	struct klsd *k = ctx;
	char msg[FRAME_ERROR_MAX];

	(void)req;
	if (reload_start(k, "kls-ctl reload", msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "%s", msg);
		return -1;
	}
	msgpack_pack_map(pk, 2);
	k_str(pk, "result", msg);
	k_uint(pk, "readers_restarting", k->svc.reload.rolling ? k->svc.reload.total : 0);
	return 0;
}

const struct control_command svc_commands[] = {
	{ "status", cmd_status },
	{ "workers", cmd_workers },
	{ "release", cmd_release },
	{ "drain", cmd_drain },
	{ "reload", cmd_reload },
};
const size_t svc_ncommands = sizeof(svc_commands) / sizeof(svc_commands[0]);
