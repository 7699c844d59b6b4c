/*
 * `kls-ctl import gokini`: turns the checkpoints of a gokini application (a Go
 * Kinesis consumer whose DynamoDB table has one item per shard: ShardID, SequenceID,
 * AssignedTo, LeaseTimeout, Closed, ParentShardID, ClaimRequest) into kls leases in
 * KCL's attribute names, so that kls resumes every shard where gokini stopped.
 *
 * What it writes for each gokini item (DESIGN.md "Lease table"): leaseKey = ShardID,
 * checkpoint = SHARD_END when Closed, else SequenceID, else TRIM_HORIZON (gokini had
 * no checkpoint: it started from its iterator type); checkpointSubSequenceNumber 0
 * (gokini never de-aggregated), leaseCounter 0, ownerSwitchesSinceCheckpoint 0,
 * parentShardId = {ParentShardID}, no leaseOwner: klsd takes the leases as free ones.
 * Each create is a PutItem with attribute_not_exists(leaseKey). An existing kls lease
 * with the same checkpoint is left alone, so a second run changes nothing; one with a
 * different checkpoint is reported and kept, unless --force, which replaces it only
 * when no worker owns it and its counter has not moved since we read it.
 *
 * When is gokini stopped? DESIGN.md forbids klsd to judge expiry by another host's
 * wall clock. This is a one-shot operator tool with no counter to watch, so it takes
 * two independent pieces of evidence, and refuses unless both say "stopped":
 *  1. every lease with an AssignedTo has a LeaseTimeout more than --margin seconds
 *     (default 60) in the past by this host's clock: a gokini worker renews its lease
 *     before it runs out, so a live one is in the future by its own clock, and the
 *     margin absorbs a skew between the two clocks up to that size;
 *  2. a second consistent scan --settle seconds (default 30) after the first shows
 *     every item unchanged: a running worker writes its item at every checkpoint and
 *     at every renewal (every LeaseDuration minus 5 s, 25 s by default), whatever
 *     its clock says.
 * A wrong clock on either side can fool only the first; a worker idle for longer than
 * --settle can fool only the second.
 */
#include "config.h"

#include "ctl/ctl.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/creds.h"
#include "common/dynamodb.h"
#include "common/timestamp.h"

extern char **environ;

/* kls's attribute names (KCL's). */
#define LK_KEY "leaseKey"
#define LK_OWNER "leaseOwner"
#define LK_COUNTER "leaseCounter"
#define LK_CHECKPOINT "checkpoint"
#define LK_SUB "checkpointSubSequenceNumber"
#define LK_SWITCHES "ownerSwitchesSinceCheckpoint"
#define LK_PARENTS "parentShardId"

#define DEFAULT_SETTLE_S 30
#define DEFAULT_MARGIN_S 60

/* ---- gokini items ---- */

