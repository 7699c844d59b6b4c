/*
 * Adopting a KCL application's lease table (issue 7): tables are written here item by
 * item in KCL's own format, as its DynamoDBLeaseSerializer (2.x, 3.x), the 3.5 single
 * table format (entityType rows: WORKER_METRIC_STATS, LEADER, CLIENT_VERSION_MIGRATION)
 * and DynamoDBLeaseRefresher (key schema, on-demand billing, the KEYS_ONLY index
 * LeaseOwnerToLeaseKeyIndex) produce them, through raw DynamoDB calls and never through
 * kls's own lease writer. Then a real klsd (kls-reader, the filelog handler) runs on them:
 *
 *  - a KCL 2.x table after its workers stopped: every shard resumes right after its
 *    checkpoint (a prepared pendingCheckpoint ignored, as KCL does), inside a KPL
 *    aggregate at its sub-sequence number, a SHARD_END parent is not read again and its
 *    children are read from TRIM_HORIZON, LATEST / TRIM_HORIZON / AT_TIMESTAMP
 *    sentinels start where KCL would start;
 *  - a KCL 3.x table: the rows and attributes 3.x adds are left exactly as they were;
 *  - a live KCL worker, whose renewer a thread plays: klsd says so, takes nothing while
 *    the counters move and takes the leases a failover time after they stop.
 *
 * Every shard's handler output must be exactly the records after its checkpoint.
 */
#include "config.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/awsjson.h"
#include "common/clock.h"
#include "common/kpl_encode.h"
#include "tests/fleet.h"
#include "tests/harness.h"
#include "tools/payload.h"

#define SEQ_MAX (KINESIS_SEQUENCE_MAX + 1)
#define PAYLOAD_SIZE 48
#define DELIVERY_TIMEOUT_MS 60000

/* Worker ids as KCL applications use them (host name and a UUID). */
#define KCL_A "ip-10-0-1-17.ec2.internal:5b9d1c0e-8a3f-4f8e-9d21-0c6f2b7a4e10"
#define KCL_B "ip-10-0-2-44.ec2.internal:0e6a77c2-13b4-4c55-8f0d-6f3b0d2a9c31"

/* ---------------------------------------------------------------- raw DynamoDB */

/* DynamoDB's JSON API called directly, so the items are exactly the text written here. */
struct raw {
	struct awsj_client cl;
	bool ok;
};

static int
raw_init(struct raw *r, struct aws_creds_provider *creds)
{
	/* One attempt: a retried conditional write could fail on its own first try. */
	static const struct aws_retry_policy once = { 1, 0, 0 };
	struct aws_service_config cfg;
	struct aws_error err;
	const char *dep = test_env("DYNAMODB_ENDPOINT");

	memset(r, 0, sizeof(*r));
	if (!dep)
		return -1;
	ddb_service_config(&cfg, "us-east-1", dep, creds);
	if (awsj_client_init(&r->cl, &cfg, &once, &once, &err) < 0) {
		fprintf(stderr, "\nraw client: %s\n", err.message);
		return -1;
	}
	r->ok = true;
	return 0;
}

static void
raw_fini(struct raw *r)
{
	if (r->ok)
		awsj_client_fini(&r->cl);
	r->ok = false;
}

/* Calls action with the JSON text fmt; the parsed response (caller puts it), or NULL
 * with the error in *err (err may be NULL: printed). */
static json_object *
raw_call(struct raw *r, struct aws_error *err, const char *action, const char *fmt, ...)
{
	static __thread char text[32768];
	struct aws_error local;
	json_object *req;
	va_list ap;

	if (!err)
		err = &local;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (!(req = json_tokener_parse(text))) {
		fprintf(stderr, "\n%s: bad JSON %s\n", action, text);
		return NULL;
	}
	if (awsj_send(&r->cl, action, req, err) < 0) {
		if (err == &local)
			fprintf(stderr, "\n%s: %s\n", action, err->message);
		return NULL;
	}
	return json_tokener_parse(r->cl.resp.data ? r->cl.resp.data : "{}");
}

static bool
raw_ok(struct raw *r, const char *action, const char *fmt, const char *arg1, const char *arg2)
{
	json_object *o = raw_call(r, NULL, action, fmt, arg1, arg2);

	json_object_put(o);
	return o != NULL;
}

/*
 * The lease table as KCL creates it: hash key leaseKey (S), on-demand billing (KCL's
 * default BillingMode.PAY_PER_REQUEST); with gsi, KCL 3.x's LeaseOwnerToLeaseKeyIndex
 * (leaseOwner HASH, leaseKey RANGE, KEYS_ONLY), which 3.x adds with UpdateTable and which
 * is made here at once.
 */
