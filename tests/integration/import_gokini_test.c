/*
 * `kls-ctl import gokini` against dynalite (DYNAMODB_ENDPOINT): gokini tables built
 * here in gokini's item format (ShardID hash key; SequenceID, AssignedTo, LeaseTimeout
 * as RFC 3339 text, Closed, ParentShardID, ClaimRequest, as gokini's checkpointer
 * writes them), the command run in-process through ctl_main. Checks: the leases it
 * creates, a second run that changes nothing, conflicts kept unless --force (never
 * over an owner), live leases and a table that changes between scans refused, a dry
 * run that writes nothing, -c FILE, items that are not gokini's.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/creds.h"
#include "common/dynamodb.h"
#include "ctl/ctl.h"
#include "tests/harness.h"

#define SEQ0 "49590338271490256608559692538361571095921575989136588801"
#define SEQ1 "49590338271490256608559692538361571095921575989136588802"
#define SEQ3 "49590338271490256608559692538361571095921575989136588803"

static struct aws_creds_provider *creds;

/* A client of our own (the command makes its own from the environment). */
static struct ddb_client *
client(void)
{
	struct aws_service_config cfg;
	struct aws_error err;
	struct ddb_client *c;
	const char *ep = test_env("DYNAMODB_ENDPOINT");

	if (!ep)
		return NULL;
	/* What the command reads besides DYNAMODB_ENDPOINT (scripts/test exports them). */
	setenv("AWS_REGION", "us-east-1", 0);
	setenv("AWS_ACCESS_KEY_ID", "AKIDKLSEMULATOR00000", 0);
	setenv("AWS_SECRET_ACCESS_KEY", "kls-emulator-dummy-secret", 0);
	if (!creds)
		creds = creds_provider_new_static("AKIDKLSEMULATOR00000",
		    "kls-emulator-dummy-secret", NULL);
	ddb_service_config(&cfg, "us-east-1", ep, creds);
	c = ddb_client_new(&cfg, NULL, &err);
	if (!c)
		fprintf(stderr, "ddb_client_new: %s\n", err.message);
	return c;
}

static int
suite_cleanup(void)
{
	creds_provider_free(creds);
	return 0;
}

/* LeaseTimeout as gokini writes it (time.RFC3339Nano in UTC), offset_s from now. */
static void
lease_time(char *out, size_t size, long offset_s)
{
	time_t t = time(NULL) + offset_s;
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, size - n, ".123456789Z");
}

/* One gokini item; NULL strings are left out, closed < 0 leaves Closed out. */
struct gk {
	const char *shard, *seq, *assigned;
	long timeout_s; /* LeaseTimeout offset from now; 0 = no LeaseTimeout */
	int closed;
	const char *parent, *claim;
};

static void
put_gokini(struct ddb_client *c, const char *table, const struct gk *g)
{
	struct ddb_write *w = ddb_put_new(table);
	struct aws_error err;
	char lt[64];

	ddb_set(w, "ShardID", ddb_s(g->shard));
	if (g->seq)
		ddb_set(w, "SequenceID", ddb_s(g->seq));
	if (g->assigned)
		ddb_set(w, "AssignedTo", ddb_s(g->assigned));
	if (g->timeout_s) {
		lease_time(lt, sizeof(lt), g->timeout_s);
		ddb_set(w, "LeaseTimeout", ddb_s(lt));
	}
	if (g->closed >= 0)
		ddb_set(w, "Closed", ddb_bool(g->closed));
	if (g->parent)
		ddb_set(w, "ParentShardID", ddb_s(g->parent));
	if (g->claim)
		ddb_set(w, "ClaimRequest", ddb_s(g->claim));
	CU_ASSERT_EQUAL(ddb_execute(c, w, &err), DDB_OK);
	ddb_write_free(w);
}

/* A gokini table (hash key ShardID, as gokini creates it) with n items. */
static void
make_gokini(struct ddb_client *c, const char *table, const struct gk *items, size_t n)
{
	const struct ddb_table_spec spec = { .key_name = "ShardID" };
	struct aws_error err;

	CU_ASSERT_EQUAL_FATAL(ddb_ensure_table(c, table, &spec, 30000, &err), DDB_OK);
	for (size_t i = 0; i < n; i++)
		put_gokini(c, table, &items[i]);
}

