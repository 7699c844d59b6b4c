/*
 * Tests of common/http against loopback stubs: connection reuse, timeouts, the body
 * and header caps, redirects refused, https-only endpoints, truncated and dropped
 * responses, and a trace that never shows secrets.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/clock.h"
#include "common/http.h"
#include "tests/harness.h"
#include "tests/stub_http.h"

/* What a stub handler should answer, and what it saw. */
struct scenario {
	int status;
	const char *body;
	size_t body_repeat;  /* body is repeated this many times (0 = once) */
	const char *headers; /* extra response header lines */
	int delay_ms;
	int drop;
	size_t truncate_to;
	char seen_auth[512];
	char seen_token[512];
	char seen_body[256];
};

static void
scenario_handler(void *arg, const struct stub_request *req, struct stub_response *resp)
{
	struct scenario *s = arg;
	stub_header(req, "Authorization", s->seen_auth, sizeof(s->seen_auth));
	stub_header(req, "X-Amz-Security-Token", s->seen_token, sizeof(s->seen_token));
	snprintf(s->seen_body, sizeof(s->seen_body), "%s", req->body);
	resp->status = s->status ? s->status : 200;
	for (size_t i = 0; s->body && i < (s->body_repeat ? s->body_repeat : 1); i++)
		buf_puts(&resp->body, s->body);
	if (s->headers)
		snprintf(resp->headers, sizeof(resp->headers), "%s", s->headers);
	resp->delay_ms = s->delay_ms;
	resp->drop = s->drop;
	resp->truncate_to = s->truncate_to;
}

/* One request to the stub; returns http_request's result. */
static int
post(struct http_client *c, const char *url, struct kls_buf *body, struct http_response *resp,
    struct aws_error *err)
{
	const struct http_header h[] = { { "Content-Type", "application/json" } };
	struct http_request req = { "POST", url, h, 1, "{\"a\":1}", 7 };
	resp->body = body;
	return http_request(c, &req, resp, err);
}

/* One connection serves every request. libcurl's receive buffer follows the
 * responses: small ones keep its 16 KiB, a large one grows it (to a quarter of the
 * body, at most 512 KiB) and it stays grown; every body arrives whole and unchanged
 * whatever the buffer. */
static void
test_http_reuses_connection(void)
{
	static const struct {
		size_t repeat; /* of the 1000-byte line */
		long want;
	} steps[] = {
		{ 1, 16 << 10 },     /* 1 KB */
		{ 1, 16 << 10 },
		{ 60, 16 << 10 },    /* 60 KB: within 4 x 16 KiB */
		{ 300, 128 << 10 },  /* 300 KB */
		{ 5000, 512 << 10 }, /* 5 MB: the cap */
		{ 1, 512 << 10 },    /* never shrinks */
		{ 5000, 512 << 10 },
	};
	char line[1001];
	struct scenario sc = { .body = line };
	struct stub_server *s = stub_start(scenario_handler, &sc);
	struct http_client *c = http_client_new(NULL, NULL);
	struct http_response resp;
	struct aws_error err;
	struct kls_buf body;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (size_t i = 0; i < 1000; i++)
		line[i] = (char)('a' + i % 26);
	line[1000] = '\0';
	buf_init(&body, 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		bool same = true;
		sc.body_repeat = steps[i].repeat;
		CU_ASSERT_EQUAL_FATAL(post(c, stub_url(s), &body, &resp, &err), 0);
		CU_ASSERT_EQUAL(resp.status, 200);
		CU_ASSERT_STRING_EQUAL(sc.seen_body, "{\"a\":1}");
		CU_ASSERT_EQUAL_FATAL(body.len, 1000 * steps[i].repeat);
		for (size_t k = 0; k < steps[i].repeat && same; k++)
			same = memcmp(body.data + k * 1000, line, 1000) == 0;
		CU_ASSERT_TRUE(same);
		CU_ASSERT_EQUAL(http_client_recv_buffer(c), steps[i].want);
	}
	CU_ASSERT_EQUAL(stub_count(s), sizeof(steps) / sizeof(steps[0]));
	CU_ASSERT_EQUAL(http_client_connects(c), 1);
	buf_free(&body);
	http_client_free(c);
	stub_stop(s);
}

