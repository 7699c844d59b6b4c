/*
 * Lease protocol decisions: see lease.h. Everything here is a pure function of the
 * scans we have seen, the writes of ours that landed, and "now" on CLOCK_BOOTTIME.
 */
#include "config.h"

#include "supervisor/lease.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void
lease_view_init(struct lease_view *lv)
{
	lv->v = NULL;
	lv->n = lv->cap = 0;
}

void
lease_view_free(struct lease_view *lv)
{
	free(lv->v);
	lease_view_init(lv);
}

struct lease_obs *
lease_view_find(struct lease_view *lv, const char *key)
{
	for (size_t i = 0; i < lv->n; i++)
		if (strcmp(lv->v[i].l.key, key) == 0)
			return &lv->v[i];
	return NULL;
}

static const struct lease_obs *
view_find_const(const struct lease_view *lv, const char *key)
{
	return lease_view_find((struct lease_view *)lv, key);
}

static bool
same_holder(const struct lease *a, const struct lease *b)
{
	return a->counter == b->counter && strcmp(a->owner, b->owner) == 0;
}

int
lease_view_merge_scan(struct lease_view *lv, const struct lease *scan, size_t n, kls_mono now)
{
	struct lease_obs *nv = n ? calloc(n, sizeof(*nv)) : NULL;

	if (n && !nv)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct lease_obs *old = view_find_const(lv, scan[i].key);
		nv[i].l = scan[i];
		if (old) {
			nv[i].first_seen = old->first_seen;
			nv[i].changed_at = same_holder(&old->l, &scan[i]) ? old->changed_at : now;
		} else {
			nv[i].first_seen = now;
			nv[i].changed_at = now;
		}
	}
	free(lv->v);
	lv->v = nv;
	lv->n = lv->cap = n;
	return 0;
}

int
lease_view_update(struct lease_view *lv, const struct lease *l, kls_mono now)
{
	struct lease_obs *o = lease_view_find(lv, l->key);

	if (!o) {
		if (lv->n == lv->cap) {
			size_t ncap = lv->cap ? lv->cap * 2 : 16;
			struct lease_obs *nv = realloc(lv->v, ncap * sizeof(*nv));
			if (!nv)
				return -1;
			lv->v = nv;
			lv->cap = ncap;
		}
		o = &lv->v[lv->n++];
		o->first_seen = now;
	}
	o->l = *l;
	o->changed_at = now;
	return 0;
}

kls_mono
lease_next_renew(kls_mono sent, kls_mono landed, int64_t renew_interval_ms, kls_mono drain_at)
{
	kls_mono next = mono_add_ms(sent, renew_interval_ms);
	int64_t latency = mono_diff_ms(sent, landed);
	kls_mono soon;

	if (latency < 0)
		latency = 0;
	soon = mono_add_ms(drain_at, -2 * latency);
	if (mono_before(soon, next))
		next = soon;
	if (mono_before(next, landed))
		next = landed;
	return next;
}

bool
lease_is_finished(const struct lease *l)
{
	return strcmp(l->checkpoint, CHECKPOINT_SHARD_END) == 0;
}

bool
lease_is_expired(const struct lease_obs *o, kls_mono now, int64_t failover_ms)
{
	return o->l.owner[0] != '\0' && mono_diff_ms(o->changed_at, now) >= failover_ms;
}

bool
lease_parents_done(const struct lease_view *lv, const struct lease *l)
{
	for (int i = 0; i < l->nparents; i++) {
		const struct lease_obs *p = view_find_const(lv, l->parents[i]);
		/* A parent with no lease was trimmed away or already cleaned up after its
		 * children started: nothing of it is left to read first. */
		if (p && !lease_is_finished(&p->l))
			return false;
	}
	return true;
}

bool
lease_owner_is_kls(const struct lease *l)
{
	return l->owner[0] != '\0' && strcmp(l->owner, l->kls_owner) == 0;
}

static bool
lease_is_active(const struct lease_view *lv, const struct lease *l)
{
	return !lease_is_finished(l) && lease_parents_done(lv, l);
}

/* Per-owner lease counts among active, unexpired leases. */
struct owner_count {
	const char *owner;
	int count;
	bool kls; /* one of its leases says it is a kls worker */
};

static int
count_owners(const struct lease_view *lv, kls_mono now, int64_t failover_ms,
    struct owner_count **out, size_t *nout)
{
	struct owner_count *oc = lv->n ? calloc(lv->n, sizeof(*oc)) : NULL;
	size_t n = 0;

