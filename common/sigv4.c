/*
 * AWS Signature Version 4, header form: see sigv4.h. Each stage writes into a
 * bounded kls_buf so a hostile or broken input cannot grow memory without limit;
 * OpenSSL provides SHA-256 and HMAC.
 */
#include "config.h"

#include "common/sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define MAX_HEADER_NAME 128

static const char hexdigits_upper[] = "0123456789ABCDEF";
static const char hexdigits_lower[] = "0123456789abcdef";

static bool
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 7230 tchar: what a header name may hold. */
static bool
is_tchar(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
uri_encode(struct kls_buf *b, const char *p, size_t n, bool keep_slash)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (is_unreserved(c) || (keep_slash && c == '/')) {
			if (buf_append(b, &p[i], 1) < 0)
				return -1;
		} else {
			char esc[3] = { '%', hexdigits_upper[c >> 4], hexdigits_upper[c & 15] };
			if (buf_append(b, esc, 3) < 0)
				return -1;
		}
	}
	return 0;
}

static void
hex_lower(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdigits_lower[p[i] >> 4];
		out[2 * i + 1] = hexdigits_lower[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * SHA-256 fetched from the default provider once per process. EVP_sha256() makes
 * OpenSSL 3 look the implementation up again on every digest and HMAC() fetches two
 * algorithms per call: together more than half of the instructions of a DynamoDB call
 * (callgrind: ~250k of ~410k per signed request). The one process-wide pointer is set
 * once under pthread_once and only read afterwards; an EVP_MD may be used by many
 * threads at once.
 */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static const EVP_MD *sha256_md;

static void
sha256_fetch(void)
{
	EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);

	sha256_md = md ? md : EVP_sha256();
}

static const EVP_MD *
sha256(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md;
}

void
sigv4_sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = sizeof(md);

	/* EVP_Digest with SHA-256 fails only on allocation failure inside OpenSSL; an
	 * all-zero digest then yields a signature AWS rejects, which is the safe side. */
	if (EVP_Digest(p, n, md, &mdlen, sha256(), NULL) != 1)
		memset(md, 0, sizeof(md));
	hex_lower(md, sizeof(md), out);
}

#define SHA256_BLOCK 64

/* HMAC-SHA-256 (RFC 2104) over the fetched digest, with a context the caller reuses
 * for a chain of them. */
