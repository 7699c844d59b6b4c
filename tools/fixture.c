/*
 * kls-fixture: the fast Kinesis endpoint scripts/bench reads from (see fixture.h).
 *
 *   kls-fixture --shards N --records N --record-bytes N [--batch N] [--open]
 *               [--stream NAME] [--port P]
 *
 * Builds every shard's records as GetRecords JSON, listens on 127.0.0.1 (port 0 = a
 * free one), prints the port on the first line of stdout, and serves ListShards,
 * DescribeStreamSummary, GetShardIterator and GetRecords over HTTP/1.1 with keep-alive
 * (application/x-amz-json-1.1, no signature check), plus GET /stats (per-shard call
 * counters) for the bench. Until SIGTERM or SIGINT.
 *
 * One thread and epoll: a GetRecords response is a small head, a slice of the
 * pre-built text and a small tail, sent with one sendmsg from where they are, so the
 * fixture costs little CPU next to the consumer it feeds.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/fixture.h"

#define REQUEST_MAX (64 * 1024) /* a request's header and body; ours are small */
#define CONNS_MAX 1024
#define TARGET_PREFIX "Kinesis_20131202."

struct conn {
	int fd;
	size_t slot; /* its index in run()'s table */
	char in[REQUEST_MAX];
	size_t in_len;
	size_t req_len; /* bytes of the request being answered */
	bool sent_continue;
	bool writing;
	bool close_after;
	struct kls_buf hdr, head, tail;
	struct iovec iov[4];
	int iovcnt;
};

/* Set by the signal handler; the loop sees it when epoll_pwait returns EINTR. */
static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int64_t
monotonic_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC, the clock of Node's process.hrtime that scripts/bench uses. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: kls-fixture --shards N --records N --record-bytes N [--batch N] "
	           "[--open]\n"
	           "                   [--stream NAME] [--port P]\n");
}

