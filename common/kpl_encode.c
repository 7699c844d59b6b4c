/*
 * KPL aggregation, the producer side (see kpl_encode.h). Output is written straight into
 * the caller's buffer and the MD5 taken over it in place; the only allocations are the
 * per-call key index arrays used to share table entries between equal keys.
 */
#include "config.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/kpl.h"
#include "common/kpl_encode.h"

size_t
kpl_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

int
kpl_put_varint(struct kls_buf *b, uint64_t v)
{
	unsigned char tmp[10];
	size_t n = 0;

	while (v >= 0x80) {
		tmp[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (unsigned char)v;
	return buf_append(b, tmp, n);
}

int
kpl_put_key(struct kls_buf *b, uint32_t field, unsigned wire_type)
{
	return kpl_put_varint(b, (uint64_t)field << 3 | (wire_type & 7));
}

int
kpl_put_uint(struct kls_buf *b, uint32_t field, uint64_t v)
{
	if (kpl_put_key(b, field, 0) != 0)
		return -1;
	return kpl_put_varint(b, v);
}

int
kpl_put_bytes(struct kls_buf *b, uint32_t field, const void *p, size_t n)
{
	if (kpl_put_key(b, field, 2) != 0 || kpl_put_varint(b, n) != 0)
		return -1;
	return buf_append(b, p, n);
}

/* Appends the MD5 of out->data[start..len). */
static int
append_md5(struct kls_buf *out, size_t start)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (EVP_Digest(out->data + start, out->len - start, d, &dlen, EVP_md5(), NULL) != 1 ||
	    dlen != KPL_MD5_LEN) {
		errno = EIO;
		return -1;
	}
	return buf_append(out, d, dlen);
}

/* Undoes a partial append, keeping the buffer NUL-terminated. */
static void
truncate_to(struct kls_buf *out, size_t len)
{
	out->len = len;
	if (out->data != NULL)
		out->data[len] = '\0';
}

int
kpl_frame(struct kls_buf *out, const void *proto, size_t len)
{
	size_t start = out->len;

	if (buf_append(out, kpl_magic, KPL_MAGIC_LEN) != 0 || buf_append(out, proto, len) != 0 ||
	    append_md5(out, start + KPL_MAGIC_LEN) != 0) {
		truncate_to(out, start);
		return -1;
	}
	return 0;
}

static void
entry_key(const struct kpl_entry *e, int ehk, const char **p, size_t *n)
{
	*p = ehk ? e->explicit_hash_key : e->partition_key;
	*n = ehk ? e->explicit_hash_key_len : e->partition_key_len;
}

/* FNV-1a: spreads short keys well enough for an index that lives for one call. */
static size_t
key_hash(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return (size_t)h;
}

/*
 * Writes the table of field `field` (partition keys, or explicit hash keys when ehk) in
 * first-seen order and sets index_of[i] to entry i's table index (SIZE_MAX: no key).
 */
static int
put_table(struct kls_buf *b, uint32_t field, int ehk, const struct kpl_entry *e, size_t n,
    size_t *index_of)
{
	size_t cap = 16, count = 0, *slot; /* slot: 1 + the first entry with that key */
	int rc = 0;

	while (cap < 2 * n)
		cap *= 2;
	slot = calloc(cap, sizeof(*slot));
	if (slot == NULL)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *p, *q;
		size_t len, qlen, h;

		entry_key(&e[i], ehk, &p, &len);
		index_of[i] = SIZE_MAX;
		if (p == NULL)
			continue;
		for (h = key_hash(p, len) & (cap - 1); slot[h] != 0; h = (h + 1) & (cap - 1)) {
			entry_key(&e[slot[h] - 1], ehk, &q, &qlen);
			if (qlen == len && memcmp(p, q, len) == 0) {
				index_of[i] = index_of[slot[h] - 1];
				break;
			}
		}
		if (index_of[i] == SIZE_MAX) {
			slot[h] = i + 1;
			index_of[i] = count++;
			rc = kpl_put_bytes(b, field, p, len);
		}
	}
	free(slot);
	return rc;
}

static int
put_record(struct kls_buf *b, const struct kpl_entry *e, size_t pk, size_t ehk)
{
	size_t size = 1 + kpl_varint_len(pk) + 1 + kpl_varint_len(e->data_len) + e->data_len;

	if (ehk != SIZE_MAX)
		size += 1 + kpl_varint_len(ehk);
	if (kpl_put_key(b, 3, 2) != 0 || kpl_put_varint(b, size) != 0 ||
	    kpl_put_uint(b, 1, pk) != 0 || (ehk != SIZE_MAX && kpl_put_uint(b, 2, ehk) != 0))
		return -1;
	return kpl_put_bytes(b, 3, e->data, e->data_len);
}

int
kpl_encode(struct kls_buf *out, const struct kpl_entry *e, size_t n)
{
	size_t start = out->len, *pk = NULL, *ehk = NULL;
	int rc = -1, saved;

	for (size_t i = 0; i < n; i++) {
		if (e[i].partition_key == NULL) {
			errno = EINVAL;
			return -1;
		}
	}
	if (n > SIZE_MAX / 2 / sizeof(*pk)) {
		errno = ENOMEM;
		return -1;
	}
	pk = malloc((n ? n : 1) * sizeof(*pk));
	ehk = malloc((n ? n : 1) * sizeof(*ehk));
	if (pk == NULL || ehk == NULL)
		goto out;
	if (buf_append(out, kpl_magic, KPL_MAGIC_LEN) != 0 || put_table(out, 1, 0, e, n, pk) != 0 ||
	    put_table(out, 2, 1, e, n, ehk) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (put_record(out, &e[i], pk[i], ehk[i]) != 0)
			goto out;
	}
	rc = append_md5(out, start + KPL_MAGIC_LEN);
out:
	saved = errno;
	if (rc != 0)
		truncate_to(out, start);
	free(pk);
	free(ehk);
	errno = saved;
	return rc;
}