/* An optional string attribute into out[size]; "" when absent. */
static int
get_s(const struct ddb_item *it, const char *name, char *out, size_t size, char *why, size_t whylen)
{
	const char *s = ddb_item_s(it, name);

	out[0] = '\0';
	if (s == NULL) {
		if (ddb_item_type(it, name) == DDB_T_NONE || ddb_item_type(it, name) == DDB_T_NULL)
			return 0;
		snprintf(why, whylen, "%s is not a string", name);
		return -1;
	}
	if (strlen(s) >= size) {
		snprintf(why, whylen, "%s is longer than %zu characters", name, size - 1);
		return -1;
	}
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

int
gokini_lease_from_item(const struct ddb_item *it, struct gokini_lease *g, char *why, size_t whylen)
{
	memset(g, 0, sizeof(*g));
	if (get_s(it, "ShardID", g->shard, sizeof(g->shard), why, whylen) == -1)
		return -1;
	if (g->shard[0] == '\0') {
		snprintf(why, whylen, "ShardID is missing");
		return -1;
	}
	if (get_s(it, "SequenceID", g->seq, sizeof(g->seq), why, whylen) == -1 ||
	    get_s(it, "AssignedTo", g->assigned, sizeof(g->assigned), why, whylen) == -1 ||
	    get_s(it, "LeaseTimeout", g->timeout_text, sizeof(g->timeout_text), why, whylen) ==
	        -1 ||
	    get_s(it, "ParentShardID", g->parent, sizeof(g->parent), why, whylen) == -1 ||
	    get_s(it, "ClaimRequest", g->claim, sizeof(g->claim), why, whylen) == -1)
		return -1;
	/* Kinesis sequence numbers: "0|([1-9]\d{0,128})". */
	if (g->seq[0] != '\0' && (strspn(g->seq, "0123456789") != strlen(g->seq) ||
	                             (g->seq[0] == '0' && g->seq[1] != '\0'))) {
		snprintf(why, whylen, "SequenceID \"%s\" is not a sequence number", g->seq);
		return -1;
	}
	if (g->timeout_text[0] != '\0' &&
	    rfc3339_parse_ms(g->timeout_text, &g->timeout_ms) == -1) {
		snprintf(why, whylen, "LeaseTimeout \"%s\" is not an RFC 3339 time",
		    g->timeout_text);
		return -1;
	}
	if (ddb_item_type(it, "Closed") != DDB_T_NONE &&
	    ddb_item_bool(it, "Closed", &g->closed) == -1) {
		snprintf(why, whylen, "Closed is not a boolean");
		return -1;
	}
	return 0;
}

const char *
gokini_kls_checkpoint(const struct gokini_lease *g)
{
	if (g->closed)
		return "SHARD_END";
	return g->seq[0] != '\0' ? g->seq : "TRIM_HORIZON";
}

bool
gokini_lease_live(const struct gokini_lease *g, int64_t now_ms, int64_t margin_ms)
{
	/* No LeaseTimeout (gokini before leases) says nothing about time: only the
	 * second scan can tell. */
	return g->assigned[0] != '\0' && g->timeout_text[0] != '\0' &&
	       g->timeout_ms > now_ms - margin_ms;
}

const char *
gokini_lease_diff(const struct gokini_lease *a, const struct gokini_lease *b)
{
	if (strcmp(a->shard, b->shard) != 0)
		return "ShardID";
	if (strcmp(a->seq, b->seq) != 0)
		return "SequenceID";
	if (strcmp(a->assigned, b->assigned) != 0)
		return "AssignedTo";
	if (strcmp(a->timeout_text, b->timeout_text) != 0)
		return "LeaseTimeout";
	if (a->closed != b->closed)
		return "Closed";
	if (strcmp(a->parent, b->parent) != 0)
		return "ParentShardID";
	if (strcmp(a->claim, b->claim) != 0)
		return "ClaimRequest";
	return NULL;
}

/* ---- the command ---- */

struct import {
	const char *from, *to, *conf;
	bool dry_run, force;
	int64_t settle_s, margin_s;
	FILE *out, *err;
	struct config *cfg;
	struct aws_creds_provider *creds;
	struct ddb_client *db;
	bool to_exists;
	unsigned created, unchanged, replaced, conflicts, errors;
};

static void
import_usage(FILE *f)
{
	fprintf(f,
	    "usage: kls-ctl import gokini --from-table TABLE [--to-table TABLE] [-c FILE]\n"
	    "                             [--dry-run] [--force] [--settle S] [--margin S]\n"
	    "\n"
	    "Writes a kls lease with the same checkpoint for every shard of a gokini table.\n"
	    "  --from-table T  the gokini table (hash key ShardID)\n"
	    "  --to-table T    the kls lease table (default: [kls] table of -c FILE)\n"
	    "  -c FILE         kls configuration for region, endpoint, profile and table;\n"
	    "                  without it they come from AWS_REGION, DYNAMODB_ENDPOINT, ...\n"
	    "  --dry-run       print what would be written (one line per lease), write nothing\n"
	    "  --force         replace kls leases that have another checkpoint (never owned ones)\n"
	    "  --settle S      seconds between the two scans that must agree (default %d)\n"
	    "  --margin S      a lease counts as live until S seconds after its LeaseTimeout\n"
	    "                  (default %d)\n"
	    "Refuses while any gokini lease is live or the table changes between the scans.\n"
	    "Exit status: 0 every lease imported or already there, 1 otherwise.\n",
	    DEFAULT_SETTLE_S, DEFAULT_MARGIN_S);
}

static int
parse_seconds(const char *opt, const char *v, int64_t min, int64_t *out, FILE *err)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno == ERANGE || n < min || n > 86400) {
		fprintf(err, "kls-ctl import: %s %s: expected seconds from %" PRId64 " to 86400\n",
		    opt, v, min);
		return -1;
	}
	*out = n;
	return 0;
}