static int
hmac(EVP_MD_CTX *ctx, const void *key, size_t keylen, const char *msg, size_t msglen,
    unsigned char out[32])
{
	unsigned char k[SHA256_BLOCK], pad[SHA256_BLOCK], inner[32];
	unsigned int n = 32;
	int ok;

	memset(k, 0, sizeof(k));
	if (keylen > SHA256_BLOCK) {
		if (EVP_Digest(key, keylen, k, &n, sha256(), NULL) != 1)
			goto fail;
	} else {
		memcpy(k, key, keylen);
	}
	for (size_t i = 0; i < SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	ok = EVP_DigestInit_ex2(ctx, sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, pad, sizeof(pad)) == 1 &&
	     EVP_DigestUpdate(ctx, msg, msglen) == 1 && EVP_DigestFinal_ex(ctx, inner, &n) == 1;
	for (size_t i = 0; i < SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	ok = ok && EVP_DigestInit_ex2(ctx, sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, pad, sizeof(pad)) == 1 &&
	     EVP_DigestUpdate(ctx, inner, sizeof(inner)) == 1 &&
	     EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == 32;
	explicit_bzero(k, sizeof(k));
	explicit_bzero(pad, sizeof(pad));
	explicit_bzero(inner, sizeof(inner));
	if (ok)
		return 0;
fail:
	explicit_bzero(k, sizeof(k));
	errno = ENOMEM;
	return -1;
}

static int
signing_key(EVP_MD_CTX *ctx, const char *secret, const char *date8, const char *region,
    const char *service, unsigned char key[32])
{
	struct kls_buf k;
	unsigned char a[32], b[32];
	int rc = -1;

	buf_init(&k, 1024);
	if (buf_puts(&k, "AWS4") < 0 || buf_puts(&k, secret) < 0)
		goto out;
	if (hmac(ctx, k.data, k.len, date8, strlen(date8), a) < 0 ||
	    hmac(ctx, a, 32, region, strlen(region), b) < 0 ||
	    hmac(ctx, b, 32, service, strlen(service), a) < 0 ||
	    hmac(ctx, a, 32, "aws4_request", strlen("aws4_request"), key) < 0)
		goto out;
	rc = 0;
out:
	if (k.data)
		explicit_bzero(k.data, k.cap);
	buf_free(&k);
	explicit_bzero(a, sizeof(a));
	explicit_bzero(b, sizeof(b));
	return rc;
}

int
sigv4_signing_key(const char *secret, const char *date8, const char *region,
    const char *service, unsigned char key[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc;

	if (!ctx) {
		errno = ENOMEM;
		return -1;
	}
	rc = signing_key(ctx, secret, date8, region, service, key);
	EVP_MD_CTX_free(ctx);
	return rc;
}

struct segment {
	const char *p;
	size_t n;
};

int
sigv4_canonical_uri(const char *path, bool normalize, struct kls_buf *out)
{
	size_t len, nseg = 0;
	struct segment *segs;
	const char *p;

	if (path == NULL || *path == '\0')
		path = "/";
	len = strlen(path);
	if (len > SIGV4_MAX_TEXT) {
		errno = EMSGSIZE;
		return -1;
	}
	if (!normalize)
		return uri_encode(out, path, len, true);

	/* Resolve "." and ".." and drop empty segments; a ".." above the root stays at
	 * the root. A trailing '/' of the original path is kept (as botocore does). */
	segs = calloc(len / 2 + 2, sizeof(*segs));
	if (segs == NULL)
		return -1;
	for (p = path; *p;) {
		const char *s;
		size_t n;
		while (*p == '/')
			p++;
		s = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - s);
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (nseg)
				nseg--;
			continue;
		}
		segs[nseg].p = s;
		segs[nseg].n = n;
		nseg++;
	}
	if (buf_append(out, "/", 1) < 0)
		goto fail;
	for (size_t i = 0; i < nseg; i++) {
		if ((i && buf_append(out, "/", 1) < 0) || uri_encode(out, segs[i].p, segs[i].n, false) < 0)
			goto fail;
	}
	if (nseg && path[len - 1] == '/' && buf_append(out, "/", 1) < 0)
		goto fail;
	free(segs);
	return 0;
fail:
	free(segs);
	return -1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes p[0..n) and encodes it canonically into out, NUL-terminated. A '%'
 * not followed by two hex digits is taken literally. */
static int
query_part(const char *p, size_t n, struct kls_buf *out)
{
	struct kls_buf raw;
	int rc;

	buf_init(&raw, SIGV4_MAX_TEXT);
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '%' && i + 2 < n && hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
			c = (char)(hexval(p[i + 1]) << 4 | hexval(p[i + 2]));
			i += 2;
		}
		if (buf_append(&raw, &c, 1) < 0) {
			buf_free(&raw);
			return -1;
		}
	}
	buf_reset(out);
	rc = uri_encode(out, raw.data ? raw.data : "", raw.len, false);
	if (rc == 0 && out->data == NULL)
		rc = buf_append(out, "", 0);
	buf_free(&raw);
	return rc;
}

struct qparam {
	struct kls_buf key;
	struct kls_buf value;
};

static int
qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->key.data, y->key.data);
	return c ? c : strcmp(x->value.data, y->value.data);
}

int
sigv4_canonical_query(const char *query, struct kls_buf *out)
{
	struct qparam *params = NULL;
	size_t np = 0, len;
	const char *p;
	int rc = -1;

	if (query == NULL || *query == '\0')
		return buf_append(out, "", 0);
	len = strlen(query);
	if (len > SIGV4_MAX_TEXT) {
		errno = EMSGSIZE;
		return -1;
	}
	params = calloc(SIGV4_MAX_QUERY_PARAMS, sizeof(*params));
	if (params == NULL)
		return -1;
	for (p = query; *p;) {
		const char *amp = strchr(p, '&'), *eq;
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		if (n) {
			if (np == SIGV4_MAX_QUERY_PARAMS) {
				errno = EMSGSIZE;
				goto out;
			}
			eq = memchr(p, '=', n);
			buf_init(&params[np].key, SIGV4_MAX_TEXT);
			buf_init(&params[np].value, SIGV4_MAX_TEXT);
			np++;
			if (query_part(p, eq ? (size_t)(eq - p) : n, &params[np - 1].key) < 0 ||
			    query_part(eq ? eq + 1 : p + n, eq ? n - (size_t)(eq - p) - 1 : 0,
				&params[np - 1].value) < 0)
				goto out;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	qsort(params, np, sizeof(*params), qparam_cmp);
	for (size_t i = 0; i < np; i++) {
		if (buf_printf(out, "%s%s=%s", i ? "&" : "", params[i].key.data,
			params[i].value.data) < 0)
			goto out;
	}
	rc = buf_append(out, "", 0);
out:
	for (size_t i = 0; i < np; i++) {
		buf_free(&params[i].key);
		buf_free(&params[i].value);
	}
	free(params);
	return rc;
}

struct canon_header {
	char name[MAX_HEADER_NAME + 1]; /* lowercase */
	const char *value;              /* as given */
	size_t order;                   /* position in the request: keeps repeats in order */
};

static int
canon_header_cmp(const void *a, const void *b)
{
	const struct canon_header *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Appends value trimmed, with each run of whitespace (including obs-fold line
 * breaks) squeezed to one space; quotes are not special. */
static int
append_trimmed(struct kls_buf *b, const char *v)
{
	bool pending_space = false, any = false;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
			pending_space = any;
			continue;
		}
		if ((pending_space && buf_append(b, " ", 1) < 0) || buf_append(b, v, 1) < 0)
			return -1;
		pending_space = false;
		any = true;
	}
	return 0;
}

static bool
valid_amz_date(const char *d)
{
	if (d == NULL || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
		return false;
	for (int i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char)d[i]))
			return false;
	return true;
}