static void
drop(struct ddb_client *c, const char *table)
{
	struct aws_error err;
	ddb_delete_table(c, table, &err);
}

/* A gokini table `from` with items (named with prefix) and a lease table name `to`,
 * both unique to this run; the client, or NULL when the emulators are not there. */
static struct ddb_client *
begin(char *from, char *to, const char *prefix, const struct gk *items, size_t n)
{
	struct ddb_client *c = client();

	if (c) {
		test_unique_name(from, 64, prefix);
		test_unique_name(to, 64, "leases");
		make_gokini(c, from, items, n);
	}
	return c;
}

/* Drops both tables (the lease table may not exist) and the client. */
static void
end(struct ddb_client *c, const char *from, const char *to)
{
	drop(c, from);
	drop(c, to);
	ddb_client_free(c);
}

/* Stopped gokini workers: every lease expired ten minutes ago. */
static const struct gk stopped[] = {
	{ "shardId-000000000000", SEQ0, "worker-a", -600, 0, NULL, NULL },
	{ "shardId-000000000001", SEQ1, "worker-a", -600, 1, NULL, NULL },
	{ "shardId-000000000002", NULL, "worker-b", -600, 0, NULL, NULL },
	{ "shardId-000000000003", SEQ3, "worker-a", -600, 0, "shardId-000000000001", "worker-b" },
};
#define NSTOPPED (sizeof(stopped) / sizeof(stopped[0]))

/* The output of one kls-ctl run. */
struct res {
	int rc;
	char *out, *err;
	size_t outlen, errlen;
};

static void
res_free(struct res *r)
{
	free(r->out);
	free(r->err);
}

/* Runs kls-ctl with the NULL-terminated arguments. */
static struct res
ctl(const char *first, ...)
{
	const char *argv[24] = { "kls-ctl" };
	int argc = 1;
	struct res r = { 0 };
	FILE *out, *err;
	va_list ap;

	va_start(ap, first);
	for (const char *a = first; a && argc < 23; a = va_arg(ap, const char *))
		argv[argc++] = a;
	va_end(ap);
	out = open_memstream(&r.out, &r.outlen);
	err = open_memstream(&r.err, &r.errlen);
	r.rc = ctl_main(argc, (char **)argv, out, err);
	fclose(out);
	fclose(err);
	return r;
}

/* `kls-ctl import gokini` from `from` to `to` with the settle time at its least, plus up
 * to two more arguments (NULL for none). */
static struct res
import(const char *from, const char *to, const char *a, const char *b)
{
	return ctl("import", "gokini", "--from-table", from, "--to-table", to, "--settle", "1", a,
	    b, (char *)NULL);
}

static bool
has(const char *text, const char *want)
{
	if (strstr(text, want))
		return true;
	fprintf(stderr, "\nlacks \"%s\" in:\n%s\n", want, text);
	return false;
}

static int
count_lines(const char *text, const char *prefix)
{
	int n = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		n += strncmp(p, prefix, strlen(prefix)) == 0;
	return n;
}

/* The lease of shard in table; fails the test when absent. */
static void
get_lease(struct ddb_client *c, const char *table, const char *shard, struct ddb_item *it)
{
	struct aws_error err;

	CU_ASSERT_EQUAL_FATAL(ddb_get_item(c, table, "leaseKey", ddb_s(shard), it, &err), DDB_OK);
}

