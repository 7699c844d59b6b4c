/*
 * Credentials fetched over HTTP: the container credentials endpoint (ECS, EKS Pod
 * Identity, local emulators) and EC2 instance metadata (IMDSv2 only). One small
 * libcurl function does every request: no proxy (a metadata request must reach the
 * local link, not an office proxy, and must not hand the authorization token to it),
 * no redirects, short timeouts, bodies capped at 64 KiB. Tokens and keys are never
 * copied into the reason texts.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "common/buf.h"
#include "common/creds_int.h"
#include "common/timestamp.h"

#define META_BODY_MAX (64u * 1024)
#define CONTAINER_HOST "http://169.254.170.2"
#define IMDS_TOKEN_TTL "21600"
/* A container authorization token and an IMDS token are short; this bounds the
 * header we build and the file we read. */
#define TOKEN_MAX 8192

struct sink {
	struct kls_buf *body;
	int too_large;
};

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *k = arg;
	if (buf_append(k->body, ptr, size * nmemb) < 0) {
		k->too_large = errno == EMSGSIZE;
		return 0; /* curl aborts the transfer with CURLE_WRITE_ERROR */
	}
	return size * nmemb;
}

/*
 * One request. 0 with *status and body (capped), or -1 with why naming the URL and
 * the failure. header may be NULL; it is a secret and is never echoed.
 */
static int
http_fetch(const char *method, const char *url, const char *header, long timeout_ms,
    struct kls_buf *body, long *status, char *why, size_t whysize)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	struct sink sink = {body, 0};
	CURL *h = curl_easy_init();

	*status = 0;
	buf_reset(body);
	if (h == NULL)
		goto done;
	if (header != NULL && (hdrs = curl_slist_append(NULL, header)) == NULL)
		goto done;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
done:
	curl_slist_free_all(hdrs);
	if (h != NULL)
		curl_easy_cleanup(h);
	if (rc == CURLE_WRITE_ERROR && sink.too_large) {
		snprintf(why, whysize, "%s %s: response larger than %u bytes", method, url,
		    META_BODY_MAX);
		return -1;
	}
	if (rc != CURLE_OK) {
		snprintf(why, whysize, "%s %s: %s", method, url,
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

/* http_fetch expecting 200: FOUND, or FAILED_IO for what is worth retrying later
 * (network, throttling, server errors), else FAILED. */
static enum creds_status
fetch_200(const char *method, const char *url, const char *header, long timeout_ms,
    struct kls_buf *body, char *why, size_t whysize)
{
	long status;

	if (http_fetch(method, url, header, timeout_ms, body, &status, why, whysize) < 0)
		return CREDS_FAILED_IO;
	if (status == 200)
		return CREDS_FOUND;
	snprintf(why, whysize, "%s %s: HTTP %ld", method, url, status);
	return status == 429 || status >= 500 ? CREDS_FAILED_IO : CREDS_FAILED;
}

/* A string member; NULL if absent or not a string. */
static const char *
member(struct json_object *o, const char *name)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/*
 * The credentials document both services return:
 * {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"} (IMDS adds "Code").
 */
static enum creds_status
parse_document(const char *what, const struct kls_buf *body, struct aws_credentials *out, char *why,
    size_t whysize)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *doc = NULL;
	const char *id, *secret, *token, *exp, *code;
	enum creds_status st = CREDS_FAILED;

	if (tok == NULL) {
		snprintf(why, whysize, "%s: out of memory", what);
		return CREDS_FAILED;
	}
	doc = json_tokener_parse_ex(tok, body->data ? body->data : "", (int)body->len);
	if (doc == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(doc, json_type_object)) {
		snprintf(why, whysize, "%s: response is not a JSON object", what);
		goto out;
	}
	code = member(doc, "Code");
	if (code != NULL && strcmp(code, "Success") != 0) {
		snprintf(why, whysize, "%s: Code is not Success", what);
		goto out;
	}
	id = member(doc, "AccessKeyId");
	secret = member(doc, "SecretAccessKey");
	token = member(doc, "Token");
	exp = member(doc, "Expiration");
	if (id == NULL || *id == '\0' || secret == NULL || *secret == '\0') {
		snprintf(why, whysize, "%s: response lacks %s", what,
		    id == NULL || *id == '\0' ? "AccessKeyId" : "SecretAccessKey");
		goto out;
	}
	memset(out, 0, sizeof(*out));
	if (creds_copy(out->access_key_id, sizeof(out->access_key_id), id) < 0 ||
	    creds_copy(out->secret_access_key, sizeof(out->secret_access_key), secret) < 0 ||
	    creds_copy(out->session_token, sizeof(out->session_token), token ? token : "") < 0) {
		snprintf(why, whysize, "%s: a credential in the response is too long", what);
		goto out;
	}
	/* Keys that expired before 1970 are as bad as no time at all. */
	if (exp != NULL && (rfc3339_parse_ms(exp, &out->expires_ms) < 0 || out->expires_ms < 0)) {
		snprintf(why, whysize, "%s: Expiration is not an ISO 8601 UTC time", what);
		goto out;
	}
	/* Temporary keys without an expiry would never be refreshed: refuse them. */
	if (exp == NULL && out->session_token[0] != '\0') {
		snprintf(why, whysize, "%s: response has a Token but no Expiration", what);
		goto out;
	}
	st = CREDS_FOUND;
out:
	if (st != CREDS_FOUND)
		explicit_bzero(out, sizeof(*out));
	if (doc != NULL)
		json_object_put(doc);
	json_tokener_free(tok);
	return st;
}

/* Whether plain http may go to host (as curl's URL parser returns it, IPv6 in brackets). */
static int
container_http_host_allowed(const char *host)
{
	static const char *const v6ok[] = {"::1", "fd00:ec2::23"};
	unsigned char a4[4], a6[16], ok6[16];
	char inner[64];
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, a4) == 1)
		return a4[0] == 127 || (a4[0] == 169 && a4[1] == 254 && a4[2] == 170 &&
		                           (a4[3] == 2 || a4[3] == 23));
	if (n < 3 || n - 2 >= sizeof(inner) || host[0] != '[' || host[n - 1] != ']')
		return 0;
	memcpy(inner, host + 1, n - 2);
	inner[n - 2] = '\0';
	if (inet_pton(AF_INET6, inner, a6) != 1)
		return 0;
	for (size_t i = 0; i < sizeof(v6ok) / sizeof(v6ok[0]); i++)
		if (inet_pton(AF_INET6, v6ok[i], ok6) == 1 && memcmp(a6, ok6, 16) == 0)
			return 1;
	return 0;
}