/* Scope parts and the key id go into the Authorization header between '/' and ','. */
static bool
valid_scope_part(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 128)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == '/' || *s == ',' || *s == ';' || *s == 0x7f)
			return false;
	return true;
}

void
sigv4_signed_init(struct sigv4_signed *s)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->canonical_request, SIGV4_MAX_TEXT);
	buf_init(&s->signed_headers, SIGV4_MAX_TEXT);
	buf_init(&s->string_to_sign, SIGV4_MAX_TEXT);
	buf_init(&s->authorization, SIGV4_MAX_TEXT);
}

void
sigv4_signed_free(struct sigv4_signed *s)
{
	if (s->authorization.data)
		explicit_bzero(s->authorization.data, s->authorization.cap);
	buf_free(&s->canonical_request);
	buf_free(&s->signed_headers);
	buf_free(&s->string_to_sign);
	buf_free(&s->authorization);
	explicit_bzero(s->signing_key, sizeof(s->signing_key));
	explicit_bzero(s->signature, sizeof(s->signature));
	s->nadd = 0;
}

static int
fail(const char **why, const char *text, int e)
{
	if (why)
		*why = text;
	errno = e;
	return -1;
}

/* Collects, checks and sorts the headers to sign. Returns the count, or -1. */
static int
collect_headers(const struct sigv4_request *req, const struct sigv4_params *p,
    struct canon_header *h, bool *has_date, bool *has_token, const char **why)
{
	bool has_host = false, token = p->session_token && *p->session_token;
	size_t n = 0;

	*has_date = *has_token = false;
	if (req->nheaders > SIGV4_MAX_HEADERS)
		return fail(why, "too many headers to sign", EMSGSIZE);
	for (size_t i = 0; i < req->nheaders; i++) {
		const char *name = req->headers[i].name, *value = req->headers[i].value;
		size_t nl = name ? strlen(name) : 0;
		if (nl == 0 || nl > MAX_HEADER_NAME || value == NULL)
			return fail(why, "header name empty or too long, or value missing", EINVAL);
		for (size_t j = 0; j < nl; j++) {
			if (!is_tchar((unsigned char)name[j]))
				return fail(why, "header name holds a character HTTP does not allow",
				    EINVAL);
			h[n].name[j] = (char)tolower((unsigned char)name[j]);
		}
		h[n].name[nl] = '\0';
		h[n].value = value;
		h[n].order = i;
		if (strcmp(h[n].name, "host") == 0)
			has_host = true;
		if (strcmp(h[n].name, "x-amz-date") == 0) {
			if (strcmp(value, p->amz_date) != 0)
				return fail(why, "X-Amz-Date header differs from the signing time", EINVAL);
			*has_date = true;
		}
		if (strcmp(h[n].name, "x-amz-security-token") == 0) {
			if (!token || strcmp(value, p->session_token) != 0)
				return fail(why,
				    "X-Amz-Security-Token header differs from the credentials' token",
				    EINVAL);
			if (p->token_unsigned)
				return fail(why, "X-Amz-Security-Token header present but asked unsigned",
				    EINVAL);
			*has_token = true;
		}
		n++;
	}
	if (!has_host)
		return fail(why, "no Host header to sign", EINVAL);
	if (!*has_date) {
		strcpy(h[n].name, "x-amz-date");
		h[n].value = p->amz_date;
		h[n].order = n;
		n++;
	}
	if (token && !*has_token && !p->token_unsigned) {
		strcpy(h[n].name, "x-amz-security-token");
		h[n].value = p->session_token;
		h[n].order = n;
		n++;
	}
	qsort(h, n, sizeof(*h), canon_header_cmp);
	return (int)n;
}