static bool
kcl_create_table(struct raw *r, struct klsd_fixture *f, bool gsi)
{
	struct aws_error err;
	json_object *o;

	if (gsi)
		o = raw_call(r, NULL, "CreateTable",
		    "{\"TableName\":\"%s\",\"BillingMode\":\"PAY_PER_REQUEST\","
		    "\"KeySchema\":[{\"AttributeName\":\"leaseKey\",\"KeyType\":\"HASH\"}],"
		    "\"AttributeDefinitions\":[{\"AttributeName\":\"leaseKey\","
		    "\"AttributeType\":\"S\"},{\"AttributeName\":\"leaseOwner\","
		    "\"AttributeType\":\"S\"}],"
		    "\"GlobalSecondaryIndexes\":[{\"IndexName\":\"LeaseOwnerToLeaseKeyIndex\","
		    "\"KeySchema\":[{\"AttributeName\":\"leaseOwner\",\"KeyType\":\"HASH\"},"
		    "{\"AttributeName\":\"leaseKey\",\"KeyType\":\"RANGE\"}],"
		    "\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\"}}]}",
		    f->app);
	else
		o = raw_call(r, NULL, "CreateTable",
		    "{\"TableName\":\"%s\",\"BillingMode\":\"PAY_PER_REQUEST\","
		    "\"KeySchema\":[{\"AttributeName\":\"leaseKey\",\"KeyType\":\"HASH\"}],"
		    "\"AttributeDefinitions\":[{\"AttributeName\":\"leaseKey\","
		    "\"AttributeType\":\"S\"}]}",
		    f->app);
	json_object_put(o);
	if (!o || ddb_wait_table_active(f->ddb, f->app, 10000, &err) != DDB_OK) {
		CU_FAIL("create the KCL lease table");
		return false;
	}
	return true;
}

static bool
kcl_put_item(struct raw *r, struct klsd_fixture *f, const char *item)
{
	if (!raw_ok(r, "PutItem", "{\"TableName\":\"%s\",\"Item\":%s}", f->app, item)) {
		fprintf(stderr, "item %s\n", item);
		CU_FAIL("put a KCL item");
		return false;
	}
	return true;
}

/* A lease as KCL's DynamoDBLeaseSerializer.toDynamoRecord writes it. */
struct kcl_lease {
	const char *key;
	const char *owner; /* NULL: a free lease (no leaseOwner) */
	long long counter;
	long long switches;
	const char *checkpoint; /* sequence number or sentinel */
	long long sub;
	const char *parent; /* parentShardId (SS of one), or NULL */
	const char *children[2];
	const char *pending;               /* pendingCheckpoint (sub 0), or NULL */
	const struct kinesis_shard *range; /* startingHashKey / endingHashKey, or NULL */
	const char *extra;                 /* more members (",\"x\":{...}"), or NULL */
};

static void
kcl_item(const struct kcl_lease *k, char *out, size_t size)
{
	size_t n = 0;

#define APPEND(...) n += (size_t)snprintf(out + n, n < size ? size - n : 0, __VA_ARGS__)
	APPEND("{\"leaseKey\":{\"S\":\"%s\"},\"leaseCounter\":{\"N\":\"%lld\"}", k->key,
	    k->counter);
	if (k->owner)
		APPEND(",\"leaseOwner\":{\"S\":\"%s\"}", k->owner);
	APPEND(",\"ownerSwitchesSinceCheckpoint\":{\"N\":\"%lld\"}", k->switches);
	APPEND(",\"checkpoint\":{\"S\":\"%s\"},\"checkpointSubSequenceNumber\":{\"N\":\"%lld\"}",
	    k->checkpoint, k->sub);
	if (k->parent)
		APPEND(",\"parentShardId\":{\"SS\":[\"%s\"]}", k->parent);
	if (k->children[0])
		APPEND(",\"childShardIds\":{\"SS\":[\"%s\",\"%s\"]}", k->children[0],
		    k->children[1]);
	if (k->pending)
		APPEND(",\"pendingCheckpoint\":{\"S\":\"%s\"},"
		       "\"pendingCheckpointSubSequenceNumber\":{\"N\":\"0\"}",
		    k->pending);
	if (k->range)
		APPEND(",\"startingHashKey\":{\"S\":\"%s\"},\"endingHashKey\":{\"S\":\"%s\"}",
		    k->range->starting_hash_key, k->range->ending_hash_key);
	APPEND("%s}", k->extra ? k->extra : "");
#undef APPEND
	if (n >= size)
		CU_FAIL("KCL item too long");
}

static bool
kcl_put_lease(struct raw *r, struct klsd_fixture *f, const struct kcl_lease *k)
{
	char item[4096];

	kcl_item(k, item, sizeof(item));
	return kcl_put_item(r, f, item);
}

/* Every item of the table, keyed by leaseKey (a JSON object: leaseKey -> item). */
static json_object *
raw_items(struct raw *r, struct klsd_fixture *f)
{
	json_object *o =
	    raw_call(r, NULL, "Scan", "{\"TableName\":\"%s\",\"ConsistentRead\":true}", f->app);
	json_object *items, *by_key = json_object_new_object();

	if (o && json_object_object_get_ex(o, "Items", &items)) {
		for (size_t i = 0; i < json_object_array_length(items); i++) {
			json_object *it = json_object_array_get_idx(items, i), *k, *s;
			if (json_object_object_get_ex(it, "leaseKey", &k) &&
			    json_object_object_get_ex(k, "S", &s))
				json_object_object_add(by_key, json_object_get_string(s),
				    json_object_get(it));
		}
		CU_ASSERT_FALSE(json_object_object_get_ex(o, "LastEvaluatedKey", NULL));
	} else {
		CU_FAIL("scan the table");
	}
	json_object_put(o);
	return by_key;
}

/* ---------------------------------------------------------------- the stream */

