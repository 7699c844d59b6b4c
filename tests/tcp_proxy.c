/*
 * The fault tests' loopback TCP proxy: see tcp_proxy.h. One thread polls the listening
 * socket, a control pipe and both ends of every connection; blocking writes are fine
 * for loopback peers that read (the tests' requests and answers are small).
 */
#include "config.h" /* _GNU_SOURCE: memmem, memrchr, pipe2 */

#include "tests/tcp_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNS_MAX 128
#define TAIL_MAX 127 /* bytes kept between reads to find a header split across them */
#define OPS_MAX 32
#define OP_NAME_MAX 48
#define TARGET_HDR "X-Amz-Target: "

struct conn {
	int c, s;       /* client side, server side (-1 = not connected) */
	bool swallowed; /* a request was discarded on it (black-hole) */
	char tail[TAIL_MAX];
	size_t ntail;
};

struct op_count {
	char name[OP_NAME_MAX];
	unsigned long n;
};

struct tcp_proxy {
	int lfd, port, target;
	int ctl[2]; /* control pipe: a mode byte, or 0xff to stop */
	pthread_t thread;
	pthread_mutex_t mu; /* guards mode, acked, ops */
	pthread_cond_t cv;
	enum tcp_proxy_mode mode;
	unsigned long asked, acked; /* mode changes written, applied by the thread */
	struct op_count ops[OPS_MAX];
	unsigned long total;
	struct conn conns[CONNS_MAX];
	int nconns;
};

static int
write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
conn_close(struct tcp_proxy *p, int i)
{
	close(p->conns[i].c);
	if (p->conns[i].s >= 0)
		close(p->conns[i].s);
	p->conns[i] = p->conns[--p->nconns];
}

static void
count_op(struct tcp_proxy *p, const char *v, size_t len)
{
	const char *dot = memrchr(v, '.', len);
	int i;

	if (dot) {
		len -= (size_t)(dot + 1 - v);
		v = dot + 1;
	}
	if (len >= OP_NAME_MAX)
		len = OP_NAME_MAX - 1;
	pthread_mutex_lock(&p->mu);
	p->total++;
	for (i = 0; i < OPS_MAX && p->ops[i].name[0]; i++)
		if (strlen(p->ops[i].name) == len && memcmp(p->ops[i].name, v, len) == 0)
			break;
	if (i < OPS_MAX) {
		if (!p->ops[i].name[0])
			memcpy(p->ops[i].name, v, len);
		p->ops[i].n++;
	}
	pthread_mutex_unlock(&p->mu);
}

/* Counts the X-Amz-Target headers that end in the new bytes buf[0..n). */
static void
count_requests(struct tcp_proxy *p, struct conn *c, const char *buf, size_t n)
{
	char scratch[TAIL_MAX + 4096];
	size_t len, off = 0;

	while (n) {
		size_t take = n < 4096 ? n : 4096;
		const char *h;
		memcpy(scratch, c->tail, c->ntail);
		memcpy(scratch + c->ntail, buf, take);
		len = c->ntail + take;
		off = 0;
		while ((h = memmem(scratch + off, len - off, TARGET_HDR, strlen(TARGET_HDR)))) {
			const char *v = h + strlen(TARGET_HDR);
			const char *end = memchr(v, '\r', (size_t)(scratch + len - v));
			if (!end)
				break;
			/* Ending in the old tail: counted with the previous read. */
			if ((size_t)(end - scratch) >= c->ntail)
				count_op(p, v, (size_t)(end - v));
			off = (size_t)(end - scratch);
		}
		c->ntail = len < TAIL_MAX ? len : TAIL_MAX;
		memmove(c->tail, scratch + len - c->ntail, c->ntail);
		buf += take;
		n -= take;
	}
}

static void
accept_one(struct tcp_proxy *p, enum tcp_proxy_mode mode)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int c = accept(p->lfd, NULL, NULL), s = -1;

	if (c < 0)
		return;
	if (mode == TCP_PROXY_DROP || p->nconns == CONNS_MAX) {
		close(c);
		return;
	}
	if (mode == TCP_PROXY_FORWARD) {
		sa.sin_port = htons((uint16_t)p->target);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
		    connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			if (s >= 0)
				close(s);
			close(c);
			return;
		}
	}
	p->conns[p->nconns++] = (struct conn){ .c = c, .s = s };
}

/* Applies a mode change; false when asked to stop. */
static bool
control(struct tcp_proxy *p, enum tcp_proxy_mode *mode)
{
	unsigned char b;

	if (read(p->ctl[0], &b, 1) != 1)
		return true;
	if (b == 0xff)
		return false;
	*mode = (enum tcp_proxy_mode)b;
	for (int i = 0; i < p->nconns;)
		if (*mode == TCP_PROXY_DROP ||
		    (*mode == TCP_PROXY_FORWARD && (p->conns[i].swallowed || p->conns[i].s < 0)))
			conn_close(p, i);
		else
			i++;
	pthread_mutex_lock(&p->mu);
	p->acked++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return true;
}

