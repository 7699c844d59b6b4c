/*
 * The GetRecords response scanner (see getrecords.h for the contract).
 *
 * How it stays fast: the body is read once, left to right, by hand-written code for the
 * known shape; a character-class table drives whitespace and string scanning; Data goes
 * from the body straight through the base64 decoder into the arena (the decoder finds
 * its end, since base64 has no quote); nothing is allocated per record.
 *
 * How it stays safe: the body is followed by a NUL, and no valid token contains one, so
 * every loop that walks characters stops at the end without a length test; the few
 * places that read more than one character ahead (base64 quads and blocks, memchr) are
 * bounded by the length. Nothing recurses: an unknown value is skipped by a loop whose object/array
 * stack is one 64-bit word, so the nesting limit is also the stack's size. Every string
 * written to the arena is shorter than its JSON form, so reserving len + 1 bytes up
 * front is enough for any body and the arena never moves while views point into it.
 *
 * In place (getrecords_parse_inplace) the arena is the body itself. That is safe
 * because the write cursor never catches up with the read cursor: every value written
 * (a string and its NUL, a decoded Data and its NUL) takes fewer bytes than its JSON
 * text with quotes, keys and punctuation are read and never written, and the first
 * value written comes after at least `{"Records":[{"Data":"` (21 bytes) or a longer
 * prefix. So the gap between the two only grows from at least 21 bytes, and the
 * 8-byte word stores of the SWAR loops (which may write up to 7 bytes past a value)
 * land on bytes already read. The only places that read a value twice (a sequence
 * number with an escape in it, Data with an escape or an error in it) look before they
 * write, or (Data) read again only the text after what the decoder has written.
 */
#include "config.h"

#include "common/getrecords.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"

