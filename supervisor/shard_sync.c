/*
 * Shard sync decisions: see shard_sync.h.
 */
#include "config.h"

#include "supervisor/shard_sync.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
shard_sync_position(enum config_position pos)
{
	switch (pos) {
	case CONFIG_POSITION_LATEST: return CHECKPOINT_LATEST;
	case CONFIG_POSITION_AT_TIMESTAMP: return CHECKPOINT_AT_TIMESTAMP;
	case CONFIG_POSITION_TRIM_HORIZON: break;
	}
	return CHECKPOINT_TRIM_HORIZON;
}

static const struct kinesis_shard *
find_shard(const struct kinesis_shard_list *l, const char *id)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->shards[i].shard_id, id) == 0)
			return &l->shards[i];
	return NULL;
}

static bool
has_lease(const struct lease_view *lv, const char *key)
{
	return lease_view_find((struct lease_view *)lv, key) != NULL;
}

/* Whether shard s gets a lease under position pos (given the leases that exist). */
static bool
wants_lease(const struct kinesis_shard *s, enum config_position pos)
{
	return !(pos == CONFIG_POSITION_LATEST && kinesis_shard_closed(s));
}

/* Whether the parent id will have a lease once this plan is applied. */
static bool
parent_leased(const struct kinesis_shard_list *shards, const struct lease_view *lv,
    enum config_position pos, const char *parent)
{
	const struct kinesis_shard *p;

	if (parent[0] == '\0')
		return false;
	if (has_lease(lv, parent))
		return true;
	p = find_shard(shards, parent);
	return p && wants_lease(p, pos);
}

static int
copy_id(char *dst, size_t size, const char *src)
{
	if (strlen(src) >= size) {
		errno = EINVAL;
		return -1;
	}
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

int
shard_sync_plan(const struct kinesis_shard_list *shards, const struct lease_view *lv,
    enum config_position pos, struct lease **out, size_t *nout)
{
	struct lease *v = NULL;
	size_t n = 0;

	*out = NULL;
	*nout = 0;
	if (shards->n && !(v = calloc(shards->n, sizeof(*v))))
		return -1;
	for (size_t i = 0; i < shards->n; i++) {
		const struct kinesis_shard *s = &shards->shards[i];
		const char *parents[2] = { s->parent_shard_id, s->adjacent_parent_shard_id };
		struct lease *l = &v[n];
		bool child = false;

		if (has_lease(lv, s->shard_id) || !wants_lease(s, pos))
			continue;
		memset(l, 0, sizeof(*l));
		if (copy_id(l->key, sizeof(l->key), s->shard_id) < 0 ||
		    copy_id(l->starting_hash, sizeof(l->starting_hash), s->starting_hash_key) < 0 ||
		    copy_id(l->ending_hash, sizeof(l->ending_hash), s->ending_hash_key) < 0)
			goto fail;
		for (int j = 0; j < 2; j++) {
			if (parents[j][0] == '\0')
				continue;
			if (copy_id(l->parents[l->nparents++], LEASE_KEY_MAX, parents[j]) < 0)
				goto fail;
			child |= parent_leased(shards, lv, pos, parents[j]);
		}
		snprintf(l->checkpoint, sizeof(l->checkpoint), "%s",
		    child ? CHECKPOINT_TRIM_HORIZON : shard_sync_position(pos));
		n++;
	}
	if (n == 0) {
		free(v);
		v = NULL;
	}
	*out = v;
	*nout = n;
	return 0;
fail:
	free(v);
	return -1;
}

/* A lease whose reader has got somewhere: a sequence checkpoint or SHARD_END. */
static bool
lease_started(const struct lease *l)
{
	return strcmp(l->checkpoint, CHECKPOINT_TRIM_HORIZON) != 0 &&
	       strcmp(l->checkpoint, CHECKPOINT_LATEST) != 0 &&
	       strcmp(l->checkpoint, CHECKPOINT_AT_TIMESTAMP) != 0 && l->checkpoint[0] != '\0';
}

static bool
is_child_of(const struct lease *child, const char *parent)
{
	for (int i = 0; i < child->nparents; i++)
		if (strcmp(child->parents[i], parent) == 0)
			return true;
	return false;
}

int
shard_sync_cleanup(const struct kinesis_shard_list *shards, const struct lease_view *lv,
    char (**out)[LEASE_KEY_MAX], size_t *nout)
{
	char(*v)[LEASE_KEY_MAX] = NULL;
	size_t n = 0;

	*out = NULL;
	*nout = 0;
	for (size_t i = 0; i < lv->n; i++) {
		const struct lease *p = &lv->v[i].l;
		int children = 0;
		bool all_started = true;

		if (!lease_is_finished(p) || find_shard(shards, p->key))
			continue;
		for (size_t j = 0; j < lv->n; j++) {
			const struct lease *c = &lv->v[j].l;
			if (!is_child_of(c, p->key))
				continue;
			children++;
			all_started &= lease_started(c);
		}
		/* Without a child lease we cannot tell that nothing needs it: keep it. */
		if (children == 0 || !all_started)
			continue;
		if (!v && !(v = calloc(lv->n, sizeof(*v))))
			return -1;
		memcpy(v[n++], p->key, LEASE_KEY_MAX);
	}
	*out = v;
	*nout = n;
	return 0;
}