static bool
list_shards(struct klsd_fixture *f, struct kinesis_shard_list *l)
{
	struct aws_error err;

	if (kinesis_list_shards(f->kin, f->stream, NULL, l, &err) < 0) {
		fprintf(stderr, "\nListShards: %s\n", err.message);
		CU_FAIL("ListShards");
		return false;
	}
	return true;
}

/* Records first..first+n-1 ("seq=<n> " payloads) into the shard whose hash range starts
 * at hash, one PutRecords call; their sequence numbers into seqs (may be NULL). */
static bool
put_records(struct klsd_fixture *f, const char *hash, int first, int n, char (*seqs)[SEQ_MAX])
{
	struct kinesis_put_entry e[32];
	struct kinesis_put_result res[32];
	char data[32][PAYLOAD_SIZE + 1], pk[32][16];
	struct aws_error err;
	size_t failed = 0;

	if (n > 32)
		return false;
	for (int i = 0; i < n; i++) {
		size_t len = payload_fill(data[i], PAYLOAD_SIZE, (uint64_t)(first + i));
		snprintf(pk[i], sizeof(pk[i]), "pk-%d", first + i);
		e[i] = (struct kinesis_put_entry){ data[i], len, pk[i], hash };
	}
	if (kinesis_put_records(f->kin, f->stream, e, (size_t)n, res, &failed, &err) < 0 ||
	    failed) {
		fprintf(stderr, "\nput: %s\n", failed ? "records refused" : err.message);
		CU_FAIL("put records");
		return false;
	}
	for (int i = 0; seqs && i < n; i++)
		snprintf(seqs[i], SEQ_MAX, "%s", res[i].sequence_number);
	return true;
}

/* Records first..first+n-1 as one KPL aggregate (sub-sequence numbers 0..n-1). */
static bool
put_aggregate(struct klsd_fixture *f, const char *hash, int first, int n, char *seq)
{
	struct kpl_entry e[16];
	char data[16][PAYLOAD_SIZE + 1], pk[16][16];
	struct kinesis_put_entry pe;
	struct kinesis_put_result res;
	struct kls_buf b;
	struct aws_error err;
	size_t failed = 0;
	bool ok;

	for (int i = 0; i < n && i < 16; i++) {
		size_t len = payload_fill(data[i], PAYLOAD_SIZE, (uint64_t)(first + i));
		snprintf(pk[i], sizeof(pk[i]), "pk-%d", first + i);
		/* Each user record in the shard's range too: KCL (and kls) drop the user
		 * records of an aggregate that hash outside the shard. */
		e[i] = (struct kpl_entry){ data[i], len, pk[i], strlen(pk[i]), hash, strlen(hash) };
	}
	buf_init(&b, 0);
	ok = kpl_encode(&b, e, (size_t)n) == 0;
	pe = (struct kinesis_put_entry){ b.data, b.len, "agg", hash };
	ok = ok && kinesis_put_records(f->kin, f->stream, &pe, 1, &res, &failed, &err) == 0 &&
	     !failed;
	buf_free(&b);
	if (!ok) {
		CU_FAIL("put an aggregate");
		return false;
	}
	snprintf(seq, SEQ_MAX, "%s", res.sequence_number);
	return true;
}

/* ---------------------------------------------------------------- the output */

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

/* Lines with a record number, in every shard's output. */
static size_t
output_lines(struct fleet *fl)
{
	size_t n = 0;

	if (ov_load(&fl->ov, fl->out) < 0)
		return 0;
	for (size_t s = 0; s < fl->ov.n; s++)
		for (size_t i = 0; i < fl->ov.s[s].n; i++)
			n += fl->ov.s[s].v[i].rec >= 0;
	return n;
}

static bool
wait_lines(struct fleet *fl, size_t n, int timeout_ms)
{
	kls_mono end = mono_add_ms(mono_now(), timeout_ms);

	while (output_lines(fl) < n) {
		if (!mono_before(mono_now(), end)) {
			fprintf(stderr, "\n%zu of %zu records delivered\n", output_lines(fl), n);
			fixture_dump_log(&fl->w[0]);
			return false;
		}
		sleep_ms(250);
	}
	return true;
}

/* The handler saw exactly records a..b and c..d of shard, each once (b < a or d < c: an
 * empty range). */
static void
check_exact2(struct fleet *fl, const char *shard, long long a, long long b, long long c,
    long long d)
{
	const struct ov_shard *s = ov_find(&fl->ov, shard);
	size_t n = s ? s->n : 0, k = 0;
	long long *got = calloc(n + 1, sizeof(*got));
	bool ok = got != NULL;

	for (size_t i = 0; ok && i < n; i++)
		got[i] = s->v[i].rec;
	if (ok)
		qsort(got, n, sizeof(*got), cmp_ll);
	for (long long r = a; ok && r <= b; r++)
		ok = k < n && got[k++] == r;
	for (long long r = c; ok && r <= d; r++)
		ok = k < n && got[k++] == r;
	ok = ok && k == n;
	if (!ok) {
		fprintf(stderr, "\n%s: want records %lld..%lld and %lld..%lld, got", shard, a, b, c,
		    d);
		for (size_t i = 0; got && i < n; i++)
			fprintf(stderr, " %lld", got[i]);
		fprintf(stderr, "\n");
	}
	CU_ASSERT_TRUE(ok);
	free(got);
}