static void
expect_lease(struct ddb_client *c, const char *table, const char *shard, const char *checkpoint,
    const char *parent, int64_t counter)
{
	struct ddb_item it;
	int64_t v = -1;

	get_lease(c, table, shard, &it);
	CU_ASSERT_STRING_EQUAL(ddb_item_s(&it, "leaseKey"), shard);
	CU_ASSERT_STRING_EQUAL(ddb_item_s(&it, "checkpoint"), checkpoint);
	CU_ASSERT_EQUAL(ddb_item_int(&it, "checkpointSubSequenceNumber", &v), 0);
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_EQUAL(ddb_item_int(&it, "leaseCounter", &v), 0);
	CU_ASSERT_EQUAL(v, counter);
	CU_ASSERT_EQUAL(ddb_item_int(&it, "ownerSwitchesSinceCheckpoint", &v), 0);
	CU_ASSERT_EQUAL(v, 0);
	/* Free: klsd takes it. */
	CU_ASSERT_EQUAL(ddb_item_type(&it, "leaseOwner"), DDB_T_NONE);
	if (parent) {
		CU_ASSERT_EQUAL(ddb_item_ss_count(&it, "parentShardId"), 1);
		CU_ASSERT_STRING_EQUAL(ddb_item_ss_at(&it, "parentShardId", 0), parent);
	} else {
		CU_ASSERT_EQUAL(ddb_item_type(&it, "parentShardId"), DDB_T_NONE);
	}
	ddb_item_free(&it);
}

static bool
table_exists(struct ddb_client *c, const char *table)
{
	struct ddb_table_info info;
	struct aws_error err;

	return ddb_describe_table(c, table, &info, &err) == DDB_OK;
}

static void
test_import_gokini_creates_leases_once(void)
{
	struct ddb_client *c;
	char from[64], to[64];
	struct res r;

	if (!(c = begin(from, to, "gokini", stopped, NSTOPPED)))
		return;

	r = import(from, to, NULL, NULL);
	CU_ASSERT_EQUAL(r.rc, 0);
	CU_ASSERT(has(r.out, "create shardId-000000000000 checkpoint=" SEQ0 " subsequence=0\n"));
	CU_ASSERT(has(r.out, "create shardId-000000000001 checkpoint=SHARD_END subsequence=0\n"));
	CU_ASSERT(
	    has(r.out, "create shardId-000000000002 checkpoint=TRIM_HORIZON subsequence=0\n"));
	CU_ASSERT(has(r.out, "create shardId-000000000003 checkpoint=" SEQ3
	                     " subsequence=0 parent=shardId-000000000001\n"));
	CU_ASSERT(has(r.out, "4 created, 0 unchanged, 0 replaced, 0 conflicts, 0 errors\n"));
	res_free(&r);
	expect_lease(c, to, "shardId-000000000000", SEQ0, NULL, 0);
	expect_lease(c, to, "shardId-000000000001", "SHARD_END", NULL, 0);
	expect_lease(c, to, "shardId-000000000002", "TRIM_HORIZON", NULL, 0);
	expect_lease(c, to, "shardId-000000000003", SEQ3, "shardId-000000000001", 0);

	/* Safe to run twice: nothing changes (the counters would show a write). */
	r = import(from, to, NULL, NULL);
	CU_ASSERT_EQUAL(r.rc, 0);
	CU_ASSERT_EQUAL(count_lines(r.out, "keep shardId-"), 4);
	CU_ASSERT(has(r.out, "0 created, 4 unchanged, 0 replaced, 0 conflicts, 0 errors\n"));
	res_free(&r);
	expect_lease(c, to, "shardId-000000000000", SEQ0, NULL, 0);
	expect_lease(c, to, "shardId-000000000003", SEQ3, "shardId-000000000001", 0);
	{
		struct ddb_item_list all = { 0 };
		struct aws_error err;
		CU_ASSERT_EQUAL(ddb_scan_all(c, to, NULL, &all, &err), DDB_OK);
		CU_ASSERT_EQUAL(all.n, NSTOPPED);
		ddb_item_list_free(&all);
	}
	end(c, from, to);
}

/* Sets the kls lease of shard to checkpoint (and owner when given), as kls would
 * after it had moved on. */
static void
move_lease(struct ddb_client *c, const char *table, const char *shard, const char *checkpoint,
    const char *owner)
{
	struct ddb_write *w = ddb_update_new(table, "leaseKey", ddb_s(shard));
	struct aws_error err;

	ddb_set(w, "checkpoint", ddb_s(checkpoint));
	if (owner)
		ddb_set(w, "leaseOwner", ddb_s(owner));
	CU_ASSERT_EQUAL(ddb_execute(c, w, &err), DDB_OK);
	ddb_write_free(w);
}