/* 4xx and 5xx are responses, not transport failures: the caller reads the status. */
static void
test_http_error_status_is_a_response(void)
{
	struct scenario sc = { .status = 503, .body = "busy",
		.headers = "x-amzn-RequestId: req-123\r\nx-amzn-ErrorType: ServiceUnavailable\r\n" };
	struct stub_server *s = stub_start(scenario_handler, &sc);
	struct http_client *c = http_client_new(NULL, NULL);
	struct http_response resp;
	struct aws_error err;
	struct kls_buf body;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	buf_init(&body, 0);
	CU_ASSERT_EQUAL(post(c, stub_url(s), &body, &resp, &err), 0);
	CU_ASSERT_EQUAL(resp.status, 503);
	CU_ASSERT_STRING_EQUAL(body.data, "busy");
	CU_ASSERT_STRING_EQUAL(resp.request_id, "req-123");
	CU_ASSERT_STRING_EQUAL(resp.error_type, "ServiceUnavailable");
	buf_free(&body);
	http_client_free(c);
	stub_stop(s);
}

/* Runs one request against a stub scenario with a client config; fills err and
 * returns http_request's result, with the number of requests the stub answered. */
static int
run_scenario(struct scenario *sc, const struct http_config *cfg, struct kls_buf *body,
    struct aws_error *err, int *answered)
{
	struct stub_server *s = stub_start(scenario_handler, sc);
	struct http_client *c = http_client_new(cfg, err);
	struct http_response resp;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rc = post(c, stub_url(s), body, &resp, err);
	http_client_free(c);
	if (answered)
		*answered = stub_count(s);
	stub_stop(s);
	return rc;
}

/* Failures a stub can stage, each with the error it must give. */
static void
test_http_failures(void)
{
	static char pad[1600];
	static struct {
		const char *name;
		struct scenario sc;
		struct http_config cfg;
		const char *type;
		enum aws_err_class cls;
		long status;
		const char *message_has;
	} cases[] = {
		{ "timeout fires", { .body = "late", .delay_ms = 1500 }, { .timeout_ms = 300 },
		    "Timeout", AWS_ERR_RETRYABLE, 0, "POST http://127.0.0.1:" },
		{ "body over cap", { .body = "0123456789abcdef", .body_repeat = 256 },
		    { .max_response_bytes = 1024 }, "ResponseTooLarge", AWS_ERR_FATAL, 200, "1024" },
		{ "redirect not followed", { .status = 302, .headers = "Location: /elsewhere\r\n" },
		    { 0 }, "Redirect", AWS_ERR_FATAL, 302, "/elsewhere" },
		{ "truncated body", { .body = "0123456789", .body_repeat = 100, .truncate_to = 100 },
		    { 0 }, "TruncatedResponse", AWS_ERR_RETRYABLE, 200, "ended early" },
		{ "dropped connection", { .drop = 1 }, { 0 }, "NetworkError", AWS_ERR_RETRYABLE, 0,
		    "POST" },
		{ "headers over cap", { .body = "ok", .headers = pad }, { .max_header_bytes = 512 },
		    "HeadersTooLarge", AWS_ERR_FATAL, 200, "512" },
	};

	memset(pad, 'p', sizeof(pad));
	memcpy(pad, "X-Pad: ", 7);
	memcpy(pad + sizeof(pad) - 3, "\r\n", 3);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aws_error err;
		struct kls_buf body;
		int answered;

		buf_init(&body, 0);
		CU_ASSERT_EQUAL(run_scenario(&cases[i].sc, &cases[i].cfg, &body, &err, &answered), -1);
		if (strcmp(err.type, cases[i].type) != 0 || err.cls != cases[i].cls ||
		    err.http_status != cases[i].status || !strstr(err.message, cases[i].message_has))
			fprintf(stderr, "%s: got %s cls %d status %ld: %s\n", cases[i].name, err.type,
			    err.cls, err.http_status, err.message);
		CU_ASSERT_STRING_EQUAL(err.type, cases[i].type);
		CU_ASSERT_EQUAL(err.cls, cases[i].cls);
		CU_ASSERT_EQUAL(err.http_status, cases[i].status);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].message_has));
		/* Nothing is retried or followed inside the HTTP layer. */
		CU_ASSERT_EQUAL(answered, 1);
		CU_ASSERT(body.len <= 1024);
		buf_free(&body);
	}
}