static void
check_exact(struct fleet *fl, const char *shard, long long first, long long last)
{
	check_exact2(fl, shard, first, last, 0, -1);
}

static const struct kinesis_shard *
child_of(const struct kinesis_shard_list *l, const char *parent, int nth)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->shards[i].parent_shard_id, parent) == 0 && nth-- == 0)
			return &l->shards[i];
	return NULL;
}

static bool
owned_by(struct klsd_fixture *f, const char *key, const char *owner)
{
	struct lease *v;
	int n = fixture_leases(f, &v);
	bool yes = false;

	for (int i = 0; i < n; i++)
		yes |= strcmp(v[i].key, key) == 0 && strcmp(v[i].owner, owner) == 0;
	if (n > 0)
		free(v);
	return yes;
}

/* ---------------------------------------------------------------- KCL 2.x */

enum { S_SEQ, S_TRIM, S_AGG, S_PARENT, S_LATEST, S_TS, NSHARDS };

static void
test_kcl_adopt_kcl2_table(void)
{
	struct fleet fl;
	struct raw r = { 0 };
	struct kinesis_shard_list l = { 0 }, after = { 0 };
	char seq0[10][SEQ_MAX], agg[2][SEQ_MAX], split[KINESIS_HASH_KEY_MAX + 1], ts[64];
	char id[NSHARDS][KINESIS_SHARD_ID_MAX + 1], extra[256];
	const struct kinesis_shard *c1, *c2;
	struct aws_error err;
	struct timespec now;
	json_object *items = NULL, *it, *v;
	struct lease *leases = NULL;
	int nl = 0;

	if (fleet_init(&fl, "kcl2", NSHARDS, 1, "KINESIS_ENDPOINT") < 0 ||
	    raw_init(&r, fl.w[0].creds) < 0 || !list_shards(&fl.w[0], &l) || l.n != NSHARDS)
		goto out;
	for (int i = 0; i < NSHARDS; i++)
		snprintf(id[i], sizeof(id[i]), "%s", l.shards[i].shard_id);

	/* What the KCL application had read and what came after. */
	if (!put_records(&fl.w[0], l.shards[S_SEQ].starting_hash_key, 0, 10, seq0) ||
	    !put_records(&fl.w[0], l.shards[S_TRIM].starting_hash_key, 10, 10, NULL) ||
	    !put_aggregate(&fl.w[0], l.shards[S_AGG].starting_hash_key, 20, 5, agg[0]) ||
	    !put_aggregate(&fl.w[0], l.shards[S_AGG].starting_hash_key, 25, 5, agg[1]) ||
	    !put_records(&fl.w[0], l.shards[S_PARENT].starting_hash_key, 30, 10, NULL) ||
	    !put_records(&fl.w[0], l.shards[S_LATEST].starting_hash_key, 60, 5, NULL) ||
	    !put_records(&fl.w[0], l.shards[S_TS].starting_hash_key, 70, 5, NULL))
		goto out;
	/* AT_TIMESTAMP: a time between records 70..74 and 75..79. */
	sleep_ms(1000);
	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(ts, sizeof(ts), "%lld.%03ld", (long long)now.tv_sec, now.tv_nsec / 1000000);
	sleep_ms(1000);
	if (!put_records(&fl.w[0], l.shards[S_TS].starting_hash_key, 75, 5, NULL))
		goto out;

	/* The parent is split and finished; its children get records. */
	if (kinesis_hash_key_split_point(l.shards[S_PARENT].starting_hash_key,
	        l.shards[S_PARENT].ending_hash_key, split, sizeof(split)) < 0 ||
	    kinesis_split_shard(fl.w[0].kin, fl.w[0].stream, id[S_PARENT], split, &err) < 0 ||
	    kinesis_wait_active(fl.w[0].kin, fl.w[0].stream, 30000, NULL, &err) < 0) {
		CU_FAIL("split");
		goto out;
	}
	if (!list_shards(&fl.w[0], &after) || !(c1 = child_of(&after, id[S_PARENT], 0)) ||
	    !(c2 = child_of(&after, id[S_PARENT], 1))) {
		CU_FAIL("children");
		goto out;
	}
	if (!put_records(&fl.w[0], c1->starting_hash_key, 40, 10, NULL) ||
	    !put_records(&fl.w[0], c2->starting_hash_key, 50, 10, NULL))
		goto out;

	/* The table KCL 2.x left when its workers stopped. */
	{
		const struct kcl_lease k[] = {
			/* Records 0..4 done; a prepared checkpoint at 7 was never committed. */
			{ id[S_SEQ], KCL_A, 1234, 0, seq0[4], 0, NULL, { NULL }, seq0[7],
			    &l.shards[S_SEQ], NULL },
			{ id[S_TRIM], KCL_B, 57, 2, "TRIM_HORIZON", 0, NULL, { NULL }, NULL,
			    &l.shards[S_TRIM], NULL },
			/* User records 0..2 of the first aggregate done; a free lease. */
			{ id[S_AGG], NULL, 980, 0, agg[0], 2, NULL, { NULL }, NULL,
			    &l.shards[S_AGG], NULL },
			{ id[S_PARENT], KCL_A, 77, 0, "SHARD_END", 0, NULL,
			    { c1->shard_id, c2->shard_id }, NULL, &l.shards[S_PARENT], NULL },
			/* KCL created the first child's lease, not yet the second's. */
			{ c1->shard_id, NULL, 0, 0, "TRIM_HORIZON", 0, id[S_PARENT], { NULL }, NULL,
			    c1, NULL },
			{ id[S_LATEST], KCL_B, 3, 0, "LATEST", 0, NULL, { NULL }, NULL,
			    &l.shards[S_LATEST], NULL },
			{ id[S_TS], KCL_B, 3, 0, "AT_TIMESTAMP", 0, NULL, { NULL }, NULL,
			    &l.shards[S_TS], NULL },
		};
		if (!kcl_create_table(&r, &fl.w[0], false))
			goto out;
		for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
			if (!kcl_put_lease(&r, &fl.w[0], &k[i]))
				goto out;
	}

	snprintf(extra, sizeof(extra),
	    "[reader]\ninitial_position = AT_TIMESTAMP\n"
	    "initial_timestamp = %s\n",
	    ts);
	if (fleet_config(&fl, 0, extra) < 0)
		goto out;
	fleet_monitor_start(&fl);
	if (!fleet_start(&fl, 0))
		goto out;
	/* 5..9, 10..19, 23..29, 40..59, 75..79. */
	if (!wait_lines(&fl, 5 + 10 + 7 + 20 + 5, DELIVERY_TIMEOUT_MS)) {
		CU_FAIL("records after the checkpoints not delivered");
		goto out;
	}
	/* LATEST: the reader started at the tip, so only what comes after it counts. */
	{
		kls_mono end = mono_add_ms(mono_now(), 30000);
		while (!owned_by(&fl.w[0], id[S_LATEST], fl.w[0].worker) &&
		       mono_before(mono_now(), end))
			sleep_ms(200);
	}
	CU_ASSERT_TRUE(owned_by(&fl.w[0], id[S_LATEST], fl.w[0].worker));
	sleep_ms(3000);
	if (!put_records(&fl.w[0], l.shards[S_LATEST].starting_hash_key, 65, 5, NULL))
		goto out;
	CU_ASSERT_TRUE(wait_lines(&fl, 5 + 10 + 7 + 20 + 5 + 5, DELIVERY_TIMEOUT_MS));
	/* Anything extra would show up by now. */
	sleep_ms(2000);
	output_lines(&fl);
	check_exact(&fl, id[S_SEQ], 5, 9);
	check_exact(&fl, id[S_TRIM], 10, 19);
	check_exact(&fl, id[S_AGG], 23, 29);
	check_exact(&fl, id[S_PARENT], 0, -1);
	check_exact(&fl, c1->shard_id, 40, 49);
	check_exact(&fl, c2->shard_id, 50, 59);
	check_exact(&fl, id[S_LATEST], 65, 69);
	check_exact(&fl, id[S_TS], 75, 79);
	fleet_check_fencing(&fl);
	fleet_monitor_stop(&fl);

	/* What klsd left: checkpoints where KCL would have them, the stale prepared
	 * checkpoint dropped, the parent still finished. */
	items = raw_items(&r, &fl.w[0]);
	if (json_object_object_get_ex(items, id[S_SEQ], &it)) {
		CU_ASSERT_FALSE(json_object_object_get_ex(it, "pendingCheckpoint", NULL));
		CU_ASSERT_FALSE(
		    json_object_object_get_ex(it, "pendingCheckpointSubSequenceNumber", NULL));
	}
	if (json_object_object_get_ex(items, id[S_AGG], &it) &&
	    json_object_object_get_ex(it, "checkpointSubSequenceNumber", &v) &&
	    json_object_object_get_ex(v, "N", &v)) {
		CU_ASSERT_STRING_EQUAL(json_object_get_string(v), "4");
	} else {
		CU_FAIL("checkpointSubSequenceNumber of the aggregate shard");
	}
	nl = fixture_leases(&fl.w[0], &leases);
	CU_ASSERT_EQUAL(nl, NSHARDS + 2);
	for (int i = 0; i < nl; i++) {
		if (strcmp(leases[i].key, id[S_AGG]) == 0) {
			CU_ASSERT_STRING_EQUAL(leases[i].checkpoint, agg[1]);
		}
		if (strcmp(leases[i].key, id[S_PARENT]) == 0) {
			CU_ASSERT_STRING_EQUAL(leases[i].checkpoint, CHECKPOINT_SHARD_END);
		}
		if (strcmp(leases[i].key, c2->shard_id) == 0)
			CU_ASSERT_EQUAL(leases[i].nparents, 1);
	}
	fleet_stop_all(&fl);
out:
	if (nl > 0)
		free(leases);
	json_object_put(items);
	kinesis_shard_list_free(&l);
	kinesis_shard_list_free(&after);
	raw_fini(&r);
	fleet_done(&fl);
}