/* An import expected to succeed, its output unread (it makes the lease table). */
static void
import_ok(const char *from, const char *to)
{
	struct res r = import(from, to, NULL, NULL);

	CU_ASSERT_EQUAL(r.rc, 0);
	res_free(&r);
}

/* The kls lease of shard still has checkpoint (and owner when given). */
static void
expect_kept(struct ddb_client *c, const char *table, const char *shard, const char *checkpoint,
    const char *owner)
{
	struct ddb_item it;

	get_lease(c, table, shard, &it);
	CU_ASSERT_STRING_EQUAL(ddb_item_s(&it, "checkpoint"), checkpoint);
	if (owner)
		CU_ASSERT_STRING_EQUAL(ddb_item_s(&it, "leaseOwner"), owner);
	ddb_item_free(&it);
}

static void
test_import_gokini_conflicts(void)
{
	struct ddb_client *c;
	char from[64], to[64];
	struct res r;

	if (!(c = begin(from, to, "gokini", stopped, NSTOPPED)))
		return;
	import_ok(from, to);
	move_lease(c, to, "shardId-000000000000", SEQ3, NULL);
	move_lease(c, to, "shardId-000000000002", SEQ1, "host:1234");

	/* Reported and kept. */
	r = import(from, to, NULL, NULL);
	CU_ASSERT_EQUAL(r.rc, 1);
	CU_ASSERT(has(r.out, "conflict shardId-000000000000: the kls lease has checkpoint=" SEQ3
	                     " subsequence=0, gokini's is " SEQ0 ": kept (--force replaces it)\n"));
	CU_ASSERT(has(r.out, "0 created, 2 unchanged, 0 replaced, 2 conflicts, 0 errors\n"));
	res_free(&r);
	expect_kept(c, to, "shardId-000000000000", SEQ3, NULL);

	/* --force replaces a free lease (counter + 1), never an owned one. */
	r = import(from, to, "--force", NULL);
	CU_ASSERT_EQUAL(r.rc, 1);
	CU_ASSERT(has(r.out, "replace shardId-000000000000 checkpoint=" SEQ0 " subsequence=0\n"));
	CU_ASSERT(has(r.out,
	    "conflict shardId-000000000002: the kls lease has checkpoint=" SEQ1
	    " subsequence=0, gokini's is TRIM_HORIZON: kept (owned by a kls worker: stop "
	    "klsd first)\n"));
	CU_ASSERT(has(r.out, "0 created, 2 unchanged, 1 replaced, 1 conflicts, 0 errors\n"));
	res_free(&r);
	expect_lease(c, to, "shardId-000000000000", SEQ0, NULL, 1);
	expect_kept(c, to, "shardId-000000000002", SEQ1, "host:1234");
	end(c, from, to);
}

static void
test_import_gokini_refuses_live_leases(void)
{
	static const struct {
		long timeout_s;
		const char *margin;
		bool refused;
	} cases[] = {
		{ 60, "60", true },   /* a worker holds it */
		{ -30, "60", true },  /* expired by our clock, but within the margin */
		{ -30, "10", false }, /* past the margin */
	};
	struct ddb_client *c = client();

	if (!c)
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gk items[NSTOPPED];
		char from[64], to[64];
		struct res r;

		memcpy(items, stopped, sizeof(items));
		items[2].timeout_s = cases[i].timeout_s;
		test_unique_name(from, sizeof(from), "gokini");
		test_unique_name(to, sizeof(to), "leases");
		make_gokini(c, from, items, NSTOPPED);
		r = import(from, to, "--margin", cases[i].margin);
		if (cases[i].refused) {
			CU_ASSERT_EQUAL(r.rc, 1);
			CU_ASSERT(has(r.err,
			    "gokini lease shardId-000000000002 is held by worker-b until "));
			CU_ASSERT(has(r.err, "refusing while gokini workers may run"));
			CU_ASSERT_EQUAL(r.outlen, 0);
			/* Nothing written, not even the table. */
			CU_ASSERT_FALSE(table_exists(c, to));
		} else {
			CU_ASSERT_EQUAL(r.rc, 0);
			CU_ASSERT(has(r.out, "4 created"));
		}
		res_free(&r);
		drop(c, from);
		drop(c, to);
	}
	ddb_client_free(c);
}