/* The bounds that refused the replies above let them through once large enough. */
static void
test_http_caps_admit_within(void)
{
	struct scenario big = { .body = "0123456789abcdef", .body_repeat = 256 };
	struct scenario padded = { .body = "ok", .headers = "X-Pad: pppppppppppppppppppp\r\n" };
	struct http_config cfg = { .max_response_bytes = 4096, .max_header_bytes = 512 };
	struct aws_error err;
	struct kls_buf body;

	buf_init(&body, 0);
	CU_ASSERT_EQUAL(run_scenario(&big, &cfg, &body, &err, NULL), 0);
	CU_ASSERT_EQUAL(body.len, 4096);
	CU_ASSERT_EQUAL(run_scenario(&padded, &cfg, &body, &err, NULL), 0);
	CU_ASSERT_STRING_EQUAL(body.data, "ok");
	buf_free(&body);
}

/* A server of one canned reply, for shapes the stub cannot send (chunked bodies), sent
 * in two parts pause_ms apart, the connection then held open for up to hold_ms. */
struct raw_server {
	int lfd, port;
	pthread_t thread;
	const char *reply;
	size_t len;
	size_t split; /* bytes of reply sent before the pause; 0 = all at once */
	int pause_ms;
	int hold_ms;
};

static int
send_all(int fd, const char *p, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t n = send(fd, p + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

static void *
raw_main(void *p)
{
	struct raw_server *r = p;
	char buf[8192];
	size_t have = 0;
	int fd = accept(r->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	while (have < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	/* The pause and the hold end early when the client gives up (its close reads as
	 * POLLIN). */
	if (r->split && r->split < r->len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (send_all(fd, r->reply, r->split) == 0 && poll(&pfd, 1, r->pause_ms) == 0)
			(void)send_all(fd, r->reply + r->split, r->len - r->split);
	} else {
		(void)send_all(fd, r->reply, r->len);
	}
	if (r->hold_ms) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		(void)poll(&pfd, 1, r->hold_ms);
	}
	close(fd);
	return NULL;
}

/* A listening socket on 127.0.0.1 and a free port; -1 on failure. */
static int
listen_loopback(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static int
raw_start(struct raw_server *r, const char *reply, size_t len)
{
	r->reply = reply;
	r->len = len;
	r->split = 0;
	r->pause_ms = r->hold_ms = 0;
	if ((r->lfd = listen_loopback(&r->port)) < 0)
		return -1;
	return pthread_create(&r->thread, NULL, raw_main, r) == 0 ? 0 : -1;
}

static void
raw_stop(struct raw_server *r)
{
	pthread_join(r->thread, NULL);
	close(r->lfd);
}

/* Without a Content-Length the cap is enforced while the body streams in. */
static void
test_http_chunked_body_over_cap(void)
{
	struct kls_buf reply, body;
	struct raw_server r;
	struct http_config cfg = { .max_response_bytes = 2048 };
	struct http_client *c;
	struct http_response resp = { .body = &body };
	struct aws_error err;
	char url[64];
	struct http_request req = { "GET", url, NULL, 0, NULL, 0 };

	buf_init(&reply, 0);
	buf_init(&body, 0);
	buf_puts(&reply, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 8; i++) {
		buf_puts(&reply, "400\r\n");
		for (int j = 0; j < 1024; j++)
			buf_append(&reply, "x", 1);
		buf_puts(&reply, "\r\n");
	}
	buf_puts(&reply, "0\r\n\r\n");
	CU_ASSERT_EQUAL_FATAL(raw_start(&r, reply.data, reply.len), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", r.port);
	c = http_client_new(&cfg, &err);
	CU_ASSERT_EQUAL(http_request(c, &req, &resp, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.type, "ResponseTooLarge");
	CU_ASSERT(body.len <= 2048);
	http_client_free(c);
	raw_stop(&r);
	buf_free(&reply);
	buf_free(&body);
}

static void
test_http_url_rules(void)
{
	static const struct {
		const char *url;
		int ok;
	} cases[] = {
		{ "https://kinesis.us-east-1.amazonaws.com", 1 },
		{ "https://example.com:8443/", 1 },
		{ "http://127.0.0.1:4567", 1 },
		{ "http://127.9.8.7/", 1 },
		{ "http://localhost:8000/", 1 },
		{ "http://LOCALHOST:8000/", 1 },
		{ "http://[::1]:8000/", 1 },
		{ "http://kinesis.us-east-1.amazonaws.com/", 0 },
		{ "http://10.0.0.1:4567/", 0 },
		{ "http://128.0.0.1/", 0 },
		{ "http://127.0.0.1.evil.example/", 0 },
		{ "http://localhost.evil.example/", 0 },
		{ "http://[::2]:8000/", 0 },
		{ "http://[::ffff:10.0.0.1]/", 0 },
		{ "ftp://127.0.0.1/", 0 },
		{ "file:///etc/passwd", 0 },
		{ "https://user:secret@example.com/", 0 },
		{ "http://user@127.0.0.1/", 0 },
		{ "not a url", 0 },
		{ "", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aws_error err;
		int rc = http_url_check(cases[i].url, &err);
		if ((rc == 0) != cases[i].ok)
			fprintf(stderr, "url %s: got %d\n", cases[i].url, rc);
		CU_ASSERT_EQUAL(rc == 0, cases[i].ok);
		if (rc < 0) {
			CU_ASSERT_STRING_EQUAL(err.type, "InvalidEndpoint");
			CU_ASSERT_EQUAL(err.cls, AWS_ERR_FATAL);
			CU_ASSERT_PTR_NULL(strstr(err.message, "secret"));
		}
	}
}

/* The refusal happens before any connection: the request never leaves. */
static void
test_http_refuses_plain_http_remote(void)
{
	struct http_client *c = http_client_new(NULL, NULL);
	struct kls_buf body;
	struct http_response resp = { .body = &body };
	struct aws_error err;
	struct http_request req = { "GET", "http://kinesis.us-east-1.amazonaws.com/", NULL, 0,
		NULL, 0 };

	buf_init(&body, 0);
	CU_ASSERT_EQUAL(http_request(c, &req, &resp, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.type, "InvalidEndpoint");
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "plain http"));
	CU_ASSERT_EQUAL(http_client_connects(c), 0);
	http_client_free(c);
	buf_free(&body);
}

static void
test_http_url_host(void)
{
	static const struct {
		const char *url, *host;
	} cases[] = {
		{ "http://127.0.0.1:8080/x", "127.0.0.1:8080" },
		{ "https://kinesis.us-east-1.amazonaws.com", "kinesis.us-east-1.amazonaws.com" },
		{ "http://[::1]:99/", "[::1]:99" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[256];
		CU_ASSERT_EQUAL_FATAL(http_url_host(cases[i].url, out, sizeof(out)), 0);
		CU_ASSERT_STRING_EQUAL(out, cases[i].host);
	}
	{
		char tiny[4];
		CU_ASSERT_EQUAL(http_url_host("http://127.0.0.1:1/", tiny, sizeof(tiny)), -1);
	}
}

static void
test_http_refuses_header_injection(void)
{
	struct scenario sc = { .body = "ok" };
	struct stub_server *s = stub_start(scenario_handler, &sc);
	struct http_client *c = http_client_new(NULL, NULL);
	const struct http_header h[] = { { "X-Evil", "a\r\nInjected: yes" } };
	struct kls_buf body;
	struct http_response resp = { .body = &body };
	struct aws_error err;
	struct http_request req = { "POST", stub_url(s), h, 1, "", 0 };

	buf_init(&body, 0);
	CU_ASSERT_EQUAL(http_request(c, &req, &resp, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.type, "LocalError");
	CU_ASSERT_EQUAL(stub_count(s), 0);
	http_client_free(c);
	stub_stop(s);
	buf_free(&body);
}

/*
 * A one-connection HTTPS server with a fresh self-signed certificate, to show that
 * verification is on: an unknown issuer or a wrong name fails, and the same server
 * is accepted once its certificate is a trust anchor given through ca_file.
 */
struct tls_server {
	int lfd, port;
	pthread_t thread;
	SSL_CTX *ctx;
	EVP_PKEY *key;
	X509 *cert;
	char ca_path[64];
};

static void *
tls_main(void *p)
{
	static const char reply[] =
	    "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\ntls-ok";
	struct tls_server *t = p;
	char buf[4096];
	size_t have = 0;
	int fd = accept(t->lfd, NULL, NULL);
	SSL *ssl;

	if (fd < 0)
		return NULL;
	ssl = SSL_new(t->ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) == 1) {
		while (have < sizeof(buf) - 1) {
			int n = SSL_read(ssl, buf + have, (int)(sizeof(buf) - 1 - have));
			if (n <= 0)
				break;
			have += (size_t)n;
			buf[have] = '\0';
			if (strstr(buf, "\r\n\r\n")) {
				SSL_write(ssl, reply, (int)strlen(reply));
				break;
			}
		}
		SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	close(fd);
	return NULL;
}

/* san: the certificate's subjectAltName, e.g. "IP:127.0.0.1". */
static int
tls_start(struct tls_server *t, const char *san)
{
	X509_NAME *name;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	FILE *f;
	int fd;

	memset(t, 0, sizeof(*t));
	t->key = EVP_EC_gen("P-256");
	t->cert = X509_new();
	if (!t->key || !t->cert)
		return -1;
	X509_set_version(t->cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(t->cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(t->cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(t->cert), 3600);
	X509_set_pubkey(t->cert, t->key);
	name = X509_get_subject_name(t->cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"kls test", -1,
	    -1, 0);
	X509_set_issuer_name(t->cert, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, t->cert, t->cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	if (!ext)
		return -1;
	X509_add_ext(t->cert, ext, -1);
	X509_EXTENSION_free(ext);
	if (!X509_sign(t->cert, t->key, EVP_sha256()))
		return -1;

	snprintf(t->ca_path, sizeof(t->ca_path), "/tmp/kls-http-test-ca-XXXXXX");
	fd = mkstemp(t->ca_path);
	if (fd < 0 || !(f = fdopen(fd, "w")))
		return -1;
	PEM_write_X509(f, t->cert);
	fclose(f);

	t->ctx = SSL_CTX_new(TLS_server_method());
	if (!t->ctx || SSL_CTX_use_certificate(t->ctx, t->cert) != 1 ||
	    SSL_CTX_use_PrivateKey(t->ctx, t->key) != 1)
		return -1;
	if ((t->lfd = listen_loopback(&t->port)) < 0)
		return -1;
	return pthread_create(&t->thread, NULL, tls_main, t) == 0 ? 0 : -1;
}

static void
tls_stop(struct tls_server *t)
{
	pthread_join(t->thread, NULL);
	close(t->lfd);
	unlink(t->ca_path);
	SSL_CTX_free(t->ctx);
	X509_free(t->cert);
	EVP_PKEY_free(t->key);
}

/* One GET to the TLS server with the given trust anchors; returns http_request's result. */
static int
tls_get(const char *san, int trust, struct aws_error *err, struct kls_buf *body)
{
	struct tls_server t;
	/* Loading the system's CA bundle under ASan on a busy 2-core machine has taken over
	 * the default 3 s connect timeout (a "Timeout" instead of the verification error). */
	struct http_config cfg = { .timeout_ms = 30000, .connect_timeout_ms = 30000 };
	struct http_client *c;
	struct http_response resp = { .body = body };
	char url[64];
	struct http_request req = { "GET", url, NULL, 0, NULL, 0 };
	int rc;

	CU_ASSERT_EQUAL_FATAL(tls_start(&t, san), 0);
	if (trust)
		cfg.ca_file = t.ca_path;
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", t.port);
	c = http_client_new(&cfg, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rc = http_request(c, &req, &resp, err);
	http_client_free(c);
	tls_stop(&t);
	return rc;
}

static void
test_http_tls_verification(void)
{
	struct aws_error err;
	struct kls_buf body;

	buf_init(&body, 0);
	/* Unknown issuer. */
	CU_ASSERT_EQUAL(tls_get("IP:127.0.0.1", 0, &err, &body), -1);
	CU_ASSERT_STRING_EQUAL(err.type, "TLSVerifyFailed");
	CU_ASSERT_EQUAL(err.cls, AWS_ERR_FATAL);
	/* Trusted issuer, but the certificate names another host. */
	CU_ASSERT_EQUAL(tls_get("IP:127.0.0.2", 1, &err, &body), -1);
	CU_ASSERT_STRING_EQUAL(err.type, "TLSVerifyFailed");
	/* Trusted and named: the request goes through. */
	CU_ASSERT_EQUAL(tls_get("IP:127.0.0.1", 1, &err, &body), 0);
	CU_ASSERT_STRING_EQUAL(body.data, "tls-ok");
	buf_free(&body);
}

static void
collect_trace(void *arg, const char *line)
{
	struct kls_buf *b = arg;
	buf_printf(b, "%s\n", line);
}

static void
test_http_trace_redacts_secrets(void)
{
	static const char sig[] = "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	static const char auth[] = "AWS4-HMAC-SHA256 Credential=AKIDTRACE/20240101/us-east-1/kinesis/"
				   "aws4_request, SignedHeaders=host, "
				   "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct scenario sc = { .body = "ok", .headers = "Set-Cookie: session=COOKIESECRET\r\n" };
	struct stub_server *s = stub_start(scenario_handler, &sc);
	struct kls_buf trace, body;
	struct http_config cfg = { .trace = collect_trace, .trace_arg = &trace };
	struct http_client *c;
	const struct http_header h[] = {
		{ "authorization", auth },
		{ "X-Amz-Security-Token", "TOKENSECRET-42" },
		{ "X-Amz-Target", "Kinesis_20131202.ListShards" },
	};
	struct http_response resp = { .body = &body };
	struct aws_error err;
	struct http_request req = { "POST", stub_url(s), h, 3, "{}", 2 };

	buf_init(&trace, 0);
	buf_init(&body, 0);
	c = http_client_new(&cfg, &err);
	CU_ASSERT_EQUAL(http_request(c, &req, &resp, &err), 0);
	/* The server got the real values; the trace shows the request but not them. */
	CU_ASSERT_STRING_EQUAL(sc.seen_auth, auth);
	CU_ASSERT_STRING_EQUAL(sc.seen_token, "TOKENSECRET-42");
	CU_ASSERT_PTR_NOT_NULL_FATAL(trace.data);
	CU_ASSERT_PTR_NOT_NULL(strstr(trace.data, "> POST / HTTP/1.1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(trace.data, "> X-Amz-Target: Kinesis_20131202.ListShards"));
	CU_ASSERT_PTR_NOT_NULL(strstr(trace.data, "> authorization: [redacted]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(trace.data, "> X-Amz-Security-Token: [redacted]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(trace.data, "< Set-Cookie: [redacted]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(trace.data, "< HTTP/1.1 200"));
	CU_ASSERT_PTR_NULL(strstr(trace.data, sig));
	CU_ASSERT_PTR_NULL(strstr(trace.data, "AKIDTRACE"));
	CU_ASSERT_PTR_NULL(strstr(trace.data, "TOKENSECRET"));
	CU_ASSERT_PTR_NULL(strstr(trace.data, "COOKIESECRET"));
	http_client_free(c);
	stub_stop(s);
	buf_free(&trace);
	buf_free(&body);
}

/* ---- streaming responses ---- */

/* What a stream's callbacks saw, and when they end the transfer. */
struct sink {
	struct kls_buf got;
	int chunks;
	int ticks;
	int stop_after_chunks; /* data() returns -1 at this chunk; 0 = never */
	kls_mono tick_until;   /* tick() returns -1 from this time; zero = never */
};

static int
sink_data(void *arg, const void *p, size_t n)
{
	struct sink *k = arg;

	k->chunks++;
	CU_ASSERT_EQUAL(buf_append(&k->got, p, n), 0);
	return k->stop_after_chunks && k->chunks >= k->stop_after_chunks ? -1 : 0;
}

static int
sink_tick(void *arg)
{
	struct sink *k = arg;

	k->ticks++;
	return k->tick_until.ns && !mono_before(mono_now(), k->tick_until) ? -1 : 0;
}

/* A chunked 200 of n chunks of 1 KiB ("a", "b", ...), the last chunk sent pause_ms
 * after the others. */
static void
chunked_reply(struct kls_buf *reply, int n, size_t *split)
{
	buf_reset(reply);
	buf_puts(reply, "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon.eventstream\r\n"
	                "Transfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < n; i++) {
		if (i == n - 1)
			*split = reply->len;
		buf_puts(reply, "400\r\n");
		for (int j = 0; j < 1024; j++)
			buf_append(reply, &"abcdefghijklmnop"[i % 16], 1);
		buf_puts(reply, "\r\n");
	}
	buf_puts(reply, "0\r\n\r\n");
}

/* One streaming GET to a raw server; http_request's result. */
static int
stream_get(struct raw_server *r, const struct http_config *cfg, struct sink *k,
    struct kls_buf *body, struct aws_error *err)
{
	char url[64];
	struct http_stream st = { sink_data, sink_tick, k };
	struct http_request req = { "GET", url, NULL, 0, NULL, 0 };
	struct http_response resp = { .body = body };
	struct http_client *c = http_client_new(cfg, err);
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", r->port);
	rc = http_request_stream(c, &req, &st, &resp, err);
	if (rc == 0)
		CU_ASSERT_EQUAL(resp.status, 200);
	http_client_free(c);
	return rc;
}

/*
 * A stream's body goes to its callback whole, past the body cap and past the total
 * timeout (a pause longer than timeout_ms in the middle), and nothing lands in the
 * response buffer.
 */
static void
test_http_stream_past_cap_and_timeout(void)
{
	struct kls_buf reply, body;
	struct raw_server r;
	struct http_config cfg = { .max_response_bytes = 2048, .timeout_ms = 300 };
	struct sink k = { 0 };
	struct aws_error err;
	size_t split = 0;

	buf_init(&reply, 0);
	buf_init(&body, 0);
	buf_init(&k.got, 0);
	chunked_reply(&reply, 8, &split);
	CU_ASSERT_EQUAL_FATAL(raw_start(&r, reply.data, reply.len), 0);
	r.split = split;
	r.pause_ms = 800;
	CU_ASSERT_EQUAL(stream_get(&r, &cfg, &k, &body, &err), 0);
	raw_stop(&r);
	CU_ASSERT_EQUAL(k.got.len, 8 * 1024);
	if (k.got.len == 8 * 1024) {
		CU_ASSERT_EQUAL(k.got.data[0], 'a');
		CU_ASSERT_EQUAL(k.got.data[7 * 1024], 'h');
	}
	/* The pause was ticked through. */
	CU_ASSERT(k.ticks >= 1);
	CU_ASSERT_EQUAL(body.len, 0);
	buf_free(&reply);
	buf_free(&body);
	buf_free(&k.got);
}

/* Either callback ends the transfer: data() at once, tick() while the server is silent
 * (it pauses 30 s before its last chunk). Both are "Aborted", and the client works for
 * an ordinary request afterwards, with its total timeout back. */
static void
test_http_stream_callbacks_end_it(void)
{
	struct kls_buf reply, body;
	struct raw_server r;
	struct http_config cfg = { .timeout_ms = 300 };
	struct aws_error err;
	size_t split = 0;

	buf_init(&reply, 0);
	buf_init(&body, 0);
	chunked_reply(&reply, 4, &split);
	for (int i = 0; i < 2; i++) {
		struct sink k = { .stop_after_chunks = i == 0 ? 1 : 0 };
		kls_mono t0 = mono_now();

		buf_init(&k.got, 0);
		if (i == 1)
			k.tick_until = mono_add_ms(t0, 500);
		CU_ASSERT_EQUAL_FATAL(raw_start(&r, reply.data, reply.len), 0);
		r.split = split;
		r.pause_ms = 30000;
		CU_ASSERT_EQUAL(stream_get(&r, &cfg, &k, &body, &err), -1);
		CU_ASSERT_STRING_EQUAL(err.type, "Aborted");
		CU_ASSERT_EQUAL(err.http_status, 200);
		CU_ASSERT(mono_diff_ms(t0, mono_now()) < 10000);
		if (i == 0)
			CU_ASSERT_EQUAL(k.chunks, 1);
		if (i == 1) {
			CU_ASSERT_EQUAL(k.got.len, 3 * 1024);
			CU_ASSERT(mono_diff_ms(t0, mono_now()) >= 450);
		}
		/* The server's thread ends when it sees our close. */
		raw_stop(&r);
		buf_free(&k.got);
	}
	buf_free(&reply);
	buf_free(&body);
}

/* An error status on a streaming request is an ordinary response: its body is collected
 * (for the service's error), the stream sees nothing. Then an ordinary request on the
 * same client times out as configured again. */
static void
test_http_stream_error_status_collected(void)
{
	struct scenario err400 = { .status = 400,
		.body = "{\"__type\":\"ResourceInUseException\",\"message\":\"busy\"}" };
	struct scenario slow = { .body = "late", .delay_ms = 1500 };
	struct http_config cfg = { .timeout_ms = 300 };
	struct sink k = { 0 };
	struct http_stream st = { sink_data, sink_tick, &k };
	struct stub_server *s = stub_start(scenario_handler, &err400);
	struct stub_server *s2 = stub_start(scenario_handler, &slow);
	struct aws_error err;
	struct kls_buf body;
	struct http_response resp = { .body = &body };
	struct http_client *c = http_client_new(&cfg, &err);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	buf_init(&body, 0);
	buf_init(&k.got, 0);
	{
		struct http_request req = { "POST", stub_url(s), NULL, 0, "{}", 2 };
		CU_ASSERT_EQUAL(http_request_stream(c, &req, &st, &resp, &err), 0);
	}
	CU_ASSERT_EQUAL(resp.status, 400);
	CU_ASSERT_PTR_NOT_NULL(strstr(body.data ? body.data : "", "ResourceInUseException"));
	CU_ASSERT_EQUAL(k.chunks, 0);
	CU_ASSERT_EQUAL(post(c, stub_url(s2), &body, &resp, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.type, "Timeout");
	http_client_free(c);
	stub_stop(s);
	stub_stop(s2);
	buf_free(&body);
	buf_free(&k.got);
}

static CU_TestInfo http_tests[] = {
	{ "stream: past the cap and the timeout", test_http_stream_past_cap_and_timeout },
	{ "stream: callbacks end it", test_http_stream_callbacks_end_it },
	{ "stream: error status collected", test_http_stream_error_status_collected },
	{ "reuses connection; receive buffer follows responses", test_http_reuses_connection },
	{ "error status is a response", test_http_error_status_is_a_response },
	{ "failures: timeout, caps, redirect, truncated, dropped", test_http_failures },
	{ "caps admit within", test_http_caps_admit_within },
	{ "chunked body over cap", test_http_chunked_body_over_cap },
	{ "url rules", test_http_url_rules },
	{ "refuses plain http remote", test_http_refuses_plain_http_remote },
	{ "url host", test_http_url_host },
	{ "refuses header injection", test_http_refuses_header_injection },
	{ "trace redacts secrets", test_http_trace_redacts_secrets },
	{ "tls verification", test_http_tls_verification },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "http", NULL, NULL, NULL, NULL, http_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