/* The configuration: -c FILE, or only the environment. Either way the same rules and
 * variables as klsd's. 0, or -1 with every error printed. */
static int
load_config(struct import *im)
{
	/* Without a file the import needs only [kls] region and [aws]; the required keys it
	 * does not use get stand-ins, so that config_finish judges only what matters. */
	static const char stand_ins[] = "[kls]\napplication = kls-ctl-import\nstream = none\n"
	                                "[reader]\nhandler = /dev/null\n";

	if (!(im->cfg = config_new())) {
		fprintf(im->err, "kls-ctl import: out of memory\n");
		return -1;
	}
	if (im->conf)
		config_parse_file(im->cfg, im->conf);
	else
		config_parse_string(im->cfg, stand_ins, "kls-ctl import (no -c)");
	config_apply_env(im->cfg, environ);
	if (config_finish(im->cfg) == 0)
		return 0;
	for (size_t i = 0; i < config_error_count(im->cfg); i++)
		fprintf(im->err, "kls-ctl import: %s\n", config_error_at(im->cfg, i)->message);
	if (!im->conf)
		fprintf(im->err,
		    "kls-ctl import: set AWS_REGION (and DYNAMODB_ENDPOINT for a local "
		    "endpoint), or give -c FILE\n");
	return -1;
}

static int
make_client(struct import *im)
{
	const struct config_aws *a = &im->cfg->aws;
	struct creds_config cc = { .profile = a->profile[0] ? a->profile : NULL };
	struct aws_service_config sc;
	struct aws_error e;

	if (!(im->creds = creds_provider_new(&cc))) {
		fprintf(im->err, "kls-ctl import: out of memory\n");
		return -1;
	}
	ddb_service_config(&sc, im->cfg->kls.region,
	    a->dynamodb_endpoint[0] ? a->dynamodb_endpoint : NULL, im->creds);
	sc.connect_timeout_ms = a->connect_timeout_ms;
	sc.timeout_ms = a->request_timeout_ms;
	sc.max_response_bytes = a->max_response_bytes;
	if (!(im->db = ddb_client_new(&sc, NULL, &e))) {
		fprintf(im->err, "kls-ctl import: DynamoDB client: %s\n", e.message);
		return -1;
	}
	return 0;
}

static int
by_shard(const void *a, const void *b)
{
	return strcmp(((const struct gokini_lease *)a)->shard,
	    ((const struct gokini_lease *)b)->shard);
}

/* One consistent scan of the gokini table, parsed and sorted by shard. *out is
 * malloc'ed (n may be 0). 0, or -1 with the reason printed. */
static int
scan_gokini(struct import *im, struct gokini_lease **out, size_t *n)
{
	const struct ddb_scan_opts opts = { .consistent = true };
	struct ddb_item_list items = { 0 };
	struct gokini_lease *g;
	struct aws_error e;
	char why[256];
	size_t count;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (ddb_scan_all(im->db, im->from, &opts, &items, &e) != DDB_OK) {
		fprintf(im->err, "kls-ctl import: %s\n", e.message);
		return -1;
	}
	if (!(g = calloc(items.n ? items.n : 1, sizeof(*g)))) {
		fprintf(im->err, "kls-ctl import: out of memory\n");
		ddb_item_list_free(&items);
		return -1;
	}
	count = items.n;
	for (size_t i = 0; i < count; i++) {
		if (gokini_lease_from_item(&items.v[i], &g[i], why, sizeof(why)) == -1) {
			fprintf(im->err, "kls-ctl import: gokini table %s, item %zu%s%s: %s\n",
			    im->from, i + 1, g[i].shard[0] ? " " : "", g[i].shard, why);
			rc = -1;
		}
	}
	ddb_item_list_free(&items);
	if (rc == -1) {
		fprintf(im->err, "kls-ctl import: nothing imported: is %s a gokini table?\n",
		    im->from);
		free(g);
		return -1;
	}
	qsort(g, count, sizeof(*g), by_shard);
	*out = g;
	*n = count;
	return 0;
}

