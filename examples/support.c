/* Shared code of the example handlers: see support.h. */
#include "config.h"

#include "examples/support.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int
ex_config_u64(const struct kls_handler_config *config, const char *key, uint64_t def,
    uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	const char *v = kls_config_get(config, key);
	unsigned long long n;
	char *end;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	errno = 0;
	n = strtoull(v, &end, 10);
	/* strtoull accepts "-1" as a huge number: refuse anything but digits. */
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno == ERANGE || n > max) {
		snprintf(err, errlen, "%s = %s: expected an integer from 0 to %" PRIu64, key, v, max);
		return -1;
	}
	*out = n;
	return 0;
}

int
ex_config_bool(const struct kls_handler_config *config, const char *key, bool def, bool *out,
    char *err, size_t errlen)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	const char *v = kls_config_get(config, key);

	*out = def;
	if (v == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	snprintf(err, errlen, "%s = %s: expected yes or no", key, v);
	return -1;
}

int
ex_config_prob(const struct kls_handler_config *config, const char *key, double def,
    double *out, char *err, size_t errlen)
{
	const char *v = kls_config_get(config, key);
	char *end;
	double p;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	errno = 0;
	p = strtod(v, &end);
	/* The negated comparison also refuses NaN. */
	if (end == v || *end != '\0' || errno == ERANGE || !(p >= 0.0 && p <= 1.0)) {
		snprintf(err, errlen, "%s = %s: expected a probability from 0 to 1", key, v);
		return -1;
	}
	*out = p;
	return 0;
}

int64_t
ex_boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
ex_expand_path(char *out, size_t size, const char *pattern, const char *shard_id)
{
	size_t o = 0, idlen = strlen(shard_id);

	for (const char *p = pattern; *p != '\0'; p++) {
		const char *piece = p;
		size_t len = 1;
		if (p[0] == '%' && p[1] == 's') {
			piece = shard_id;
			len = idlen;
			p++;
		}
		if (o + len >= size) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(out + o, piece, len);
		o += len;
	}
	out[o] = '\0';
	return 0;
}

int
linefile_open(struct linefile *lf, const char *pattern, const char *shard_id, bool sync)
{
	memset(lf, 0, sizeof(*lf));
	lf->fd = -1;
	lf->sync = sync;
	if (ex_expand_path(lf->path, sizeof(lf->path), pattern, shard_id) == -1)
		return -1;
	lf->fd = open(lf->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	return lf->fd == -1 ? -1 : 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
reserve(struct linefile *lf, size_t extra)
{
	size_t cap = lf->cap ? lf->cap : 4096;
	char *nb;

	if (lf->len + extra <= lf->cap)
		return 0;
	while (cap < lf->len + extra)
		cap *= 2;
	nb = realloc(lf->buf, cap);
	if (nb == NULL)
		return -1;
	lf->buf = nb;
	lf->cap = cap;
	return 0;
}

/* Appends one record's line: fixed fields, then the escaped data (4 bytes per input
 * byte at most). */
static int
append_line(struct linefile *lf, const char *shard_id, const char *worker_id,
    const struct kls_record *r, long pid, int64_t t0, int64_t t1)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *d = r->data;
	size_t head = strlen(shard_id) + strlen(r->sequence_number) + strlen(worker_id) + 128;
	char *o;
	int n;

	if (r->data_len > (SIZE_MAX - head) / 4 || reserve(lf, head + 4 * r->data_len + 1) == -1) {
		errno = ENOMEM;
		return -1;
	}
	n = snprintf(lf->buf + lf->len, head, "%s %s %" PRIu64 " %s %ld %" PRId64 " %" PRId64 " ",
	    shard_id, r->sequence_number, r->sub_sequence_number, worker_id, pid, t0, t1);
	if (n < 0 || (size_t)n >= head) {
		errno = EOVERFLOW;
		return -1;
	}
	o = lf->buf + lf->len + n;
	for (size_t i = 0; i < r->data_len; i++) {
		unsigned char c = d[i];
		if (c == '\\') {
			*o++ = '\\';
			*o++ = '\\';
		} else if (c == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else if (c == '\r') {
			*o++ = '\\';
			*o++ = 'r';
		} else if (c == '\t') {
			*o++ = '\\';
			*o++ = 't';
		} else if (c >= 0x20 && c < 0x7f) {
			*o++ = (char)c;
		} else {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 0xf];
		}
	}
	*o++ = '\n';
	lf->len = (size_t)(o - lf->buf);
	return 0;
}

int
linefile_write(struct linefile *lf, const char *shard_id, const char *worker_id,
    const struct kls_record *records, size_t n, int64_t t0, int64_t t1)
{
	long pid = (long)getpid();

	lf->len = 0;
	for (size_t i = 0; i < n; i++) {
		if (append_line(lf, shard_id, worker_id, &records[i], pid, t0, t1) == -1)
			return -1;
		/* Whole lines per write, and a bounded buffer even for a 10 MB batch. */
		if (lf->len >= LINEFILE_FLUSH) {
			if (write_all(lf->fd, lf->buf, lf->len) == -1)
				return -1;
			lf->len = 0;
		}
	}
	if (lf->len > 0 && write_all(lf->fd, lf->buf, lf->len) == -1)
		return -1;
	lf->len = 0;
	if (lf->sync && n > 0 && fdatasync(lf->fd) == -1)
		return -1;
	return 0;
}

void
linefile_close(struct linefile *lf)
{
	if (lf->fd != -1)
		close(lf->fd);
	free(lf->buf);
	lf->fd = -1;
	lf->buf = NULL;
	lf->len = lf->cap = 0;
}
