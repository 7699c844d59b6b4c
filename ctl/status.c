/*
 * kls-ctl status: reads the shm table through a read-only mapping (never asking klsd,
 * so it answers while klsd is stopped) and prints one row per slot in use, as a text
 * table or as JSON. A group whose counter stays odd or keeps moving within the retry
 * budget is reported as "torn" and its fields are left out, never printed half-written.
 */
#include "config.h"

#include "ctl/ctl.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Text table columns. */
enum { C_SLOT, C_SHARD, C_STATE, C_PID, C_UPTIME, C_RESTARTS, C_LEASE, C_LEFT, C_CHECKPOINT,
	C_RECORDS, C_BYTES, C_BEHIND, C_MODE, C_SUB_AGE, C_RESUBS, C_ERROR, NCOLS };
static const char *const headings[NCOLS] = { "SLOT", "SHARD", "STATE", "PID", "UPTIME",
	"RESTARTS", "LEASE", "LEFT", "CHECKPOINT", "RECORDS", "BYTES", "BEHIND_MS", "MODE",
	"SUB_AGE", "RESUBS", "LAST_ERROR" };
/* Wide enough for the longest cell: an error text, or a 129-digit sequence number with
 * its sub-sequence. */
#define CELL (KLS_SHM_ERROR_MAX + 32)

int
ctl_status_read(const struct kls_shm *t, unsigned tries, struct ctl_status *st)
{
	const struct kls_shm_header *h = kls_shm_header(t);
	size_t cap = 0;

	memset(st, 0, sizeof(*st));
	/* Immutable after creation, but still foreign bytes: bounded copies. */
	snprintf(st->application, sizeof(st->application), "%.*s",
	    (int)sizeof(h->application) - 1, h->application);
	snprintf(st->stream, sizeof(st->stream), "%.*s", (int)sizeof(h->stream) - 1, h->stream);
	snprintf(st->worker_id, sizeof(st->worker_id), "%.*s", (int)sizeof(h->worker_id) - 1,
	    h->worker_id);
	st->klsd_pid = h->klsd_pid;
	st->klsd_alive = kls_proc_alive(h->klsd_pid, h->klsd_start_ticks);
	st->klsd_heartbeat_ns = kls_shm_klsd_heartbeat_get(t).ns;
	st->slot_count = kls_shm_slot_count(t);
	st->now = mono_now();

	for (uint32_t i = 0; i < st->slot_count; i++) {
		const struct kls_shm_slot *s = kls_shm_slot_ro(t, i);
		uint32_t state = kls_shm_slot_state(s);
		struct ctl_row *r;

		if (state == KLS_SLOT_UNUSED)
			continue;
		if (st->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct ctl_row *nrows = realloc(st->rows, ncap * sizeof(*nrows));
			if (!nrows) {
				ctl_status_free(st);
				errno = ENOMEM;
				return -1;
			}
			st->rows = nrows;
			cap = ncap;
		}
		r = &st->rows[st->n++];
		memset(r, 0, sizeof(*r));
		r->slot = i;
		r->state = state;
		r->lease_torn = kls_shm_lease_read(s, &r->lease, tries) < 0;
		r->progress_torn = kls_shm_progress_read(s, &r->progress, tries) < 0;
		/* A failed snapshot leaves a half-copied group: make sure nothing uses it. */
		if (r->lease_torn)
			memset(&r->lease, 0, sizeof(r->lease));
		if (r->progress_torn)
			memset(&r->progress, 0, sizeof(r->progress));
	}
	return 0;
}

void
ctl_status_free(struct ctl_status *st)
{
	free(st->rows);
	st->rows = NULL;
	st->n = 0;
}

static const char *
row_state(const struct ctl_row *r)
{
	return r->lease_torn || r->progress_torn ? "torn" : kls_slot_state_name(r->state);
}