	if (lv->n && !oc)
		return -1;
	for (size_t i = 0; i < lv->n; i++) {
		const struct lease_obs *o = &lv->v[i];
		size_t j;
		if (!lease_is_active(lv, &o->l) || o->l.owner[0] == '\0' ||
		    lease_is_expired(o, now, failover_ms))
			continue;
		for (j = 0; j < n; j++)
			if (strcmp(oc[j].owner, o->l.owner) == 0)
				break;
		if (j == n)
			oc[n++].owner = o->l.owner;
		oc[j].count++;
		oc[j].kls |= lease_owner_is_kls(&o->l);
	}
	*out = oc;
	*nout = n;
	return 0;
}

static int
cmp_oldest(const void *a, const void *b)
{
	const struct lease_obs *x = *(const struct lease_obs *const *)a;
	const struct lease_obs *y = *(const struct lease_obs *const *)b;
	if (x->changed_at.ns != y->changed_at.ns)
		return x->changed_at.ns < y->changed_at.ns ? -1 : 1;
	return strcmp(x->l.key, y->l.key);
}

static void
action_fill(struct lease_action *a, enum lease_action_kind kind, const struct lease *l)
{
	a->kind = kind;
	memcpy(a->key, l->key, sizeof(a->key));
	a->expect_counter = l->counter;
	memcpy(a->from, l->owner, sizeof(a->from));
}

int
lease_plan_takes(const struct lease_view *lv, const struct lease_plan_params *p, kls_mono now,
    struct lease_plan *plan)
{
	struct owner_count *oc = NULL;
	const struct lease_obs **cand = NULL;
	size_t noc = 0, ncand = 0;
	int live, me_counted = 0, want;

	memset(plan, 0, sizeof(*plan));
	if (count_owners(lv, now, p->failover_ms, &oc, &noc) < 0)
		return -1;
	for (size_t j = 0; j < noc; j++) {
		if (strcmp(oc[j].owner, p->me) == 0) {
			plan->held = oc[j].count;
			me_counted = 1;
		} else if (!oc[j].kls) {
			plan->foreign_leases += oc[j].count;
			if (oc[j].count > plan->foreign_owner_leases) {
				plan->foreign_owner_leases = oc[j].count;
				memcpy(plan->foreign_owner, oc[j].owner, strlen(oc[j].owner) + 1);
			}
		}
	}
	live = (int)noc + !me_counted;

	for (size_t i = 0; i < lv->n; i++)
		if (lease_is_active(lv, &lv->v[i].l))
			plan->active_leases++;
	plan->live_workers = live;
	plan->target = (plan->active_leases + live - 1) / live;
	if (p->max_leases > 0 && plan->target > p->max_leases)
		plan->target = p->max_leases;

	want = plan->target - plan->held;
	if (want <= 0)
		goto done;
	cand = calloc(lv->n, sizeof(*cand));
	plan->actions = calloc((size_t)want, sizeof(*plan->actions));
	if (!cand || !plan->actions) {
		free(cand);
		free(oc);
		lease_plan_free(plan);
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < lv->n; i++) {
		const struct lease_obs *o = &lv->v[i];
		if (!lease_is_active(lv, &o->l) || strcmp(o->l.owner, p->me) == 0)
			continue;
		if (o->l.owner[0] == '\0' || lease_is_expired(o, now, p->failover_ms))
			cand[ncand++] = o;
	}
	qsort(cand, ncand, sizeof(*cand), cmp_oldest);
	for (size_t i = 0; i < ncand && (int)plan->nactions < want; i++)
		action_fill(&plan->actions[plan->nactions++], LEASE_TAKE, &cand[i]->l);

	if (plan->nactions == 0) {
		/* Nothing free: ask the most loaded kls worker for one lease, but only when
		 * that strictly narrows the gap between us, so two workers never trade back
		 * and forth. */
		const struct owner_count *top = NULL;
		for (size_t j = 0; j < noc; j++)
			if (strcmp(oc[j].owner, p->me) != 0 && oc[j].kls &&
			    (!top || oc[j].count > top->count ||
			        (oc[j].count == top->count && strcmp(oc[j].owner, top->owner) < 0)))
				top = &oc[j];
		if (top && top->count >= plan->held + 2) {
			const struct lease_obs *pick = NULL;
			for (size_t i = 0; i < lv->n; i++) {
				const struct lease_obs *o = &lv->v[i];
				if (!lease_is_active(lv, &o->l) || strcmp(o->l.owner, top->owner) != 0 ||
				    o->l.checkpoint_owner[0] != '\0')
					continue;
				/* Hand off the lease that has been with its owner longest. */
				if (!pick || cmp_oldest(&o, &pick) < 0)
					pick = o;
			}
			if (pick)
				action_fill(&plan->actions[plan->nactions++], LEASE_HANDOFF, &pick->l);
		}
	}
done:
	free(cand);
	free(oc);
	return 0;
}

void
lease_plan_free(struct lease_plan *plan)
{
	free(plan->actions);
	plan->actions = NULL;
	plan->nactions = 0;
}
