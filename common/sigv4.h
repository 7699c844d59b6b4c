/*
 * AWS Signature Version 4 (header form) as a pure function: a request and the
 * credentials, scope and time go in; every stage of the signature and the headers
 * to add come out. No clock, no I/O, no global state: the caller supplies the time,
 * which is what lets the tests replay AWS's published vectors stage by stage.
 * The signing key and the signature are secrets: never log them.
 */
#ifndef KLS_SIGV4_H
#define KLS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/http.h"

#define SIGV4_MAX_HEADERS 64      /* headers a request may ask to sign */
#define SIGV4_MAX_QUERY_PARAMS 256
#define SIGV4_MAX_TEXT (256u << 10) /* bound on each text stage (canonical request, ...) */

struct sigv4_request {
	const char *method;                /* "POST" */
	const char *path;                  /* as sent, without the query; NULL or "" = "/" */
	const char *query;                 /* without the '?'; NULL = none */
	const struct http_header *headers; /* all signed; must hold Host */
	size_t nheaders;
	const void *body;
	size_t body_len;
};

struct sigv4_params {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL or "" = long-lived credentials */
	const char *region;        /* "us-east-1" */
	const char *service;       /* signing name: "kinesis", "dynamodb" */
	const char *amz_date;      /* request time, UTC, "YYYYMMDDTHHMMSSZ" */
	/* Remove "." and ".." segments and empty segments from the path before
	 * encoding it: what every service but S3 expects (on for Kinesis/DynamoDB). */
	bool normalize_path;
	/* Add X-Amz-Security-Token after signing instead of signing it. The SDKs sign
	 * it (false), and Kinesis and DynamoDB expect that. */
	bool token_unsigned;
};

struct sigv4_signed {
	struct kls_buf canonical_request;
	struct kls_buf signed_headers;  /* "host;x-amz-date;..." */
	struct kls_buf string_to_sign;
	unsigned char signing_key[32];  /* secret: wiped by sigv4_signed_free */
	char signature[65];             /* lowercase hex */
	struct kls_buf authorization;   /* the Authorization header's value */
	/*
	 * The headers the caller adds to the request it sends: X-Amz-Date when the
	 * request had none, X-Amz-Security-Token when there is a token the request does
	 * not already carry, and Authorization, in that order. Values point into this
	 * struct, except the token's, which is the caller's p->session_token.
	 */
	struct http_header add[3];
	size_t nadd;
	char amz_date[17];
};

void sigv4_signed_init(struct sigv4_signed *s);
/* Frees the buffers and wipes the key and the signature. */
void sigv4_signed_free(struct sigv4_signed *s);

/*
 * Signs req. 0, or -1 with errno (EINVAL for unusable input, EMSGSIZE past a bound,
 * ENOMEM) and *why (when why is not NULL) set to a static text naming the problem:
 * no Host header, a malformed date, an X-Amz-Date or X-Amz-Security-Token header that
 * disagrees with the parameters, too many headers or parameters, a bad header name.
 * out must have been through sigv4_signed_init; it is reset first, so it may be
 * reused across calls (sigv4_signed_free once at the end).
 */
int sigv4_sign(const struct sigv4_request *req, const struct sigv4_params *p,
    struct sigv4_signed *out, const char **why);
/* The same with the signing key sigv4_signing_key derives from p's secret, date,
 * region and service, when the caller has it already: a client signing many requests
 * derives it once a day instead of with four HMACs per request. NULL = derive it. */
int sigv4_sign_with_key(const struct sigv4_request *req, const struct sigv4_params *p,
    const unsigned char *signing_key, struct sigv4_signed *out, const char **why);

/* The stages on their own (sigv4_sign uses them). */

/* Canonical URI: optionally normalized, each byte but A-Za-z0-9-._~ and '/' encoded
 * as %XX (uppercase hex). The path is taken as sent, so an already encoded '%' is
 * encoded again, as SigV4 wants for every service but S3. */
int sigv4_canonical_uri(const char *path, bool normalize, struct kls_buf *out);
/* Canonical query: each key and value percent-decoded then encoded as above, sorted
 * by key then value (byte order), joined with '&'; "k" alone becomes "k=". */
int sigv4_canonical_query(const char *query, struct kls_buf *out);
/* HMAC chain "AWS4"+secret -> date (YYYYMMDD) -> region -> service -> "aws4_request". */
int sigv4_signing_key(const char *secret, const char *date8, const char *region,
    const char *service, unsigned char key[32]);
/* Lowercase hex SHA-256 of p[0..n). out must hold 65 bytes. */
void sigv4_sha256_hex(const void *p, size_t n, char out[65]);

#endif
