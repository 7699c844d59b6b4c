/*
 * A loopback HTTP/1.1 server for tests: the test supplies a handler that sees each
 * request and fills the response. Used to stand in for AWS endpoints, credential
 * services and faults (errors, throttling, truncated or slow bodies, dropped
 * connections) that the emulators never produce. Binds 127.0.0.1 on a free port.
 */
#ifndef KLS_TEST_STUB_HTTP_H
#define KLS_TEST_STUB_HTTP_H

#include <stddef.h>

#include "common/buf.h"

struct stub_request {
	char method[16];
	char path[2048];     /* request target, query included */
	char headers[8192];  /* raw header lines, "Name: value\r\n" each */
	char *body;          /* NUL-terminated */
	size_t body_len;
	int index;           /* 0 for the server's first request, then 1, 2, ... */
};

struct stub_response {
	int status;               /* default 200 */
	char headers[2048];       /* extra header lines, each ending in "\r\n" */
	struct kls_buf body;      /* default empty */
	int delay_ms;             /* wait before answering */
	int drop;                 /* close the connection without answering */
	size_t truncate_to;       /* if non-zero: advertise the full length, send only this much, close */
	int hold_ms;              /* after sending, keep the connection open (silent) this long,
	                           * or until the client closes it; then close */
};

typedef void (*stub_handler)(void *arg, const struct stub_request *req, struct stub_response *resp);

struct stub_server;

struct stub_server *stub_start(stub_handler handler, void *arg);
/* "http://127.0.0.1:PORT" */
const char *stub_url(const struct stub_server *s);
int stub_port(const struct stub_server *s);
/* Requests answered so far. */
int stub_count(const struct stub_server *s);
void stub_stop(struct stub_server *s);

/* Copies the value of header name (case-insensitive) into out; 0, or -1 if absent. */
int stub_header(const struct stub_request *req, const char *name, char *out, size_t size);

#endif