/* The more recent of klsd's and the reader's error texts, NULL when neither has one. */
static const char *
row_error(const struct ctl_row *r)
{
	const char *le = !r->lease_torn && r->lease.error[0] ? r->lease.error : NULL;
	const char *pe = !r->progress_torn && r->progress.last_error[0] ?
	    r->progress.last_error : NULL;

	if (le && pe)
		return r->lease.error_ns >= r->progress.error_ns ? le : pe;
	return le ? le : pe;
}

/* "<sequence>" or "<sequence>:<sub-sequence>"; false when there is none to show. */
static bool
row_checkpoint(const struct ctl_row *r, char *buf, size_t size)
{
	if (r->lease_torn || !r->lease.ckpt_seq[0])
		return false;
	if (r->lease.ckpt_subseq)
		snprintf(buf, size, "%s:%" PRIu64, r->lease.ckpt_seq, r->lease.ckpt_subseq);
	else
		snprintf(buf, size, "%s", r->lease.ckpt_seq);
	return true;
}

const char *
ctl_row_mode(const struct ctl_row *r)
{
	if (r->progress_torn)
		return NULL;
	switch (r->progress.read_mode) {
	case KLS_READ_POLLING: return "polling";
	case KLS_READ_FANOUT: return "fan-out";
	default: return NULL;
	}
}

bool
ctl_row_fanout(const struct ctl_row *r, kls_mono now, int64_t *age_ms, uint64_t *resubscribes)
{
	const struct kls_progress *p = &r->progress;

	if (r->progress_torn || p->read_mode != KLS_READ_FANOUT)
		return false;
	/* A start in the future is no age (foreign bytes, or another boot's clock). */
	*age_ms = p->fanout_started_ns > 0 && p->fanout_started_ns <= now.ns ?
	    mono_diff_ms((kls_mono){ p->fanout_started_ns }, now) : -1;
	*resubscribes = p->fanout_resubscribes;
	return true;
}

static bool
row_lease_left(const struct ctl_row *r, kls_mono now, int64_t *ms)
{
	if (r->lease_torn || r->lease.deadline_ns == 0)
		return false;
	*ms = mono_diff_ms(now, (kls_mono){ r->lease.deadline_ns });
	return true;
}

/* ---------------------------------------------------------------- text */

