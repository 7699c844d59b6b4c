/*
 * klsd's /metrics endpoint: libmicrohttpd in "external polling" epoll mode, driven by
 * klsd's loop (metrics.h says why no thread). We bind the listening socket ourselves so
 * the error for a taken or bad address names the call and the address, and so port 0
 * (tests) can be read back with getsockname.
 *
 * libmicrohttpd is loaded with dlopen when the endpoint starts, not linked: its
 * constructor initializes GnuTLS (and p11-kit) in every process that links it, which
 * cost klsd 1.2 MB of RSS even with [metrics] listen unset (the default).
 */
#include "config.h"

#include "supervisor/metrics.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

#define ERR(...) snprintf(err, errlen, __VA_ARGS__)

/* Scrapers are few; these bound what a misbehaving client can hold. */
#define HTTP_CONNECTIONS 8
#define HTTP_TIMEOUT_S 10
#define HTTP_CONN_MEMORY (32 * 1024)

/* The library's soname: ABI 12 since 0.9.x (configure asks for >= 0.9.70). */
#define MHD_SONAME "libmicrohttpd.so.12"

/* The functions we call, typed by the header's own declarations. */
static struct mhd_api {
	void *lib;
	char err[160];
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_run) *run;
	__typeof__(MHD_get_timeout) *get_timeout;
	__typeof__(MHD_get_daemon_info) *get_daemon_info;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
} mhd; /* global: the library is loaded once per process and never unloaded (mhd_once) */
static pthread_once_t mhd_once = PTHREAD_ONCE_INIT;

#define MHD_SYM(field, name)                                                          \
	if (ok && !(*(void **)&mhd.field = dlsym(mhd.lib, name))) {                   \
		snprintf(mhd.err, sizeof(mhd.err), "%s has no %s", MHD_SONAME, name); \
		ok = false;                                                           \
	}

static void
mhd_load(void)
{
	bool ok = true;

	if (!(mhd.lib = dlopen(MHD_SONAME, RTLD_NOW | RTLD_LOCAL))) {
		snprintf(mhd.err, sizeof(mhd.err), "%.150s", dlerror());
		return;
	}
	MHD_SYM(start_daemon, "MHD_start_daemon")
	MHD_SYM(stop_daemon, "MHD_stop_daemon")
	MHD_SYM(run, "MHD_run")
	MHD_SYM(get_timeout, "MHD_get_timeout")
	MHD_SYM(get_daemon_info, "MHD_get_daemon_info")
	MHD_SYM(create_response_from_buffer, "MHD_create_response_from_buffer")
	MHD_SYM(add_response_header, "MHD_add_response_header")
	MHD_SYM(queue_response, "MHD_queue_response")
	MHD_SYM(destroy_response, "MHD_destroy_response")
	if (!ok) {
		dlclose(mhd.lib);
		mhd.lib = NULL;
	}
}

struct metrics_http {
	struct MHD_Daemon *d;
	struct metrics *m;
	uint16_t port;
};

int
metrics_parse_listen(
    const char *text, struct sockaddr_storage *ss, socklen_t *len, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *port, *h;
	size_t hlen;
	unsigned long p = 0;

	memset(ss, 0, sizeof(*ss));
	colon = text ? strrchr(text, ':') : NULL;
	if (!colon) {
		ERR("metrics address \"%s\" is not HOST:PORT", text ? text : "");
		return -1;
	}
	h = text;
	hlen = (size_t)(colon - text);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']')
		h++, hlen -= 2;
	port = colon + 1;
	if (!*port || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port) ||
	    (p = strtoul(port, NULL, 10)) > 65535) {
		ERR("metrics address \"%s\": port \"%s\" is not a number from 0 to 65535", text,
		    port);
		return -1;
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		ERR("metrics address \"%s\": no numeric IP address before the port", text);
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (h == text && inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)p);
		*len = sizeof(*a);
		return 0;
	}
	if (h != text && inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)p);
		*len = sizeof(*a);
		return 0;
	}
	ERR("metrics address \"%s\": \"%s\" is not a numeric %s address", text, host,
	    h == text ? "IPv4 (IPv6 goes in brackets)" : "IPv6");
	return -1;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, const char *ctype, char *body, size_t len,
    bool allow)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = mhd.create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	mhd.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (allow)
		mhd.add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = mhd.queue_response(c, status, r);
	mhd.destroy_response(r);
	return rc;
}

static enum MHD_Result
text_reply(struct MHD_Connection *c, unsigned status, const char *msg, bool allow)
{
	char *body = strdup(msg);
	return body ? reply(c, status, "text/plain; charset=utf-8", body, strlen(body), allow)
	            : MHD_NO;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct metrics_http *h = cls;
	struct kls_buf b;

	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return text_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics\n", true);
	if (strcmp(url, "/metrics"))
		return text_reply(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", false);
	buf_init(&b, METRICS_RENDER_MAX + 4096);
	if (metrics_render(h->m, &b) < 0 || !b.data) {
		log_warn("metrics: rendering /metrics");
		buf_free(&b);
		return text_reply(
		    c, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics unavailable\n", false);
	}
	/* MHD takes the rendered buffer and frees it when the response is sent. */
	return reply(
	    c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len, false);
}

/* MHD's own error messages go to kls's log as warnings. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	vsnprintf(msg, sizeof(msg), fmt, ap);
#pragma GCC diagnostic pop
	msg[strcspn(msg, "\n")] = '\0';
	log_warnx("metrics http: %s", msg);
}

int
metrics_http_start(
    struct metrics_http **out, struct metrics *m, const char *listen_on, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct metrics_http *h;
	int fd, one = 1;

	*out = NULL;
	if (metrics_parse_listen(listen_on, &ss, &len, err, errlen) < 0)
		return -1;
	pthread_once(&mhd_once, mhd_load);
	if (!mhd.lib) {
		ERR("metrics: cannot load libmicrohttpd: %s", mhd.err);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ERR("metrics: socket for %s: %s", listen_on, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		ERR("metrics: cannot listen on %s: %s", listen_on, strerror(errno));
		close(fd);
		return -1;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		ERR("metrics: out of memory");
		close(fd);
		return -1;
	}
	h->m = m;
	h->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
	                                        : ((struct sockaddr_in6 *)&ss)->sin6_port);
	h->d = mhd.start_daemon(
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0,
	    NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY, MHD_OPTION_END);
	if (!h->d) {
		ERR("metrics: libmicrohttpd could not start on %s", listen_on);
		close(fd);
		free(h);
		return -1;
	}
	*out = h;
	return 0;
}

int
metrics_http_fd(const struct metrics_http *h)
{
	const union MHD_DaemonInfo *i = mhd.get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	return i ? i->epoll_fd : -1;
}

int64_t
metrics_http_timeout_ms(const struct metrics_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (mhd.get_timeout(h->d, &ms) != MHD_YES)
		return -1;
	return ms > INT64_MAX ? INT64_MAX : (int64_t)ms;
}

int
metrics_http_handle(struct metrics_http *h)
{
	return mhd.run(h->d) == MHD_YES ? 0 : -1;
}

uint16_t
metrics_http_port(const struct metrics_http *h)
{
	return h->port;
}

void
metrics_http_stop(struct metrics_http *h)
{
	if (!h)
		return;
	mhd.stop_daemon(h->d); /* closes the listening socket too */
	free(h);
}
