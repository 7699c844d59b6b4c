/*
 * One signed AWS JSON call (the contract is common/aws.h): credentials from the
 * provider, SigV4 over Host, Content-Type, X-Amz-Date, X-Amz-Target (and the session
 * token), POST over the client's HTTP handle, and the service's JSON error turned
 * into a classified struct aws_error. Secrets live only in locals that are wiped
 * before returning.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "common/aws.h"
#include "common/clock.h"
#include "common/creds.h"
#include "common/http.h"
#include "common/log.h"
#include "common/retry.h"
#include "common/sigv4.h"

#define MAX_ACTION 64
#define ERROR_JSON_DEPTH 16
#define SNIPPET 120 /* bytes of a non-JSON error body quoted in the message */
#define MAX_ERROR_JSON (1u << 20) /* a larger error body is not parsed, only quoted */

static const struct aws_retry_policy default_policy = { 3, 100, 5000 };

struct aws_client {
	char service[64];
	char region[64];
	char target_prefix[128];
	char content_type[128];
	char url[1024];
	char host[512];
	struct aws_creds_provider *creds;
	struct http_client *http;
	struct retry_rng rng; /* backoff jitter; one per client, so per thread */
	/* The SigV4 signing key of the last request: it depends only on the secret, the
	 * day, the region and the service, and deriving it is four HMACs per request.
	 * Secret material: wiped when the credentials change and when the client is freed. */
	struct {
		bool valid;
		char date8[9];
		char secret[sizeof(((struct aws_credentials *)0)->secret_access_key)];
		unsigned char key[32];
	} sk;
};

static void
local_err(struct aws_error *err, const char *type, enum aws_err_class cls, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
local_err(struct aws_error *err, const char *type, enum aws_err_class cls, const char *fmt, ...)
{
	va_list ap;
	memset(err, 0, sizeof(*err));
	err->cls = cls;
	snprintf(err->type, sizeof(err->type), "%s", type);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* Service names and regions become part of a host name and of the signing scope. */
static bool
valid_name(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n >= max)
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-')
			return false;
	return true;
}

static bool
copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n == 0 || n >= size)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

/* The endpoint must be a bare origin: Kinesis and DynamoDB are always called on "/". */
static int
set_endpoint(struct aws_client *c, const char *endpoint, struct aws_error *err)
{
	const char *p;
	size_t n;

	if (endpoint == NULL) {
		/* China regions live under their own domain. */
		int w = snprintf(c->url, sizeof(c->url), "https://%s.%s.amazonaws.com%s/",
		    c->service, c->region, strncmp(c->region, "cn-", 3) == 0 ? ".cn" : "");
		if (w < 0 || (size_t)w >= sizeof(c->url))
			return -1;
	} else {
		if (http_url_check(endpoint, err) < 0)
			return -1;
		p = strstr(endpoint, "://");
		p = p ? strchr(p + 3, '/') : NULL;
		n = strlen(endpoint);
		if (strpbrk(endpoint, "?#") || (p && strcmp(p, "/") != 0)) {
			local_err(err, "InvalidEndpoint", AWS_ERR_FATAL,
			    "endpoint %.200s: only a scheme, host and port are allowed (no path, "
			    "query or fragment)",
			    endpoint);
			return -1;
		}
		if (n + 2 > sizeof(c->url)) {
			local_err(err, "InvalidEndpoint", AWS_ERR_FATAL, "endpoint URL too long");
			return -1;
		}
		snprintf(c->url, sizeof(c->url), "%s%s", endpoint, p ? "" : "/");
	}
	if (http_url_host(c->url, c->host, sizeof(c->host)) < 0) {
		local_err(err, "InvalidEndpoint", AWS_ERR_FATAL, "endpoint %.200s: no usable host",
		    c->url);
		return -1;
	}
	return 0;
}