/* The full URI's scheme and host are acceptable; why says otherwise. */
static int
container_url_allowed(const char *url, char *why, size_t whysize)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL;
	int ok = 0;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		snprintf(why, whysize, "AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL");
	} else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		snprintf(why, whysize,
		    "AWS_CONTAINER_CREDENTIALS_FULL_URI: scheme %s not allowed "
		    "(http or https)",
		    scheme);
	} else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(why, whysize, "AWS_CONTAINER_CREDENTIALS_FULL_URI has no host");
	} else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		/* user:password@ would be a secret in every message naming the URL */
		snprintf(
		    why, whysize, "AWS_CONTAINER_CREDENTIALS_FULL_URI must not hold a user name");
	} else if (strcmp(scheme, "https") == 0) {
		ok = 1;
	} else if (!container_http_host_allowed(host)) {
		snprintf(why, whysize,
		    "AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http not allowed "
		    "to host %s (only loopback, 169.254.170.2, 169.254.170.23, fd00:ec2::23; "
		    "use https)",
		    host);
	} else {
		ok = 1;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return ok;
}

/* Token text is usable as a header value: printable, no line breaks. */
static int
header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* "Authorization: TOKEN" from the token file, else the token variable; "" for none. */
static enum creds_status
container_auth_header(char *hdr, size_t size, char *why, size_t whysize)
{
	const char *path = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tok = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char filetok[TOKEN_MAX + 1];
	const char *what = "AWS_CONTAINER_AUTHORIZATION_TOKEN";

	hdr[0] = '\0';
	if (path != NULL && *path != '\0') {
		FILE *f = fopen(path, "re");
		size_t n;

		if (f == NULL) {
			snprintf(why, whysize, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s",
			    path, strerror(errno));
			return CREDS_FAILED;
		}
		n = fread(filetok, 1, sizeof(filetok), f);
		fclose(f);
		if (n == sizeof(filetok)) {
			snprintf(why, whysize,
			    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: longer than "
			    "%d bytes",
			    path, TOKEN_MAX);
			return CREDS_FAILED;
		}
		/* Kubernetes writes the token with a trailing newline. */
		while (n > 0 && isspace((unsigned char)filetok[n - 1]))
			n--;
		filetok[n] = '\0';
		tok = filetok;
		what = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";
	}
	if (tok == NULL || *tok == '\0')
		return CREDS_FOUND;
	if (!header_safe(tok) || strlen(tok) > TOKEN_MAX) {
		snprintf(why, whysize, "%s: token has control characters or is too long", what);
		explicit_bzero(filetok, sizeof(filetok));
		return CREDS_FAILED;
	}
	snprintf(hdr, size, "Authorization: %s", tok);
	explicit_bzero(filetok, sizeof(filetok));
	return CREDS_FOUND;
}

