/*
 * HTTP over libcurl easy handles: see http.h. The handle is configured once and
 * reused, so its connection cache keeps the TCP/TLS connection between calls. Every
 * byte that comes back is counted against a cap (headers and body), and the only
 * path that can print request headers, the optional trace, redacts secrets.
 */
#include "config.h"

#include "common/http.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "common/log.h"
#include "common/retry.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 3000
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_MAX_RESPONSE ((size_t)32 << 20)
#define DEFAULT_MAX_HEADERS ((size_t)64 << 10)
#define MAX_URL 8192
#define MAX_REQUEST_HEADER 16384 /* one "Name: value" line we send */
#define TRACE_LINE 1024
/* libcurl's receive buffer: its default, and its largest (CURL_MAX_READ_SIZE). */
#define RECV_BUFFER_MIN ((long)16 << 10)
#define RECV_BUFFER_MAX ((long)512 << 10)

/* Header names whose values the trace never shows. */
static const char *const secret_headers[] = {
	"authorization", "proxy-authorization", "x-amz-security-token",
	"x-aws-ec2-metadata-token", "cookie", "set-cookie",
};

struct http_client {
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
	size_t max_body;
	size_t max_headers;
	long timeout_ms;
	http_trace_fn trace;
	void *trace_arg;
	long connects;
	long recv_buffer; /* CURLOPT_BUFFERSIZE now: see grow_recv_buffer */
	/* State of the transfer in progress. */
	struct http_response *resp;
	size_t body_cap;
	size_t header_bytes;
	bool too_large, headers_too_large, nomem;
	char location[256];
	/* The last URL that passed http_url_check, and whether its host is loopback:
	 * clients call one endpoint again and again, and parsing it twice per request
	 * cost as much as building the request's headers. */
	char *checked_url;
	bool checked_loopback;
	const struct http_stream *stream; /* NULL: collect the body */
	int streaming;                    /* -1 until the status is known, then 1 for a 2xx */
	bool aborted;                     /* a stream callback ended the transfer */
};

/* curl_global_init must run once per process before any handle exists; it is the
 * only process-wide state here and it lives until exit. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void
curl_init_once(void)
{
	/* libcrypto's error strings are a hash of a few thousand entries built at its
	 * init, for text that only a failed TLS handshake shows: 0.5 MB of every kls
	 * process's RSS. Without them OpenSSL's part of such a message reads
	 * "error:0A000410:lib(20)::reason(1040)" (`openssl errstr 0A000410` names it);
	 * certificate verification failures keep their words (X509_verify_cert_error_string
	 * does not use the table). Must come before libcurl initializes OpenSSL. */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