/* ---------------------------------------------------------------- KCL 3.x */

/* Attributes of a lease that kls writes (the rest must come back as they were). */
static bool
kls_writes(const char *attr)
{
	static const char *const mine[] = { "leaseOwner", "leaseCounter",
		"ownerSwitchesSinceCheckpoint", "checkpoint", "checkpointSubSequenceNumber",
		"checkpointOwner", "klsOwner", "pendingCheckpoint",
		"pendingCheckpointSubSequenceNumber", "pendingCheckpointState" };

	for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++)
		if (strcmp(attr, mine[i]) == 0)
			return true;
	return false;
}

/* before and after have the same items; those not in leases are equal, attribute for
 * attribute, and the leases' attributes kls does not write too. */
static void
check_untouched(json_object *before, json_object *after, const char *const *leases, int n)
{
	CU_ASSERT_EQUAL(json_object_object_length(before), json_object_object_length(after));
	json_object_object_foreach(before, key, b)
	{
		json_object *a;
		bool lease = false;

		for (int i = 0; i < n; i++)
			lease |= strcmp(key, leases[i]) == 0;
		if (!json_object_object_get_ex(after, key, &a)) {
			fprintf(stderr, "\nitem %s is gone\n", key);
			CU_FAIL("an item disappeared");
			continue;
		}
		if (!lease) {
			if (!json_object_equal(a, b))
				fprintf(stderr, "\nitem %s changed:\n%s\n%s\n", key,
				    json_object_to_json_string(b), json_object_to_json_string(a));
			CU_ASSERT_TRUE(json_object_equal(a, b));
			continue;
		}
		json_object_object_foreach(b, attr, bv)
		{
			json_object *av;
			if (kls_writes(attr))
				continue;
			if (!json_object_object_get_ex(a, attr, &av) ||
			    !json_object_equal(av, bv)) {
				fprintf(stderr, "\nlease %s: %s changed\n", key, attr);
				CU_FAIL("a KCL attribute of a lease changed");
			}
		}
	}
}

