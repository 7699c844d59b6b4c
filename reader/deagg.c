/*
 * kls-reader's KPL de-aggregation: a GetRecords response into the handler's batch.
 * See deagg.h for what happens to each kind of record and why the key buffer is
 * bounded.
 */
#include "config.h"

#include "reader/deagg.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

_Static_assert(KPL_LIMIT < KLS_SHM_KPL_REASONS, "progress.kpl_invalid has an entry per reason");

int
deagg_init(struct deagg *d, const char *shard_id, const char *hash_start, const char *hash_end)
{
	memset(d, 0, sizeof(*d));
	if (kpl_init(&d->kpl, NULL) < 0)
		return -1;
	if (hash_start[0] == '\0' && hash_end[0] == '\0') {
		log_info("%s: klsd gave no hash-key range: KPL aggregates are not checked "
		         "against the shard's range",
		    shard_id);
		return 0;
	}
	if (kpl_hash_range_parse(&d->range, hash_start, hash_end) < 0) {
		log_warnx("%s: hash-key range \"%.40s\"..\"%.40s\" from klsd is not a 128-bit "
		          "range: KPL aggregates are not checked against it",
		    shard_id, hash_start, hash_end);
		return 0;
	}
	d->have_range = true;
	log_debug("%s: hash-key range %s..%s", shard_id, hash_start, hash_end);
	return 0;
}

void
deagg_free(struct deagg *d)
{
	kpl_free(&d->kpl);
	free(d->keys);
	free(d->tab);
	memset(d, 0, sizeof(*d));
}

_Static_assert(KPL_MAGIC_LEN == sizeof(uint32_t), "has_magic compares one 32-bit word");

/* Asked of every record of every batch: one word compare, where memcmp with the
 * extern kpl_magic was a library call per record. */
static inline bool
has_magic(const struct getrecords_record *g)
{
	uint32_t a, m;

	if (g->data_len < KPL_MAGIC_LEN)
		return false;
	memcpy(&a, g->data, sizeof(a));
	memcpy(&m, kpl_magic, sizeof(m));
	return a == m;
}

/* Room for want records in *recs. */
static int
grow_records(struct kls_record **recs, size_t *cap, size_t want)
{
	struct kls_record *p;
	size_t c = *cap ? *cap : 64;

	if (want <= *cap)
		return 0;
	while (c < want)
		c = c > SIZE_MAX / 2 ? want : c * 2;
	if (!(p = reallocarray(*recs, c, sizeof(*p))))
		return -1;
	*recs = p;
	*cap = c;
	return 0;
}

/* A NUL-terminated copy of a key table entry in the batch's key buffer. */
static const char *
copy_key(struct deagg *d, const struct kpl_key *k)
{
	char *p = d->keys + d->keys_len;

	/* deagg.h proves this cannot happen; refuse rather than overrun if it ever did. */
	if (k->len >= d->keys_cap - d->keys_len) {
		errno = EOVERFLOW;
		return NULL;
	}
	memcpy(p, k->ptr, k->len);
	p[k->len] = '\0';
	d->keys_len += k->len + 1;
	return p;
}

/* Copies the last aggregate's key tables into d->tab: partition keys, then hash keys. */
static int
copy_tables(struct deagg *d)
{
	const struct kpl *k = &d->kpl;
	size_t n = k->n_pk + k->n_ehk;

	if (n > d->tab_cap) {
		const char **t = reallocarray(d->tab, n, sizeof(*t));

		if (!t)
			return -1;
		d->tab = t;
		d->tab_cap = n;
	}
	for (size_t i = 0; i < k->n_pk; i++)
		if (!(d->tab[i] = copy_key(d, &k->pk_table[i])))
			return -1;
	for (size_t i = 0; i < k->n_ehk; i++)
		if (!(d->tab[k->n_pk + i] = copy_key(d, &k->ehk_table[i])))
			return -1;
	return 0;
}

static struct kls_record
raw_record(const struct getrecords_record *g)
{
	return (struct kls_record){
		.data = g->data,
		.data_len = g->data_len,
		.partition_key = g->partition_key,
		.sequence_number = g->sequence_number,
		.explicit_hash_key = g->explicit_hash_key,
		.sub_sequence_number = 0,
		.approximate_arrival_ms = g->arrival_ms,
	};
}

/* Whether the last aggregate stays: in range, or no range to check. 1, 0 (dropped,
 * counted, logged once per batch), -1 (EIO). */
static int
in_range(struct deagg *d, const char *shard_id, const struct getrecords_record *g,
    struct kls_progress *prog, bool *logged)
{
	size_t outside = 0;
	int c;

