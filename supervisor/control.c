/*
 * The control-socket server behind control.h. One epoll set holds the listener, a
 * timerfd for idle connections, and every connection; each connection reads one frame at
 * a time, answers it, and reads the next only after the answer is out (so a client that
 * does not read its replies cannot make klsd queue unbounded output).
 */
#include "config.h"

#include "supervisor/control.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

#define ERR(...) snprintf(err, errlen, __VA_ARGS__)

struct conn {
	int fd;
	pid_t pid;
	uid_t uid;
	struct frame_reader rd;
	struct kls_buf out;
	size_t out_off;
	bool closing;  /* close once out is flushed */
	kls_mono last; /* last byte in or out */
};

struct control_server {
	struct control_config cfg;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	int lfd, epfd, tfd;
	bool timer_armed;
	struct conn **conns; /* cfg.max_clients slots, NULL when free */
	size_t nconns;
};

/* epoll tags for the two descriptors that are not connections. */
static char tag_listener, tag_timer;

int
control_fd(const struct control_server *s)
{
	return s->epfd;
}

size_t
control_clients(const struct control_server *s)
{
	return s->nconns;
}

/* mkdir of the socket's own directory (not its ancestors: those belong to the system,
 * e.g. systemd's RuntimeDirectory=). */
static int
make_parent(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0'; /* the path is absolute: there is a '/' */
	if (!dir[0])
		return 0; /* a socket in / itself */
	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		ERR("mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		ERR("%s exists and is not a directory", dir);
		return -1;
	}
	return 0;
}

