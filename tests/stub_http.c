/* Loopback HTTP/1.1 stub server for tests: see stub_http.h. One thread per connection. */
#include "config.h"

#include "tests/stub_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"

#define STUB_MAX_CONN 64
#define STUB_MAX_BODY (64u << 20)

struct stub_conn {
	struct stub_server *srv;
	int fd;
	pthread_t thread;
};

struct stub_server {
	stub_handler handler;
	void *arg;
	int lfd;
	int port;
	char url[64];
	pthread_t accept_thread;
	atomic_int stopping;
	atomic_int count;
	pthread_mutex_t lock; /* guards conns, nconns and the handler call order */
	struct stub_conn *conns[STUB_MAX_CONN];
	int nconns;
};

static int
read_request(int fd, char *hdr, size_t hdrsize, struct stub_request *req, char **extra, size_t *extra_len)
{
	/* Reads until the blank line; anything after it belongs to the body. */
	size_t have = 0;
	char *end;
	for (;;) {
		ssize_t n;
		if (have >= hdrsize - 1)
			return -1;
		n = read(fd, hdr + have, hdrsize - 1 - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		hdr[have] = '\0';
		end = strstr(hdr, "\r\n\r\n");
		if (end)
			break;
	}
	*extra = end + 4;
	*extra_len = have - (size_t)(end + 4 - hdr);
	end[2] = '\0';
	{
		char *line_end = strstr(hdr, "\r\n");
		char version[16];
		*line_end = '\0';
		if (sscanf(hdr, "%15s %2047s %15s", req->method, req->path, version) != 3)
			return -1;
		snprintf(req->headers, sizeof(req->headers), "%s", line_end + 2);
	}
	return 0;
}

int
stub_header(const struct stub_request *req, const char *name, char *out, size_t size)
{
	size_t nlen = strlen(name);
	const char *p = req->headers;
	while (*p) {
		const char *eol = strstr(p, "\r\n");
		if (!eol)
			eol = p + strlen(p);
		if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			snprintf(out, size, "%.*s", (int)(eol - v), v);
			return 0;
		}
		p = *eol ? eol + 2 : eol;
	}
	return -1;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Keeps the connection open and silent for ms, until the client closes it (read as
 * POLLIN) or the server stops. */
static void
hold(struct stub_conn *c, int ms)
{
	kls_mono end = mono_add_ms(mono_now(), ms);
	struct pollfd pfd = { c->fd, POLLIN, 0 };

	while (!atomic_load(&c->srv->stopping) && mono_before(mono_now(), end))
		if (poll(&pfd, 1, 50) != 0)
			return;
}

static void *
conn_main(void *p)
{
	struct stub_conn *c = p;
	struct stub_server *s = c->srv;
	static const size_t hdrsize = 16384;
	char *hdr = malloc(hdrsize);

	while (hdr && !atomic_load(&s->stopping)) {
		struct stub_request req;
		struct stub_response resp;
		char *extra, clbuf[32], head[4096];
		size_t extra_len, clen = 0;
		int keep = 1;

		memset(&req, 0, sizeof(req));
		if (read_request(c->fd, hdr, hdrsize, &req, &extra, &extra_len) < 0)
			break;
		if (stub_header(&req, "Content-Length", clbuf, sizeof(clbuf)) == 0)
			clen = strtoul(clbuf, NULL, 10);
		if (clen > STUB_MAX_BODY)
			break;
		req.body = malloc(clen + 1);
		if (!req.body)
			break;
		if (extra_len > clen)
			extra_len = clen;
		memcpy(req.body, extra, extra_len);
		for (size_t got = extra_len; got < clen;) {
			ssize_t n = read(c->fd, req.body + got, clen - got);
			if (n <= 0) {
				free(req.body);
				goto out;
			}
			got += (size_t)n;
		}
		req.body[clen] = '\0';
		req.body_len = clen;

		memset(&resp, 0, sizeof(resp));
		resp.status = 200;
		buf_init(&resp.body, 0);
		pthread_mutex_lock(&s->lock);
		req.index = atomic_fetch_add(&s->count, 1);
		s->handler(s->arg, &req, &resp);
		pthread_mutex_unlock(&s->lock);
		free(req.body);

		if (resp.delay_ms)
			sleep_ms(resp.delay_ms);
		if (resp.drop) {
			buf_free(&resp.body);
			break;
		}
		if (stub_header(&req, "Connection", clbuf, sizeof(clbuf)) == 0 &&
		    strcasecmp(clbuf, "close") == 0)
			keep = 0;
		if (resp.truncate_to)
			keep = 0;
		snprintf(head, sizeof(head),
		    "HTTP/1.1 %d Stub\r\nContent-Length: %zu\r\n%s%s\r\n", resp.status, resp.body.len,
		    resp.headers, keep ? "" : "Connection: close\r\n");
		if (write_all(c->fd, head, strlen(head)) < 0 ||
		    write_all(c->fd, resp.body.data ? resp.body.data : "",
			resp.truncate_to && resp.truncate_to < resp.body.len ? resp.truncate_to
									     : resp.body.len) < 0)
			keep = 0;
		buf_free(&resp.body);
		if (resp.hold_ms) {
			hold(c, resp.hold_ms);
			keep = 0;
		}
		if (!keep)
			break;
	}
out:
	free(hdr);
	shutdown(c->fd, SHUT_RDWR);
	return NULL;
}

static void *
accept_main(void *p)
{
	struct stub_server *s = p;
	while (!atomic_load(&s->stopping)) {
		struct pollfd pfd = { s->lfd, POLLIN, 0 };
		struct stub_conn *c;
		int fd;
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&s->lock);
		if (s->nconns == STUB_MAX_CONN || !(c = calloc(1, sizeof(*c)))) {
			pthread_mutex_unlock(&s->lock);
			close(fd);
			continue;
		}
		c->srv = s;
		c->fd = fd;
		if (pthread_create(&c->thread, NULL, conn_main, c) != 0) {
			free(c);
			close(fd);
		} else {
			s->conns[s->nconns++] = c;
		}
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

struct stub_server *
stub_start(stub_handler handler, void *arg)
{
	struct stub_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	int one = 1;

	if (!s)
		return NULL;
	s->handler = handler;
	s->arg = arg;
	pthread_mutex_init(&s->lock, NULL);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		goto fail;
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(s->lfd, 64) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&sin, &slen) < 0)
		goto fail;
	s->port = ntohs(sin.sin_port);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
	if (pthread_create(&s->accept_thread, NULL, accept_main, s) != 0)
		goto fail;
	return s;
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

const char *
stub_url(const struct stub_server *s)
{
	return s->url;
}

int
stub_port(const struct stub_server *s)
{
	return s->port;
}

int
stub_count(const struct stub_server *s)
{
	return atomic_load(&((struct stub_server *)s)->count);
}

void
stub_stop(struct stub_server *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, 1);
	pthread_join(s->accept_thread, NULL);
	close(s->lfd);
	for (int i = 0; i < s->nconns; i++) {
		shutdown(s->conns[i]->fd, SHUT_RDWR);
		pthread_join(s->conns[i]->thread, NULL);
		close(s->conns[i]->fd);
		free(s->conns[i]);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}