struct aws_client *
aws_client_new(const struct aws_service_config *cfg, struct aws_error *err)
{
	struct aws_client *c;
	struct http_config hc = { 0 };
	struct aws_error ignored;

	if (err == NULL)
		err = &ignored;
	memset(err, 0, sizeof(*err));
	if (!valid_name(cfg->service, 64) || !valid_name(cfg->region, 64)) {
		local_err(err, "LocalError", AWS_ERR_FATAL,
		    "service \"%.64s\" or region \"%.64s\" missing or not [a-z0-9-]",
		    cfg->service ? cfg->service : "", cfg->region ? cfg->region : "");
		return NULL;
	}
	if (cfg->creds == NULL) {
		local_err(err, "Credentials", AWS_ERR_FATAL, "%s client: no credentials provider",
		    cfg->service);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		local_err(err, "LocalError", AWS_ERR_FATAL, "%s client: out of memory", cfg->service);
		return NULL;
	}
	if (!copy_str(c->service, sizeof(c->service), cfg->service) ||
	    !copy_str(c->region, sizeof(c->region), cfg->region) ||
	    !copy_str(c->target_prefix, sizeof(c->target_prefix), cfg->target_prefix) ||
	    !copy_str(c->content_type, sizeof(c->content_type), cfg->content_type) ||
	    strpbrk(c->target_prefix, "\r\n") || strpbrk(c->content_type, "\r\n")) {
		local_err(err, "LocalError", AWS_ERR_FATAL,
		    "%s client: target_prefix or content_type missing or malformed", cfg->service);
		goto fail;
	}
	if (set_endpoint(c, cfg->endpoint, err) < 0)
		goto fail;
	c->creds = cfg->creds;
	hc.connect_timeout_ms = cfg->connect_timeout_ms;
	hc.timeout_ms = cfg->timeout_ms;
	hc.max_response_bytes = cfg->max_response_bytes;
	/* Extra trust anchors, named the way the AWS tools name them (a private CA, or a
	 * local emulator's certificate); verification itself stays on. */
	hc.ca_file = getenv("AWS_CA_BUNDLE");
	if (hc.ca_file && *hc.ca_file == '\0')
		hc.ca_file = NULL;
	/* The trace is the one debug path that sees request headers; it redacts them. */
	if (log_get_level() >= LOG_LEVEL_DEBUG)
		hc.trace = http_trace_log;
	c->http = http_client_new(&hc, err);
	if (c->http == NULL)
		goto fail;
	retry_rng_seed_random(&c->rng);
	return c;
fail:
	free(c);
	return NULL;
}

void
aws_client_free(struct aws_client *c)
{
	if (c == NULL)
		return;
	http_client_free(c->http);
	explicit_bzero(&c->sk, sizeof(c->sk));
	free(c);
}

/* The signing key for this request's day and secret, derived when either changed. */
static const unsigned char *
signing_key(struct aws_client *c, const struct aws_credentials *cr, const char *date)
{
	if (c->sk.valid && memcmp(c->sk.date8, date, 8) == 0 &&
	    strcmp(c->sk.secret, cr->secret_access_key) == 0)
		return c->sk.key;
	explicit_bzero(&c->sk, sizeof(c->sk));
	memcpy(c->sk.date8, date, 8);
	snprintf(c->sk.secret, sizeof(c->sk.secret), "%s", cr->secret_access_key);
	if (sigv4_signing_key(c->sk.secret, c->sk.date8, c->region, c->service, c->sk.key) < 0) {
		explicit_bzero(&c->sk, sizeof(c->sk));
		return NULL; /* sigv4_sign derives it, and reports the failure */
	}
	c->sk.valid = true;
	return c->sk.key;
}

/* Copies s[0..n) into dst, control bytes replaced: service text goes into logs. */
static void
copy_clean(char *dst, size_t size, const char *s, size_t n)
{
	if (n >= size)
		n = size - 1;
	for (size_t i = 0; i < n; i++)
		dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
	dst[n] = '\0';
}

/* "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException" and
 * "ValidationException:http://internal.amazon.com/..." both name their type. */
static void
set_type(struct aws_error *err, const char *t)
{
	const char *hash = strrchr(t, '#'), *colon;
	if (hash)
		t = hash + 1;
	colon = strchr(t, ':');
	copy_clean(err->type, sizeof(err->type), t, colon ? (size_t)(colon - t) : strlen(t));
}