/* A gokini worker still checkpointing: it writes once the import has made its first
 * scan (which the import says on its error stream, read here through a pipe). */
struct writer {
	FILE *err_in;
	const char *table;
	char text[8192];
	bool wrote;
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct ddb_client *c = client();
	size_t n = 0;

	while (fgets(w->text + n, (int)(sizeof(w->text) - n), w->err_in)) {
		if (!w->wrote && strstr(w->text + n, "scanning again")) {
			struct gk moved = stopped[0];
			moved.seq = SEQ3;
			put_gokini(c, w->table, &moved);
			w->wrote = true;
		}
		n += strlen(w->text + n);
	}
	ddb_client_free(c);
	return NULL;
}

static void
test_import_gokini_refuses_changing_table(void)
{
	struct ddb_client *c;
	char from[64], to[64];
	const char *argv[] = { "kls-ctl", "import", "gokini", "--from-table", from, "--to-table",
		to, "--settle", "3", NULL };
	struct writer w = { 0 };
	pthread_t th;
	char *out = NULL;
	size_t outlen = 0;
	FILE *outf, *errf;
	int fds[2], rc;

	if (!(c = begin(from, to, "gokini", stopped, NSTOPPED)))
		return;
	CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
	errf = fdopen(fds[1], "w");
	w.err_in = fdopen(fds[0], "r");
	CU_ASSERT_FATAL(errf && w.err_in);
	setvbuf(errf, NULL, _IOLBF, 0);
	w.table = from;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, writer_main, &w), 0);
	outf = open_memstream(&out, &outlen);
	rc = ctl_main(9, (char **)argv, outf, errf);
	fclose(outf);
	fclose(errf);
	pthread_join(th, NULL);
	fclose(w.err_in);
	CU_ASSERT(w.wrote);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT(
	    has(w.text, "gokini lease shardId-000000000000 changed (SequenceID) between two scans "
	                "3 s apart\n"));
	CU_ASSERT(has(w.text, "refusing: a gokini worker is still running\n"));
	CU_ASSERT_EQUAL(outlen, 0);
	CU_ASSERT_FALSE(table_exists(c, to));
	free(out);
	end(c, from, to);
}

static void
test_import_gokini_dry_run_writes_nothing(void)
{
	struct ddb_client *c;
	char from[64], to[64];
	struct res r;

	if (!(c = begin(from, to, "gokini", stopped, NSTOPPED)))
		return;
	r = import(from, to, "--dry-run", NULL);
	CU_ASSERT_EQUAL(r.rc, 0);
	/* One line per lease, then the summary. */
	CU_ASSERT_EQUAL(count_lines(r.out, "would create shardId-"), 4);
	CU_ASSERT(
	    has(r.out, "would create shardId-000000000001 checkpoint=SHARD_END subsequence=0\n"));
	CU_ASSERT(
	    has(r.out, "4 to create, 0 unchanged, 0 to replace, 0 conflicts, 0 errors (dry run: "
	               "nothing written)\n"));
	CU_ASSERT_EQUAL(count_lines(r.out, ""), 5);
	res_free(&r);
	CU_ASSERT_FALSE(table_exists(c, to));

	/* Against an existing lease table with a conflict: reported, nothing replaced. */
	import_ok(from, to);
	move_lease(c, to, "shardId-000000000000", SEQ3, NULL);
	r = import(from, to, "--dry-run", "--force");
	CU_ASSERT_EQUAL(r.rc, 0);
	CU_ASSERT(
	    has(r.out, "would replace shardId-000000000000 checkpoint=" SEQ0 " subsequence=0\n"));
	CU_ASSERT_EQUAL(count_lines(r.out, "would keep shardId-"), 3);
	res_free(&r);
	expect_kept(c, to, "shardId-000000000000", SEQ3, NULL);
	end(c, from, to);
}

