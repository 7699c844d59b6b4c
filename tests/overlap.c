/*
 * Reading the filelog output of a multi-worker test and checking it: see overlap.h.
 */
#include "config.h"

#include "tests/overlap.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/payload.h"

#define OV_LINE_MAX 4096 /* the tests' records are short; a longer line is skipped */

void
ov_free(struct ov_out *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->s[i].v);
	free(o->s);
	o->s = NULL;
	o->n = 0;
}

struct ov_shard *
ov_find(const struct ov_out *o, const char *shard)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->s[i].id, shard) == 0)
			return &o->s[i];
	return NULL;
}

static struct ov_shard *
shard_for(struct ov_out *o, const char *id)
{
	struct ov_shard *s = ov_find(o, id), *nv;

	if (s)
		return s;
	if (!(nv = realloc(o->s, (o->n + 1) * sizeof(*nv))))
		return NULL;
	o->s = nv;
	s = &o->s[o->n++];
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", id);
	return s;
}

/* One line into o; 0 (also for a partial or foreign line, which is skipped) or -1. */
static int
add_line(struct ov_out *o, char *text)
{
	char shard[OV_ID_MAX];
	struct ov_line l;
	long long t0, t1;
	unsigned long long sub;
	int used = 0;
	size_t len = strlen(text);
	struct ov_shard *s;
	uint64_t n;

	/* The data is last and may hold spaces: everything after the seventh field. */
	if (len == 0 || text[len - 1] != '\n')
		return 0; /* still being written */
	text[--len] = '\0';
	if (sscanf(text, "%135s %135s %llu %159s %ld %lld %lld %n", shard, l.seq, &sub, l.worker,
	        &l.pid, &t0, &t1, &used) != 7 ||
	    used == 0)
		return 0;
	l.sub = sub;
	l.t0 = t0;
	l.t1 = t1;
	l.rec = payload_seq(text + used, len - (size_t)used, &n) == 0 ? (long long)n : -1;
	if (!(s = shard_for(o, shard)))
		return -1;
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 256;
		struct ov_line *nv = realloc(s->v, ncap * sizeof(*nv));
		if (!nv)
			return -1;
		s->v = nv;
		s->cap = ncap;
	}
	s->v[s->n++] = l;
	return 0;
}

int
ov_load(struct ov_out *o, const char *dir)
{
	char path[4096], *line;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	ov_free(o);
	if (!(d = opendir(dir)))
		return -1;
	if (!(line = malloc(OV_LINE_MAX))) {
		closedir(d);
		return -1;
	}
	while (rc == 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		FILE *fp;
		if (strncmp(de->d_name, "out-", 4) != 0 || n < 8 ||
		    strcmp(de->d_name + n - 4, ".log") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!(fp = fopen(path, "r")))
			continue;
		while (rc == 0 && fgets(line, OV_LINE_MAX, fp))
			rc = add_line(o, line);
		fclose(fp);
	}
	free(line);
	closedir(d);
	if (rc < 0)
		errno = ENOMEM;
	return rc;
}

struct batch {
	long pid;
	int64_t t0, t1;
};