/* Prints every live lease; true when there is any. */
static bool
report_live(struct import *im, const struct gokini_lease *g, size_t n)
{
	int64_t now = wall_now_ms();
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		if (!gokini_lease_live(&g[i], now, im->margin_s * 1000))
			continue;
		fprintf(im->err,
		    "kls-ctl import: gokini lease %s is held by %s until %s (%+" PRId64
		    " s by this host's "
		    "clock; it counts as live until %" PRId64 " s after that)\n",
		    g[i].shard, g[i].assigned, g[i].timeout_text, (g[i].timeout_ms - now) / 1000,
		    im->margin_s);
		any = true;
	}
	if (any)
		fprintf(im->err,
		    "kls-ctl import: refusing while gokini workers may run: stop every one of "
		    "them, wait, and run the import again\n");
	return any;
}

/* Both scans must show the same items. True (and the difference printed) when not. */
static bool
report_changes(struct import *im, const struct gokini_lease *a, size_t na,
    const struct gokini_lease *b, size_t nb)
{
	const char *what = NULL, *shard = NULL;

	if (na != nb) {
		fprintf(im->err,
		    "kls-ctl import: gokini table %s had %zu items, then %zu items %" PRId64
		    " s later\n",
		    im->from, na, nb, im->settle_s);
	} else {
		for (size_t i = 0; i < na && !what; i++) {
			what = gokini_lease_diff(&a[i], &b[i]);
			shard = a[i].shard;
		}
		if (!what)
			return false;
		fprintf(im->err,
		    "kls-ctl import: gokini lease %s changed (%s) between two scans %" PRId64
		    " s apart\n",
		    shard, what, im->settle_s);
	}
	fprintf(im->err, "kls-ctl import: refusing: a gokini worker is still running\n");
	return true;
}

/* "create shardId-... checkpoint=... subsequence=0 parent=..." (with "would " in a dry
 * run). */
static void
print_lease(struct import *im, const char *verb, const struct gokini_lease *g)
{
	fprintf(im->out, "%s%s %s checkpoint=%s subsequence=0%s%s\n", im->dry_run ? "would " : "",
	    verb, g->shard, gokini_kls_checkpoint(g), g->parent[0] ? " parent=" : "", g->parent);
}

static int
put_lease(struct import *im, const struct gokini_lease *g, struct aws_error *e)
{
	struct ddb_write *w = ddb_put_new(im->to);
	const char *parents[1] = { g->parent };
	int rc;

	if (!w) {
		snprintf(e->message, sizeof(e->message), "out of memory");
		return DDB_ERROR;
	}
	ddb_set(w, LK_KEY, ddb_s(g->shard));
	ddb_set(w, LK_COUNTER, ddb_int(0));
	ddb_set(w, LK_CHECKPOINT, ddb_s(gokini_kls_checkpoint(g)));
	ddb_set(w, LK_SUB, ddb_int(0));
	ddb_set(w, LK_SWITCHES, ddb_int(0));
	if (g->parent[0])
		ddb_set(w, LK_PARENTS, ddb_ss(parents, 1));
	ddb_cond_not_exists(w, LK_KEY);
	rc = ddb_execute(im->db, w, e);
	ddb_write_free(w);
	return rc;
}

/* --force on an existing lease read as `cur`: new checkpoint, counter + 1, only if
 * nobody owns it and nothing changed it since we read it. */
static int
replace_lease(struct import *im, const struct gokini_lease *g, const struct ddb_item *cur,
    struct aws_error *e)
{
	struct ddb_write *w = ddb_update_new(im->to, LK_KEY, ddb_s(g->shard));
	int64_t counter;
	int rc;

	if (!w) {
		snprintf(e->message, sizeof(e->message), "out of memory");
		return DDB_ERROR;
	}
	ddb_set(w, LK_CHECKPOINT, ddb_s(gokini_kls_checkpoint(g)));
	ddb_set(w, LK_SUB, ddb_int(0));
	ddb_set(w, LK_SWITCHES, ddb_int(0));
	if (ddb_item_int(cur, LK_COUNTER, &counter) == 0) {
		ddb_set(w, LK_COUNTER, ddb_int(counter + 1));
		ddb_cond_eq(w, LK_COUNTER, ddb_int(counter));
	} else {
		ddb_set(w, LK_COUNTER, ddb_int(1));
		ddb_cond_not_exists(w, LK_COUNTER);
	}
	ddb_cond_not_exists(w, LK_OWNER);
	rc = ddb_execute(im->db, w, e);
	ddb_write_free(w);
	return rc;
}