static void *
proxy_main(void *arg)
{
	struct tcp_proxy *p = arg;
	enum tcp_proxy_mode mode = TCP_PROXY_FORWARD;
	struct pollfd fds[2 + 2 * CONNS_MAX];
	int who[2 + 2 * CONNS_MAX]; /* connection index, negative for the server side */
	char buf[16384];

	for (;;) {
		int n = 0, nc = p->nconns;
		fds[n++] = (struct pollfd){ .fd = p->ctl[0], .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = p->lfd, .events = POLLIN };
		for (int i = 0; i < nc; i++) {
			who[n] = i;
			fds[n++] = (struct pollfd){ .fd = p->conns[i].c, .events = POLLIN };
			if (mode == TCP_PROXY_FORWARD && p->conns[i].s >= 0) {
				who[n] = -1 - i;
				fds[n++] = (struct pollfd){ .fd = p->conns[i].s, .events = POLLIN };
			}
		}
		if (poll(fds, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[0].revents) {
			if (!control(p, &mode))
				break;
			continue; /* indexes may have moved */
		}
		if (fds[1].revents)
			accept_one(p, mode);
		/* Backwards, so that closing connection i (which moves the last one into
		 * its place) never disturbs an index still to be handled. */
		for (int k = n - 1; k >= 2; k--) {
			int i = who[k] >= 0 ? who[k] : -1 - who[k];
			struct conn *c;
			ssize_t r;
			if (!fds[k].revents || i >= p->nconns || i >= nc)
				continue;
			c = &p->conns[i];
			if (fds[k].fd != (who[k] >= 0 ? c->c : c->s))
				continue; /* closed and replaced this round */
			r = read(fds[k].fd, buf, sizeof(buf));
			if (r <= 0) {
				conn_close(p, i);
				continue;
			}
			if (who[k] < 0) {
				if (write_all(c->c, buf, (size_t)r) < 0)
					conn_close(p, i);
			} else if (mode == TCP_PROXY_FORWARD && c->s >= 0) {
				count_requests(p, c, buf, (size_t)r);
				if (write_all(c->s, buf, (size_t)r) < 0)
					conn_close(p, i);
			} else {
				c->swallowed = true;
			}
		}
	}
	while (p->nconns)
		conn_close(p, p->nconns - 1);
	return NULL;
}

int
tcp_proxy_url_port(const char *url)
{
	const char *c = strrchr(url, ':');
	int port;

	if (!c || sscanf(c + 1, "%d", &port) != 1 || port <= 0 || port > 65535)
		return -1;
	return port;
}

struct tcp_proxy *
tcp_proxy_start(int target_port)
{
	struct tcp_proxy *p = calloc(1, sizeof(*p));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int one = 1, e;

	if (!p)
		return NULL;
	p->target = target_port;
	p->ctl[0] = p->ctl[1] = -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(p->lfd, 64) < 0 ||
	    getsockname(p->lfd, (struct sockaddr *)&sa, &sl) < 0 || pipe2(p->ctl, O_CLOEXEC) < 0)
		goto fail;
	p->port = ntohs(sa.sin_port);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if ((e = pthread_create(&p->thread, NULL, proxy_main, p)) != 0) {
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->cv);
		errno = e;
		goto fail;
	}
	return p;
fail:
	e = errno;
	if (p->lfd >= 0)
		close(p->lfd);
	if (p->ctl[0] >= 0) {
		close(p->ctl[0]);
		close(p->ctl[1]);
	}
	free(p);
	errno = e;
	return NULL;
}

int
tcp_proxy_port(const struct tcp_proxy *p)
{
	return p->port;
}

void
tcp_proxy_set_mode(struct tcp_proxy *p, enum tcp_proxy_mode mode)
{
	unsigned char b = (unsigned char)mode;
	unsigned long want;

	pthread_mutex_lock(&p->mu);
	p->mode = mode;
	want = ++p->asked;
	pthread_mutex_unlock(&p->mu);
	if (write(p->ctl[1], &b, 1) != 1)
		return;
	pthread_mutex_lock(&p->mu);
	while (p->acked < want)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

unsigned long
tcp_proxy_requests(struct tcp_proxy *p, const char *op)
{
	unsigned long n = 0;

	pthread_mutex_lock(&p->mu);
	if (!op)
		n = p->total;
	for (int i = 0; op && i < OPS_MAX && p->ops[i].name[0]; i++)
		if (strcmp(p->ops[i].name, op) == 0)
			n = p->ops[i].n;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void
tcp_proxy_stop(struct tcp_proxy *p)
{
	unsigned char b = 0xff;

	if (!p)
		return;
	if (write(p->ctl[1], &b, 1) == 1)
		pthread_join(p->thread, NULL);
	close(p->lfd);
	close(p->ctl[0]);
	close(p->ctl[1]);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
