/*
 * KPL de-aggregation (see kpl.h for the format and the contract). The protobuf decoder
 * here knows exactly three messages, nested at most three deep, so it is three flat loops
 * over one bounded field reader instead of a general (recursive) protobuf parser: every
 * varint is at most 10 bytes, every length is checked against the bytes that remain in its
 * enclosing message, and groups (wire types 3 and 4, deprecated and unused by KPL) are
 * refused rather than matched.
 *
 * Two passes over AggregatedRecord: the first collects the key tables and the spans of the
 * Record messages (protobuf allows the tables to come after the records, though KPL writes
 * them first), the second decodes each Record and resolves its indices.
 */
#include "config.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kpl.h"

const unsigned char kpl_magic[KPL_MAGIC_LEN] = { 0xF3, 0x89, 0x9A, 0xC2 };

/* Protobuf wire types. */
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5 };

/* Field numbers are 29 bits wide. */
#define PB_MAX_FIELD ((1u << 29) - 1)
#define PB_MAX_VARINT 10

void
kpl_limits_default(struct kpl_limits *lim)
{
	/* The smallest Record is 6 bytes, so a 1 MiB record can hold ~175,000; producers
	 * that pack that many are not something a reader has to follow. */
	lim->max_records = 100000;
	lim->max_table_entries = 100000;
	lim->max_partition_key = 1024;
}