static void
test_kcl_adopt_kcl3_table(void)
{
	struct fleet fl;
	struct raw r = { 0 };
	struct kinesis_shard_list l = { 0 };
	char seq0[10][SEQ_MAX], item[2048];
	const char *keys[2];
	json_object *before = NULL, *after = NULL, *desc = NULL, *t, *g, *x;

	if (fleet_init(&fl, "kcl3", 2, 1, "KINESIS_ENDPOINT") < 0 ||
	    raw_init(&r, fl.w[0].creds) < 0 || !list_shards(&fl.w[0], &l) || l.n != 2)
		goto out;
	keys[0] = l.shards[0].shard_id;
	keys[1] = l.shards[1].shard_id;
	if (!put_records(&fl.w[0], l.shards[0].starting_hash_key, 0, 10, seq0) ||
	    !put_records(&fl.w[0], l.shards[1].starting_hash_key, 10, 10, NULL) ||
	    !kcl_create_table(&r, &fl.w[0], true))
		goto out;
	{
		/* 3.x leases: throughputKBps (a double), entityType on one (3.5 writes it). */
		const struct kcl_lease k[] = {
			{ keys[0], "kcl3-worker-1", 40, 0, seq0[2], 0, NULL, { NULL }, NULL,
			    &l.shards[0],
			    ",\"throughputKBps\":{\"N\":\"3.5\"},\"entityType\":{\"S\":"
			    "\"LEASE\"}" },
			{ keys[1], NULL, 12, 1, "TRIM_HORIZON", 0, NULL, { NULL }, NULL,
			    &l.shards[1], ",\"throughputKBps\":{\"N\":\"0.0\"}" },
		};
		for (size_t i = 0; i < 2; i++)
			if (!kcl_put_lease(&r, &fl.w[0], &k[i]))
				goto out;
	}
	/* The rows KCL 3.5's single table format keeps next to the leases: worker metrics
	 * (WorkerMetricStats: lut, sts, opr, sup, slu), the leader lock (DynamoDB lock
	 * client: ownerName, leaseDuration, recordVersionNumber) and the 2.x -> 3.x migration
	 * state (MigrationState "Migration3.0": cv, mb, mts, h). */
	for (int w = 1; w <= 2; w++) {
		snprintf(item, sizeof(item),
		    "{\"leaseKey\":{\"S\":\"kcl3-worker-%d\"},"
		    "\"entityType\":{\"S\":\"WORKER_METRIC_STATS\"},\"lut\":{\"N\":\"1764140000\"},"
		    "\"sts\":{\"M\":{\"CPU\":{\"L\":[{\"N\":\"12.5\"},{\"N\":\"14\"},{\"N\":\"-1\"}"
		    "]}}},"
		    "\"opr\":{\"M\":{\"CPU\":{\"L\":[{\"N\":\"100\"}]}}},"
		    "\"sup\":{\"N\":\"1\"},\"slu\":{\"N\":\"1764140000\"}}",
		    w);
		if (!kcl_put_item(&r, &fl.w[0], item))
			goto out;
	}
	if (!kcl_put_item(&r, &fl.w[0],
	        "{\"leaseKey\":{\"S\":\"Leader\"},\"entityType\":{\"S\":\"LEADER\"},"
	        "\"ownerName\":{\"S\":\"kcl3-worker-1\"},\"leaseDuration\":{\"S\":\"10000\"},"
	        "\"recordVersionNumber\":{\"S\":\"5e0a4c7e-7d1f-4c1a-9a53-2f7d0c1b9e88\"}}") ||
	    !kcl_put_item(&r, &fl.w[0],
	        "{\"leaseKey\":{\"S\":\"Migration3.0\"},"
	        "\"entityType\":{\"S\":\"CLIENT_VERSION_MIGRATION\"},"
	        "\"cv\":{\"S\":\"CLIENT_VERSION_3X\"},\"mb\":{\"S\":\"kcl3-worker-2\"},"
	        "\"mts\":{\"N\":\"1764139000000\"},\"h\":{\"L\":[{\"M\":{"
	        "\"cv\":{\"S\":\"CLIENT_VERSION_3X_WITH_ROLLBACK\"},"
	        "\"mb\":{\"S\":\"kcl3-worker-1\"},\"mts\":{\"N\":\"1764138000000\"}}}]},"
	        "\"blob\":{\"B\":\"AAECAw==\"}}"))
		goto out;
	before = raw_items(&r, &fl.w[0]);
	CU_ASSERT_EQUAL(json_object_object_length(before), 6);

	if (fleet_config(&fl, 0, NULL) < 0)
		goto out;
	fleet_monitor_start(&fl);
	if (!fleet_start(&fl, 0))
		goto out;
	CU_ASSERT_TRUE(wait_lines(&fl, 7 + 10, DELIVERY_TIMEOUT_MS));
	sleep_ms(2000);
	output_lines(&fl);
	check_exact(&fl, keys[0], 3, 9);
	check_exact(&fl, keys[1], 10, 19);
	fleet_check_fencing(&fl);
	fleet_monitor_stop(&fl);
	/* klsd saw two leases and never tried to take the other rows (a take of one fails
	 * its counter condition, as they have no leaseCounter, but must not be tried). */
	CU_ASSERT_TRUE(fixture_log_count(&fl.w[0], false,
	                   (const char *const[]){ "take cycle: 2 leases", NULL }) >= 1);
	CU_ASSERT_EQUAL(fixture_log_count(&fl.w[0], false,
	                    (const char *const[]){ "take cycle: 6 leases", NULL }),
	    0);
	for (int i = 0; i < 3; i++) {
		const char *other[] = { "take Leader", "take Migration3.0", "take kcl3-worker" };
		CU_ASSERT_EQUAL(fixture_log_count(&fl.w[0], false,
		                    (const char *const[]){ other[i], NULL }),
		    0);
	}
	fleet_stop_all(&fl);

	after = raw_items(&r, &fl.w[0]);
	check_untouched(before, after, keys, 2);
	/* The table itself: still on-demand, the index still there. */
	desc = raw_call(&r, NULL, "DescribeTable", "{\"TableName\":\"%s\"}", fl.w[0].app);
	CU_ASSERT_TRUE(
	    desc && json_object_object_get_ex(desc, "Table", &t) &&
	    json_object_object_get_ex(t, "GlobalSecondaryIndexes", &g) &&
	    json_object_array_length(g) == 1 &&
	    json_object_object_get_ex(json_object_array_get_idx(g, 0), "IndexName", &x) &&
	    strcmp(json_object_get_string(x), "LeaseOwnerToLeaseKeyIndex") == 0);
	CU_ASSERT_TRUE(desc && json_object_object_get_ex(desc, "Table", &t) &&
	               json_object_object_get_ex(t, "BillingModeSummary", &g) &&
	               json_object_object_get_ex(g, "BillingMode", &x) &&
	               strcmp(json_object_get_string(x), "PAY_PER_REQUEST") == 0);
out:
	json_object_put(before);
	json_object_put(after);
	json_object_put(desc);
	kinesis_shard_list_free(&l);
	raw_fini(&r);
	fleet_done(&fl);
}

