/*
 * HTTP requests over one reused libcurl easy handle per client, with the rules every
 * AWS call in kls needs: TLS verification always on, https only (plain http only to
 * loopback endpoints, for the emulators and test stubs), no redirects, connect and
 * total timeouts, bounded response headers and bodies. A client is used by one
 * thread at a time; keeping its handle keeps its connection open between calls.
 * Library code: errors are returned in a struct aws_error, never logged.
 */
#ifndef KLS_HTTP_H
#define KLS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/aws.h"
#include "common/buf.h"

struct http_header {
	const char *name;
	const char *value;
};

/* One line of the optional trace (curl's -v lines: "* info", "> sent header",
 * "< received header"), with secrets already replaced by "[redacted]". */
typedef void (*http_trace_fn)(void *arg, const char *line);

struct http_config {
	long connect_timeout_ms;   /* 0 = 3000 */
	long timeout_ms;           /* whole request; 0 = 10000 */
	size_t max_response_bytes; /* body cap; 0 = 32 MiB */
	size_t max_header_bytes;   /* all response header lines together; 0 = 64 KiB */
	const char *ca_file;       /* extra trust anchors (PEM); NULL = the system's */
	http_trace_fn trace;       /* NULL = no trace */
	void *trace_arg;
};

/*
 * A streaming response (SubscribeToShard's event stream). The body of a 2xx response
 * goes to data() as it arrives instead of into resp->body, and neither the body cap nor
 * timeout_ms applies: the caller bounds what it keeps and decides, in tick(), how long
 * it waits. A non-2xx body is collected into resp->body within the cap, as usual.
 * Streaming requests ask for HTTP/2 over TLS (HTTP/1.1 where ALPN or a plain loopback
 * endpoint gives no HTTP/2); a client that also sends ordinary requests may reuse their
 * HTTP/1.1 connection for a stream, so give streams a client of their own.
 */
struct http_stream {
	/* Body bytes as they arrive: 0 to go on, -1 to end the transfer. */
	int (*data)(void *arg, const void *p, size_t n);
	/* Called often while the transfer runs, and about once a second at the least while
	 * nothing arrives (libcurl's progress callback): 0 to go on, -1 to end it. */
	int (*tick)(void *arg);
	void *arg;
};

struct http_request {
	const char *method; /* "GET", "POST", "PUT" or "DELETE" */
	const char *url;
	const struct http_header *headers; /* sent as given; Host here overrides curl's */
	size_t nheaders;
	const void *body;
	size_t body_len;
};

struct http_response {
	long status;
	struct kls_buf *body;   /* the caller's buffer: reset, then filled (within the cap) */
	char request_id[128];   /* x-amzn-RequestId or x-amz-request-id, "" when absent */
	char error_type[128];   /* x-amzn-ErrorType as received, "" when absent */
};

struct http_client;

/* NULL only when allocation or libcurl setup fails (err, if not NULL, says which). */
struct http_client *http_client_new(const struct http_config *cfg, struct aws_error *err);
void http_client_free(struct http_client *c);

/*
 * One request. 0 when a whole response arrived whose status is not 3xx (2xx, 4xx and
 * 5xx alike: the caller reads resp->status). -1 with err classified otherwise:
 * "InvalidEndpoint" (not https and not loopback, malformed URL, credentials in it),
 * "Timeout", "NetworkError", "TruncatedResponse", "ResponseTooLarge",
 * "HeadersTooLarge", "Redirect" (a 3xx is never followed), "TLSVerifyFailed",
 * "LocalError", "Aborted" (a stream callback returned -1). err->http_status is the
 * status when one was received.
 */
int http_request(struct http_client *c, const struct http_request *req,
    struct http_response *resp, struct aws_error *err);
/* http_request with a streaming response (see struct http_stream); stream NULL is
 * http_request. */
int http_request_stream(struct http_client *c, const struct http_request *req,
    const struct http_stream *stream, struct http_response *resp, struct aws_error *err);

/* New connections this client has opened so far (reuse keeps it at 1). */
long http_client_connects(const struct http_client *c);
/* libcurl's receive buffer now: 16 KiB until responses of over 64 KiB arrive, then a
 * quarter of the largest body seen, up to 512 KiB. */
long http_client_recv_buffer(const struct http_client *c);

/*
 * Whether kls may send requests to url: https anywhere, plain http only to 127.0.0.0/8,
 * ::1 or localhost, no user or password in the URL. 0, or -1 with err
 * ("InvalidEndpoint", message naming the URL and the rule).
 */
int http_url_check(const char *url, struct aws_error *err);
/* The scheme://host[:port] authority split out of url, as a Host header wants it:
 * "host" or "host:port" (brackets kept for IPv6). 0, or -1 when url is malformed. */
int http_url_host(const char *url, char *out, size_t size);
/* True for 127.0.0.0/8, ::1 and localhost (the host part of a URL, brackets allowed). */
bool http_host_is_loopback(const char *host);

/* Trace callback that writes each line with log_debug (arg unused). */
void http_trace_log(void *arg, const char *line);

#endif