int
kpl_init(struct kpl *k, const struct kpl_limits *lim)
{
	memset(k, 0, sizeof(*k));
	if (lim != NULL)
		k->lim = *lim;
	else
		kpl_limits_default(&k->lim);
	/* Fetched once: an implicit fetch per digest costs a provider lookup each time. */
	k->md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	if (k->md5 == NULL) {
		errno = EINVAL;
		return -1;
	}
	k->md5_ctx = EVP_MD_CTX_new();
	if (k->md5_ctx == NULL) {
		EVP_MD_free(k->md5);
		k->md5 = NULL;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void
kpl_free(struct kpl *k)
{
	free(k->records);
	free(k->pk_table);
	free(k->ehk_table);
	free(k->keys);
	EVP_MD_CTX_free(k->md5_ctx);
	EVP_MD_free(k->md5);
	memset(k, 0, sizeof(*k));
}

static const char *const reason_names[] = {
	[KPL_OK] = "ok",
	[KPL_NO_MAGIC] = "no_magic",
	[KPL_TOO_SHORT] = "too_short",
	[KPL_MD5_MISMATCH] = "md5_mismatch",
	[KPL_MALFORMED] = "malformed",
	[KPL_MISSING_FIELD] = "missing_field",
	[KPL_BAD_INDEX] = "bad_index",
	[KPL_BAD_HASH_KEY] = "bad_hash_key",
	[KPL_LIMIT] = "limit",
};

const char *
kpl_reason_name(enum kpl_reason reason)
{
	if ((size_t)reason < sizeof(reason_names) / sizeof(reason_names[0]))
		return reason_names[reason];
	return "unknown";
}

static int
fail(struct kpl_error *err, enum kpl_reason reason, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Internal results: 0 go on, REJECT not an aggregate (err says why), -1 errno. */
#define REJECT 1

/* Records why the input is not an aggregate; returns REJECT. */
static int
fail(struct kpl_error *err, enum kpl_reason reason, size_t offset, const char *fmt, ...)
{
	va_list ap;

	err->reason = reason;
	err->offset = offset;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return REJECT;
}

/* Where in the aggregate a check failed; formatted only when one does, since building
 * a name per record would cost more than decoding it. */
struct where {
	const char *name;   /* "AggregatedRecord", or "records" with an index */
	size_t index;       /* of the Record, SIZE_MAX for none */
	const char *suffix; /* "" or ".tags" */
};

static int
fail_in(struct kpl_error *err, enum kpl_reason reason, size_t offset, const struct where *w,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* fail() with the message prefixed by where it happened: "records[3].tags: ...". */
static int
fail_in(struct kpl_error *err, enum kpl_reason reason, size_t offset, const struct where *w,
    const char *fmt, ...)
{
	va_list ap;
	int n;

	if (w->index == SIZE_MAX)
		n = snprintf(err->message, sizeof(err->message), "%s: ", w->name);
	else
		n = snprintf(err->message, sizeof(err->message), "%s[%zu]%s: ", w->name,
		    w->index, w->suffix);
	if (n < 0 || (size_t)n >= sizeof(err->message))
		n = (int)sizeof(err->message) - 1;
	err->reason = reason;
	err->offset = offset;
	va_start(ap, fmt);
	vsnprintf(err->message + n, sizeof(err->message) - (size_t)n, fmt, ap);
	va_end(ap);
	return REJECT;
}

/* -1 with errno and the message set: the caller cannot tell what the record is. */
static int
fail_errno(struct kpl_error *err, int e, const char *what)
{
	err->reason = KPL_OK;
	err->offset = 0;
	snprintf(err->message, sizeof(err->message), "%s: %s", what, strerror(e));
	errno = e;
	return -1;
}

static struct kpl_u128
u128_from_be(const unsigned char b[16])
{
	struct kpl_u128 v = { 0, 0 };

	for (int i = 0; i < 8; i++) {
		v.hi = v.hi << 8 | b[i];
		v.lo = v.lo << 8 | b[8 + i];
	}
	return v;
}

/* MD5 of p[0..n) into out, with k's fetched digest. 0 or -1. */
static int
md5(struct kpl *k, const void *p, size_t n, unsigned char out[KPL_MD5_LEN])
{
	unsigned int outlen = 0;

	if (EVP_DigestInit_ex2(k->md5_ctx, k->md5, NULL) != 1 ||
	    EVP_DigestUpdate(k->md5_ctx, p, n) != 1 ||
	    EVP_DigestFinal_ex(k->md5_ctx, out, &outlen) != 1 || outlen != KPL_MD5_LEN)
		return -1;
	return 0;
}

/* Grows *arr (of elements of size elem) to hold need elements; need <= max. 0 or -1. */
static int
grow(void **arr, size_t *cap, size_t need, size_t elem, size_t max)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > max)
		ncap = max;
	if (ncap > SIZE_MAX / elem)
		return -1;
	p = realloc(*arr, ncap * elem);
	if (p == NULL)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* A bounded reader over one message. base is the start of the whole input, for offsets. */
struct pb {
	const unsigned char *base, *p, *end;
};

/* One decoded field: its number and wire type, and its value or payload. */
struct pb_field {
	uint32_t num;
	unsigned wt;
	uint64_t u;               /* WT_VARINT */
	const unsigned char *ptr; /* WT_LEN */
	size_t len;
	size_t off; /* of the field's key in the input */
};

/* 0, or -1 with *what naming the fault. */
static int
pb_varint(struct pb *r, uint64_t *v, const char **what)
{
	uint64_t x = 0;

	for (unsigned i = 0; i < PB_MAX_VARINT; i++) {
		unsigned char b;

		if (r->p == r->end) {
			*what = "truncated varint";
			return -1;
		}
		b = *r->p++;
		/* The tenth byte holds bit 63 only; anything more is not a uint64. */
		if (i == PB_MAX_VARINT - 1 && b > 1) {
			*what = "varint wider than 64 bits";
			return -1;
		}
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	*what = "varint longer than 10 bytes"; /* not reached: b <= 1 ends it above */
	return -1;
}

/* Reads the next field of r (which must not be at its end), consuming its payload. */
static int
pb_next(struct pb *r, struct pb_field *f, const struct where *w, struct kpl_error *err)
{
	const char *what = NULL;
	uint64_t key, len;

	f->off = (size_t)(r->p - r->base);
	f->u = 0;
	f->ptr = NULL;
	f->len = 0;
	if (pb_varint(r, &key, &what) != 0)
		return fail_in(err, KPL_MALFORMED, f->off, w, "field key: %s", what);
	if (key >> 3 == 0 || key >> 3 > PB_MAX_FIELD)
		return fail_in(err, KPL_MALFORMED, f->off, w, "field number %llu out of range",
		    (unsigned long long)(key >> 3));
	f->num = (uint32_t)(key >> 3);
	f->wt = (unsigned)(key & 7);
	switch (f->wt) {
	case WT_VARINT:
		if (pb_varint(r, &f->u, &what) != 0)
			return fail_in(err, KPL_MALFORMED, f->off, w, "field %u: %s", f->num, what);
		return 0;
	case WT_I64:
	case WT_I32: {
		size_t n = f->wt == WT_I64 ? 8 : 4;

		if ((size_t)(r->end - r->p) < n)
			return fail_in(err, KPL_MALFORMED, f->off, w,
			    "field %u: truncated fixed%zu", f->num, n * 8);
		r->p += n;
		return 0;
	}
	case WT_LEN:
		if (pb_varint(r, &len, &what) != 0)
			return fail_in(err, KPL_MALFORMED, f->off, w,
			    "field %u: length: %s", f->num, what);
		if (len > (uint64_t)(r->end - r->p))
			return fail_in(err, KPL_MALFORMED, f->off, w,
			    "field %u: length %llu past the %zu bytes left", f->num,
			    (unsigned long long)len, (size_t)(r->end - r->p));
		f->ptr = r->p;
		f->len = (size_t)len;
		r->p += len;
		return 0;
	case WT_SGROUP:
	case WT_EGROUP:
		return fail_in(err, KPL_MALFORMED, f->off, w, "field %u: groups are not supported",
		    f->num);
	default:
		return fail_in(err, KPL_MALFORMED, f->off, w, "field %u: invalid wire type %u",
		    f->num, f->wt);
	}
}

static int
wrong_type(const struct pb_field *f, unsigned want, const struct where *w,
    struct kpl_error *err)
{
	return fail_in(err, KPL_MALFORMED, f->off, w, "field %u: wire type %u, expected %u",
	    f->num, f->wt, want);
}

/* First pass: the key tables and the spans of the Record messages (kept in records[]). */
static int
scan_aggregate(struct kpl *k, struct pb *r, struct kpl_error *err)
{
	static const struct where top = { "AggregatedRecord", SIZE_MAX, "" }, *w = &top;
	struct pb_field f;
	int rc;

	while (r->p < r->end) {
		if ((rc = pb_next(r, &f, w, err)) != 0)
			return rc;
		if (f.num >= 1 && f.num <= 3 && f.wt != WT_LEN)
			return wrong_type(&f, WT_LEN, w, err);
		if (f.num == 1) {
			struct kpl_key *e;

			if (k->n_pk == k->lim.max_table_entries)
				return fail(err, KPL_LIMIT, f.off,
				    "partition_key_table: more than %zu entries", k->n_pk);
			if (f.len > k->lim.max_partition_key)
				return fail(err, KPL_LIMIT, f.off,
				    "partition_key_table[%zu]: %zu bytes, limit %zu", k->n_pk,
				    f.len, k->lim.max_partition_key);
			if (grow((void **)&k->pk_table, &k->cap_pk, k->n_pk + 1, sizeof(*e),
			    k->lim.max_table_entries) != 0)
				return fail_errno(err, ENOMEM, "partition_key_table");
			e = &k->pk_table[k->n_pk++];
			e->ptr = (const char *)f.ptr;
			e->len = f.len;
			e->hash_key_known = 0;
		} else if (f.num == 2) {
			struct kpl_key *e;
			struct kpl_u128 v;

			if (k->n_ehk == k->lim.max_table_entries)
				return fail(err, KPL_LIMIT, f.off,
				    "explicit_hash_key_table: more than %zu entries", k->n_ehk);
			if (kpl_u128_parse((const char *)f.ptr, f.len, &v) != 0)
				return fail(err, KPL_BAD_HASH_KEY, f.off,
				    "explicit_hash_key_table[%zu]: not a 128-bit decimal "
				    "(%zu bytes)", k->n_ehk, f.len);
			if (grow((void **)&k->ehk_table, &k->cap_ehk, k->n_ehk + 1, sizeof(*e),
			    k->lim.max_table_entries) != 0)
				return fail_errno(err, ENOMEM, "explicit_hash_key_table");
			e = &k->ehk_table[k->n_ehk++];
			e->ptr = (const char *)f.ptr;
			e->len = f.len;
			e->hash_key = v;
			e->hash_key_known = 1;
		} else if (f.num == 3) {
			struct kpl_user_record *u;

			if (k->n_records == k->lim.max_records)
				return fail(err, KPL_LIMIT, f.off, "records: more than %zu",
				    k->n_records);
			if (grow((void **)&k->records, &k->cap_records, k->n_records + 1,
			    sizeof(*u), k->lim.max_records) != 0)
				return fail_errno(err, ENOMEM, "records");
			u = &k->records[k->n_records++];
			/* The span, until decode_record replaces it with the data. */
			u->data = f.ptr;
			u->data_len = f.len;
		}
		/* Other fields are unknown to this version of the format: skipped. */
	}
	return 0;
}

/* Tag { required string key = 1; optional string value = 2; }: checked, then ignored. */
static int
check_tag(struct pb *r, size_t i, struct kpl_error *err)
{
	const struct where tags = { "records", i, ".tags" }, *w = &tags;
	struct pb_field f;
	int rc, have_key = 0;
	size_t off = (size_t)(r->p - r->base);

	while (r->p < r->end) {
		if ((rc = pb_next(r, &f, w, err)) != 0)
			return rc;
		if ((f.num == 1 || f.num == 2) && f.wt != WT_LEN)
			return wrong_type(&f, WT_LEN, w, err);
		if (f.num == 1)
			have_key = 1;
	}
	if (!have_key)
		return fail_in(err, KPL_MISSING_FIELD, off, w, "no key");
	return 0;
}

/* Second pass, one Record: replaces the span in *u with the user record. */
static int
decode_record(struct kpl *k, const unsigned char *base, size_t i, struct kpl_error *err)
{
	struct kpl_user_record *u = &k->records[i];
	struct pb r = { base, u->data, u->data + u->data_len };
	const struct where rec = { "records", i, "" }, *w = &rec;
	struct pb_field f;
	uint64_t pk_index = 0, ehk_index = 0;
	const unsigned char *data = NULL;
	size_t data_len = 0, off = (size_t)(u->data - base);
	int rc, have_pk = 0, have_ehk = 0, have_data = 0;

	while (r.p < r.end) {
		if ((rc = pb_next(&r, &f, w, err)) != 0)
			return rc;
		switch (f.num) {
		case 1:
		case 2:
			if (f.wt != WT_VARINT)
				return wrong_type(&f, WT_VARINT, w, err);
			/* A repeated scalar keeps its last value, as protobuf parsers do. */
			if (f.num == 1) {
				pk_index = f.u;
				have_pk = 1;
			} else {
				ehk_index = f.u;
				have_ehk = 1;
			}
			break;
		case 3:
			if (f.wt != WT_LEN)
				return wrong_type(&f, WT_LEN, w, err);
			data = f.ptr;
			data_len = f.len;
			have_data = 1;
			break;
		case 4: {
			struct pb t;

			if (f.wt != WT_LEN)
				return wrong_type(&f, WT_LEN, w, err);
			t.base = base;
			t.p = f.ptr;
			t.end = f.ptr + f.len;
			if ((rc = check_tag(&t, i, err)) != 0)
				return rc;
			break;
		}
		default:
			break;
		}
	}
	if (!have_pk)
		return fail_in(err, KPL_MISSING_FIELD, off, w, "no partition_key_index");
	if (!have_data)
		return fail_in(err, KPL_MISSING_FIELD, off, w, "no data");
	if (pk_index >= k->n_pk)
		return fail_in(err, KPL_BAD_INDEX, off, w,
		    "partition_key_index %llu, table has %zu entries",
		    (unsigned long long)pk_index, k->n_pk);
	if (have_ehk && ehk_index >= k->n_ehk)
		return fail_in(err, KPL_BAD_INDEX, off, w,
		    "explicit_hash_key_index %llu, table has %zu entries",
		    (unsigned long long)ehk_index, k->n_ehk);
	u->data = data;
	u->data_len = data_len;
	/* Table sizes are bounded by max_table_entries, far below UINT32_MAX. */
	u->partition_key_index = (uint32_t)pk_index;
	u->partition_key = k->pk_table[pk_index].ptr;
	u->partition_key_len = k->pk_table[pk_index].len;
	if (have_ehk) {
		u->explicit_hash_key_index = (uint32_t)ehk_index;
		u->explicit_hash_key = k->ehk_table[ehk_index].ptr;
		u->explicit_hash_key_len = k->ehk_table[ehk_index].len;
	} else {
		u->explicit_hash_key_index = UINT32_MAX;
		u->explicit_hash_key = NULL;
		u->explicit_hash_key_len = 0;
	}
	u->sub_sequence_number = i;
	return 0;
}

int
kpl_deaggregate(struct kpl *k, const void *buf, size_t len, struct kpl_error *err)
{
	const unsigned char *in = buf;
	unsigned char digest[KPL_MD5_LEN];
	struct pb r;
	int rc;

	k->n_records = k->n_pk = k->n_ehk = 0;
	k->keys_copied = 0;
	err->reason = KPL_OK;
	err->offset = 0;
	err->message[0] = '\0';
	if (len < KPL_MAGIC_LEN || memcmp(in, kpl_magic, KPL_MAGIC_LEN) != 0) {
		fail(err, KPL_NO_MAGIC, 0, "no KPL magic");
		return KPL_NOT_AGGREGATED;
	}
	/* KCL's rule: 16 bytes or fewer after the magic are not an aggregate, so the
	 * 20-byte encoding of an empty AggregatedRecord is delivered raw, as KCL does. */
	if (len - KPL_MAGIC_LEN <= KPL_MD5_LEN) {
		fail(err, KPL_TOO_SHORT, len, "KPL magic but only %zu bytes", len);
		return KPL_NOT_AGGREGATED;
	}
	if (md5(k, in + KPL_MAGIC_LEN, len - KPL_MAGIC_LEN - KPL_MD5_LEN, digest) != 0)
		return fail_errno(err, EIO, "MD5 of the aggregate");
	if (memcmp(digest, in + len - KPL_MD5_LEN, KPL_MD5_LEN) != 0) {
		fail(err, KPL_MD5_MISMATCH, len - KPL_MD5_LEN,
		    "MD5 trailer does not match the %zu protobuf bytes",
		    len - KPL_MAGIC_LEN - KPL_MD5_LEN);
		return KPL_NOT_AGGREGATED;
	}
	r.base = in;
	r.p = in + KPL_MAGIC_LEN;
	r.end = in + len - KPL_MD5_LEN;
	rc = scan_aggregate(k, &r, err);
	for (size_t i = 0; rc == 0 && i < k->n_records; i++)
		rc = decode_record(k, in, i, err);
	if (rc != 0) {
		k->n_records = k->n_pk = k->n_ehk = 0;
		return rc == REJECT ? KPL_NOT_AGGREGATED : -1;
	}
	return KPL_AGGREGATED;
}

int
kpl_check_hash_range(struct kpl *k, const struct kpl_hash_range *range, size_t *first_outside)
{
	for (size_t i = 0; i < k->n_records; i++) {
		const struct kpl_user_record *u = &k->records[i];
		struct kpl_key *key;

		if (u->explicit_hash_key_index != UINT32_MAX) {
			key = &k->ehk_table[u->explicit_hash_key_index];
		} else {
			key = &k->pk_table[u->partition_key_index];
			if (!key->hash_key_known) {
				unsigned char d[KPL_MD5_LEN];

				if (md5(k, key->ptr, key->len, d) != 0) {
					errno = EIO;
					return -1;
				}
				key->hash_key = u128_from_be(d);
				key->hash_key_known = 1;
			}
		}
		if (kpl_u128_cmp(key->hash_key, range->start) < 0 ||
		    kpl_u128_cmp(key->hash_key, range->end) > 0) {
			*first_outside = i;
			return 0;
		}
	}
	return 1;
}

/* Copies table[0..n) into *dst, NUL-terminated, and repoints the entries at the copies. */
static void
copy_table(struct kpl_key *table, size_t n, char **dst)
{
	for (size_t i = 0; i < n; i++) {
		memcpy(*dst, table[i].ptr, table[i].len);
		(*dst)[table[i].len] = '\0';
		table[i].ptr = *dst;
		*dst += table[i].len + 1;
	}
}

int
kpl_terminate_keys(struct kpl *k)
{
	size_t need = 0;
	char *dst;

	if (k->keys_copied)
		return 0;
	/* Each entry is a distinct slice of the input, so the sum cannot overflow. */
	for (size_t i = 0; i < k->n_pk; i++)
		need += k->pk_table[i].len + 1;
	for (size_t i = 0; i < k->n_ehk; i++)
		need += k->ehk_table[i].len + 1;
	if (need > k->keys_cap) {
		char *p = realloc(k->keys, need);

		if (p == NULL) {
			errno = ENOMEM;
			return -1;
		}
		k->keys = p;
		k->keys_cap = need;
	}
	dst = k->keys;
	copy_table(k->pk_table, k->n_pk, &dst);
	copy_table(k->ehk_table, k->n_ehk, &dst);
	for (size_t i = 0; i < k->n_records; i++) {
		struct kpl_user_record *u = &k->records[i];

		u->partition_key = k->pk_table[u->partition_key_index].ptr;
		if (u->explicit_hash_key_index != UINT32_MAX)
			u->explicit_hash_key = k->ehk_table[u->explicit_hash_key_index].ptr;
	}
	k->keys_copied = 1;
	return 0;
}

int
kpl_u128_parse(const char *s, size_t len, struct kpl_u128 *out)
{
	/* Little-endian 32-bit limbs, so each step's product fits in 64 bits. */
	uint32_t limb[4] = { 0, 0, 0, 0 };

	if (len == 0 || len > KPL_MAX_HASH_KEY_DIGITS)
		goto invalid;
	for (size_t i = 0; i < len; i++) {
		uint64_t carry;

		if (s[i] < '0' || s[i] > '9')
			goto invalid;
		carry = (uint64_t)(s[i] - '0');
		for (int j = 0; j < 4; j++) {
			uint64_t t = (uint64_t)limb[j] * 10 + carry;

			limb[j] = (uint32_t)t;
			carry = t >> 32;
		}
		if (carry != 0)
			goto invalid;
	}
	out->hi = (uint64_t)limb[3] << 32 | limb[2];
	out->lo = (uint64_t)limb[1] << 32 | limb[0];
	return 0;
invalid:
	errno = EINVAL;
	return -1;
}

int
kpl_u128_cmp(struct kpl_u128 a, struct kpl_u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

int
kpl_hash_range_parse(struct kpl_hash_range *range, const char *start, const char *end)
{
	if (kpl_u128_parse(start, strlen(start), &range->start) != 0 ||
	    kpl_u128_parse(end, strlen(end), &range->end) != 0)
		return -1;
	if (kpl_u128_cmp(range->start, range->end) > 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
kpl_partition_key_hash(const void *pk, size_t len, struct kpl_u128 *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (EVP_Digest(pk, len, d, &dlen, EVP_md5(), NULL) != 1 || dlen != KPL_MD5_LEN) {
		errno = EIO;
		return -1;
	}
	*out = u128_from_be(d);
	return 0;
}