static void
test_import_gokini_config_file(void)
{
	struct ddb_client *c;
	char from[64], to[64], dir[PATH_MAX], conf[PATH_MAX + 16];
	struct res r;
	FILE *f;

	if (!(c = begin(from, to, "gokini", stopped, 1)))
		return;
	snprintf(dir, sizeof(dir), "%s/tests/import_gokini.XXXXXX", test_builddir());
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/app.conf", dir);
	f = fopen(conf, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f,
	    "[kls]\napplication = orders\nstream = orders\nregion = us-east-1\ntable = %s\n"
	    "[reader]\nhandler = /usr/lib/kls/multilang.so\n[aws]\ndynamodb_endpoint = %s\n",
	    to, test_env("DYNAMODB_ENDPOINT"));
	fclose(f);
	/* The lease table comes from the file. */
	r = ctl("import", "gokini", "--from-table", from, "-c", conf, "--settle", "1",
	    (char *)NULL);
	CU_ASSERT_EQUAL(r.rc, 0);
	CU_ASSERT(has(r.out, "-> kls "));
	CU_ASSERT(has(r.out, "1 created"));
	res_free(&r);
	expect_lease(c, to, "shardId-000000000000", SEQ0, NULL, 0);
	unlink(conf);
	rmdir(dir);

	/* Without -c, the lease table must be named. */
	r = ctl("import", "gokini", "--from-table", from, (char *)NULL);
	CU_ASSERT_EQUAL(r.rc, 1);
	CU_ASSERT(has(r.err, "--to-table is required without -c FILE"));
	res_free(&r);
	r = ctl("import", "kcl", "--from-table", from, (char *)NULL);
	CU_ASSERT_EQUAL(r.rc, 1);
	CU_ASSERT(has(r.err, "\"kcl\": the only source is gokini"));
	res_free(&r);
	end(c, from, to);
}

static void
test_import_gokini_refuses_other_tables(void)
{
	struct ddb_client *c;
	char from[64], to[64];
	struct res r;
	struct ddb_write *w;
	struct aws_error err;

	if (!(c = begin(from, to, "notgokini", stopped, 1)))
		return;
	/* An item with a ShardID of the wrong type. */
	w = ddb_put_new(from);
	ddb_set(w, "ShardID", ddb_s("shardId-000000000009"));
	ddb_set(w, "Closed", ddb_s("yes"));
	CU_ASSERT_EQUAL(ddb_execute(c, w, &err), DDB_OK);
	ddb_write_free(w);
	r = import(from, to, NULL, NULL);
	CU_ASSERT_EQUAL(r.rc, 1);
	CU_ASSERT(has(r.err, "shardId-000000000009: Closed is not a boolean"));
	CU_ASSERT(has(r.err, "nothing imported: is "));
	CU_ASSERT_FALSE(table_exists(c, to));
	res_free(&r);
	/* A table that does not exist. */
	r = ctl("import", "gokini", "--from-table", "kls-no-such-table", "--to-table", to,
	    "--settle", "1", (char *)NULL);
	CU_ASSERT_EQUAL(r.rc, 1);
	CU_ASSERT(has(r.err, "kls-no-such-table"));
	res_free(&r);
	end(c, from, to);
}

static CU_TestInfo tests[] = {
	{ "creates leases, then changes nothing", test_import_gokini_creates_leases_once },
	{ "conflicts kept unless --force", test_import_gokini_conflicts },
	{ "refuses live leases", test_import_gokini_refuses_live_leases },
	{ "refuses a table that changes", test_import_gokini_refuses_changing_table },
	{ "dry run writes nothing", test_import_gokini_dry_run_writes_nothing },
	{ "configuration file", test_import_gokini_config_file },
	{ "refuses other tables", test_import_gokini_refuses_other_tables },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "gokini import against dynalite", NULL, suite_cleanup, NULL, NULL, tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