/* Imports one lease; counts and prints the outcome. */
static void
import_one(struct import *im, const struct gokini_lease *g)
{
	const char *cp = gokini_kls_checkpoint(g);
	struct ddb_item cur = { NULL };
	struct aws_error e;
	int rc = DDB_NOT_FOUND;
	int64_t sub = 0;
	const char *kcp, *owner;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (im->to_exists)
			rc = ddb_get_item(im->db, im->to, LK_KEY, ddb_s(g->shard), &cur, &e);
		if (rc == DDB_ERROR)
			goto error;
		if (rc == DDB_OK)
			break;
		if (im->dry_run) {
			print_lease(im, "create", g);
			im->created++;
			return;
		}
		rc = put_lease(im, g, &e);
		if (rc == DDB_OK) {
			print_lease(im, "create", g);
			im->created++;
			return;
		}
		if (rc != DDB_CONDITION_FAILED)
			goto error;
		/* Someone created it since we looked (klsd's shard sync, another import):
		 * judge what is there now. */
	}
	if (rc != DDB_OK) {
		snprintf(e.message, sizeof(e.message), "lease %s appears and disappears", g->shard);
		goto error;
	}
	kcp = ddb_item_s(&cur, LK_CHECKPOINT);
	if (ddb_item_type(&cur, LK_SUB) != DDB_T_NONE && ddb_item_int(&cur, LK_SUB, &sub) == -1)
		sub = -1;
	owner = ddb_item_s(&cur, LK_OWNER);
	if (kcp && strcmp(kcp, cp) == 0 && sub == 0) {
		print_lease(im, "keep", g);
		im->unchanged++;
	} else if (!im->force || (owner && owner[0])) {
		fprintf(im->out,
		    "conflict %s: the kls lease has checkpoint=%s subsequence=%" PRId64
		    ", gokini's is %s: kept (%s)\n",
		    g->shard, kcp ? kcp : "(none)", sub, cp,
		    !im->force ? "--force replaces it" : "owned by a kls worker: stop klsd first");
		im->conflicts++;
	} else if (im->dry_run) {
		print_lease(im, "replace", g);
		im->replaced++;
	} else {
		rc = replace_lease(im, g, &cur, &e);
		if (rc == DDB_OK) {
			print_lease(im, "replace", g);
			im->replaced++;
		} else if (rc == DDB_CONDITION_FAILED) {
			fprintf(im->out,
			    "conflict %s: the kls lease changed or was taken while importing: "
			    "kept\n",
			    g->shard);
			im->conflicts++;
		} else {
			goto error;
		}
	}
	ddb_item_free(&cur);
	return;
error:
	fprintf(im->err, "kls-ctl import: %s: %s\n", g->shard, e.message);
	im->errors++;
	ddb_item_free(&cur);
}

/* The lease table: in a dry run only whether it exists; otherwise made if missing,
 * like klsd would (on-demand unless -c FILE says provisioned). */
static int
prepare_table(struct import *im)
{
	const struct config_lease *l = &im->cfg->lease;
	struct ddb_table_spec spec = { .key_name = LK_KEY };
	struct ddb_table_info info;
	struct aws_error e;
	int rc = ddb_describe_table(im->db, im->to, &info, &e);

	if (rc == DDB_ERROR) {
		fprintf(im->err, "kls-ctl import: %s\n", e.message);
		return -1;
	}
	im->to_exists = rc == DDB_OK;
	if (rc == DDB_OK && strcmp(info.key_name, LK_KEY) != 0) {
		fprintf(im->err,
		    "kls-ctl import: table %s has hash key %s, not %s: not a kls lease table\n",
		    im->to, info.key_name, LK_KEY);
		return -1;
	}
	if (im->to_exists || im->dry_run)
		return 0;
	if (l->billing_mode == CONFIG_BILLING_PROVISIONED) {
		spec.provisioned = true;
		spec.read_capacity = l->read_capacity;
		spec.write_capacity = l->write_capacity;
	}
	if (ddb_ensure_table(im->db, im->to, &spec, 60000, &e) != DDB_OK) {
		fprintf(im->err, "kls-ctl import: %s\n", e.message);
		return -1;
	}
	fprintf(im->out, "created lease table %s\n", im->to);
	im->to_exists = true;
	return 0;
}