set_err(struct aws_error *err, long status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
set_err(struct aws_error *err, long status, const char *type, const char *fmt, ...)
{
	va_list ap;
	err->http_status = status;
	snprintf(err->type, sizeof(err->type), "%s", type);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->cls = retry_classify(status, type);
	/* A type retry_classify does not know must still never read as success. */
	if (err->cls == AWS_OK)
		err->cls = AWS_ERR_FATAL;
}

bool
http_host_is_loopback(const char *host)
{
	char h[64];
	size_t n;
	struct in_addr a4;
	struct in6_addr a6;

	if (host == NULL)
		return false;
	n = strlen(host);
	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(h))
		return false;
	memcpy(h, host, n);
	h[n] = '\0';
	if (inet_pton(AF_INET, h, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, h, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

/* The URL's parts, or -1 with err. *scheme and *host are the caller's to curl_free. */
static int
url_parts(const char *url, char **scheme, char **host, char **port, struct aws_error *err)
{
	CURLU *u;
	char *user = NULL, *password = NULL;
	int rc = -1;

	*scheme = *host = NULL;
	if (port)
		*port = NULL;
	if (url == NULL || strlen(url) > MAX_URL) {
		set_err(err, 0, "InvalidEndpoint", "endpoint URL missing or longer than %d bytes",
		    MAX_URL);
		return -1;
	}
	u = curl_url();
	if (u == NULL) {
		set_err(err, 0, "LocalError", "curl_url: out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, host, 0) != CURLUE_OK) {
		set_err(err, 0, "InvalidEndpoint", "endpoint %.200s is not a valid absolute URL", url);
		goto out;
	}
	curl_url_get(u, CURLUPART_USER, &user, 0);
	curl_url_get(u, CURLUPART_PASSWORD, &password, 0);
	if (user || password) {
		/* The URL itself is not repeated: it holds the credentials. */
		set_err(err, 0, "InvalidEndpoint", "endpoint URL carries a user or password");
		goto out;
	}
	if (port && curl_url_get(u, CURLUPART_PORT, port, 0) != CURLUE_OK)
		*port = NULL;
	rc = 0;
out:
	if (rc < 0) {
		curl_free(*scheme);
		curl_free(*host);
		*scheme = *host = NULL;
	}
	curl_free(user);
	curl_free(password);
	curl_url_cleanup(u);
	return rc;
}

int
http_url_check(const char *url, struct aws_error *err)
{
	char *scheme, *host;
	int rc = -1;

	if (url_parts(url, &scheme, &host, NULL, err) < 0)
		return -1;
	if (strcmp(scheme, "https") == 0)
		rc = 0;
	else if (strcmp(scheme, "http") == 0 && http_host_is_loopback(host))
		rc = 0;
	else if (strcmp(scheme, "http") == 0)
		set_err(err, 0, "InvalidEndpoint",
		    "endpoint %.200s: plain http is allowed only to loopback (127.0.0.0/8, ::1, "
		    "localhost); use https",
		    url);
	else
		set_err(err, 0, "InvalidEndpoint", "endpoint %.200s: scheme %s is not https", url,
		    scheme);
	curl_free(scheme);
	curl_free(host);
	return rc;
}

int
http_url_host(const char *url, char *out, size_t size)
{
	struct aws_error err;
	char *scheme, *host, *port;
	int n;

	if (url_parts(url, &scheme, &host, &port, &err) < 0)
		return -1;
	n = port ? snprintf(out, size, "%s:%s", host, port) : snprintf(out, size, "%s", host);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct http_client *c = arg;
	size_t n = size * nmemb;
	struct kls_buf *b = c->resp->body;

	if (c->stream) {
		if (c->streaming < 0) {
			long status = 0;
			curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
			c->streaming = status >= 200 && status <= 299;
		}
		if (c->streaming) {
			if (c->stream->data(c->stream->arg, p, n) < 0) {
				c->aborted = true;
				return 0;
			}
			return n;
		}
	}
	if (n > c->body_cap || b->len > c->body_cap - n) {
		c->too_large = true;
		return 0; /* aborts the transfer */
	}
	if (buf_append(b, p, n) < 0) {
		c->nomem = true;
		return 0;
	}
	return n;
}

static void
copy_header_value(char *dst, size_t size, const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static bool
header_is(const char *line, size_t n, const char *name, const char **value, size_t *vlen)
{
	size_t nl = strlen(name);
	if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
		return false;
	*value = line + nl + 1;
	*vlen = n - nl - 1;
	return true;
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct http_client *c = arg;
	size_t n = size * nmemb;
	const char *v;
	size_t vn;

	c->header_bytes += n;
	if (c->header_bytes > c->max_headers) {
		c->headers_too_large = true;
		return 0;
	}
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* A new response head (after a 100 Continue, say): forget the last one's. */
		c->resp->request_id[0] = c->resp->error_type[0] = c->location[0] = '\0';
		c->streaming = -1;
	} else if (header_is(p, n, "x-amzn-RequestId", &v, &vn) ||
	    header_is(p, n, "x-amz-request-id", &v, &vn)) {
		copy_header_value(c->resp->request_id, sizeof(c->resp->request_id), v, vn);
	} else if (header_is(p, n, "x-amzn-ErrorType", &v, &vn)) {
		copy_header_value(c->resp->error_type, sizeof(c->resp->error_type), v, vn);
	} else if (header_is(p, n, "Location", &v, &vn)) {
		copy_header_value(c->location, sizeof(c->location), v, vn);
	}
	return n;
}

/* libcurl's progress callback: only streaming requests turn it on. */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct http_client *c = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (c->stream && c->stream->tick && c->stream->tick(c->stream->arg) < 0) {
		c->aborted = true;
		return 1;
	}
	return 0;
}

static bool
is_secret_header(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(secret_headers) / sizeof(secret_headers[0]); i++)
		if (strlen(secret_headers[i]) == n && strncasecmp(name, secret_headers[i], n) == 0)
			return true;
	return false;
}

/* Hands one trace line to the callback, secret header values replaced. */
static void
trace_line(struct http_client *c, char prefix, bool header, const char *p, size_t n)
{
	char line[TRACE_LINE];
	const char *colon = header ? memchr(p, ':', n) : NULL;

	if (colon && is_secret_header(p, (size_t)(colon - p)))
		snprintf(line, sizeof(line), "%c %.*s: [redacted]", prefix, (int)(colon - p), p);
	else
		snprintf(line, sizeof(line), "%c %.*s", prefix, (int)(n > TRACE_LINE ? TRACE_LINE : n),
		    p);
	/* Control bytes from a peer must not reach a terminal or a log as such. */
	for (char *q = line; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = '?';
	c->trace(c->trace_arg, line);
}

static int
on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	struct http_client *c = arg;
	char prefix;
	bool header = true;

	(void)h;
	switch (type) {
	case CURLINFO_TEXT: prefix = '*'; header = false; break;
	case CURLINFO_HEADER_IN: prefix = '<'; break;
	case CURLINFO_HEADER_OUT: prefix = '>'; break;
	default: return 0; /* bodies and TLS records are not traced */
	}
	while (size) {
		char *nl = memchr(data, '\n', size);
		size_t n = nl ? (size_t)(nl - data) : size, skip = nl ? n + 1 : n;
		size_t len = n;
		if (len && data[len - 1] == '\r')
			len--;
		if (len)
			trace_line(c, prefix, header, data, len);
		data += skip;
		size -= skip;
	}
	return 0;
}

void
http_trace_log(void *arg, const char *line)
{
	(void)arg;
	log_debug("http: %s", line);
}

struct http_client *
http_client_new(const struct http_config *cfg, struct aws_error *err)
{
	static const struct http_config defaults;
	struct http_client *c;
	struct aws_error ignored;
	CURL *h;
	CURLcode rc = CURLE_OK;

	if (err == NULL)
		err = &ignored;
	if (cfg == NULL)
		cfg = &defaults;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK) {
		set_err(err, 0, "LocalError", "curl_global_init: %s",
		    curl_easy_strerror(curl_init_result));
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->curl = curl_easy_init()) == NULL) {
		free(c);
		set_err(err, 0, "LocalError", "curl_easy_init: out of memory");
		return NULL;
	}
	h = c->curl;
	c->max_body = cfg->max_response_bytes ? cfg->max_response_bytes : DEFAULT_MAX_RESPONSE;
	c->max_headers = cfg->max_header_bytes ? cfg->max_header_bytes : DEFAULT_MAX_HEADERS;
	c->recv_buffer = RECV_BUFFER_MIN;
	c->trace = cfg->trace;
	c->trace_arg = cfg->trace_arg;

#define SET(opt, val)                                           \
	do {                                                    \
		if (rc == CURLE_OK)                             \
			rc = curl_easy_setopt(h, opt, val);     \
	} while (0)
	/* Threads may use clients: no signals for DNS timeouts. */
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_CONNECTTIMEOUT_MS,
	    cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : (long)DEFAULT_CONNECT_TIMEOUT_MS);
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : (long)DEFAULT_TIMEOUT_MS;
	SET(CURLOPT_TIMEOUT_MS, c->timeout_ms);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	/* TLS verification is not configurable: a private CA is added with ca_file. */
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (cfg->ca_file)
		SET(CURLOPT_CAINFO, cfg->ca_file);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, c);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, c);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, c);
	SET(CURLOPT_NOPROGRESS, 1L);
	if (c->trace) {
		SET(CURLOPT_DEBUGFUNCTION, on_debug);
		SET(CURLOPT_DEBUGDATA, c);
		SET(CURLOPT_VERBOSE, 1L);
	}
