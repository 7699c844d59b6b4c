/*
 * SubscribeToShard messages: see subscribe_event.h. The records payload goes to the
 * GetRecords scanner; the rare exception payload ({"message": "..."}) goes to json-c,
 * bounded, since it is off the hot path.
 */
#include "config.h"

#include "common/subscribe_event.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/retry.h"

/* Printable ASCII copy of n bytes (others as '?'), NUL-terminated, truncated to fit. */
static void
printable(char *out, size_t size, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n && i + 1 < size; i++)
		out[i] = b[i] >= 0x20 && b[i] < 0x7f ? (char)b[i] : '?';
	out[i] = '\0';
}

static int
malformed(const struct eventstream_message *m, struct subscribe_event *ev, struct aws_error *err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
malformed(const struct eventstream_message *m, struct subscribe_event *ev, struct aws_error *err,
    const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ev->kind = SUBSCRIBE_EVENT_MALFORMED;
	err->cls = AWS_ERR_FATAL;
	err->http_status = 0;
	snprintf(err->type, sizeof(err->type), "BadResponse");
	snprintf(err->message, sizeof(err->message), "SubscribeToShard message at stream offset %llu: %s",
	    (unsigned long long)m->offset, what);
	errno = EBADMSG;
	return -1;
}

/*
 * The string header name: 1 with *val and *len when present once, 0 when absent, -1
 * (after malformed()) when repeated or not a string.
 */
static int
string_header(const struct eventstream_message *m, const char *name, const char **val,
    size_t *len, struct subscribe_event *ev, struct aws_error *err)
{
	const struct eventstream_header *h;
	size_t n = eventstream_header_count(m, name);

	if (n == 0)
		return 0;
	if (n > 1)
		return malformed(m, ev, err, "header %s appears %zu times", name, n);
	h = eventstream_header_find(m, name);
	if (h->type != EVENTSTREAM_STRING)
		return malformed(m, ev, err, "header %s is a %s, not a string", name,
		    eventstream_type_name((int)h->type));
	*val = (const char *)h->bytes;
	*len = h->bytes_len;
	return 1;
}

static bool
is(const char *val, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(val, lit, len) == 0;
}

enum aws_err_class
subscribe_exception_class(const char *type)
{
	/* Another subscription of this consumer to this shard is still open (a reader that
	 * died, or the one being replaced), or the consumer is not ACTIVE yet: both clear with
	 * time, so wait and subscribe again. */
	if (strcmp(type, "ResourceInUseException") == 0)
		return AWS_ERR_THROTTLED;
	if (strcmp(type, "InternalFailureException") == 0)
		return AWS_ERR_RETRYABLE;
	/* The synchronous API sends the rest with HTTP 400: KMSThrottlingException is
	 * throttling, ResourceNotFound and the other KMS errors need someone to act. */
	return retry_classify(400, type);
}

/* The "message" (or "Message") of an exception's JSON payload into err->message. */
static void
exception_message(const struct eventstream_message *m, struct aws_error *err)
{
	json_tokener *tok;
	json_object *root, *v;

	if (m->payload_len > SUBSCRIBE_EVENT_MAX_EXCEPTION_PAYLOAD) {
		snprintf(err->message, sizeof(err->message), "(payload of %zu bytes not read)",
		    m->payload_len);
		return;
	}
	snprintf(err->message, sizeof(err->message), "(no message)");
	if (!(tok = json_tokener_new_ex(8)))
		return;
	root = json_tokener_parse_ex(tok, (const char *)m->payload, (int)m->payload_len);
	if (root && json_object_is_type(root, json_type_object) &&
	    ((json_object_object_get_ex(root, "message", &v) ||
		 json_object_object_get_ex(root, "Message", &v)) &&
		json_object_is_type(v, json_type_string)))
		printable(err->message, sizeof(err->message), json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
	json_object_put(root);
	json_tokener_free(tok);
}

static int
parse_exception(const struct eventstream_message *m, struct subscribe_event *ev,
    struct aws_error *err)
{
	const char *type;
	size_t len;
	int rc;

	if ((rc = string_header(m, ":exception-type", &type, &len, ev, err)) < 0)
		return -1;
	if (rc == 0 || len == 0)
		return malformed(m, ev, err, "exception without :exception-type");
	ev->kind = SUBSCRIBE_EVENT_EXCEPTION;
	err->http_status = 0;
	printable(err->type, sizeof(err->type), type, len);
	err->cls = subscribe_exception_class(err->type);
	exception_message(m, err);
	errno = EPROTO;
	return -1;
}

/* An unmodeled failure: code and message are headers, the payload is not read. */
static int
parse_error(const struct eventstream_message *m, struct subscribe_event *ev,
    struct aws_error *err)
{
	const char *code, *text = NULL;
	size_t len, tlen = 0;
	int rc;

	if ((rc = string_header(m, ":error-code", &code, &len, ev, err)) < 0)
		return -1;
	if (rc == 0 || len == 0)
		return malformed(m, ev, err, "error without :error-code");
	if (string_header(m, ":error-message", &text, &tlen, ev, err) < 0)
		return -1;
	ev->kind = SUBSCRIBE_EVENT_EXCEPTION;
	err->http_status = 0;
	printable(err->type, sizeof(err->type), code, len);
	/* The service's own failure of the stream: retry unless the code says otherwise. */
	err->cls = retry_classify(500, err->type);
	if (text)
		printable(err->message, sizeof(err->message), text, tlen);
	else
		snprintf(err->message, sizeof(err->message), "(no message)");
	errno = EPROTO;
	return -1;
}

static int
parse_records(const struct eventstream_message *m, const struct getrecords_limits *lim,
    struct kls_buf *arena, struct getrecords_result *res, struct subscribe_event *ev,
    struct aws_error *err)
{
	struct getrecords_error gerr;

	if (getrecords_parse_event((const char *)m->payload, m->payload_len, lim, arena, res,
		&gerr) < 0) {
		int errnum = gerr.errnum;
		malformed(m, ev, err, "%s", gerr.message);
		if (errnum == ENOMEM) {
			snprintf(err->type, sizeof(err->type), "LocalError");
			err->cls = retry_classify(0, err->type);
		}
		errno = errnum;
		return -1;
	}
	ev->kind = SUBSCRIBE_EVENT_RECORDS;
	ev->shard_end = res->continuation_sequence == NULL;
	return 0;
}

int
subscribe_event_parse(const struct eventstream_message *m, const struct getrecords_limits *lim,
    struct kls_buf *arena, struct getrecords_result *res, struct subscribe_event *ev,
    struct aws_error *err)
{
	const char *mtype, *etype, *ctype;
	size_t mlen, elen, clen;
	int rc;

	memset(ev, 0, sizeof(*ev));
	memset(err, 0, sizeof(*err));
	if ((rc = string_header(m, ":message-type", &mtype, &mlen, ev, err)) < 0)
		return -1;
	if (rc == 0)
		return malformed(m, ev, err, "no :message-type header");
	if (is(mtype, mlen, "exception"))
		return parse_exception(m, ev, err);
	if (is(mtype, mlen, "error"))
		return parse_error(m, ev, err);
	if (!is(mtype, mlen, "event")) {
		char q[40];
		printable(q, sizeof(q), mtype, mlen);
		return malformed(m, ev, err, "unknown :message-type \"%s\"", q);
	}
	if ((rc = string_header(m, ":event-type", &etype, &elen, ev, err)) < 0)
		return -1;
	if (rc == 0 || elen == 0)
		return malformed(m, ev, err, "event without :event-type");
	printable(ev->event_type, sizeof(ev->event_type), etype, elen);
	if ((rc = string_header(m, ":content-type", &ctype, &clen, ev, err)) < 0)
		return -1;
	if (rc == 1 && !is(ctype, clen, "application/json")) {
		char q[40];
		printable(q, sizeof(q), ctype, clen);
		return malformed(m, ev, err, "event with :content-type \"%s\"", q);
	}
	if (is(etype, elen, "initial-response")) {
		ev->kind = SUBSCRIBE_EVENT_INITIAL_RESPONSE;
		return 0;
	}
	if (is(etype, elen, "SubscribeToShardEvent"))
		return parse_records(m, lim, arena, res, ev, err);
	ev->kind = SUBSCRIBE_EVENT_OTHER;
	return 0;
}