/* ---------------------------------------------------------------- a live KCL worker */

#define KCL_LIVE "kcl-live-worker:2f9c0d7e-5a61-4b8e-8c3d-7e1f0a9b6c52"

/* KCL's lease renewer (DynamoDBLeaseRenewer -> DynamoDBLeaseRefresher.renewLease): an
 * UpdateItem that puts leaseCounter + 1, expecting the counter it last wrote and itself
 * as leaseOwner, in the legacy Expected / AttributeUpdates form KCL sends. */
struct renewer {
	pthread_t thread;
	atomic_bool stop;
	struct klsd_fixture *f;
	const char *keys[2];
	long long counter[2];
	int renewals;
	int lost; /* a renew whose condition failed: the lease was taken while live */
	kls_mono last;
};

static void *
renewer_run(void *arg)
{
	struct renewer *rn = arg;
	struct raw r;

	if (raw_init(&r, rn->f->creds) < 0)
		return NULL;
	while (!atomic_load(&rn->stop)) {
		for (int i = 0; i < 2; i++) {
			struct aws_error err;
			json_object *o = raw_call(&r, &err, "UpdateItem",
			    "{\"TableName\":\"%s\",\"Key\":{\"leaseKey\":{\"S\":\"%s\"}},"
			    "\"Expected\":{\"leaseCounter\":{\"Value\":{\"N\":\"%lld\"}},"
			    "\"leaseOwner\":{\"Value\":{\"S\":\"" KCL_LIVE "\"}}},"
			    "\"AttributeUpdates\":{\"leaseCounter\":{\"Value\":{\"N\":\"%lld\"},"
			    "\"Action\":\"PUT\"}}}",
			    rn->f->app, rn->keys[i], rn->counter[i], rn->counter[i] + 1);
			if (o) {
				rn->counter[i]++;
				rn->renewals++;
			} else if (awsj_error_is(&err, "ConditionalCheckFailedException")) {
				rn->lost++;
			}
			json_object_put(o);
		}
		rn->last = mono_now();
		sleep_ms(1000);
	}
	raw_fini(&r);
	return NULL;
}