/* Removes a socket file that nobody listens on; refuses anything else at path. */
static int
clear_stale(const struct sockaddr_un *a, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	if (lstat(a->sun_path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		ERR("lstat %s: %s", a->sun_path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		ERR("%s exists and is not a socket; not replacing it", a->sun_path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ERR("socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)a, sizeof(*a));
	/* EAGAIN: a listener whose backlog is full is very much alive. */
	if (rc == 0 || errno == EAGAIN) {
		close(fd);
		ERR("another process answers on %s (is klsd already running for this "
		    "application?)",
		    a->sun_path);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		ERR("connect %s: %s", a->sun_path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (unlink(a->sun_path) < 0 && errno != ENOENT) {
		ERR("unlink stale socket %s: %s", a->sun_path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
listen_on(struct control_server *s, char *err, size_t errlen)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old;
	int rc;

	memcpy(a.sun_path, s->path, strlen(s->path) + 1);
	if (make_parent(s->path, err, errlen) < 0 || clear_stale(&a, err, errlen) < 0)
		return -1;
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0) {
		ERR("socket: %s", strerror(errno));
		return -1;
	}
	/* bind creates the file with the umask's mode: make it 0600 from the first
	 * instant instead of chmod-ing a window open afterwards. */
	old = umask(0177);
	rc = bind(s->lfd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc < 0) {
		ERR("bind %s: %s", s->path, strerror(errno));
		return -1;
	}
	if (stat(s->path, &st) < 0) {
		ERR("stat %s: %s", s->path, strerror(errno));
		return -1;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	if (listen(s->lfd, (int)s->cfg.max_clients) < 0) {
		ERR("listen %s: %s", s->path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
ep_add(int epfd, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = {.events = events, .data.ptr = ptr};
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int
control_open(
    struct control_server **out, const struct control_config *cfg, char *err, size_t errlen)
{
	struct control_server *s;

	*out = NULL;
	if (!cfg->path || cfg->path[0] != '/' ||
	    strlen(cfg->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		ERR("control socket path \"%s\" must be absolute and under %zu bytes",
		    cfg->path ? cfg->path : "", sizeof(((struct sockaddr_un *)0)->sun_path));
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		ERR("out of memory");
		return -1;
	}
	s->cfg = *cfg;
	if (!s->cfg.max_clients)
		s->cfg.max_clients = CONTROL_CLIENTS_DEFAULT;
	if (!s->cfg.idle_timeout_ms)
		s->cfg.idle_timeout_ms = CONTROL_IDLE_MS_DEFAULT;
	s->cfg.path = s->path;
	snprintf(s->path, sizeof(s->path), "%s", cfg->path);
	s->lfd = s->epfd = s->tfd = -1;
	s->conns = calloc(s->cfg.max_clients, sizeof(*s->conns));
	if (!s->conns) {
		ERR("out of memory");
		goto fail;
	}
	if (listen_on(s, err, errlen) < 0)
		goto fail;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->tfd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->epfd < 0 || s->tfd < 0 || ep_add(s->epfd, s->lfd, EPOLLIN, &tag_listener) < 0 ||
	    ep_add(s->epfd, s->tfd, EPOLLIN, &tag_timer) < 0) {
		ERR("epoll/timerfd for %s: %s", s->path, strerror(errno));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	control_close(s);
	return -1;
}

/* The idle sweep ticks only while connections exist, so an idle klsd is not woken. */
static void
arm_timer(struct control_server *s, bool on)
{
	unsigned tick = s->cfg.idle_timeout_ms / 4;
	struct itimerspec its = {0};

	if (on == s->timer_armed)
		return;
	if (tick < 10)
		tick = 10;
	if (tick > 1000)
		tick = 1000;
	if (on) {
		its.it_value.tv_sec = tick / 1000;
		its.it_value.tv_nsec = (long)(tick % 1000) * 1000000;
		its.it_interval = its.it_value;
	}
	if (timerfd_settime(s->tfd, 0, &its, NULL) == 0)
		s->timer_armed = on;
}

static void
conn_free(struct control_server *s, struct conn *c)
{
	for (size_t i = 0; i < s->cfg.max_clients; i++)
		if (s->conns[i] == c) {
			s->conns[i] = NULL;
			s->nconns--;
		}
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	frame_reader_free(&c->rd);
	buf_free(&c->out);
	free(c);
	if (s->nconns == 0)
		arm_timer(s, false);
}

/* Waits for input when nothing is queued, for output otherwise. */
static void
conn_watch(struct control_server *s, struct conn *c)
{
	struct epoll_event ev = {.events = c->out.len ? EPOLLOUT : EPOLLIN, .data.ptr = c};
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends what is queued; false when the connection was closed. */
static bool
conn_flush(struct control_server *s, struct conn *c)
{
	int rc = frame_flush(c->fd, &c->out, &c->out_off);

	if (rc < 0 || (rc == 1 && c->closing)) {
		conn_free(s, c);
		return false;
	}
	c->last = mono_now();
	conn_watch(s, c);
	return true;
}

/* Queues an error reply and closes the connection once it is out. */
static void
conn_refuse(struct conn *c, const char *msg)
{
	if (frame_encode_reply_error(&c->out, msg) < 0)
		buf_reset(&c->out);
	c->closing = true;
}

/* A packer sink that remembers running into the frame limit. */
struct sink {
	struct kls_buf b;
	bool full;
};

static int
sink_write(void *data, const char *p, size_t n)
{
	struct sink *k = data;

	if (buf_append(&k->b, p, n) == 0)
		return 0;
	k->full = true;
	return -1;
}

static void
dispatch(struct control_server *s, struct conn *c, const struct frame_request *req)
{
	const struct control_command *cmd = NULL;
	char err[FRAME_ERROR_MAX] = "";
	struct sink k = {.full = false};
	msgpack_packer pk;
	int rc;

	for (size_t i = 0; i < s->cfg.ncommands && !cmd; i++)
		if (!strcmp(s->cfg.commands[i].name, req->cmd))
			cmd = &s->cfg.commands[i];
	if (!cmd) {
		size_t used =
		    (size_t)snprintf(err, sizeof(err), "unknown command \"%s\" (known:", req->cmd);
		for (size_t i = 0; i < s->cfg.ncommands && used < sizeof(err); i++)
			used += (size_t)snprintf(
			    err + used, sizeof(err) - used, " %s", s->cfg.commands[i].name);
		if (used < sizeof(err))
			snprintf(err + used, sizeof(err) - used, ")");
		frame_encode_reply_error(&c->out, err);
		return;
	}
	/* Room for the reply's own map around the data. */
	buf_init(&k.b, FRAME_MAX - 16);
	msgpack_packer_init(&pk, &k, sink_write);
	rc = cmd->fn(s->cfg.ctx, req, &pk, err, sizeof(err));
	if (rc < 0) {
		frame_encode_reply_error(&c->out, err[0] ? err : "command failed");
	} else if (k.full) {
		snprintf(err, sizeof(err), "the reply to \"%s\" exceeds the %d-byte frame limit",
		    req->cmd, FRAME_MAX);
		frame_encode_reply_error(&c->out, err);
	} else if (frame_encode_reply_ok(&c->out, k.b.len ? k.b.data : NULL, k.b.len) < 0) {
		log_errorx(
		    "control command %s: its reply data is not one msgpack object", req->cmd);
		snprintf(err, sizeof(err), "klsd built a malformed reply to \"%s\"", req->cmd);
		frame_encode_reply_error(&c->out, err);
	}
	buf_free(&k.b);
}

/* Reads and answers requests until the peer has nothing more or a reply is pending. */
static void
conn_read(struct control_server *s, struct conn *c)
{
	char err[FRAME_ERRLEN];

	while (!c->out.len) {
		struct frame_request req;
		enum frame_status st = frame_reader_read(&c->rd, c->fd, err, sizeof(err));
		const char *p;
		size_t n;

		if (st == FRAME_AGAIN)
			return;
		c->last = mono_now();
		if (st == FRAME_EOF) {
			conn_free(s, c);
			return;
		}
		if (st == FRAME_ERROR) {
			log_warnx("control socket: pid %ld uid %lu: %s", (long)c->pid,
			    (unsigned long)c->uid, err);
			conn_refuse(c, err);
			break;
		}
		p = frame_reader_data(&c->rd, &n);
		if (frame_request_decode(&req, p, n, err, sizeof(err)) < 0) {
			log_warnx("control socket: pid %ld uid %lu: bad request: %s", (long)c->pid,
			    (unsigned long)c->uid, err);
			conn_refuse(c, err);
			break;
		}
		log_debug("control socket: pid %ld: %s", (long)c->pid, req.cmd);
		dispatch(s, c, &req);
		frame_request_free(&req);
	}
	conn_flush(s, c);
}

/* Accepts one pending connection; false when there was none (or accept failed). */
static bool
accept_one(struct control_server *s)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct conn *c;
	size_t slot;
	int fd;

	fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("control socket %s: accept", s->path);
		return false;
	}
	if (s->nconns == s->cfg.max_clients) {
		struct kls_buf b;
		size_t off = 0;
		/* One best-effort send: a fresh socket's buffer takes a short frame. */
		buf_init(&b, 0);
		if (frame_encode_reply_error(&b, "klsd is busy: too many control connections") == 0)
			frame_flush(fd, &b, &off);
		buf_free(&b);
		close(fd);
		log_warnx(
		    "control socket: refused a connection, %u already open", s->cfg.max_clients);
		return true;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return true;
	}
	c->fd = fd;
	frame_reader_init(&c->rd, FRAME_MAX);
	buf_init(&c->out, FRAME_MAX * 2);
	c->last = mono_now();
	for (slot = 0; s->conns[slot]; slot++)
		;
	s->conns[slot] = c;
	s->nconns++;
	arm_timer(s, true);
	if (ep_add(s->epfd, fd, EPOLLIN, c) < 0) {
		log_warn("control socket: epoll_ctl");
		conn_free(s, c);
		return true;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("control socket: SO_PEERCRED");
		conn_free(s, c);
		return true;
	}
	c->pid = cred.pid;
	c->uid = cred.uid;
	if (cred.uid != s->cfg.uid && cred.uid != 0) {
		char msg[160];
		snprintf(msg, sizeof(msg),
		    "permission denied: uid %lu may not use klsd's control socket (uid %lu and "
		    "root may)",
		    (unsigned long)cred.uid, (unsigned long)s->cfg.uid);
		log_warnx("control socket: refused pid %ld uid %lu", (long)cred.pid,
		    (unsigned long)cred.uid);
		conn_refuse(c, msg);
		conn_flush(s, c);
	}
	return true;
}

static void
sweep_idle(struct control_server *s)
{
	uint64_t ticks;
	kls_mono now = mono_now();

	while (read(s->tfd, &ticks, sizeof(ticks)) > 0)
		;
	for (size_t i = 0; i < s->cfg.max_clients; i++) {
		struct conn *c = s->conns[i];
		if (c && mono_diff_ms(c->last, now) >= (int64_t)s->cfg.idle_timeout_ms) {
			log_debug("control socket: pid %ld idle for %u ms, closing", (long)c->pid,
			    s->cfg.idle_timeout_ms);
			conn_free(s, c);
		}
	}
}

int
control_handle(struct control_server *s)
{
	struct epoll_event ev[16];
	int n;

	do
		n = epoll_wait(s->epfd, ev, 16, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		struct conn *c = ev[i].data.ptr;
		if (ev[i].data.ptr == &tag_listener) {
			/* Bounded per call so one flood cannot hold klsd's loop. */
			for (unsigned k = 0; k < s->cfg.max_clients && accept_one(s); k++)
				;
			continue;
		}
		if (ev[i].data.ptr == &tag_timer) {
			sweep_idle(s);
			continue;
		}
		/* A connection freed earlier in this batch (idle sweep) may still have an
		 * event here: act only on live ones. */
		bool live = false;
		for (size_t j = 0; j < s->cfg.max_clients && !live; j++)
			live = s->conns[j] == c;
		if (!live)
			continue;
		if (c->out.len)
			conn_flush(s, c);
		else
			conn_read(s, c);
	}
	return 0;
}

void
control_close(struct control_server *s)
{
	struct stat st;

	if (!s)
		return;
	for (size_t i = 0; s->conns && i < s->cfg.max_clients; i++)
		if (s->conns[i]) {
			frame_flush(s->conns[i]->fd, &s->conns[i]->out, &s->conns[i]->out_off);
			conn_free(s, s->conns[i]);
		}
	if (s->lfd >= 0) {
		/* Only our own socket: a successor klsd may already have bound a new one. */
		if (stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
			unlink(s->path);
		close(s->lfd);
	}
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->tfd >= 0)
		close(s->tfd);
	free(s->conns);
	free(s);
}