static int
parse_opts(int argc, char **argv, struct fx_opts *o, unsigned *port)
{
	static const struct option longopts[] = {
		{ "shards", required_argument, NULL, 's' },
		{ "records", required_argument, NULL, 'n' },
		{ "record-bytes", required_argument, NULL, 'b' },
		{ "batch", required_argument, NULL, 'B' },
		{ "open", no_argument, NULL, 'o' },
		{ "stream", required_argument, NULL, 'S' },
		{ "port", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int ch;

	*o = (struct fx_opts){ .stream = "bench",
		.shards = 4,
		.records = 1000,
		.record_bytes = 100,
		.batch = FX_BATCH_MAX };
	*port = 0;
	while ((ch = getopt_long(argc, argv, "s:n:b:B:oS:p:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (cli_u64("kls-fixture", "--shards", optarg, 1, FX_SHARDS_MAX, &v) < 0)
				return -1;
			o->shards = (unsigned)v;
			break;
		case 'n':
			if (cli_u64("kls-fixture", "--records", optarg, 0, FX_RECORDS_MAX, &v) < 0)
				return -1;
			o->records = v;
			break;
		case 'b':
			if (cli_u64("kls-fixture", "--record-bytes", optarg, 1, FX_RECORD_BYTES_MAX,
			        &v) < 0)
				return -1;
			o->record_bytes = v;
			break;
		case 'B':
			if (cli_u64("kls-fixture", "--batch", optarg, 1, FX_BATCH_MAX, &v) < 0)
				return -1;
			o->batch = (unsigned)v;
			break;
		case 'o': o->open = true; break;
		case 'S': o->stream = optarg; break;
		case 'p':
			if (cli_u64("kls-fixture", "--port", optarg, 0, 65535, &v) < 0)
				return -1;
			*port = (unsigned)v;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static int
listen_loopback(unsigned port, unsigned *bound)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		close(fd);
		return -1;
	}
	*bound = ntohs(sa.sin_port);
	return fd;
}

static struct conn *
conn_new(int fd)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = fd;
	buf_init(&c->hdr, 0);
	buf_init(&c->head, 0);
	buf_init(&c->tail, 0);
	return c;
}

static void
conn_free(struct conn *c)
{
	close(c->fd);
	buf_free(&c->hdr);
	buf_free(&c->head);
	buf_free(&c->tail);
	free(c);
}

/* Case-insensitive header lookup in the header block hdrs[0..len): the value, trimmed. */
static bool
header(const char *hdrs, size_t len, const char *name, const char **val, size_t *vlen)
{
	const char *p = hdrs, *end = hdrs + len, *eol, *v;
	size_t n = strlen(name);

	while (p < end && (eol = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if ((size_t)(eol - p) > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
			v = p + n + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*vlen = (size_t)(eol - v);
			while (*vlen && (v[*vlen - 1] == '\r' || v[*vlen - 1] == ' '))
				(*vlen)--;
			*val = v;
			return true;
		}
		p = eol + 1;
	}
	return false;
}

/* Queues the response: status line and headers, then head, slice and tail. */
static void
respond(struct conn *c, int status, const char *error_type, const struct fx_reply *r)
{
	static uint64_t request_id; /* single thread: only this loop counts requests */
	const char *reason = status == 200   ? "OK"
	                     : status == 400 ? "Bad Request"
	                     : status == 404 ? "Not Found"
	                     : status == 413 ? "Payload Too Large"
	                                     : "Not Implemented";
	size_t len = c->head.len + (r ? r->slice_len : 0) + c->tail.len;

	buf_reset(&c->hdr);
	buf_printf(&c->hdr,
	    "HTTP/1.1 %d %s\r\nContent-Type: application/x-amz-json-1.1\r\n"
	    "Content-Length: %zu\r\nx-amzn-RequestId: 00000000-0000-4000-8000-%012" PRIx64 "\r\n",
	    status, reason, len, ++request_id);
	if (error_type)
		buf_printf(&c->hdr, "x-amzn-ErrorType: %s\r\n", error_type);
	if (c->close_after)
		buf_puts(&c->hdr, "Connection: close\r\n");
	buf_puts(&c->hdr, "\r\n");
	c->iov[0] = (struct iovec){ c->hdr.data, c->hdr.len };
	c->iov[1] = (struct iovec){ c->head.data, c->head.len };
	c->iov[2] = (struct iovec){ (void *)(r ? r->slice : NULL), r ? r->slice_len : 0 };
	c->iov[3] = (struct iovec){ c->tail.data, c->tail.len };
	c->iovcnt = 4;
	c->writing = true;
}

/* A plain-text error for requests that are not Kinesis calls. */
static void
respond_text(struct conn *c, int status, const char *msg)
{
	buf_reset(&c->head);
	buf_reset(&c->tail);
	buf_printf(&c->head, "{\"message\":\"%s\"}", msg);
	respond(c, status, NULL, NULL);
}

/*
 * Answers the first complete request in c->in, if there is one: 1 when a response is
 * queued, 0 when more bytes are needed, -1 to drop the connection.
 */
static int
handle_request(struct fx_stream *s, struct conn *c)
{
	const char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4), *v;
	size_t hlen, vlen, body_len = 0;
	char action[64], num[16];
	struct fx_reply r = { .head = &c->head, .tail = &c->tail };

	if (end == NULL)
		return c->in_len == sizeof(c->in) ? -1 : 0;
	hlen = (size_t)(end - c->in) + 4;
	if (header(c->in, hlen, "Transfer-Encoding", &v, &vlen)) {
		c->close_after = true;
		c->req_len = c->in_len;
		respond_text(c, 501, "chunked requests are not served");
		return 1;
	}
	if (header(c->in, hlen, "Content-Length", &v, &vlen)) {
		if (vlen == 0 || vlen >= sizeof(num) || strspn(v, "0123456789") < vlen)
			return -1;
		memcpy(num, v, vlen);
		num[vlen] = '\0';
		body_len = strtoul(num, NULL, 10);
	}
	if (body_len > sizeof(c->in) - hlen) {
		c->close_after = true;
		c->req_len = c->in_len;
		respond_text(c, 413, "request too large");
		return 1;
	}
	if (c->in_len < hlen + body_len) {
		/* Answer "Expect: 100-continue" once, so a client waiting for it sends the body. */
		if (!c->sent_continue && header(c->in, hlen, "Expect", &v, &vlen)) {
			c->sent_continue = true;
			if (send(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, MSG_NOSIGNAL) != 25)
				return -1;
		}
		return 0;
	}
	c->req_len = hlen + body_len;
	c->sent_continue = false;
	if (memmem(c->in, hlen, " HTTP/1.0\r\n", 11) ||
	    (header(c->in, hlen, "Connection", &v, &vlen) && vlen == 5 &&
	        strncasecmp(v, "close", 5) == 0))
		c->close_after = true;

	if (strncmp(c->in, "GET /stats ", 11) == 0) {
		buf_reset(&c->tail);
		if (fx_stats(s, &c->head) < 0)
			return -1;
		respond(c, 200, NULL, NULL);
		return 1;
	}
	if (strncmp(c->in, "POST ", 5) != 0 || !header(c->in, hlen, "X-Amz-Target", &v, &vlen) ||
	    vlen <= strlen(TARGET_PREFIX) ||
	    strncmp(v, TARGET_PREFIX, strlen(TARGET_PREFIX)) != 0 ||
	    vlen - strlen(TARGET_PREFIX) >= sizeof(action)) {
		respond_text(c, 404,
		    "not a Kinesis call (POST with X-Amz-Target "
		    "Kinesis_20131202.*) or GET /stats");
		return 1;
	}
	memcpy(action, v + strlen(TARGET_PREFIX), vlen - strlen(TARGET_PREFIX));
	action[vlen - strlen(TARGET_PREFIX)] = '\0';
	fx_call(s, action, c->in + hlen, body_len, monotonic_ns(), &r);
	respond(c, r.status, r.error, &r);
	return 1;
}

/* Sends what is queued. 1 when all was sent, 0 when the socket is full, -1 on error. */
static int
flush(struct conn *c)
{
	struct msghdr msg = { 0 };
	ssize_t n;
	int i;

	while (c->iovcnt > 0) {
		/* Skip parts already sent (or empty). */
		i = 4 - c->iovcnt;
		if (c->iov[i].iov_len == 0) {
			c->iovcnt--;
			continue;
		}
		msg.msg_iov = &c->iov[i];
		msg.msg_iovlen = (size_t)c->iovcnt;
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		for (; i < 4 && n > 0; i++) {
			size_t take = (size_t)n < c->iov[i].iov_len ? (size_t)n : c->iov[i].iov_len;

			c->iov[i].iov_base = (char *)c->iov[i].iov_base + take;
			c->iov[i].iov_len -= take;
			n -= (ssize_t)take;
		}
	}
	return 1;
}

static int
watch(int ep, struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/*
 * Moves a connection on after an event: reads, answers complete requests (several when
 * pipelined), writes. -1 when the connection is done with.
 */
static int
serve(struct fx_stream *s, int ep, struct conn *c)
{
	ssize_t n;
	int rc;

	for (;;) {
		if (c->writing) {
			if ((rc = flush(c)) <= 0)
				return rc < 0 ? -1 : watch(ep, c, EPOLLOUT);
			c->writing = false;
			if (c->close_after)
				return -1;
			memmove(c->in, c->in + c->req_len, c->in_len - c->req_len);
			c->in_len -= c->req_len;
			c->req_len = 0;
			if (watch(ep, c, EPOLLIN) < 0)
				return -1;
		}
		if ((rc = handle_request(s, c)) < 0)
			return -1;
		if (rc == 1)
			continue;
		n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->in_len += (size_t)n;
	}
}

static int
run(struct fx_stream *s, int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, events[64];
	struct conn *conns[CONNS_MAX] = { 0 };
	sigset_t waitmask;
	int ep, n, i, fd, one = 1;
	size_t k;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
		perror("kls-fixture: epoll");
		return -1;
	}
	/* SIGINT and SIGTERM are blocked except inside epoll_pwait, so none is missed. */
	sigemptyset(&waitmask);
	while (!stop_requested) {
		n = epoll_pwait(ep, events, 64, -1, &waitmask);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("kls-fixture: epoll_pwait");
			break;
		}
		for (i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;

			if (c == NULL) {
				while ((fd = accept4(lfd, NULL, NULL,
				            SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					for (k = 0; k < CONNS_MAX && conns[k]; k++)
						;
					if (k == CONNS_MAX || (conns[k] = conn_new(fd)) == NULL) {
						close(fd);
						continue;
					}
					conns[k]->slot = k;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ev = (struct epoll_event){ .events = EPOLLIN,
						.data.ptr = conns[k] };
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
						conn_free(conns[k]);
						conns[k] = NULL;
					}
				}
				continue;
			}
			if (serve(s, ep, c) < 0) {
				conns[c->slot] = NULL;
				conn_free(c);
			}
		}
	}
	for (k = 0; k < CONNS_MAX; k++)
		if (conns[k])
			conn_free(conns[k]);
	close(ep);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct fx_stream s;
	struct fx_opts o;
	sigset_t block;
	unsigned port, bound;
	char err[256];
	int64_t t0;
	int lfd, rc;

	if (parse_opts(argc, argv, &o, &port) < 0)
		return 2;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, NULL);

	t0 = monotonic_ns();
	if (fx_stream_build(&s, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "kls-fixture: %s\n", err);
		fx_stream_free(&s);
		return 1;
	}
	if ((lfd = listen_loopback(port, &bound)) < 0) {
		fprintf(stderr, "kls-fixture: listen on 127.0.0.1:%u: %s\n", port, strerror(errno));
		fx_stream_free(&s);
		return 1;
	}
	printf("%u\n", bound);
	fflush(stdout);
	fprintf(stderr,
	    "kls-fixture: %s: %u %s shards of %" PRIu64 " records of %zu bytes, built in %.2f s; "
	    "listening on 127.0.0.1:%u\n",
	    o.stream, o.shards, o.open ? "open" : "closed", o.records, o.record_bytes,
	    (double)(monotonic_ns() - t0) / 1e9, bound);
	rc = run(&s, lfd);
	close(lfd);
	fx_stream_free(&s);
	return rc < 0 ? 1 : 0;
}