#undef SET
	if (rc != CURLE_OK) {
		set_err(err, 0, "LocalError", "curl_easy_setopt: %s", curl_easy_strerror(rc));
		http_client_free(c);
		return NULL;
	}
	return c;
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c->checked_url);
	free(c);
}

/* http_url_check for the request's URL, and whether its host is loopback. */
static int
check_url(struct http_client *c, const char *url, bool *loopback, struct aws_error *err)
{
	char *scheme, *host;

	if (url && c->checked_url && strcmp(url, c->checked_url) == 0) {
		*loopback = c->checked_loopback;
		return 0;
	}
	if (http_url_check(url, err) < 0 || url_parts(url, &scheme, &host, NULL, err) < 0)
		return -1;
	*loopback = http_host_is_loopback(host);
	curl_free(scheme);
	curl_free(host);
	free(c->checked_url);
	/* Without the copy (out of memory) the next request is only checked again. */
	if ((c->checked_url = strdup(url)) != NULL)
		c->checked_loopback = *loopback;
	return 0;
}

long
http_client_connects(const struct http_client *c)
{
	return c->connects;
}

long
http_client_recv_buffer(const struct http_client *c)
{
	return c->recv_buffer;
}

/*
 * Follows the size of the responses with libcurl's receive buffer: one recv() and one
 * poll() per buffer-full, so a 3 MB GetRecords body took ~190 of each with the 16 KiB
 * default and takes ~7 with 512 KiB. Clients with small responses (DynamoDB, the
 * metadata services) keep the small buffer. It grows to a quarter of the largest body
 * seen, within libcurl's bounds, and never shrinks: a reader's batches stay alike.
 */