	if (!d->have_range || (c = kpl_check_hash_range(&d->kpl, &d->range, &outside)) == 1)
		return 1;
	if (c < 0)
		return -1;
	prog->kpl_dropped_aggregates++;
	prog->kpl_dropped_records += d->kpl.n_records;
	if (!*logged) {
		log_warnx("%s: KPL aggregate %s: user record %zu of %zu is outside the shard's "
		          "hash-key range (a reshard moved it to a child shard): dropping the "
		          "aggregate, as KCL does",
		    shard_id, g->sequence_number, outside, d->kpl.n_records);
		*logged = true;
	}
	return 0;
}

int
deagg_batch(struct deagg *d, const char *shard_id, const struct getrecords_result *res,
    struct kls_record **recs, size_t *cap, size_t *n, struct kls_progress *prog)
{
	struct kpl_error err;
	size_t agg_bytes = 0, first_magic, out = 0;
	unsigned logged = 0; /* reasons already logged in this batch, one bit each */
	bool drop_logged = false;

	*n = 0;
	/* The usual batch (no KPL producer): every record as it is, in one pass that
	 * grows the array once. The first record with the magic sends the rest of the
	 * batch down the general path below, which goes on from there. */
	if (grow_records(recs, cap, res->n_records) < 0)
		goto nomem;
	for (first_magic = 0; first_magic < res->n_records; first_magic++) {
		const struct getrecords_record *g = &res->records[first_magic];

		if (has_magic(g))
			break;
		(*recs)[first_magic] = raw_record(g);
	}
	if (first_magic == res->n_records) {
		*n = res->n_records;
		return 0;
	}
	for (size_t i = first_magic; i < res->n_records; i++)
		if (has_magic(&res->records[i]))
			agg_bytes += res->records[i].data_len;
	if (agg_bytes > d->keys_cap) {
		free(d->keys);
		d->keys_cap = 0;
		if (!(d->keys = malloc(agg_bytes))) {
			log_errorx("%s: %zu bytes of KPL keys: out of memory", shard_id, agg_bytes);
			return -1;
		}
		d->keys_cap = agg_bytes;
	}
	d->keys_len = 0;
	out = first_magic;
	for (size_t i = first_magic; i < res->n_records; i++) {
		const struct getrecords_record *g = &res->records[i];
		const struct kpl *k = &d->kpl;
		int rc = has_magic(g) ? kpl_deaggregate(&d->kpl, g->data, g->data_len, &err)
		                      : KPL_NOT_AGGREGATED;

		if (rc < 0) {
			log_errorx("%s: record %s: %s", shard_id, g->sequence_number, err.message);
			return -1;
		}
		if (rc == KPL_NOT_AGGREGATED) {
			/* Not an aggregate, or a broken one: delivered as the record it is. */
			if (has_magic(g)) {
				prog->kpl_invalid[err.reason]++;
				if (!(logged & 1u << err.reason))
					log_warnx(
					    "%s: record %s has the KPL magic but is not a valid "
					    "aggregate (%s: %s): delivering it raw",
					    shard_id, g->sequence_number,
					    kpl_reason_name(err.reason), err.message);
				logged |= 1u << err.reason;
			}
			if (grow_records(recs, cap, out + 1) < 0)
				goto nomem;
			(*recs)[out++] = raw_record(g);
			continue;
		}
		prog->kpl_aggregates++;
		if ((rc = in_range(d, shard_id, g, prog, &drop_logged)) <= 0) {
			if (rc < 0) {
				log_errorx("%s: record %s: MD5 of a partition key failed", shard_id,
				    g->sequence_number);
				return -1;
			}
			continue;
		}
		if (grow_records(recs, cap, out + k->n_records) < 0 || copy_tables(d) < 0)
			goto nomem;
		for (size_t j = 0; j < k->n_records; j++) {
			const struct kpl_user_record *u = &k->records[j];

			(*recs)[out++] = (struct kls_record){
				.data = u->data,
				.data_len = u->data_len,
				.partition_key = d->tab[u->partition_key_index],
				.sequence_number = g->sequence_number,
				.explicit_hash_key =
				    u->explicit_hash_key_index == UINT32_MAX
				        ? NULL
				        : d->tab[k->n_pk + u->explicit_hash_key_index],
				.sub_sequence_number = u->sub_sequence_number,
				.approximate_arrival_ms = g->arrival_ms,
				.flags = KLS_RECORD_AGGREGATED,
			};
		}
		prog->kpl_user_records += k->n_records;
	}
	*n = out;
	return 0;
nomem:
	log_errorx("%s: %zu records: %s", shard_id, res->n_records, strerror(errno));
	return -1;
}
