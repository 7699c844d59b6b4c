/*
 * Lease items and the protocol's conditional writes: see lease_item.h. The conditions
 * here are the whole of the fencing on DynamoDB's side, so each one is spelled out next
 * to the DESIGN.md rule it implements.
 */
#include "config.h"

#include "supervisor/lease_item.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *
lease_write_name(enum lease_write_kind kind)
{
	switch (kind) {
	case LW_CREATE: return "create";
	case LW_RENEW: return "renew";
	case LW_TAKE: return "take";
	case LW_CHECKPOINT: return "checkpoint";
	case LW_HANDOFF_CHECKPOINT: return "handoff checkpoint";
	case LW_RELEASE: return "release";
	case LW_HANDOFF_REQUEST: return "handoff request";
	case LW_HANDOFF_DONE: return "handoff done";
	case LW_DELETE: return "delete";
	}
	return "write";
}

enum lease_op
lease_write_op(enum lease_write_kind kind)
{
	switch (kind) {
	case LW_RENEW: return LEASE_OP_RENEW;
	case LW_CHECKPOINT:
	case LW_HANDOFF_CHECKPOINT: return LEASE_OP_CHECKPOINT;
	case LW_TAKE: return LEASE_OP_TAKE;
	case LW_RELEASE: return LEASE_OP_RELEASE;
	case LW_HANDOFF_REQUEST:
	case LW_HANDOFF_DONE: return LEASE_OP_HANDOFF;
	case LW_CREATE: return LEASE_OP_CREATE;
	case LW_DELETE: return LEASE_OP_DELETE;
	}
	return LEASE_OP_COUNT;
}

const char *
lease_op_name(enum lease_op op)
{
	static const char *const names[LEASE_OP_COUNT] = {
		[LEASE_OP_RENEW] = "renew",
		[LEASE_OP_CHECKPOINT] = "checkpoint",
		[LEASE_OP_TAKE] = "take",
		[LEASE_OP_RELEASE] = "release",
		[LEASE_OP_HANDOFF] = "handoff",
		[LEASE_OP_CREATE] = "create",
		[LEASE_OP_DELETE] = "delete",
	};

	return (unsigned)op < LEASE_OP_COUNT ? names[op] : NULL;
}