static void
grow_recv_buffer(struct http_client *c, size_t body_len)
{
	long want = c->recv_buffer;

	while (want < RECV_BUFFER_MAX && (size_t)want * 4 < body_len)
		want *= 2;
	/* A refused resize leaves the old buffer, which still works. */
	if (want != c->recv_buffer && curl_easy_setopt(c->curl, CURLOPT_BUFFERSIZE, want) == CURLE_OK)
		c->recv_buffer = want;
}

/* Frees a header list, wiping it first: it held the signature and the token. */
static void
free_headers(struct curl_slist *list)
{
	for (struct curl_slist *l = list; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

/* The request headers as curl wants them, refusing line breaks that would let a
 * value start a header of its own. NULL with err on failure. */
static struct curl_slist *
header_list(const struct http_request *req, struct aws_error *err)
{
	struct curl_slist *list = NULL, *l;
	bool have_expect = false;
	char line[MAX_REQUEST_HEADER];
	size_t used = 0; /* bytes of line written so far: what must be wiped */

	for (size_t i = 0; i < req->nheaders; i++) {
		const char *name = req->headers[i].name, *value = req->headers[i].value;
		int n;
		if (name == NULL || value == NULL || !*name || strpbrk(name, ":\r\n ") ||
		    strpbrk(value, "\r\n")) {
			set_err(err, 0, "LocalError", "request header %zu (%.64s) is malformed", i,
			    name ? name : "(null)");
			goto fail;
		}
		if (strcasecmp(name, "Expect") == 0)
			have_expect = true;
		/* "Name;" is how curl is told to send a header with an empty value. */
		n = *value ? snprintf(line, sizeof(line), "%s: %s", name, value)
			   : snprintf(line, sizeof(line), "%s;", name);
		if (n < 0 || (size_t)n >= sizeof(line)) {
			used = sizeof(line); /* a header that did not fit filled it */
			set_err(err, 0, "LocalError", "request header %.64s longer than %d bytes",
			    name, MAX_REQUEST_HEADER);
			goto fail;
		}
		if ((size_t)n + 1 > used)
			used = (size_t)n + 1;
		if ((l = curl_slist_append(list, line)) == NULL)
			goto nomem;
		list = l;
	}
	/* curl would send "Expect: 100-continue" for larger bodies and wait for an answer
	 * AWS does not need to give: one round trip less. */
	if (!have_expect) {
		if ((l = curl_slist_append(list, "Expect:")) == NULL)
			goto nomem;
		list = l;
	}
	/* The lines held the signature and the token: wipe what was written (the whole
	 * 16 KiB every call cost more than the rest of this function). */
	explicit_bzero(line, used);
	return list;
nomem:
	set_err(err, 0, "LocalError", "request headers: out of memory");
fail:
	explicit_bzero(line, used);
	free_headers(list);
	return NULL;
}

static int
set_method(CURL *h, const struct http_request *req)
{
	CURLcode rc;
	bool get = strcmp(req->method, "GET") == 0;

	rc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST,
	    get || strcmp(req->method, "POST") == 0 ? NULL : req->method);
	if (rc == CURLE_OK && get && req->body_len == 0)
		rc = curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	else if (rc == CURLE_OK) {
		rc = curl_easy_setopt(h, CURLOPT_POST, 1L);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
	}
	return rc == CURLE_OK ? 0 : -1;
}

/*
 * Switches the handle between ordinary requests and a stream: no total timeout (the
 * stream's tick decides), the progress callback on, and HTTP/2 where TLS offers it.
 */
static int
set_streaming(CURL *h, bool on, long timeout_ms)
{
	if (curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, on ? 0L : timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOPROGRESS, on ? 0L : 1L) != CURLE_OK)
		return -1;
	/* A libcurl without HTTP/2 refuses 2TLS: the stream then runs over HTTP/1.1. */
	(void)curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
	    on ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
	return 0;
}