/* Character classes: JSON whitespace, string bytes that need no attention, digits. */
enum { C_WS = 1, C_PLAIN = 2, C_DIGIT = 4 };
#define CLS(c) \
	(((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r' ? C_WS : 0) \
	| ((c) >= 0x20 && (c) < 0x80 && (c) != '"' && (c) != '\\' ? C_PLAIN : 0) \
	| ((c) >= '0' && (c) <= '9' ? C_DIGIT : 0))
#define CLS4(b) CLS(b), CLS((b) + 1), CLS((b) + 2), CLS((b) + 3)
#define CLS16(b) CLS4(b), CLS4((b) + 4), CLS4((b) + 8), CLS4((b) + 12)
#define CLS64(b) CLS16(b), CLS16((b) + 16), CLS16((b) + 32), CLS16((b) + 48)
static const unsigned char cls[256] = { CLS64(0), CLS64(64), CLS64(128), CLS64(192) };

#define IS(c, k) (cls[(unsigned char)(c)] & (k))

/* Longest EncryptionType value kept (the API has NONE and KMS). */
#define MAX_ENCRYPTION_LEN 32
/* Longest key that can be a known one; longer keys are unknown without decoding. */
#define MAX_KNOWN_KEY 40
/* Longest unknown key name quoted in an error message. */
#define MAX_QUOTED_KEY 32

enum key {
	K_UNKNOWN = 0,
	/* top level */
	K_RECORDS,
	K_NEXT,
	K_MILLIS,
	K_CHILD,
	K_CONT, /* SubscribeToShardEvent only */
	/* Records[i] */
	K_SEQ,
	K_TS,
	K_DATA,
	K_PK,
	K_ENC,
	K_EHK,
	/* ChildShards[i] */
	K_SHARD_ID,
	K_PARENTS,
	K_RANGE,
	/* HashKeyRange */
	K_START,
	K_END,
};

struct keydef {
	const char *name;
	size_t len;
	enum key id;
};

#define KEY(n, id) { n, sizeof(n) - 1, id }
static const struct keydef top_keys[] = {
	KEY("Records", K_RECORDS),
	KEY("NextShardIterator", K_NEXT),
	KEY("MillisBehindLatest", K_MILLIS),
	KEY("ChildShards", K_CHILD),
	{ NULL, 0, K_UNKNOWN },
};
/* A SubscribeToShardEvent: a continuation where GetRecords has an iterator. */
static const struct keydef event_top_keys[] = {
	KEY("Records", K_RECORDS),
	KEY("ContinuationSequenceNumber", K_CONT),
	KEY("MillisBehindLatest", K_MILLIS),
	KEY("ChildShards", K_CHILD),
	{ NULL, 0, K_UNKNOWN },
};
/* In the order the service sends them, which is the order they are tried in. */
static const struct keydef record_keys[] = {
	KEY("SequenceNumber", K_SEQ),
	KEY("ApproximateArrivalTimestamp", K_TS),
	KEY("Data", K_DATA),
	KEY("PartitionKey", K_PK),
	KEY("EncryptionType", K_ENC),
	KEY("ExplicitHashKey", K_EHK),
	{ NULL, 0, K_UNKNOWN },
};
static const struct keydef child_keys[] = {
	KEY("ShardId", K_SHARD_ID),
	KEY("ParentShards", K_PARENTS),
	KEY("HashKeyRange", K_RANGE),
	{ NULL, 0, K_UNKNOWN },
};
static const struct keydef range_keys[] = {
	KEY("StartingHashKey", K_START),
	KEY("EndingHashKey", K_END),
	{ NULL, 0, K_UNKNOWN },
};

struct scan {
	const char *base; /* the body */
	const char *end;  /* base + len; *end == '\0' */
	char *out;        /* next free byte of the arena */
	const struct getrecords_limits *lim;
	struct getrecords_error *err;
	const char *what;               /* "GetRecords response": starts every message */
	const struct keydef *top_keys;  /* the body's keys: top_keys or event_top_keys */
	/* Where we are, for error messages: section[index].sub.field[field_index]. */
	const char *section;
	size_t index;
	const char *sub;
	const char *field;
	size_t field_index; /* SIZE_MAX: none */
	char unknown[MAX_QUOTED_KEY + 1]; /* name of the unknown key being skipped */
};

/* A JSON number as m * 10^e, keeping the first 19 significant digits of m. */
struct jnum {
	uint64_t m;
	int64_t e;
	bool neg;
};

static const char *
fail(struct scan *s, const char *p, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static const char *
fail(struct scan *s, const char *p, int errnum, const char *fmt, ...)
{
	char what[128], path[128];
	size_t off = (size_t)(p - s->base), n = 0;
	va_list ap;

	path[0] = '\0';
	if (s->section)
		n += (size_t)snprintf(path, sizeof(path), "%s[%zu]", s->section, s->index);
	if (s->sub && n < sizeof(path))
		n += (size_t)snprintf(path + n, sizeof(path) - n, "%s%s", n ? "." : "", s->sub);
	if (s->field && n < sizeof(path))
		n += (size_t)snprintf(path + n, sizeof(path) - n, "%s%s", n ? "." : "", s->field);
	if (s->field && s->field_index != SIZE_MAX && n < sizeof(path))
		snprintf(path + n, sizeof(path) - n, "[%zu]", s->field_index);
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(s->err->message, sizeof(s->err->message), "%s: %s%s%s at offset %zu", s->what,
	    path, path[0] ? ": " : "", what, off);
	s->err->offset = off;
	s->err->errnum = errnum;
	return NULL;
}

/* "expected <what>", naming what is there instead. */
static const char *
unexpected(struct scan *s, const char *p, const char *what)
{
	unsigned char c = (unsigned char)*p;

	if (p >= s->end)
		return fail(s, p, EINVAL, "body ends where %s was expected", what);
	switch (c) {
	case '{': return fail(s, p, EINVAL, "expected %s, found an object", what);
	case '[': return fail(s, p, EINVAL, "expected %s, found an array", what);
	case '"': return fail(s, p, EINVAL, "expected %s, found a string", what);
	case 'n':
		if (strncmp(p, "null", 4) == 0)
			return fail(s, p, EINVAL, "expected %s, found null", what);
		break;
	case 't':
	case 'f':
		if (strncmp(p, "true", 4) == 0 || strncmp(p, "false", 5) == 0)
			return fail(s, p, EINVAL, "expected %s, found a boolean", what);
		break;
	default:
		if (c == '-' || IS(c, C_DIGIT))
			return fail(s, p, EINVAL, "expected %s, found a number", what);
	}
	if (c >= 0x21 && c < 0x7f)
		return fail(s, p, EINVAL, "expected %s, found '%c'", what, c);
	return fail(s, p, EINVAL, "expected %s, found byte 0x%02x", what, c);
}

static inline const char *
skip_ws(const char *p)
{
	while (IS(*p, C_WS))
		p++;
	return p;
}

/*
 * Eight bytes at a time (SWAR) for the long plain runs of a body: sequence numbers,
 * partition keys, iterators. Each helper returns a word with the high bit set in every
 * byte that needs attention; borrows can only set spurious bits above the first real
 * one, so the lowest set bit always names the first byte that needs attention.
 * Only on little-endian machines, where that first byte is the lowest one.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SWAR 1
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static inline uint64_t
load8(const char *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w;
}

static inline uint64_t
zero_bytes(uint64_t w)
{
	return (w - ONES) & ~w & HIGHS;
}

/* Bytes that end a plain string run: '"', '\\', control characters, non-ASCII. */
static inline uint64_t
special_bytes(uint64_t w)
{
	return zero_bytes(w ^ (ONES * '"')) | zero_bytes(w ^ (ONES * '\\')) |
	    ((w - ONES * 0x20) & ~w & HIGHS) | (w & HIGHS);
}

/* Bytes that are not ASCII digits. */
static inline uint64_t
nondigit_bytes(uint64_t w)
{
	uint64_t t = ((w & (ONES * 0xf0)) ^ (ONES * 0x30)) |
	    (((w + ONES * 0x06) & (ONES * 0xf0)) ^ (ONES * 0x30));
	/* Fold each nonzero byte onto its high bit. */
	return ((t | ((t & ~HIGHS) + ~HIGHS)) & HIGHS);
}

static inline size_t
first_byte(uint64_t mask)
{
	return (size_t)__builtin_ctzll(mask) >> 3;
}
#endif

/* Value of 4 hex digits at p, or -1. Stops at the first non-hex byte (the NUL at the end). */
static long
hex4(const char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates,
 * nothing past U+10FFFF), or 0. Reads a byte only after the one before it was a valid
 * lead or continuation byte, so it never passes the NUL at the end. */
static size_t
utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

static size_t
put_utf8(char *o, unsigned long cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The escape at p (a backslash): its code point in *cp, and the position after it. */
static const char *
scan_escape(struct scan *s, const char *p, unsigned long *cp)
{
	long u, lo;

	switch (p[1]) {
	case '"': *cp = '"'; return p + 2;
	case '\\': *cp = '\\'; return p + 2;
	case '/': *cp = '/'; return p + 2;
	case 'b': *cp = '\b'; return p + 2;
	case 'f': *cp = '\f'; return p + 2;
	case 'n': *cp = '\n'; return p + 2;
	case 'r': *cp = '\r'; return p + 2;
	case 't': *cp = '\t'; return p + 2;
	case 'u':
		break;
	default:
		if (p + 1 >= s->end)
			return fail(s, p, EINVAL, "body ends inside a string");
		return fail(s, p, EINVAL, "invalid escape in a string");
	}
	if ((u = hex4(p + 2)) < 0)
		return fail(s, p, EINVAL, "invalid \\u escape in a string");
	if (u >= 0xdc00 && u <= 0xdfff)
		return fail(s, p, EINVAL, "unpaired low surrogate \\u%04lX in a string", u);
	if (u >= 0xd800 && u <= 0xdbff) {
		/* A high surrogate must be followed at once by an escaped low one. */
		if (p[6] != '\\' || p[7] != 'u' || (lo = hex4(p + 8)) < 0xdc00 || lo > 0xdfff)
			return fail(s, p, EINVAL, "unpaired high surrogate \\u%04lX in a string", u);
		*cp = 0x10000 + ((unsigned long)(u - 0xd800) << 10) + (unsigned long)(lo - 0xdc00);
		return p + 12;
	}
	*cp = (unsigned long)u;
	return p + 6;
}

/*
 * The string whose first character is at p (just past the opening quote). Checks it
 * (escapes, UTF-8, no raw control characters) and, when out is not NULL, writes it
 * decoded there. *len gets the decoded length in bytes and *chars in code points.
 * Returns the position after the closing quote, or NULL after fail().
 */
static const char *
scan_string(struct scan *s, const char *p, char *out, size_t *len, size_t *chars)
{
	size_t nbytes = 0, nchars = 0;

	for (;;) {
		const char *run = p;
		unsigned char c;

#ifdef SWAR
		/* out has room for 8 bytes past any plain run: see getrecords_parse. */
		while (s->end - p >= 8) {
			uint64_t w = load8(p), m = special_bytes(w);
			if (out)
				memcpy(out + nbytes, &w, 8);
			if (m) {
				size_t k = first_byte(m);
				p += k;
				nbytes += k;
				break;
			}
			p += 8;
			nbytes += 8;
		}
		nchars += (size_t)(p - run);
		run = p;
#endif
		if (out) {
			while (IS(*p, C_PLAIN))
				out[nbytes++] = *p++;
		} else {
			while (IS(*p, C_PLAIN))
				p++;
			nbytes += (size_t)(p - run);
		}
		nchars += (size_t)(p - run);
		c = (unsigned char)*p;
		if (c == '"')
			break;
		if (c == '\\') {
			unsigned long cp = 0;
			char tmp[4];
			if (!(p = scan_escape(s, p, &cp)))
				return NULL;
			nbytes += put_utf8(out ? out + nbytes : tmp, cp);
			nchars++;
		} else if (c >= 0x80) {
			size_t n = utf8_len((const unsigned char *)p);
			if (n == 0)
				return fail(s, p, EINVAL, "invalid UTF-8 in a string");
			if (out)
				memcpy(out + nbytes, p, n);
			nbytes += n;
			nchars++;
			p += n;
		} else if (p >= s->end) {
			return fail(s, p, EINVAL, "body ends inside a string");
		} else {
			return fail(s, p, EINVAL, "control character 0x%02x in a string", c);
		}
	}
	*len = nbytes;
	*chars = nchars;
	return p + 1;
}

/* A number at p, in the strict JSON grammar. */
static const char *
scan_number(struct scan *s, const char *p, struct jnum *n)
{
	int sig = 0;
	int64_t x = 0;
	bool eneg = false;

	n->m = 0;
	n->e = 0;
	n->neg = false;
	if (*p == '-') {
		n->neg = true;
		p++;
	}
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		for (; IS(*p, C_DIGIT); p++) {
			if (sig < 19) {
				n->m = n->m * 10 + (uint64_t)(*p - '0');
				sig++;
			} else {
				n->e++; /* a dropped integer digit still scales the value */
			}
		}
	} else {
		return unexpected(s, p, "a digit");
	}
	if (*p == '.') {
		p++;
		if (!IS(*p, C_DIGIT))
			return unexpected(s, p, "a digit after '.'");
		for (; IS(*p, C_DIGIT); p++) {
			if (n->m == 0 && *p == '0') {
				n->e--; /* leading zeros only move the point */
			} else if (sig < 19) {
				n->m = n->m * 10 + (uint64_t)(*p - '0');
				n->e--;
				sig++;
			}
		}
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			eneg = *p++ == '-';
		if (!IS(*p, C_DIGIT))
			return unexpected(s, p, "a digit in the exponent");
		/* Saturate: any exponent past this makes a non-zero value out of range anyway. */
		for (; IS(*p, C_DIGIT); p++)
			if (x < 100000000)
				x = x * 10 + (*p - '0');
		n->e += eneg ? -x : x;
	}
	return p;
}

/* floor(m * 10^(e + shift)) of a non-negative number into *out; -1 when out of range.
 * Exact: the digits dropped by scan_number lie below the 19th significant one, and a
 * value needing more than 19 digits above the result's units does not fit anyway. */
static int
num_to_int(const struct jnum *n, int shift, int64_t *out)
{
	uint64_t v = n->m;
	int64_t k = n->e + shift;

	if (v != 0 && k > 0) {
		for (; k > 0; k--) {
			if (v > (uint64_t)INT64_MAX / 10)
				return -1;
			v *= 10;
		}
	} else {
		for (; k < 0 && v != 0; k++)
			v /= 10;
	}
	if (v > (uint64_t)INT64_MAX)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* The literal lit at p. */
static const char *
scan_literal(struct scan *s, const char *p, const char *lit)
{
	for (size_t i = 0; lit[i]; i++)
		if (p[i] != lit[i])
			return unexpected(s, p + i, lit);
	return p + strlen(lit);
}

/* Any JSON value at p, checked and thrown away, nested at most lim->max_depth deep. */
static const char *
skip_value(struct scan *s, const char *p)
{
	uint64_t is_obj = 0; /* bit d: the container at depth d is an object */
	unsigned depth = 0;
	size_t len, chars;
	struct jnum num;

value:
	p = skip_ws(p);
	switch (*p) {
	case '{':
	case '[':
		if (depth >= s->lim->max_depth)
			return fail(s, p, EMSGSIZE, "value nested deeper than %u levels",
			    s->lim->max_depth);
		if (*p == '{')
			is_obj |= UINT64_C(1) << depth;
		else
			is_obj &= ~(UINT64_C(1) << depth);
		depth++;
		p = skip_ws(p + 1);
		if (*p == (is_obj >> (depth - 1) & 1 ? '}' : ']')) {
			p++;
			depth--;
			goto after;
		}
		if (is_obj >> (depth - 1) & 1)
			goto key;
		goto value;
	case '"':
		if (!(p = scan_string(s, p + 1, NULL, &len, &chars)))
			return NULL;
		goto after;
	case 't':
		p = scan_literal(s, p, "true");
		break;
	case 'f':
		p = scan_literal(s, p, "false");
		break;
	case 'n':
		p = scan_literal(s, p, "null");
		break;
	default:
		if (*p == '-' || IS(*p, C_DIGIT))
			p = scan_number(s, p, &num);
		else
			return unexpected(s, p, "a value");
	}
	if (!p)
		return NULL;
after:
	if (depth == 0)
		return p;
	p = skip_ws(p);
	if (is_obj >> (depth - 1) & 1) {
		if (*p == ',') {
			p = skip_ws(p + 1);
			goto key;
		}
		if (*p != '}')
			return unexpected(s, p, "',' or '}'");
	} else {
		if (*p == ',') {
			p++;
			goto value;
		}
		if (*p != ']')
			return unexpected(s, p, "',' or ']'");
	}
	p++;
	depth--;
	goto after;
key:
	if (*p != '"')
		return unexpected(s, p, "a key");
	if (!(p = scan_string(s, p + 1, NULL, &len, &chars)))
		return NULL;
	p = skip_ws(p);
	if (*p != ':')
		return unexpected(s, p, "':'");
	p++;
	goto value;
}

/* a[0..n) == b[0..n) for n >= 4, with a few word compares instead of a call. */
static inline bool
same_bytes(const char *a, const char *b, size_t n)
{
	uint32_t x, y;
	size_t i;

	for (i = 0; i + 4 < n; i += 4) {
		memcpy(&x, a + i, 4);
		memcpy(&y, b + i, 4);
		if (x != y)
			return false;
	}
	memcpy(&x, a + n - 4, 4);
	memcpy(&y, b + n - 4, 4);
	return x == y;
}

static const struct keydef *
match_key(const struct keydef *tab, const char *name, size_t n)
{
	for (; tab->name; tab++)
		if (tab->len == n && memcmp(tab->name, name, n) == 0)
			return tab;
	return NULL;
}

/*
 * The key at p and its colon; returns the position of the value. *id is K_UNKNOWN for a
 * key not in tab, and s->field names the key for error messages from here on.
 */
static const char *
read_key(struct scan *s, const char *p, const struct keydef *tab, enum key *id)
{
	const char *k, *q;
	const struct keydef *d = NULL;
	size_t len, chars;

	if (*p != '"')
		return unexpected(s, p, "a key");
	k = ++p;
	/* The usual case: one of tab's names, unescaped, followed by its closing quote. */
	for (d = tab; d->name; d++)
		if ((size_t)(s->end - k) > d->len && k[d->len] == '"' && k[0] == d->name[0] &&
		    same_bytes(k, d->name, d->len))
			break;
	if (d->name) {
		q = k + d->len + 1;
		goto found;
	}
	d = NULL;
	while (IS(*p, C_PLAIN))
		p++;
	if (*p == '"') {
		d = match_key(tab, k, (size_t)(p - k));
		q = p + 1;
	} else {
		/* Escapes or UTF-8 in a key: rare, so check first, then decode if it could match. */
		if (!(q = scan_string(s, k, NULL, &len, &chars)))
			return NULL;
		if (len <= MAX_KNOWN_KEY) {
			char name[MAX_KNOWN_KEY + 8]; /* + 8: scan_string may store a word past */
			scan_string(s, k, name, &len, &chars);
			d = match_key(tab, name, len);
		}
	}
found:
	if (d) {
		*id = d->id;
		s->field = d->name;
	} else {
		size_t i;
		for (i = 0; i < MAX_QUOTED_KEY && k + i < q - 1; i++)
			s->unknown[i] = IS(k[i], C_PLAIN) ? k[i] : '?';
		s->unknown[i] = '\0';
		*id = K_UNKNOWN;
		s->field = s->unknown;
	}
	s->field_index = SIZE_MAX;
	p = skip_ws(q);
	if (*p != ':')
		return unexpected(s, p, "':'");
	return skip_ws(p + 1);
}

/* Marks key id as seen in *seen; fails when it already was (duplicate keys are refused). */
static bool
first_time(struct scan *s, const char *at, enum key id, unsigned *seen)
{
	if (id == K_UNKNOWN)
		return true;
	if (*seen & 1u << id) {
		fail(s, at, EINVAL, "key appears twice in one object");
		return false;
	}
	*seen |= 1u << id;
	return true;
}

/* The key of an object member, which must not repeat a known key seen before in the
 * same object; returns the position of the value. */
static const char *
read_member(struct scan *s, const char *p, const struct keydef *tab, enum key *id,
    unsigned *seen)
{
	const char *at = p;

	if (!(p = read_key(s, p, tab, id)) || !first_time(s, at, *id, seen))
		return NULL;
	return p;
}

/* At '{': moves to the first key; *done when the object is empty. */
static const char *
obj_open(struct scan *s, const char *p, bool *done)
{
	if (*p != '{')
		return unexpected(s, p, "an object");
	p = skip_ws(p + 1);
	*done = *p == '}';
	return *done ? p + 1 : p;
}

/* After a member's value: moves to the next key; *done after the closing brace. A
 * message about what follows a value still names the value's key. */
static const char *
obj_next(struct scan *s, const char *p, bool *done)
{
	p = skip_ws(p);
	if (*p == ',') {
		*done = false;
		s->field = NULL;
		return skip_ws(p + 1);
	}
	if (*p == '}') {
		*done = true;
		s->field = NULL;
		return p + 1;
	}
	return unexpected(s, p, "',' or '}'");
}

/* After an array element: moves to the next one; *done after the closing bracket. */
static const char *
arr_next(struct scan *s, const char *p, bool *done)
{
	p = skip_ws(p);
	if (*p == ',') {
		*done = false;
		return skip_ws(p + 1);
	}
	if (*p == ']') {
		*done = true;
		return p + 1;
	}
	return unexpected(s, p, "',' or ']'");
}

/* At '[': moves to the first element; *done when the array is empty. */
static const char *
arr_open(struct scan *s, const char *p, bool *done)
{
	if (*p != '[')
		return unexpected(s, p, "an array");
	p = skip_ws(p + 1);
	*done = *p == ']';
	return *done ? p + 1 : p;
}

/* A string value of min..max code points, decoded into the arena and NUL-terminated. */
static const char *
read_str(struct scan *s, const char *p, size_t min, size_t max, const char **val, size_t *len)
{
	const char *start = p;
	size_t chars;

	if (*p != '"')
		return unexpected(s, p, "a string");
	if (!(p = scan_string(s, p + 1, s->out, len, &chars)))
		return NULL;
	if (chars > max)
		return fail(s, start, EMSGSIZE, "string of %zu characters, over the limit of %zu",
		    chars, max);
	if (chars < min)
		return fail(s, start, EINVAL, "empty string");
	*val = s->out;
	s->out[*len] = '\0';
	s->out += *len + 1;
	return p;
}

/* A decimal string matching 0|([1-9][0-9]{0,max-1}): sequence numbers and hash keys. */
static const char *
read_decimal(struct scan *s, const char *p, size_t max, const char **val, size_t *len)
{
	const char *start = p;

#ifdef SWAR
	/* Unescaped digits: check and copy them a word at a time. A string of anything else
	 * (escapes included) goes the general way below. */
	if (*p == '"') {
		const char *t = p + 1;
		size_t n = 0;
		/* Checked before anything is written: the general way below reads the string
		 * again, which in place must still be there. */
		while (s->end - (t + n) >= 8) {
			uint64_t m = nondigit_bytes(load8(t + n));
			if (m) {
				n += first_byte(m);
				break;
			}
			n += 8;
		}
		while (IS(t[n], C_DIGIT))
			n++;
		if (t[n] == '"' && n >= 1 && n <= max && (t[0] != '0' || n == 1)) {
			memmove(s->out, t, n);
			*val = s->out;
			*len = n;
			s->out[n] = '\0';
			s->out += n + 1;
			return t + n + 1;
		}
	}
#endif
	if (!(p = read_str(s, p, 1, max, val, len)))
		return NULL;
	for (size_t i = 0; i < *len; i++)
		if (!IS((*val)[i], C_DIGIT))
			return fail(s, start, EINVAL, "not a decimal number");
	if ((*val)[0] == '0' && *len > 1)
		return fail(s, start, EINVAL, "decimal number with a leading zero");
	return p;
}

/* A shard id: 1 to 128 of [a-zA-Z0-9_.-]. */
static const char *
read_shard_id(struct scan *s, const char *p, const char **val)
{
	const char *start = p;
	size_t len;

	if (!(p = read_str(s, p, 1, GETRECORDS_MAX_SHARD_ID_LEN, val, &len)))
		return NULL;
	for (size_t i = 0; i < len; i++) {
		char c = (*val)[i];
		if (!IS(c, C_DIGIT) && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    c != '_' && c != '.' && c != '-')
			return fail(s, start, EINVAL, "not a shard id");
	}
	return p;
}

/* A non-negative number as floor(value * 10^shift); null leaves *out unchanged. */
static const char *
read_count(struct scan *s, const char *p, int shift, int64_t *out)
{
	const char *start = p;
	struct jnum n;

	if (*p == 'n')
		return scan_literal(s, p, "null");
	if (*p != '-' && !IS(*p, C_DIGIT))
		return unexpected(s, p, "a number");
	if (!(p = scan_number(s, p, &n)))
		return NULL;
	if (n.neg && n.m != 0)
		return fail(s, start, EINVAL, "negative number");
	if (num_to_int(&n, shift, out) < 0)
		return fail(s, start, EINVAL, "number out of range");
	return p;
}

/* Hands decoded Data of dlen bytes at s->out to r, within the limit. p: its string. */
static bool
data_take(struct scan *s, const char *p, struct getrecords_record *r, size_t dlen)
{
	unsigned char *o = (unsigned char *)s->out;

	if (dlen > s->lim->max_data_bytes) {
		fail(s, p, EMSGSIZE, "%zu bytes of data, over the limit of %zu", dlen,
		    s->lim->max_data_bytes);
		return false;
	}
	o[dlen] = '\0';
	r->data = o;
	r->data_len = dlen;
	s->out += dlen + 1;
	return true;
}

/*
 * Data whose JSON string has escapes (legal, if odd: "\/" for '/'), from character n of
 * the string on: the n before it are whole quads already decoded to s->out (dlen bytes).
 * Unescape the rest after them, then decode it where it lies. Offsets in messages are
 * the string's start.
 */
static const char *
read_data_escaped(struct scan *s, const char *p, struct getrecords_record *r, size_t n, size_t dlen)
{
	unsigned char *o = (unsigned char *)s->out + dlen;
	size_t m, chars, rlen, bad;
	const char *q;

	if (!(q = scan_string(s, p + 1 + n, (char *)o, &m, &chars)))
		return NULL;
	if (base64_decode(o, (const char *)o, m, &rlen, &bad) < 0)
		return fail(s, p, EINVAL, "invalid base64 (character %zu of the unescaped text)",
		    n + bad);
	return data_take(s, p, r, dlen + rlen) ? q : NULL;
}

/*
 * Data that base64_decode_to did not see end at its closing quote. Its first n
 * characters are decoded to s->out (dlen bytes) and the text after them is as it came
 * (even in place), so the reason is looked for there: no closing quote, an escape (then
 * the rest is unescaped and decoded), or bad base64, named as base64_decode names it.
 */
static const char *
read_data_rest(struct scan *s, const char *p, struct getrecords_record *r, size_t n, size_t dlen)
{
	const char *t = p + 1, *rest = t + n, *q;
	size_t len, rlen, bad = 0;

	if (!(q = memchr(rest, '"', (size_t)(s->end - rest))))
		return fail(s, s->end, EINVAL, "body ends inside a string");
	if (memchr(rest, '\\', (size_t)(q - rest)))
		return read_data_escaped(s, p, r, n, dlen);
	/* Fails (base64_decode_to would have taken valid text): it says where and why. */
	(void)base64_decode(s->out + dlen, rest, (size_t)(q - rest), &rlen, &bad);
	len = (size_t)(q - t);
	if (n + bad == len)
		return fail(s, q, EINVAL, "base64 length %zu is not a multiple of 4", len);
	return fail(s, rest + bad, EINVAL, "invalid base64");
}

/* Data: the hot path. Base64 has no quote, so the decoder finds the closing one as it
 * goes: the text is read once. */
static const char *
read_data(struct scan *s, const char *p, struct getrecords_record *r)
{
	size_t n, dlen;

	if (*p != '"')
		return unexpected(s, p, "a base64 string");
	if (base64_decode_to(s->out, p + 1, (size_t)(s->end - p - 1), '"', &n, &dlen) < 0)
		return read_data_rest(s, p, r, n, dlen);
	return data_take(s, p, r, dlen) ? p + 1 + n + 1 : NULL;
}

static const char *
read_record(struct scan *s, const char *p, struct getrecords_record *r)
{
	const char *start = p, *v;
	unsigned seen = 0;
	bool done;
	enum key id;
	size_t len;

	r->arrival_ms = -1;
	r->explicit_hash_key = NULL;
	r->encryption = GETRECORDS_ENC_ABSENT;
	r->sub_sequence_number = 0;
	if (!(p = obj_open(s, p, &done)))
		return NULL;
	while (!done) {
		if (!(p = read_member(s, p, record_keys, &id, &seen)))
			return NULL;
		switch (id) {
		case K_DATA:
			p = read_data(s, p, r);
			break;
		case K_SEQ:
			p = read_decimal(s, p, GETRECORDS_MAX_SEQUENCE_LEN, &r->sequence_number,
			    &r->sequence_number_len);
			break;
		case K_PK:
			p = read_str(s, p, 1, s->lim->max_partition_key, &r->partition_key,
			    &r->partition_key_len);
			break;
		case K_TS:
			p = read_count(s, p, 3, &r->arrival_ms);
			break;
		case K_ENC:
			if (*p == 'n') {
				p = scan_literal(s, p, "null");
				break;
			}
			if (!(p = read_str(s, p, 1, MAX_ENCRYPTION_LEN, &v, &len)))
				return NULL;
			if (strcmp(v, "NONE") == 0)
				r->encryption = GETRECORDS_ENC_NONE;
			else if (strcmp(v, "KMS") == 0)
				r->encryption = GETRECORDS_ENC_KMS;
			else
				r->encryption = GETRECORDS_ENC_OTHER;
			break;
		case K_EHK:
			if (*p == 'n') {
				p = scan_literal(s, p, "null");
				break;
			}
			p = read_decimal(s, p, GETRECORDS_MAX_HASH_KEY_LEN, &r->explicit_hash_key,
			    &len);
			break;
		default:
			p = skip_value(s, p);
		}
		if (!p || !(p = obj_next(s, p, &done)))
			return NULL;
	}
	if (!(seen & 1u << K_SEQ))
		return fail(s, start, EINVAL, "record has no SequenceNumber");
	if (!(seen & 1u << K_DATA))
		return fail(s, start, EINVAL, "record has no Data");
	if (!(seen & 1u << K_PK))
		return fail(s, start, EINVAL, "record has no PartitionKey");
	return p;
}

static int
grow_records(struct getrecords_result *res, size_t max)
{
	size_t ncap = res->records_cap ? res->records_cap * 2 : 64;
	struct getrecords_record *p;

	if (ncap > max)
		ncap = max;
	if (!(p = reallocarray(res->records, ncap, sizeof(*p))))
		return -1;
	res->records = p;
	res->records_cap = ncap;
	return 0;
}

static const char *
read_records(struct scan *s, const char *p, struct getrecords_result *res)
{
	bool done;

	if (!(p = arr_open(s, p, &done)))
		return NULL;
	s->field = NULL;
	s->section = "Records";
	while (!done) {
		s->index = res->n_records;
		if (res->n_records == s->lim->max_records)
			return fail(s, p, EMSGSIZE, "more than %zu records", s->lim->max_records);
		if (res->n_records == res->records_cap &&
		    grow_records(res, s->lim->max_records) < 0)
			return fail(s, p, ENOMEM, "out of memory for %zu records", res->n_records + 1);
		if (!(p = read_record(s, p, &res->records[res->n_records])))
			return NULL;
		res->n_records++;
		if (!(p = arr_next(s, p, &done)))
			return NULL;
	}
	s->section = NULL;
	return p;
}

static const char *
read_range(struct scan *s, const char *p, struct getrecords_child_shard *c)
{
	const char *start = p;
	unsigned seen = 0;
	bool done;
	enum key id;
	size_t len;

	if (!(p = obj_open(s, p, &done)))
		return NULL;
	s->sub = "HashKeyRange";
	s->field = NULL;
	while (!done) {
		if (!(p = read_member(s, p, range_keys, &id, &seen)))
			return NULL;
		if (id == K_START)
			p = read_decimal(s, p, GETRECORDS_MAX_HASH_KEY_LEN, &c->starting_hash_key, &len);
		else if (id == K_END)
			p = read_decimal(s, p, GETRECORDS_MAX_HASH_KEY_LEN, &c->ending_hash_key, &len);
		else
			p = skip_value(s, p);
		if (!p || !(p = obj_next(s, p, &done)))
			return NULL;
	}
	if (!(seen & 1u << K_START))
		return fail(s, start, EINVAL, "no StartingHashKey");
	if (!(seen & 1u << K_END))
		return fail(s, start, EINVAL, "no EndingHashKey");
	s->sub = NULL;
	return p;
}

static const char *
read_parents(struct scan *s, const char *p, struct getrecords_child_shard *c)
{
	const char *start = p;
	bool done;

	if (!(p = arr_open(s, p, &done)))
		return NULL;
	if (done)
		return fail(s, start, EINVAL, "no parent shards");
	while (!done) {
		s->field_index = c->n_parents;
		if (c->n_parents == GETRECORDS_MAX_PARENTS)
			return fail(s, p, EMSGSIZE, "more than %d parent shards",
			    GETRECORDS_MAX_PARENTS);
		if (!(p = read_shard_id(s, p, &c->parents[c->n_parents])))
			return NULL;
		c->n_parents++;
		if (!(p = arr_next(s, p, &done)))
			return NULL;
	}
	s->field_index = SIZE_MAX;
	return p;
}

static const char *
read_child(struct scan *s, const char *p, struct getrecords_child_shard *c)
{
	const char *start = p;
	unsigned seen = 0;
	bool done;
	enum key id;

	memset(c, 0, sizeof(*c));
	if (!(p = obj_open(s, p, &done)))
		return NULL;
	while (!done) {
		if (!(p = read_member(s, p, child_keys, &id, &seen)))
			return NULL;
		if (id == K_SHARD_ID)
			p = read_shard_id(s, p, &c->shard_id);
		else if (id == K_PARENTS)
			p = read_parents(s, p, c);
		else if (id == K_RANGE)
			p = read_range(s, p, c);
		else
			p = skip_value(s, p);
		if (!p || !(p = obj_next(s, p, &done)))
			return NULL;
	}
	if (!(seen & 1u << K_SHARD_ID))
		return fail(s, start, EINVAL, "child shard has no ShardId");
	if (!(seen & 1u << K_PARENTS))
		return fail(s, start, EINVAL, "child shard has no ParentShards");
	if (!(seen & 1u << K_RANGE))
		return fail(s, start, EINVAL, "child shard has no HashKeyRange");
	return p;
}

static const char *
read_children(struct scan *s, const char *p, struct getrecords_result *res)
{
	bool done;

	if (*p == 'n')
		return scan_literal(s, p, "null");
	if (!(p = arr_open(s, p, &done)))
		return NULL;
	s->field = NULL;
	s->section = "ChildShards";
	while (!done) {
		s->index = res->n_child_shards;
		if (res->n_child_shards == GETRECORDS_MAX_CHILD_SHARDS)
			return fail(s, p, EMSGSIZE, "more than %d child shards",
			    GETRECORDS_MAX_CHILD_SHARDS);
		if (!(p = read_child(s, p, &res->child_shards[res->n_child_shards])))
			return NULL;
		res->n_child_shards++;
		if (!(p = arr_next(s, p, &done)))
			return NULL;
	}
	s->section = NULL;
	return p;
}

static const char *
read_body(struct scan *s, const char *p, struct getrecords_result *res)
{
	unsigned seen = 0;
	bool done;
	enum key id;
	const char *it;

	p = skip_ws(p);
	if (!(p = obj_open(s, p, &done)))
		return NULL;
	while (!done) {
		if (!(p = read_member(s, p, s->top_keys, &id, &seen)))
			return NULL;
		switch (id) {
		case K_RECORDS:
			p = read_records(s, p, res);
			break;
		case K_NEXT:
			if (*p == 'n') {
				p = scan_literal(s, p, "null");
				break;
			}
			if ((p = read_str(s, p, 1, s->lim->max_iterator, &it, &res->next_iterator_len)))
				res->next_iterator = it;
			break;
		case K_CONT:
			if (*p == 'n') {
				p = scan_literal(s, p, "null");
				break;
			}
			p = read_decimal(s, p, GETRECORDS_MAX_SEQUENCE_LEN, &res->continuation_sequence,
			    &res->continuation_sequence_len);
			break;
		case K_MILLIS:
			p = read_count(s, p, 0, &res->millis_behind_latest);
			break;
		case K_CHILD:
			p = read_children(s, p, res);
			break;
		default:
			p = skip_value(s, p);
		}
		if (!p || !(p = obj_next(s, p, &done)))
			return NULL;
	}
	if (!(seen & 1u << K_RECORDS))
		return fail(s, s->base, EINVAL, "no Records");
	/* Null marks the end of a closed shard; absent would be taken for that, so refuse it. */
	if (s->top_keys == event_top_keys && !(seen & 1u << K_CONT))
		return fail(s, s->base, EINVAL, "no ContinuationSequenceNumber");
	p = skip_ws(p);
	if (p != s->end)
		return unexpected(s, p, "the end of the body");
	return p;
}

void
getrecords_limits_default(struct getrecords_limits *lim)
{
	lim->max_records = 10000;
	lim->max_data_bytes = 1024 * 1024;
	lim->max_partition_key = 256;
	lim->max_iterator = 4096;
	lim->max_depth = 32;
}

void
getrecords_result_init(struct getrecords_result *res)
{
	memset(res, 0, sizeof(*res));
	res->millis_behind_latest = -1;
}

void
getrecords_result_free(struct getrecords_result *res)
{
	free(res->records);
	getrecords_result_init(res);
}

static void
result_clear(struct getrecords_result *res)
{
	res->n_records = 0;
	res->next_iterator = NULL;
	res->next_iterator_len = 0;
	res->continuation_sequence = NULL;
	res->continuation_sequence_len = 0;
	res->millis_behind_latest = -1;
	res->n_child_shards = 0;
}

/* arena NULL: decode in place, over the body (which then must be writable). */
static int
parse(const char *body, size_t len, const struct getrecords_limits *lim, struct kls_buf *arena,
    struct getrecords_result *res, struct getrecords_error *err, bool event)
{
	struct getrecords_limits deflim;
	struct scan s;

	memset(&s, 0, sizeof(s));
	s.what = event ? "SubscribeToShardEvent" : "GetRecords response";
	s.top_keys = event ? event_top_keys : top_keys;
	s.base = body;
	s.end = body + len;
	s.err = err;
	s.field_index = SIZE_MAX;
	if (!lim) {
		getrecords_limits_default(&deflim);
		lim = &deflim;
	}
	s.lim = lim;
	result_clear(res);
	if (arena)
		buf_reset(arena);
	if (body[len] != '\0') {
		fail(&s, s.end, EINVAL, "body is not NUL-terminated");
		goto bad;
	}
	if (lim->max_depth > GETRECORDS_DEPTH_LIMIT) {
		fail(&s, body, EINVAL, "nesting limit %u is over %d", lim->max_depth,
		    GETRECORDS_DEPTH_LIMIT);
		goto bad;
	}
	if (!arena) {
		/* The body is the arena; the cast is the caller's promise (parse_inplace). */
		s.out = (char *)body;
	} else {
		/* Decoded text is always shorter than its JSON form: one reservation covers
		 * it all. */
		if (buf_reserve(arena, len + 1) < 0) {
			fail(&s, body, errno == EMSGSIZE ? EMSGSIZE : ENOMEM,
			    "cannot reserve %zu bytes for decoded records", len + 1);
			goto bad;
		}
		s.out = arena->data;
	}
	if (!read_body(&s, body, res))
		goto bad;
	if (arena) {
		arena->len = (size_t)(s.out - arena->data);
		arena->data[arena->len] = '\0';
	}
	return 0;
bad:
	result_clear(res);
	if (arena)
		buf_reset(arena);
	errno = err->errnum;
	return -1;
}

int
getrecords_parse(const char *body, size_t len, const struct getrecords_limits *lim,
    struct kls_buf *arena, struct getrecords_result *res, struct getrecords_error *err)
{
	return parse(body, len, lim, arena, res, err, false);
}

int
getrecords_parse_event(const char *body, size_t len, const struct getrecords_limits *lim,
    struct kls_buf *arena, struct getrecords_result *res, struct getrecords_error *err)
{
	return parse(body, len, lim, arena, res, err, true);
}

int
getrecords_parse_inplace(char *body, size_t len, const struct getrecords_limits *lim,
    struct getrecords_result *res, struct getrecords_error *err)
{
	return parse(body, len, lim, NULL, res, err, false);
}