enum creds_status
creds_from_container(long timeout_ms, struct aws_credentials *out, char *why, size_t whysize)
{
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	char url[2048], hdr[TOKEN_MAX + 32];
	struct kls_buf body;
	enum creds_status st;

	if (rel != NULL && *rel != '\0') {
		/* The relative form always goes to the ECS agent's fixed address. */
		if (rel[0] != '/' ||
		    snprintf(url, sizeof(url), "%s%s", CONTAINER_HOST, rel) >= (int)sizeof(url)) {
			snprintf(why, whysize,
			    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path "
			    "under %zu bytes starting with /",
			    sizeof(url) - sizeof(CONTAINER_HOST));
			return CREDS_FAILED;
		}
	} else if (full != NULL && *full != '\0') {
		if (strlen(full) >= sizeof(url)) {
			snprintf(why, whysize, "AWS_CONTAINER_CREDENTIALS_FULL_URI is too long");
			return CREDS_FAILED;
		}
		if (!container_url_allowed(full, why, whysize))
			return CREDS_FAILED;
		strcpy(url, full);
	} else {
		snprintf(
		    why, whysize, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI not set");
		return CREDS_ABSENT;
	}
	st = container_auth_header(hdr, sizeof(hdr), why, whysize);
	if (st != CREDS_FOUND)
		return st;
	buf_init(&body, META_BODY_MAX);
	st = fetch_200("GET", url, hdr[0] ? hdr : NULL, timeout_ms, &body, why, whysize);
	if (st == CREDS_FOUND)
		st = parse_document(url, &body, out, why, whysize);
	if (st == CREDS_FOUND)
		snprintf(out->source, sizeof(out->source), "container");
	explicit_bzero(hdr, sizeof(hdr));
	if (body.data != NULL)
		explicit_bzero(body.data, body.len);
	buf_free(&body);
	return st;
}

/* An IAM role name as IMDS lists it: the first line, IAM's character set, <= 64. */
static int
role_name(const struct kls_buf *b, char *out, size_t size)
{
	size_t n = 0;
	const char *p = b->data ? b->data : "";

	while (p[n] != '\0' && p[n] != '\n' && p[n] != '\r') {
		if (!isalnum((unsigned char)p[n]) && strchr("+=,.@_-", p[n]) == NULL)
			return -1;
		n++;
	}
	if (n == 0 || n > 64 || n >= size)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

enum creds_status
creds_from_imds(
    const char *endpoint, long timeout_ms, struct aws_credentials *out, char *why, size_t whysize)
{
	static const char prefix[] = "/latest/meta-data/iam/security-credentials/";
	char url[1024], hdr[TOKEN_MAX + 64], role[72];
	struct kls_buf body;
	size_t elen = strlen(endpoint);
	enum creds_status st;

	while (elen > 0 && endpoint[elen - 1] == '/')
		elen--;
	if (elen + sizeof(prefix) + sizeof(role) >= sizeof(url)) {
		snprintf(why, whysize, "IMDS endpoint is longer than %zu bytes",
		    sizeof(url) - sizeof(prefix) - sizeof(role));
		return CREDS_FAILED;
	}
	buf_init(&body, META_BODY_MAX);

	/* IMDSv2: a session token first. If that fails we stop: IMDSv1 is never tried. */
	snprintf(url, sizeof(url), "%.*s/latest/api/token", (int)elen, endpoint);
	st = fetch_200("PUT", url, "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL,
	    timeout_ms, &body, why, whysize);
	if (st != CREDS_FOUND)
		goto out;
	while (body.len > 0 && isspace((unsigned char)body.data[body.len - 1]))
		body.data[--body.len] = '\0';
	if (body.len == 0 || body.len > TOKEN_MAX || !header_safe(body.data)) {
		snprintf(why, whysize, "PUT %s: not a usable token", url);
		st = CREDS_FAILED;
		goto out;
	}
	snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", body.data);

	/* The role list (404 here means no instance profile is attached). */
	snprintf(url, sizeof(url), "%.*s%s", (int)elen, endpoint, prefix);
	st = fetch_200("GET", url, hdr, timeout_ms, &body, why, whysize);
	if (st != CREDS_FOUND)
		goto out;
	if (role_name(&body, role, sizeof(role)) < 0) {
		snprintf(why, whysize, "GET %s: not an IAM role name", url);
		st = CREDS_FAILED;
		goto out;
	}

	snprintf(url, sizeof(url), "%.*s%s%s", (int)elen, endpoint, prefix, role);
	st = fetch_200("GET", url, hdr, timeout_ms, &body, why, whysize);
	if (st != CREDS_FOUND)
		goto out;
	st = parse_document(url, &body, out, why, whysize);
	if (st == CREDS_FOUND)
		snprintf(out->source, sizeof(out->source), "imds");
out:
	explicit_bzero(hdr, sizeof(hdr));
	if (body.data != NULL)
		explicit_bzero(body.data, body.len);
	buf_free(&body);
	return st;
}