static int
cmp_batch(const void *a, const void *b)
{
	const struct batch *x = a, *y = b;

	if (x->t0 != y->t0)
		return x->t0 < y->t0 ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Batches of one shard: the lines of a batch share pid, t0 and t1. */
static struct batch *
batches_of(const struct ov_shard *s, size_t *n)
{
	struct batch *b = s->n ? malloc(s->n * sizeof(*b)) : NULL;

	*n = 0;
	for (size_t i = 0; b && i < s->n; i++) {
		const struct ov_line *l = &s->v[i];
		if (*n && b[*n - 1].pid == l->pid && b[*n - 1].t0 == l->t0 && b[*n - 1].t1 == l->t1)
			continue;
		b[(*n)++] = (struct batch){ l->pid, l->t0, l->t1 };
	}
	return b;
}

int
ov_check_overlap(const struct ov_out *o, char *why, size_t whylen)
{
	for (size_t i = 0; i < o->n; i++) {
		const struct ov_shard *s = &o->s[i];
		/* Sweep in order of start, keeping the latest end seen so far (max1) and the
		 * latest end of any other pid (max2): a batch overlaps an earlier batch of
		 * another pid iff that pid's latest end reaches its start. */
		struct batch max1 = { 0, INT64_MIN, INT64_MIN }, max2 = max1;
		size_t n;
		struct batch *b = batches_of(s, &n);

		if (s->n && !b) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		qsort(b, n, sizeof(*b), cmp_batch);
		for (size_t j = 0; j < n; j++) {
			const struct batch *c = &b[j];
			const struct batch *other = max1.pid != c->pid ? &max1 : &max2;
			if (other->t1 != INT64_MIN && other->t1 >= c->t0) {
				snprintf(why, whylen,
				    "%s: batch of pid %ld [%" PRId64 ", %" PRId64
				    "] overlaps pid %ld "
				    "ending at %" PRId64 " (%.3f ms)",
				    s->id, c->pid, c->t0, c->t1, other->pid, other->t1,
				    (double)(other->t1 - c->t0) / 1e6);
				free(b);
				return -1;
			}
			if (c->pid == max1.pid) {
				if (c->t1 > max1.t1)
					max1.t1 = c->t1;
			} else if (c->t1 > max1.t1) {
				max2 = max1;
				max1 = *c;
			} else if (c->t1 > max2.t1) {
				max2 = *c;
			}
		}
		free(b);
	}
	return 0;
}

void
ov_delivery(const struct ov_out *o, long long n, struct ov_delivery *d)
{
	unsigned *seen = n > 0 ? calloc((size_t)n, sizeof(*seen)) : NULL;

	memset(d, 0, sizeof(*d));
	d->first_missing = n > 0 ? 0 : -1;
	if (n > 0 && !seen)
		return; /* distinct stays 0: the caller's check fails */
	for (size_t i = 0; i < o->n; i++)
		for (size_t j = 0; j < o->s[i].n; j++) {
			long long r = o->s[i].v[j].rec;
			if (r < 0 || r >= n)
				continue;
			d->lines++;
			if (seen[r]++)
				d->dups++;
			else
				d->distinct++;
		}
	d->first_missing = -1;
	for (long long r = 0; r < n; r++)
		if (!seen[r]) {
			d->first_missing = r;
			break;
		}
	free(seen);
}

static int
cmp_run(const void *a, const void *b)
{
	const struct ov_run *x = a, *y = b;

	return (x->first_t0 > y->first_t0) - (x->first_t0 < y->first_t0);
}

int
ov_runs(const struct ov_shard *s, struct ov_run **out, size_t *n)
{
	struct ov_run *r = NULL;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct ov_line *l = &s->v[i];
		size_t j;
		for (j = 0; j < *n; j++)
			if (r[j].pid == l->pid)
				break;
		if (j == *n) {
			struct ov_run *nv = realloc(r, (*n + 1) * sizeof(*nv));
			if (!nv) {
				free(r);
				*n = 0;
				return -1;
			}
			r = nv;
			r[j] =
			    (struct ov_run){ .pid = l->pid, .first_t0 = l->t0, .last_t1 = l->t1 };
			snprintf(r[j].worker, sizeof(r[j].worker), "%s", l->worker);
			(*n)++;
		}
		if (l->t0 < r[j].first_t0)
			r[j].first_t0 = l->t0;
		if (l->t1 > r[j].last_t1)
			r[j].last_t1 = l->t1;
		r[j].lines++;
	}
	if (*n)
		qsort(r, *n, sizeof(*r), cmp_run);
	*out = r;
	return 0;
}

int64_t
ov_last_t1(const struct ov_shard *s, long pid)
{
	int64_t t = 0;

	for (size_t i = 0; s && i < s->n; i++)
		if (s->v[i].pid == pid && s->v[i].t1 > t)
			t = s->v[i].t1;
	return t;
}

int64_t
ov_first_t0_after(const struct ov_shard *s, long not_pid, int64_t after)
{
	int64_t t = INT64_MAX;

	for (size_t i = 0; s && i < s->n; i++)
		if (s->v[i].pid != not_pid && s->v[i].t0 > after && s->v[i].t0 < t)
			t = s->v[i].t0;
	return t;
}