static void
test_kcl_adopt_live_worker(void)
{
	struct fleet fl;
	struct raw r = { 0 };
	struct kinesis_shard_list l = { 0 };
	struct renewer rn = { 0 };
	char seq0[10][SEQ_MAX];
	const char *const words[] = { KCL_LIVE, "not a kls worker", "2 live leases", NULL };
	bool renewing = false;
	kls_mono stopped, end;
	int64_t ms;

	if (fleet_init(&fl, "kcl-live", 2, 1, "KINESIS_ENDPOINT") < 0 ||
	    raw_init(&r, fl.w[0].creds) < 0 || !list_shards(&fl.w[0], &l) || l.n != 2)
		goto out;
	if (!put_records(&fl.w[0], l.shards[0].starting_hash_key, 0, 10, seq0) ||
	    !put_records(&fl.w[0], l.shards[1].starting_hash_key, 10, 10, NULL) ||
	    !kcl_create_table(&r, &fl.w[0], false))
		goto out;
	{
		const struct kcl_lease k[] = {
			{ l.shards[0].shard_id, KCL_LIVE, 500, 0, seq0[4], 0, NULL, { NULL }, NULL,
			    &l.shards[0], NULL },
			{ l.shards[1].shard_id, KCL_LIVE, 700, 0, "TRIM_HORIZON", 0, NULL, { NULL },
			    NULL, &l.shards[1], NULL },
		};
		for (size_t i = 0; i < 2; i++)
			if (!kcl_put_lease(&r, &fl.w[0], &k[i]))
				goto out;
	}
	rn.f = &fl.w[0];
	rn.keys[0] = l.shards[0].shard_id;
	rn.keys[1] = l.shards[1].shard_id;
	rn.counter[0] = 500;
	rn.counter[1] = 700;
	if (pthread_create(&rn.thread, NULL, renewer_run, &rn) != 0)
		goto out;
	renewing = true;

	if (fleet_config(&fl, 0, NULL) < 0)
		goto out;
	fleet_monitor_start(&fl);
	if (!fleet_start(&fl, 0))
		goto out;
	/* klsd names the worker and leaves its leases alone for four failover times. */
	CU_ASSERT_TRUE(fixture_wait_log(&fl.w[0], false, words, 1, 20000));
	end = mono_add_ms(mono_now(), 4 * FLEET_FAILOVER_MS);
	while (mono_before(mono_now(), end)) {
		CU_ASSERT_EQUAL(fixture_owned(&fl.w[0], fl.w[0].worker), 0);
		sleep_ms(500);
	}
	CU_ASSERT_EQUAL(output_lines(&fl), 0);

	/* The KCL worker stops: its leases expire and klsd takes them. */
	atomic_store(&rn.stop, true);
	pthread_join(rn.thread, NULL);
	renewing = false;
	stopped = rn.last;
	CU_ASSERT_EQUAL(rn.lost, 0);
	CU_ASSERT_TRUE(rn.renewals >= 8);
	if (!fixture_wait_owned(&fl.w[0], fl.w[0].worker, 2, 30000)) {
		fixture_dump_log(&fl.w[0]);
		CU_FAIL("the expired KCL leases were not taken");
		goto out;
	}
	ms = mono_diff_ms(stopped, mono_now());
	fprintf(stderr, "measure: leases taken %lld ms after the KCL worker's last renewal\n",
	    (long long)ms);
	/* Never before the counters stood still for a failover time. */
	CU_ASSERT_TRUE(ms >= FLEET_FAILOVER_MS);
	CU_ASSERT_TRUE(
	    fixture_log_count(&fl.w[0], false,
	        (const char *const[]){ "no live leases of workers that are not kls", NULL }) >= 1);

	if (!put_records(&fl.w[0], l.shards[0].starting_hash_key, 20, 10, NULL) ||
	    !put_records(&fl.w[0], l.shards[1].starting_hash_key, 30, 10, NULL))
		goto out;
	CU_ASSERT_TRUE(wait_lines(&fl, 5 + 10 + 20, DELIVERY_TIMEOUT_MS));
	sleep_ms(2000);
	output_lines(&fl);
	check_exact2(&fl, l.shards[0].shard_id, 5, 9, 20, 29);
	check_exact2(&fl, l.shards[1].shard_id, 10, 19, 30, 39);
	fleet_check_fencing(&fl);
	fleet_monitor_stop(&fl);
	fleet_stop_all(&fl);
	CU_ASSERT_EQUAL(fixture_owned(&fl.w[0], NULL), 0);
out:
	if (renewing) {
		atomic_store(&rn.stop, true);
		pthread_join(rn.thread, NULL);
	}
	kinesis_shard_list_free(&l);
	raw_fini(&r);
	fleet_done(&fl);
}

static CU_TestInfo kcl_adopt_tests[] = {
	{ "KCL 2.x table after its workers stopped", test_kcl_adopt_kcl2_table },
	{ "KCL 3.x rows and attributes left alone", test_kcl_adopt_kcl3_table },
	{ "live KCL worker: leases taken only after they expire", test_kcl_adopt_live_worker },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "kcl_adopt", NULL, NULL, NULL, NULL, kcl_adopt_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