static void
fmt_duration(char *buf, size_t size, int64_t ms)
{
	int64_t s = ms / 1000;

	if (ms < 10000)
		snprintf(buf, size, "%" PRId64 ".%" PRId64 "s", s, (ms % 1000) / 100);
	else if (s < 3600)
		snprintf(buf, size, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%" PRId64 "h%02" PRId64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, size, "%" PRId64 "d%02" PRId64 "h", s / 86400, s % 86400 / 3600);
}

/* Text a reader or klsd wrote goes to a terminal: no control characters. */
void
ctl_fmt_safe(char *buf, size_t size, const char *s)
{
	size_t i = 0;

	for (; s[i] && i + 1 < size; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
}

static void
fill_cells(const struct ctl_row *r, kls_mono now, char cells[NCOLS][CELL])
{
	const struct kls_lease *l = &r->lease;
	const struct kls_progress *p = &r->progress;
	const char *e = row_error(r), *mode = ctl_row_mode(r);
	int64_t left, age;
	uint64_t resubs;

	for (int c = 0; c < NCOLS; c++)
		snprintf(cells[c], CELL, "-");
	snprintf(cells[C_SLOT], CELL, "%u", r->slot);
	snprintf(cells[C_STATE], CELL, "%s", row_state(r));
	if (!r->lease_torn) {
		ctl_fmt_safe(cells[C_SHARD], CELL, l->shard_id[0] ? l->shard_id : "-");
		if (l->reader_pid > 0)
			snprintf(cells[C_PID], CELL, "%ld", (long)l->reader_pid);
		if (r->state == KLS_SLOT_ACTIVE && l->reader_started_ns > 0 &&
		    l->reader_started_ns <= now.ns)
			fmt_duration(cells[C_UPTIME], CELL,
			    mono_diff_ms((kls_mono){ l->reader_started_ns }, now));
		snprintf(cells[C_RESTARTS], CELL, "%" PRIu32, l->restarts);
		snprintf(cells[C_LEASE], CELL, "%" PRIu64, l->lease_counter);
		if (row_lease_left(r, now, &left)) {
			if (left < 0)
				snprintf(cells[C_LEFT], CELL, "expired");
			else
				fmt_duration(cells[C_LEFT], CELL, left);
		}
		if (row_checkpoint(r, cells[C_CHECKPOINT], CELL))
			ctl_fmt_safe(cells[C_CHECKPOINT], CELL, cells[C_CHECKPOINT]);
	}
	if (!r->progress_torn) {
		snprintf(cells[C_RECORDS], CELL, "%" PRIu64, p->records);
		snprintf(cells[C_BYTES], CELL, "%" PRIu64, p->bytes);
		if (p->millis_behind >= 0)
			snprintf(cells[C_BEHIND], CELL, "%" PRId64, p->millis_behind);
		if (mode)
			snprintf(cells[C_MODE], CELL, "%s", mode);
	}
	if (ctl_row_fanout(r, now, &age, &resubs)) {
		if (age >= 0)
			fmt_duration(cells[C_SUB_AGE], CELL, age);
		snprintf(cells[C_RESUBS], CELL, "%" PRIu64, resubs);
	}
	if (e)
		ctl_fmt_safe(cells[C_ERROR], CELL, e);
}

/* Columns padded to their width; the last one (free text) is not. */
static void
print_line(FILE *out, const char *const cells[NCOLS], const size_t width[NCOLS])
{
	for (int c = 0; c + 1 < NCOLS; c++)
		fprintf(out, "%-*s  ", (int)width[c], cells[c]);
	fprintf(out, "%s\n", cells[NCOLS - 1]);
}

int
ctl_status_text(const struct ctl_status *st, FILE *out)
{
	char(*cells)[NCOLS][CELL] = calloc(st->n ? st->n : 1, sizeof(*cells));
	size_t width[NCOLS];
	char app[sizeof(st->application)], stream[sizeof(st->stream)], worker[sizeof(st->worker_id)];

	if (!cells) {
		errno = ENOMEM;
		return -1;
	}
	ctl_fmt_safe(app, sizeof(app), st->application);
	ctl_fmt_safe(stream, sizeof(stream), st->stream);
	ctl_fmt_safe(worker, sizeof(worker), st->worker_id);
	fprintf(out, "application %s  stream %s  worker %s\n", app, stream, worker);
	fprintf(out, "klsd pid %ld%s, heartbeat %.1f s ago, %zu of %u slots in use\n",
	    st->klsd_pid, st->klsd_alive ? "" : " (not running)",
	    (double)(st->now.ns - st->klsd_heartbeat_ns) / 1e9, st->n, st->slot_count);

	for (int c = 0; c < NCOLS; c++)
		width[c] = strlen(headings[c]);
	for (size_t i = 0; i < st->n; i++) {
		fill_cells(&st->rows[i], st->now, cells[i]);
		for (int c = 0; c < NCOLS; c++)
			if (strlen(cells[i][c]) > width[c])
				width[c] = strlen(cells[i][c]);
	}
	print_line(out, headings, width);
	for (size_t i = 0; i < st->n; i++) {
		const char *line[NCOLS];
		for (int c = 0; c < NCOLS; c++)
			line[c] = cells[i][c];
		print_line(out, line, width);
	}
	free(cells);
	return ferror(out) ? -1 : 0;
}

/* ---------------------------------------------------------------- JSON */

static json_object *
json_str(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL; /* NULL is JSON null */
}

static json_object *
json_row(const struct ctl_row *r, kls_mono now)
{
	const struct kls_lease *l = &r->lease;
	const struct kls_progress *p = &r->progress;
	json_object *o = json_object_new_object();
	char ckpt[CELL];
	int64_t left, age = -1;
	uint64_t resubs = 0;
	bool lt = r->lease_torn, pt = r->progress_torn, fan = ctl_row_fanout(r, now, &age, &resubs);

	if (!o)
		return NULL;
	json_object_object_add(o, "shard_id", lt ? NULL : json_str(l->shard_id));
	json_object_object_add(o, "state", json_object_new_string(row_state(r)));
	json_object_object_add(o, "reader_pid",
	    lt || l->reader_pid <= 0 ? NULL : json_object_new_int64(l->reader_pid));
	json_object_object_add(o, "restarts", lt ? NULL : json_object_new_int64(l->restarts));
	json_object_object_add(o, "records", pt ? NULL : json_object_new_uint64(p->records));
	json_object_object_add(o, "bytes", pt ? NULL : json_object_new_uint64(p->bytes));
	json_object_object_add(o, "checkpoint",
	    row_checkpoint(r, ckpt, sizeof(ckpt)) ? json_object_new_string(ckpt) : NULL);
	json_object_object_add(o, "lease_counter",
	    lt ? NULL : json_object_new_uint64(l->lease_counter));
	json_object_object_add(o, "lease_ms_left",
	    row_lease_left(r, now, &left) ? json_object_new_int64(left) : NULL);
	json_object_object_add(o, "millis_behind",
	    pt || p->millis_behind < 0 ? NULL : json_object_new_int64(p->millis_behind));
	json_object_object_add(o, "read_mode", json_str(ctl_row_mode(r)));
	/* Fan-out only (null otherwise); the age is null between two subscriptions. */
	json_object_object_add(o, "subscription_age_ms",
	    fan && age >= 0 ? json_object_new_int64(age) : NULL);
	json_object_object_add(o, "resubscribes", fan ? json_object_new_uint64(resubs) : NULL);
	json_object_object_add(o, "last_error", json_str(row_error(r)));
	return o;
}

int
ctl_status_json(const struct ctl_status *st, FILE *out)
{
	json_object *root = json_object_new_object(), *shards = json_object_new_array();
	int rc = -1;

	if (!root || !shards) {
		json_object_put(root);
		json_object_put(shards);
		errno = ENOMEM;
		return -1;
	}
	json_object_object_add(root, "application", json_object_new_string(st->application));
	json_object_object_add(root, "stream", json_object_new_string(st->stream));
	json_object_object_add(root, "worker_id", json_object_new_string(st->worker_id));
	json_object_object_add(root, "shards", shards);
	for (size_t i = 0; i < st->n; i++) {
		json_object *row = json_row(&st->rows[i], st->now);
		if (!row || json_object_array_add(shards, row) < 0) {
			json_object_put(row);
			errno = ENOMEM;
			goto out;
		}
	}
	fprintf(out, "%s\n",
	    json_object_to_json_string_ext(root,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	rc = ferror(out) ? -1 : 0;
out:
	json_object_put(root);
	return rc;
}

/* ---------------------------------------------------------------- command */

static void
status_usage(FILE *f)
{
	fprintf(f, "usage: kls-ctl status [-a APP | --shm NAME] [--json | --watch[=SEC] [--count N]]\n"
		   "       kls-ctl status --klsd [-a APP | -S PATH]\n"
		   "  -a, --app APP     the table of application APP (/kls.APP)\n"
		   "      --shm NAME    the table with shm name NAME\n"
		   "      --json        one JSON object: application, stream, worker_id, shards\n"
		   "      --watch[=SEC] refresh every SEC seconds (default 2) with lag and\n"
		   "                    records per second per shard; --count N: N times, then exit\n"
		   "      --klsd        ask klsd itself (its control socket, -S PATH or the\n"
		   "                    application's): phase, readiness, counters, leases, reload\n"
		   "Without -a or --shm, the only kls.* table in " CTL_SHM_DIR " is read.\n");
}

/* --watch=SEC: 0.1 to 3600 seconds, in ms; -1 when it is not that. */
static int64_t
parse_interval(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0.1 && v <= 3600))
		return -1;
	return (int64_t)(v * 1000 + 0.5);
}

int
ctl_cmd_status(int argc, char **argv, FILE *out, FILE *err)
{
	static const struct option opts[] = {
		{ "app", required_argument, NULL, 'a' },
		{ "shm", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "watch", optional_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'n' },
		{ "klsd", no_argument, NULL, 'k' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *app = NULL, *shm = NULL, *sock = NULL;
	char name[NAME_MAX + 2], msg[512], *end;
	struct kls_shm_err serr;
	struct kls_shm *t;
	struct ctl_status st;
	bool json = false, klsd = false;
	int64_t watch_ms = 0;
	long count = 0;
	int c, rc;

	/* getopt keeps global state; optind = 0 makes glibc start afresh, so the command can
	 * run more than once in one process (the tests do). Its messages would go to
	 * stderr, not to err: we print our own. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":a:S:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			app = optarg;
			break;
		case 's':
			shm = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'w':
			if ((watch_ms = optarg ? parse_interval(optarg) : 2000) < 0) {
				fprintf(err, "kls-ctl status: --watch wants 0.1 to 3600 seconds, "
					     "not \"%s\"\n", optarg);
				return 1;
			}
			break;
		case 'n':
			errno = 0;
			count = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || count < 1) {
				fprintf(err, "kls-ctl status: --count wants a positive number, "
					     "not \"%s\"\n", optarg);
				return 1;
			}
			break;
		case 'k':
			klsd = true;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'h':
			status_usage(out);
			return 0;
		case ':':
			fprintf(err, "kls-ctl status: %s needs an argument\n", argv[optind - 1]);
			return 1;
		default:
			fprintf(err, "kls-ctl status: unknown option %s\n", argv[optind - 1]);
			status_usage(err);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(err, "kls-ctl status: unexpected argument \"%s\"\n", argv[optind]);
		return 1;
	}
	if ((app && shm) || (app && sock)) {
		fprintf(err, "kls-ctl status: give -a or %s, not both\n", shm ? "--shm" : "-S");
		return 1;
	}
	if ((json && watch_ms) || (count && !watch_ms) || (klsd && (json || watch_ms || shm)) ||
	    (sock && !klsd)) {
		fprintf(err, "kls-ctl status: --json, --watch and --klsd do not mix; --count goes "
			     "with --watch, -S with --klsd\n");
		return 1;
	}
	if (klsd)
		return ctl_klsd_status(app, sock, out, err);
	if (ctl_pick_table(CTL_SHM_DIR, app, shm, name, sizeof(name), msg, sizeof(msg)) < 0) {
		fprintf(err, "kls-ctl status: %s\n", msg);
		return 1;
	}
	if (kls_shm_attach_ro(name, &t, &serr) < 0) {
		fprintf(err, "kls-ctl status: %s\n", serr.msg);
		return 1;
	}
	if (watch_ms) {
		rc = ctl_status_watch(t, watch_ms, count, out, err);
		kls_shm_close(t);
		return rc;
	}
	if (ctl_status_read(t, KLS_SHM_READ_TRIES, &st) < 0) {
		fprintf(err, "kls-ctl status: reading %s: %s\n", name, strerror(errno));
		kls_shm_close(t);
		return 1;
	}
	rc = json ? ctl_status_json(&st, out) : ctl_status_text(&st, out);
	ctl_status_free(&st);
	kls_shm_close(t);
	if (rc < 0 || fflush(out) != 0) {
		fprintf(err, "kls-ctl status: writing output: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
