/* JSON plumbing for the control-plane clients: see awsjson.h. */
#include "config.h"

#include "common/awsjson.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void
set_error(struct aws_error *err, const char *type, const char *fmt, va_list ap)
{
	err->cls = AWS_ERR_FATAL;
	err->http_status = 0;
	snprintf(err->type, sizeof(err->type), "%s", type);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
}

void
awsj_bad_response(struct aws_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_error(err, "BadResponse", fmt, ap);
	va_end(ap);
}

void
awsj_local_error(struct aws_error *err, const char *type, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_error(err, type, fmt, ap);
	va_end(ap);
}

void
awsj_context(struct aws_error *err, const char *fmt, ...)
{
	char ctx[sizeof(err->message)], old[sizeof(err->message)];
	char line[sizeof(ctx) + sizeof(err->type) + sizeof(old) + 8];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	memcpy(old, err->message, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	/* The service's type is part of the message so one line says everything. */
	if (err->type[0] && !strstr(old, err->type))
		snprintf(line, sizeof(line), "%s: %.*s: %s", ctx, (int)sizeof(err->type) - 1,
		    err->type, old);
	else
		snprintf(line, sizeof(line), "%s: %s", ctx, old);
	/* Keep the start (call, target, type) when the whole line does not fit. */
	n = strlen(line);
	if (n >= sizeof(err->message))
		n = sizeof(err->message) - 1;
	memcpy(err->message, line, n);
	err->message[n] = '\0';
}

bool
awsj_error_is(const struct aws_error *err, const char *type)
{
	const char *t = strrchr(err->type, '#');
	t = t ? t + 1 : err->type;
	return strcmp(t, type) == 0;
}

json_object *
awsj_parse(const char *body, size_t len, struct aws_error *err)
{
	struct json_tokener *tok;
	json_object *o;
	enum json_tokener_error jerr;
	size_t end;

	if (!body || len == 0) {
		awsj_bad_response(err, "empty response body");
		return NULL;
	}
	if (len > INT32_MAX) {
		awsj_bad_response(err, "response body of %zu bytes is too large to parse", len);
		return NULL;
	}
	tok = json_tokener_new_ex(AWSJ_MAX_DEPTH);
	if (!tok) {
		awsj_local_error(err, "NoMemory", "cannot allocate a JSON parser");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, body, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* A bare literal or number ("null", "12") only ends at a delimiter: offer
		 * one, so that only a really unfinished body counts as truncated. */
		o = json_tokener_parse_ex(tok, " ", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	json_tokener_free(tok);
	if (jerr == json_tokener_continue) {
		awsj_bad_response(err, "truncated JSON: body ends after %zu bytes", len);
		return NULL;
	}
	if (!o && jerr == json_tokener_success) {
		/* A bare "null" parses to NULL with success. */
		awsj_bad_response(err, "response is JSON null, expected an object");
		return NULL;
	}
	if (!o || jerr != json_tokener_success) {
		awsj_bad_response(err, "not JSON: %s at byte %zu", json_tokener_error_desc(jerr), end);
		json_object_put(o);
		return NULL;
	}
	while (end < len && strchr(" \t\r\n", body[end]))
		end++;
	if (end < len) {
		awsj_bad_response(err, "not JSON: trailing data at byte %zu", end);
		json_object_put(o);
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object)) {
		awsj_bad_response(err, "response is a JSON %s, expected an object",
		    json_type_to_name(json_object_get_type(o)));
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Looks up key; 1 when absent (or JSON null) and optional, -1 when absent and required. */
static int
field(json_object *o, const char *where, const char *key, bool required, json_object **v,
    struct aws_error *err)
{
	if (!json_object_object_get_ex(o, key, v) || !*v) {
		if (!required)
			return 1;
		awsj_bad_response(err, "%s%s%s: missing", where, *where ? "." : "", key);
		return -1;
	}
	return 0;
}

static int
wrong_type(const char *where, const char *key, const char *want, json_object *v,
    struct aws_error *err)
{
	awsj_bad_response(err, "%s%s%s: %s, expected %s", where, *where ? "." : "", key,
	    json_type_to_name(json_object_get_type(v)), want);
	return -1;
}

int
awsj_str_ref(json_object *o, const char *where, const char *key, bool required, size_t max_len,
    const char **out, struct aws_error *err)
{
	json_object *v;
	int rc = field(o, where, key, required, &v, err);
	size_t n;

	if (rc)
		return rc;
	if (!json_object_is_type(v, json_type_string))
		return wrong_type(where, key, "a string", v, err);
	n = (size_t)json_object_get_string_len(v);
	if (n > max_len) {
		awsj_bad_response(err, "%s%s%s: %zu bytes, longer than %zu", where, *where ? "." : "",
		    key, n, max_len);
		return -1;
	}
	if (strlen(json_object_get_string(v)) != n) {
		awsj_bad_response(err, "%s%s%s: contains a NUL byte", where, *where ? "." : "", key);
		return -1;
	}
	*out = json_object_get_string(v);
	return 0;
}

int
awsj_str(json_object *o, const char *where, const char *key, bool required, size_t max_len,
    char *out, size_t size, struct aws_error *err)
{
	const char *s;
	int rc;

	if (max_len >= size)
		max_len = size - 1;
	rc = awsj_str_ref(o, where, key, required, max_len, &s, err);
	if (rc == 0)
		memcpy(out, s, strlen(s) + 1);
	return rc;
}

int
awsj_int(json_object *o, const char *where, const char *key, bool required, int64_t min,
    int64_t max, int64_t *out, struct aws_error *err)
{
	json_object *v;
	int rc = field(o, where, key, required, &v, err);
	int64_t x;

	if (rc)
		return rc;
	if (!json_object_is_type(v, json_type_int))
		return wrong_type(where, key, "an integer", v, err);
	errno = 0;
	x = json_object_get_int64(v);
	if (errno == ERANGE || x < min || x > max) {
		awsj_bad_response(err, "%s%s%s: %s out of range [%lld, %lld]", where,
		    *where ? "." : "", key, json_object_to_json_string(v), (long long)min,
		    (long long)max);
		return -1;
	}
	*out = x;
	return 0;
}

int
awsj_double(json_object *o, const char *where, const char *key, bool required, double *out,
    struct aws_error *err)
{
	json_object *v;
	int rc = field(o, where, key, required, &v, err);

	if (rc)
		return rc;
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return wrong_type(where, key, "a number", v, err);
	*out = json_object_get_double(v);
	return 0;
}

int
awsj_obj(json_object *o, const char *where, const char *key, bool required, bool want_array,
    json_object **out, struct aws_error *err)
{
	json_object *v;
	int rc = field(o, where, key, required, &v, err);

	if (rc)
		return rc;
	if (!json_object_is_type(v, want_array ? json_type_array : json_type_object))
		return wrong_type(where, key, want_array ? "an array" : "an object", v, err);
	*out = v;
	return 0;
}

int
awsj_add_str(json_object *obj, const char *key, const char *val)
{
	json_object *s = json_object_new_string(val);
	if (!s || json_object_object_add(obj, key, s) < 0) {
		json_object_put(s);
		return -1;
	}
	return 0;
}

int
awsj_add_int(json_object *obj, const char *key, int64_t val)
{
	json_object *n = json_object_new_int64(val);
	if (!n || json_object_object_add(obj, key, n) < 0) {
		json_object_put(n);
		return -1;
	}
	return 0;
}

int
awsj_body(json_object *req, struct kls_buf *out, struct aws_error *err)
{
	size_t len;
	const char *s;
	int rc = -1;

	buf_reset(out);
	if (!req)
		return -1;
	s = json_object_to_json_string_length(req,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (!s)
		awsj_local_error(err, "NoMemory", "cannot serialize the request");
	else if (buf_append(out, s, len) < 0)
		awsj_local_error(err, errno == EMSGSIZE ? "RequestTooLarge" : "NoMemory",
		    "request body of %zu bytes: %s", len, strerror(errno));
	else
		rc = 0;
	json_object_put(req);
	return rc;
}

void
awsj_service_config(struct aws_service_config *cfg, const char *service,
    const char *target_prefix, const char *content_type, const char *region,
    const char *endpoint, struct aws_creds_provider *creds)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->service = service;
	cfg->target_prefix = target_prefix;
	cfg->content_type = content_type;
	cfg->region = region;
	cfg->endpoint = endpoint;
	cfg->creds = creds;
}

int
awsj_client_init(struct awsj_client *cl, const struct aws_service_config *cfg,
    const struct aws_retry_policy *retry, const struct aws_retry_policy *fallback,
    struct aws_error *err)
{
	cl->aws = aws_client_new(cfg, err);
	if (!cl->aws)
		return -1;
	cl->retry = retry ? *retry : *fallback;
	buf_init(&cl->resp, 0);
	return 0;
}

void
awsj_client_fini(struct awsj_client *cl)
{
	aws_client_free(cl->aws);
	cl->aws = NULL;
	buf_free(&cl->resp);
}

int
awsj_send(struct awsj_client *cl, const char *action, json_object *req, struct aws_error *err)
{
	size_t len;
	const char *s;
	int rc;

	if (!req)
		return -1;
	s = json_object_to_json_string_length(req,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (!s) {
		awsj_local_error(err, "NoMemory", "cannot serialize the request");
		rc = -1;
	} else {
		rc = aws_call_retry(cl->aws, &cl->retry, action, s, len, &cl->resp, err);
	}
	json_object_put(req);
	return rc;
}

bool
awsj_is_decimal(const char *s, size_t max_digits)
{
	size_t n = 0;

	if (!s || !*s || (s[0] == '0' && s[1]))
		return false;
	for (; s[n]; n++)
		if (s[n] < '0' || s[n] > '9' || n >= max_digits)
			return false;
	return true;
}