/* Copies an optional string attribute into a field of size `size`. */
static int
get_str(const struct ddb_item *it, const char *name, char *out, size_t size, bool required,
    char *why, size_t whylen)
{
	const char *s = ddb_item_s(it, name);

	out[0] = '\0';
	if (!s) {
		if (ddb_item_type(it, name) != DDB_T_NONE) {
			snprintf(why, whylen, "%s is not a string", name);
			return -1;
		}
		if (required) {
			snprintf(why, whylen, "%s is missing", name);
			return -1;
		}
		return 0;
	}
	if (strlen(s) >= size) {
		snprintf(why, whylen, "%s is longer than %zu bytes", name, size - 1);
		return -1;
	}
	if (required && s[0] == '\0') {
		snprintf(why, whylen, "%s is empty", name);
		return -1;
	}
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

/* An optional non-negative integer attribute (absent = 0). */
static int
get_count(const struct ddb_item *it, const char *name, uint64_t *out, char *why, size_t whylen)
{
	int64_t v;

	*out = 0;
	if (ddb_item_type(it, name) == DDB_T_NONE)
		return 0;
	if (ddb_item_int(it, name, &v) < 0 || v < 0) {
		snprintf(why, whylen, "%s is not a non-negative integer", name);
		return -1;
	}
	*out = (uint64_t)v;
	return 0;
}

/* A string set of shard ids (absent = none). A single S is accepted too: some KCL
 * versions wrote parentShardId as a plain string. */
static int
get_ids(const struct ddb_item *it, const char *name, char (*out)[LEASE_KEY_MAX], int max, int *n,
    char *why, size_t whylen)
{
	size_t count;

	*n = 0;
	if (ddb_item_type(it, name) == DDB_T_S) {
		if (get_str(it, name, out[0], LEASE_KEY_MAX, false, why, whylen) < 0)
			return -1;
		*n = out[0][0] != '\0';
		return 0;
	}
	if (ddb_item_type(it, name) == DDB_T_NONE)
		return 0;
	if (ddb_item_type(it, name) != DDB_T_SS) {
		snprintf(why, whylen, "%s is not a string set", name);
		return -1;
	}
	count = ddb_item_ss_count(it, name);
	if (count > (size_t)max) {
		snprintf(why, whylen, "%s has %zu shard ids, at most %d expected", name, count,
		    max);
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		const char *s = ddb_item_ss_at(it, name, i);
		if (!s || s[0] == '\0' || strlen(s) >= LEASE_KEY_MAX) {
			snprintf(why, whylen, "%s has a malformed shard id", name);
			return -1;
		}
		memcpy(out[i], s, strlen(s) + 1);
	}
	*n = (int)count;
	return 0;
}

int
lease_from_item(const struct ddb_item *it, struct lease *out, char *why, size_t whylen)
{
	const char *entity = ddb_item_s(it, LA_ENTITY_TYPE);

	memset(out, 0, sizeof(*out));
	if (!it->attrs) {
		snprintf(why, whylen, "no item");
		return -1;
	}
	/* Any kind but a lease is left alone, including kinds newer than this code. */
	if (ddb_item_type(it, LA_ENTITY_TYPE) != DDB_T_NONE &&
	    (!entity || strcmp(entity, LA_ENTITY_LEASE) != 0)) {
		const char *key = ddb_item_s(it, LA_KEY);
		snprintf(why, whylen, "%.128s is a KCL %.64s item, not a lease",
		    key ? key : "(no key)", entity ? entity : "(non-string entityType)");
		return 1;
	}
	if (get_str(it, LA_KEY, out->key, sizeof(out->key), true, why, whylen) < 0 ||
	    get_str(it, LA_OWNER, out->owner, sizeof(out->owner), false, why, whylen) < 0 ||
	    get_count(it, LA_COUNTER, &out->counter, why, whylen) < 0 ||
	    get_str(it, LA_CHECKPOINT, out->checkpoint, sizeof(out->checkpoint), false, why,
	        whylen) < 0 ||
	    get_count(it, LA_CHECKPOINT_SUB, &out->checkpoint_sub, why, whylen) < 0 ||
	    get_count(it, LA_SWITCHES, &out->owner_switches, why, whylen) < 0 ||
	    get_ids(it, LA_PARENTS, out->parents, LEASE_MAX_PARENTS, &out->nparents, why, whylen) <
	        0 ||
	    get_ids(it, LA_CHILDREN, out->children, LEASE_MAX_CHILDREN, &out->nchildren, why,
	        whylen) < 0 ||
	    get_str(it, LA_CHECKPOINT_OWNER, out->checkpoint_owner, sizeof(out->checkpoint_owner),
	        false, why, whylen) < 0 ||
	    get_str(it, LA_START_HASH, out->starting_hash, sizeof(out->starting_hash), false, why,
	        whylen) < 0 ||
	    get_str(it, LA_END_HASH, out->ending_hash, sizeof(out->ending_hash), false, why,
	        whylen) < 0 ||
	    get_str(it, LA_KLS_OWNER, out->kls_owner, sizeof(out->kls_owner), false, why, whylen) <
	        0) {
		/* Name the item when we know its key. */
		if (out->key[0]) {
			char tmp[256];
			snprintf(tmp, sizeof(tmp), "%s", why);
			snprintf(why, whylen, "lease %s: %s", out->key, tmp);
		}
		return -1;
	}
	return 0;
}

static void
set_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

static struct ddb_write *
update(const char *table, const struct lease *l, struct lease *after)
{
	*after = *l;
	return ddb_update_new(table, LA_KEY, ddb_s(l->key));
}

struct ddb_write *
lease_write_create(const char *table, const struct lease *l, struct lease *after)
{
	const char
	    *ids[LEASE_MAX_PARENTS > LEASE_MAX_CHILDREN ? LEASE_MAX_PARENTS : LEASE_MAX_CHILDREN];
	struct ddb_write *w = ddb_put_new(table);

	if (!w)
		return NULL;
	*after = *l;
	after->owner[0] = '\0';
	after->checkpoint_owner[0] = '\0';
	after->counter = 0;
	after->owner_switches = 0;
	ddb_set(w, LA_KEY, ddb_s(l->key));
	ddb_set(w, LA_COUNTER, ddb_int(0));
	ddb_set(w, LA_CHECKPOINT, ddb_s(l->checkpoint));
	ddb_set(w, LA_CHECKPOINT_SUB, ddb_int((int64_t)l->checkpoint_sub));
	ddb_set(w, LA_SWITCHES, ddb_int(0));
	/* DynamoDB refuses empty sets and empty strings in keys' neighbours alike: absent
	 * attributes stand for "none". */
	if (l->nparents > 0) {
		for (int i = 0; i < l->nparents; i++)
			ids[i] = l->parents[i];
		ddb_set(w, LA_PARENTS, ddb_ss(ids, (size_t)l->nparents));
	}
	if (l->nchildren > 0) {
		for (int i = 0; i < l->nchildren; i++)
			ids[i] = l->children[i];
		ddb_set(w, LA_CHILDREN, ddb_ss(ids, (size_t)l->nchildren));
	}
	if (l->starting_hash[0])
		ddb_set(w, LA_START_HASH, ddb_s(l->starting_hash));
	if (l->ending_hash[0])
		ddb_set(w, LA_END_HASH, ddb_s(l->ending_hash));
	/* Shard sync on two hosts at once: the first create wins, the other is a no-op. */
	ddb_cond_not_exists(w, LA_KEY);
	return w;
}

struct ddb_write *
lease_write_renew(const char *table, const struct lease *l, const char *me, struct lease *after)
{
	struct ddb_write *w = update(table, l, after);

	if (!w)
		return NULL;
	after->counter = l->counter + 1;
	set_str(after->kls_owner, sizeof(after->kls_owner), me);
	ddb_set(w, LA_COUNTER, ddb_int((int64_t)after->counter));
	/* Marks the owner as a kls worker: a lease taken before klsOwner existed gets it
	 * on its next renew. */
	ddb_set(w, LA_KLS_OWNER, ddb_s(me));
	/* Only the owner renews, only from the counter it last wrote, and never while a
	 * handoff is pending: a handoff request makes our next renew fail, which is how we
	 * learn about it. */
	ddb_cond_eq(w, LA_COUNTER, ddb_int((int64_t)l->counter));
	ddb_cond_eq(w, LA_OWNER, ddb_s(me));
	ddb_cond_not_exists(w, LA_CHECKPOINT_OWNER);
	return w;
}

struct ddb_write *
lease_write_take(const char *table, const struct lease *l, const char *me, struct lease *after)
{
	struct ddb_write *w = update(table, l, after);

	if (!w)
		return NULL;
	set_str(after->owner, sizeof(after->owner), me);
	set_str(after->kls_owner, sizeof(after->kls_owner), me);
	after->counter = l->counter + 1;
	after->owner_switches = l->owner_switches + 1;
	after->checkpoint_owner[0] = '\0';
	ddb_set(w, LA_OWNER, ddb_s(me));
	ddb_set(w, LA_KLS_OWNER, ddb_s(me));
	ddb_set(w, LA_COUNTER, ddb_int((int64_t)after->counter));
	ddb_set(w, LA_SWITCHES, ddb_int((int64_t)after->owner_switches));
	/* A forced take after a stalled handoff clears the marker; for any other take
	 * there is nothing to remove. */
	ddb_remove(w, LA_CHECKPOINT_OWNER);
	/* The counter is what the scan saw stay still for failover_ms (or a free lease's):
	 * any write since, by anyone, makes this take fail. */
	ddb_cond_eq(w, LA_COUNTER, ddb_int((int64_t)l->counter));
	return w;
}

struct ddb_write *
lease_write_checkpoint(const char *table, enum lease_write_kind kind, const struct lease *l,
    const char *me, const char *seq, uint64_t sub, struct lease *after)
{
	struct ddb_write *w = update(table, l, after);

	if (!w)
		return NULL;
	set_str(after->checkpoint, sizeof(after->checkpoint), seq);
	after->checkpoint_sub = sub;
	after->counter = l->counter + 1;
	after->owner_switches = 0;
	ddb_set(w, LA_CHECKPOINT, ddb_s(seq));
	ddb_set(w, LA_CHECKPOINT_SUB, ddb_int((int64_t)sub));
	ddb_set(w, LA_COUNTER, ddb_int((int64_t)after->counter));
	ddb_set(w, LA_SWITCHES, ddb_int(0));
	/* A KCL application's prepared (two-phase) checkpoint is behind this one now; KCL
	 * drops it the same way when it checkpoints. */
	ddb_remove(w, LA_PENDING_CHECKPOINT);
	ddb_remove(w, LA_PENDING_CHECKPOINT_SUB);
	ddb_remove(w, LA_PENDING_CHECKPOINT_STATE);
	/* Fenced: only the holder of counter c writes a checkpoint. During a handoff the
	 * old owner is no longer leaseOwner but still checkpointOwner, and its final
	 * checkpoint is fenced on that instead. */
	ddb_cond_eq(w, LA_COUNTER, ddb_int((int64_t)l->counter));
	ddb_cond_eq(w, kind == LW_HANDOFF_CHECKPOINT ? LA_CHECKPOINT_OWNER : LA_OWNER, ddb_s(me));
	return w;
}

struct ddb_write *
lease_write_release(const char *table, const struct lease *l, const char *me, struct lease *after)
{
	struct ddb_write *w = update(table, l, after);

	if (!w)
		return NULL;
	after->owner[0] = '\0';
	after->counter = l->counter + 1;
	ddb_remove(w, LA_OWNER);
	ddb_set(w, LA_COUNTER, ddb_int((int64_t)after->counter));
	ddb_cond_eq(w, LA_OWNER, ddb_s(me));
	ddb_cond_eq(w, LA_COUNTER, ddb_int((int64_t)l->counter));
	return w;
}

struct ddb_write *
lease_write_handoff_request(const char *table, const struct lease *l, const char *me,
    struct lease *after)
{
	struct ddb_write *w = update(table, l, after);

	if (!w)
		return NULL;
	set_str(after->owner, sizeof(after->owner), me);
	set_str(after->kls_owner, sizeof(after->kls_owner), me);
	set_str(after->checkpoint_owner, sizeof(after->checkpoint_owner), l->owner);
	after->counter = l->counter + 1;
	ddb_set(w, LA_OWNER, ddb_s(me));
	ddb_set(w, LA_KLS_OWNER, ddb_s(me));
	ddb_set(w, LA_CHECKPOINT_OWNER, ddb_s(l->owner));
	ddb_set(w, LA_COUNTER, ddb_int((int64_t)after->counter));
	ddb_cond_eq(w, LA_OWNER, ddb_s(l->owner));
	ddb_cond_eq(w, LA_COUNTER, ddb_int((int64_t)l->counter));
	ddb_cond_not_exists(w, LA_CHECKPOINT_OWNER);
	return w;
}

struct ddb_write *
lease_write_handoff_done(const char *table, const struct lease *l, const char *me,
    struct lease *after)
{
	struct ddb_write *w = update(table, l, after);

	if (!w)
		return NULL;
	after->checkpoint_owner[0] = '\0';
	after->counter = l->counter + 1;
	ddb_remove(w, LA_CHECKPOINT_OWNER);
	ddb_set(w, LA_COUNTER, ddb_int((int64_t)after->counter));
	ddb_cond_eq(w, LA_CHECKPOINT_OWNER, ddb_s(me));
	ddb_cond_eq(w, LA_COUNTER, ddb_int((int64_t)l->counter));
	return w;
}

struct ddb_write *
lease_write_delete(const char *table, const struct lease *l)
{
	struct ddb_write *w = ddb_delete_new(table, LA_KEY, ddb_s(l->key));

	if (!w)
		return NULL;
	/* Only a finished lease goes: a lease that somehow has a sequence checkpoint again
	 * still has records to read. */
	ddb_cond_eq(w, LA_CHECKPOINT, ddb_s(CHECKPOINT_SHARD_END));
	return w;
}

bool
lease_write_landed(enum lease_write_kind kind, const struct lease *after,
    const struct lease *current, bool exists)
{
	switch (kind) {
	case LW_CREATE: return exists;
	case LW_DELETE: return !exists;
	default: break;
	}
	if (!exists)
		return false;
	if (current->counter != after->counter || strcmp(current->owner, after->owner) != 0 ||
	    strcmp(current->checkpoint_owner, after->checkpoint_owner) != 0)
		return false;
	if (kind == LW_CHECKPOINT || kind == LW_HANDOFF_CHECKPOINT)
		return strcmp(current->checkpoint, after->checkpoint) == 0 &&
		       current->checkpoint_sub == after->checkpoint_sub;
	return true;
}