static const char *
json_str(json_object *o, const char *key)
{
	json_object *v;
	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

/* The service's error from a non-2xx response. */
static void
service_error(long status, const struct kls_buf *body, const char *header_type,
    struct aws_error *err)
{
	json_tokener *tok = NULL;
	json_object *o = NULL;
	const char *type = NULL, *msg = NULL;

	memset(err, 0, sizeof(*err));
	err->http_status = status;
	if (body->len && body->len <= MAX_ERROR_JSON &&
	    (tok = json_tokener_new_ex(ERROR_JSON_DEPTH)) != NULL) {
		o = json_tokener_parse_ex(tok, body->data, (int)body->len);
		if (o && !json_object_is_type(o, json_type_object)) {
			json_object_put(o);
			o = NULL;
		}
	}
	if (o) {
		type = json_str(o, "__type");
		msg = json_str(o, "message");
		if (msg == NULL)
			msg = json_str(o, "Message");
	}
	if (type && *type)
		set_type(err, type);
	else if (*header_type)
		set_type(err, header_type);
	if (err->type[0] == '\0')
		snprintf(err->type, sizeof(err->type), "HttpError");

	if (msg && *msg)
		copy_clean(err->message, sizeof(err->message), msg, strlen(msg));
	else if (body->len == 0)
		snprintf(err->message, sizeof(err->message), "HTTP %ld with an empty body", status);
	else if (o == NULL) {
		char snippet[SNIPPET + 1];
		copy_clean(snippet, sizeof(snippet), body->data, body->len);
		snprintf(err->message, sizeof(err->message),
		    "HTTP %ld with a body that is not JSON (%zu bytes): %s", status, body->len,
		    snippet);
	} else
		snprintf(err->message, sizeof(err->message), "HTTP %ld without an error message",
		    status);
	err->cls = retry_classify(status, err->type);
	if (err->cls == AWS_OK)
		err->cls = AWS_ERR_FATAL;
	if (o)
		json_object_put(o);
	if (tok)
		json_tokener_free(tok);
}

static bool
valid_action(const char *a)
{
	size_t n = a ? strlen(a) : 0;
	if (n == 0 || n > MAX_ACTION)
		return false;
	for (; *a; a++)
		if (!isalnum((unsigned char)*a))
			return false;
	return true;
}

static void
amz_date_now(char out[17])
{
	int64_t ms = wall_now_ms();
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* aws_call and aws_call_stream: stream NULL collects the body into resp. */
static int
call(struct aws_client *c, const char *action, const char *body, size_t len,
    const struct http_stream *stream, struct kls_buf *resp, struct aws_error *err)
{
	struct aws_credentials cr;
	struct sigv4_signed sig;
	struct http_header h[3 + 3];
	struct http_response hr = { .body = resp };
	struct http_request req;
	char target[MAX_ACTION + 130], date[17];
	const char *why = NULL;
	int rc = -1;

	memset(err, 0, sizeof(*err));
	if (!valid_action(action)) {
		local_err(err, "LocalError", AWS_ERR_FATAL, "%s: action \"%.64s\" is not a name",
		    c->service, action ? action : "");
		return -1;
	}
	if (creds_get(c->creds, &cr, err) < 0) {
		/* The provider's class decides (a metadata service may be briefly away). */
		if (err->cls == AWS_OK)
			err->cls = AWS_ERR_FATAL;
		if (err->type[0] == '\0')
			snprintf(err->type, sizeof(err->type), "Credentials");
		explicit_bzero(&cr, sizeof(cr));
		return -1;
	}
	snprintf(target, sizeof(target), "%s.%s", c->target_prefix, action);
	amz_date_now(date);
	h[0] = (struct http_header){ "Host", c->host };
	h[1] = (struct http_header){ "Content-Type", c->content_type };
	h[2] = (struct http_header){ "X-Amz-Target", target };

	sigv4_signed_init(&sig);
	{
		struct sigv4_request sr = { "POST", "/", NULL, h, 3, body, body ? len : 0 };
		struct sigv4_params sp = { cr.access_key_id, cr.secret_access_key, cr.session_token,
			c->region, c->service, date, true, false };
		if (sigv4_sign_with_key(&sr, &sp, signing_key(c, &cr, date), &sig, &why) < 0) {
			local_err(err, "LocalError", AWS_ERR_FATAL, "%s %s: signing failed: %s",
			    c->service, action, why ? why : "unknown");
			goto out;
		}
	}
	for (size_t i = 0; i < sig.nadd; i++)
		h[3 + i] = sig.add[i];
	req = (struct http_request){ "POST", c->url, h, 3 + sig.nadd, body, body ? len : 0 };
	if (http_request_stream(c->http, &req, stream, &hr, err) < 0)
		goto out;
	if (hr.status >= 200 && hr.status <= 299)
		rc = 0;
	else
		service_error(hr.status, resp, hr.error_type, err);
out:
	sigv4_signed_free(&sig);
	explicit_bzero(&cr, sizeof(cr));
	return rc;
}

int
aws_call(struct aws_client *c, const char *action, const char *body, size_t len,
    struct kls_buf *resp, struct aws_error *err)
{
	return call(c, action, body, len, NULL, resp, err);
}

int
aws_call_stream(struct aws_client *c, const char *action, const char *body, size_t len,
    const struct http_stream *stream, struct kls_buf *resp, struct aws_error *err)
{
	if (stream == NULL || stream->data == NULL) {
		local_err(err, "LocalError", AWS_ERR_FATAL, "%s %s: no stream callback", c->service,
		    action ? action : "");
		return -1;
	}
	return call(c, action, body, len, stream, resp, err);
}

int
aws_call_retry(struct aws_client *c, const struct aws_retry_policy *policy,
    const char *action, const char *body, size_t len, struct kls_buf *resp,
    struct aws_error *err)
{
	const struct aws_retry_policy *p = policy ? policy : &default_policy;

	for (int attempt = 0;; attempt++) {
		if (aws_call(c, action, body, len, resp, err) == 0)
			return 0;
		if ((err->cls != AWS_ERR_THROTTLED && err->cls != AWS_ERR_RETRYABLE) ||
		    attempt + 1 >= p->max_attempts)
			return -1;
		/* Throttling backs off harder: its ceiling is four times higher. */
		sleep_ms(retry_backoff_ms(&c->rng,
		    err->cls == AWS_ERR_THROTTLED ? attempt + 2 : attempt, p->base_ms, p->cap_ms));
	}
}