static int
canonical_request(const struct sigv4_request *req, const struct sigv4_params *p,
    const struct canon_header *h, size_t nh, struct sigv4_signed *out)
{
	struct kls_buf *cr = &out->canonical_request, *sh = &out->signed_headers;
	char payload[65];

	if (buf_printf(cr, "%s\n", req->method) < 0 ||
	    sigv4_canonical_uri(req->path, p->normalize_path, cr) < 0 ||
	    buf_append(cr, "\n", 1) < 0 || sigv4_canonical_query(req->query, cr) < 0 ||
	    buf_append(cr, "\n", 1) < 0)
		return -1;
	/* Repeated names become one line, values joined with ',' in request order. */
	for (size_t i = 0; i < nh; i++) {
		bool repeat = i && strcmp(h[i].name, h[i - 1].name) == 0;
		if (repeat) {
			if (buf_append(cr, ",", 1) < 0)
				return -1;
		} else {
			if ((i && buf_append(cr, "\n", 1) < 0) || buf_printf(cr, "%s:", h[i].name) < 0)
				return -1;
			if (buf_printf(sh, "%s%s", sh->len ? ";" : "", h[i].name) < 0)
				return -1;
		}
		if (append_trimmed(cr, h[i].value) < 0)
			return -1;
	}
	sigv4_sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0, payload);
	return buf_printf(cr, "\n\n%s\n%s", sh->data, payload);
}

int
sigv4_sign(const struct sigv4_request *req, const struct sigv4_params *p,
    struct sigv4_signed *out, const char **why)
{
	return sigv4_sign_with_key(req, p, NULL, out, why);
}

int
sigv4_sign_with_key(const struct sigv4_request *req, const struct sigv4_params *p,
    const unsigned char *given_key, struct sigv4_signed *out, const char **why)
{
	struct canon_header *h;
	bool has_date, has_token;
	char date8[9], creq_hash[65];
	unsigned char sig[32];
	EVP_MD_CTX *ctx;
	int nh, rc;

	sigv4_signed_free(out);
	sigv4_signed_init(out);
	if (req->method == NULL || *req->method == '\0')
		return fail(why, "no method", EINVAL);
	if (!valid_amz_date(p->amz_date))
		return fail(why, "signing time is not YYYYMMDDTHHMMSSZ", EINVAL);
	if (!valid_scope_part(p->access_key_id) || !valid_scope_part(p->region) ||
	    !valid_scope_part(p->service) || p->secret_access_key == NULL)
		return fail(why, "access key id, region or service missing or malformed", EINVAL);
	memcpy(out->amz_date, p->amz_date, 17);
	memcpy(date8, p->amz_date, 8);
	date8[8] = '\0';

	/* Room for the request's headers plus X-Amz-Date and the token (collect_headers
	 * refuses more than SIGV4_MAX_HEADERS before writing any). */
	h = calloc((req->nheaders < SIGV4_MAX_HEADERS ? req->nheaders : SIGV4_MAX_HEADERS) + 2,
	    sizeof(*h));
	if (h == NULL)
		return fail(why, "out of memory", ENOMEM);
	nh = collect_headers(req, p, h, &has_date, &has_token, why);
	if (nh < 0) {
		free(h);
		return -1;
	}
	if (canonical_request(req, p, h, (size_t)nh, out) < 0) {
		int e = errno;
		free(h);
		return fail(why, "canonical request past its bound or out of memory", e);
	}
	free(h);

	sigv4_sha256_hex(out->canonical_request.data, out->canonical_request.len, creq_hash);
	if (buf_printf(&out->string_to_sign, ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s",
		p->amz_date, date8, p->region, p->service, creq_hash) < 0)
		return fail(why, "out of memory", ENOMEM);
	if (!(ctx = EVP_MD_CTX_new()))
		return fail(why, "out of memory", ENOMEM);
	if (given_key)
		memcpy(out->signing_key, given_key, sizeof(out->signing_key));
	rc = given_key ? 0
	                    : signing_key(ctx, p->secret_access_key, date8, p->region, p->service,
	                          out->signing_key);
	if (rc == 0)
		rc = hmac(ctx, out->signing_key, sizeof(out->signing_key), out->string_to_sign.data,
		    out->string_to_sign.len, sig);
	EVP_MD_CTX_free(ctx);
	if (rc < 0)
		return fail(why, "HMAC failed", ENOMEM);
	hex_lower(sig, sizeof(sig), out->signature);
	explicit_bzero(sig, sizeof(sig));
	if (buf_printf(&out->authorization,
		ALGORITHM " Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
		p->access_key_id, date8, p->region, p->service, out->signed_headers.data,
		out->signature) < 0)
		return fail(why, "out of memory", ENOMEM);

	if (!has_date)
		out->add[out->nadd++] = (struct http_header){ "X-Amz-Date", out->amz_date };
	if (p->session_token && *p->session_token && !has_token)
		out->add[out->nadd++] = (struct http_header){ "X-Amz-Security-Token", p->session_token };
	out->add[out->nadd++] = (struct http_header){ "Authorization", out->authorization.data };
	return 0;
}