static int
run_import(struct import *im)
{
	struct gokini_lease *first = NULL, *second = NULL;
	size_t n1 = 0, n2 = 0;
	int rc = 1;

	if (load_config(im) == -1)
		return 1;
	if (!im->to)
		im->to = im->conf ? im->cfg->kls.table : NULL;
	if (!im->to) {
		fprintf(im->err, "kls-ctl import: --to-table is required without -c FILE\n");
		return 1;
	}
	if (strcmp(im->to, im->from) == 0) {
		fprintf(im->err, "kls-ctl import: --to-table and --from-table are both %s\n",
		    im->to);
		return 1;
	}
	if (make_client(im) == -1 || scan_gokini(im, &first, &n1) == -1)
		goto out;
	if (report_live(im, first, n1))
		goto out;
	fprintf(im->err,
	    "kls-ctl import: %zu gokini leases in %s, none live; scanning again in %" PRId64
	    " s to make sure no worker writes to it\n",
	    n1, im->from, im->settle_s);
	sleep_ms(im->settle_s * 1000);
	if (scan_gokini(im, &second, &n2) == -1 || report_changes(im, first, n1, second, n2) ||
	    report_live(im, second, n2))
		goto out;
	if (prepare_table(im) == -1)
		goto out;
	for (size_t i = 0; i < n2; i++)
		import_one(im, &second[i]);
	fprintf(im->out,
	    "gokini %s -> kls %s: %u %s, %u unchanged, %u %s, %u conflicts, %u errors%s\n",
	    im->from, im->to, im->created, im->dry_run ? "to create" : "created", im->unchanged,
	    im->replaced, im->dry_run ? "to replace" : "replaced", im->conflicts, im->errors,
	    im->dry_run ? " (dry run: nothing written)" : "");
	rc = im->conflicts || im->errors ? 1 : 0;
out:
	free(first);
	free(second);
	return rc;
}

int
ctl_cmd_import(int argc, char **argv, FILE *out, FILE *err)
{
	static const struct option opts[] = {
		{ "from-table", required_argument, NULL, 'f' },
		{ "to-table", required_argument, NULL, 't' },
		{ "config", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'F' },
		{ "settle", required_argument, NULL, 's' },
		{ "margin", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct import im = { .settle_s = DEFAULT_SETTLE_S,
		.margin_s = DEFAULT_MARGIN_S,
		.out = out,
		.err = err };
	int c, rc;

	if (argc < 2 || strcmp(argv[1], "gokini") != 0) {
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
			import_usage(out);
			return 0;
		}
		fprintf(err, "kls-ctl import: %s%s%s: the only source is gokini\n",
		    argc < 2 ? "" : "\"", argc < 2 ? "no source" : argv[1], argc < 2 ? "" : "\"");
		import_usage(err);
		return 1;
	}
	/* See status.c: getopt starts afresh, and we print our own messages. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, ":c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': im.from = optarg; break;
		case 't': im.to = optarg; break;
		case 'c': im.conf = optarg; break;
		case 'n': im.dry_run = true; break;
		case 'F': im.force = true; break;
		case 's':
			if (parse_seconds("--settle", optarg, 1, &im.settle_s, err) == -1)
				return 1;
			break;
		case 'm':
			if (parse_seconds("--margin", optarg, 0, &im.margin_s, err) == -1)
				return 1;
			break;
		case 'h': import_usage(out); return 0;
		case ':':
			fprintf(err, "kls-ctl import: %s needs an argument\n", argv[optind]);
			return 1;
		default:
			fprintf(err, "kls-ctl import: unknown option %s\n", argv[optind]);
			import_usage(err);
			return 1;
		}
	}
	if (optind < argc - 1) {
		fprintf(err, "kls-ctl import: unexpected argument \"%s\"\n", argv[optind + 1]);
		return 1;
	}
	if (!im.from) {
		fprintf(err, "kls-ctl import: --from-table is required\n");
		import_usage(err);
		return 1;
	}
	rc = run_import(&im);
	ddb_client_free(im.db);
	creds_provider_free(im.creds);
	config_free(im.cfg);
	if (fflush(out) != 0) {
		fprintf(err, "kls-ctl import: writing output: %s\n", strerror(errno));
		return 1;
	}
	return rc;
}