/* What a failed transfer means, in the words of http.h. */
static void
transfer_err(struct http_client *c, CURLcode rc, const char *what, long status,
    struct aws_error *err)
{
	const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);

	if (c->aborted) {
		set_err(err, status, "Aborted", "%s: ended by the stream's caller", what);
		return;
	}
	if (c->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		set_err(err, status, "ResponseTooLarge", "%s: response body over the %zu byte cap",
		    what, c->body_cap);
		return;
	}
	if (c->headers_too_large) {
		set_err(err, status, "HeadersTooLarge", "%s: response headers over %zu bytes",
		    what, c->max_headers);
		return;
	}
	if (c->nomem) {
		set_err(err, status, "LocalError", "%s: out of memory for the response body", what);
		return;
	}
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		set_err(err, status, "Timeout", "%s: %s", what, detail);
		break;
	case CURLE_PARTIAL_FILE:
		set_err(err, status, "TruncatedResponse", "%s: response ended early: %s", what,
		    detail);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		set_err(err, status, "TLSVerifyFailed", "%s: %s", what, detail);
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
		set_err(err, status, "LocalError", "%s: %s", what, detail);
		break;
	default:
		/* connect, resolve, send, receive, TLS handshake, empty reply: transient */
		set_err(err, status, "NetworkError", "%s: %s", what, detail);
		break;
	}
}

int
http_request(struct http_client *c, const struct http_request *req,
    struct http_response *resp, struct aws_error *err)
{
	return http_request_stream(c, req, NULL, resp, err);
}

int
http_request_stream(struct http_client *c, const struct http_request *req,
    const struct http_stream *stream, struct http_response *resp, struct aws_error *err)
{
	CURL *h = c->curl;
	struct curl_slist *headers = NULL;
	char what[256];
	const char *q;
	bool loopback;
	CURLcode rc;
	long status = 0, connects = 0;
	int ret = -1;

	memset(err, 0, sizeof(*err));
	resp->status = 0;
	resp->request_id[0] = resp->error_type[0] = '\0';
	buf_reset(resp->body);
	if (req->method == NULL ||
	    (strcmp(req->method, "GET") && strcmp(req->method, "POST") &&
		strcmp(req->method, "PUT") && strcmp(req->method, "DELETE"))) {
		set_err(err, 0, "LocalError", "HTTP method %.16s not supported",
		    req->method ? req->method : "(null)");
		return -1;
	}
	if (check_url(c, req->url, &loopback, err) < 0)
		return -1;
	/* Name the request in errors without its query string. */
	q = strchr(req->url, '?');
	snprintf(what, sizeof(what), "%s %.*s", req->method,
	    (int)(q ? (size_t)(q - req->url) : strlen(req->url)), req->url);
	if ((headers = header_list(req, err)) == NULL)
		goto out;

	c->resp = resp;
	c->body_cap = c->max_body;
	if (resp->body->limit && resp->body->limit < c->body_cap)
		c->body_cap = resp->body->limit;
	c->header_bytes = 0;
	c->too_large = c->headers_too_large = c->nomem = false;
	c->location[0] = c->errbuf[0] = '\0';
	c->stream = stream && stream->data ? stream : NULL;
	c->streaming = -1;
	c->aborted = false;
	if (c->stream && set_streaming(h, true, c->timeout_ms) < 0) {
		set_err(err, 0, "LocalError", "%s: curl_easy_setopt failed", what);
		goto out;
	}

	/* A proxy from the environment must not see loopback traffic (and could not
	 * reach it); elsewhere the environment decides, as with the AWS tools. */
	if (curl_easy_setopt(h, CURLOPT_URL, req->url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROXY, loopback ? "" : NULL) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	        (curl_off_t)(c->stream ? 0 : c->body_cap)) != CURLE_OK ||
	    set_method(h, req) < 0) {
		set_err(err, 0, "LocalError", "%s: curl_easy_setopt failed", what);
		goto out;
	}
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK)
		c->connects += connects;
	resp->status = status;
	if (rc != CURLE_OK) {
		transfer_err(c, rc, what, status, err);
		goto out;
	}
	if (status >= 300 && status <= 399) {
		set_err(err, status, "Redirect", "%s: HTTP %ld to %s not followed", what, status,
		    c->location[0] ? c->location : "(no Location)");
		goto out;
	}
	if (status < 100) {
		set_err(err, status, "NetworkError", "%s: no HTTP status received", what);
		goto out;
	}
	grow_recv_buffer(c, resp->body->len);
	ret = 0;
out:
	/* The list is freed below: the handle must not keep pointers into it or into
	 * the caller's body. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	if (c->stream)
		(void)set_streaming(h, false, c->timeout_ms);
	c->stream = NULL;
	free_headers(headers);
	c->resp = NULL;
	return ret;
}
