/*
 * One request, one reply over klsd's control socket, with a deadline for the whole
 * exchange (a wedged klsd must not hang kls-ctl). Errors are sentences for the operator.
 */
#include "config.h"

#include "ctl/control_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"

/* Waits for events on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int
wait_fd(int fd, short events, kls_mono deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int64_t left = mono_diff_ms(mono_now(), deadline);
		int rc;

		if (left <= 0)
			return 0;
		rc = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

static int
connect_to(const char *path, kls_mono deadline, char *msg, size_t msg_size)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(msg, msg_size, "control socket path %s is too long", path);
		return -1;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(msg, msg_size, "socket: %s", strerror(errno));
		return -1;
	}
	/* A unix connect fails at once or succeeds, except EAGAIN when the backlog is full:
	 * then klsd is slow to accept, and we retry until the deadline. */
	while (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		if (e == EAGAIN && mono_before(mono_now(), deadline)) {
			sleep_ms(20);
			continue;
		}
		if (e == ENOENT)
			snprintf(msg, msg_size, "no control socket at %s (is klsd running?)", path);
		else if (e == ECONNREFUSED)
			snprintf(
			    msg, msg_size, "nothing listens on %s (klsd is not running)", path);
		else if (e == EACCES || e == EPERM)
			snprintf(msg, msg_size,
			    "permission denied on %s (run kls-ctl as klsd's user or root)", path);
		else if (e == EAGAIN)
			snprintf(
			    msg, msg_size, "klsd does not accept on %s (busy or wedged)", path);
		else
			snprintf(msg, msg_size, "connect %s: %s", path, strerror(e));
		close(fd);
		return -1;
	}
	return fd;
}

int
ctl_control_call(const char *path, const char *cmd, const struct frame_arg *args, size_t nargs,
    int timeout_ms, struct frame_reply *rep, char *msg, size_t msg_size)
{
	kls_mono deadline = mono_add_ms(mono_now(), timeout_ms);
	char err[FRAME_ERRLEN];
	struct frame_reader rd;
	struct kls_buf out;
	size_t off = 0;
	int fd, rc = -1;

	memset(rep, 0, sizeof(*rep));
	fd = connect_to(path, deadline, msg, msg_size);
	if (fd < 0)
		return -1;
	buf_init(&out, 0);
	frame_reader_init(&rd, FRAME_MAX);
	if (frame_encode_request(&out, cmd, args, nargs) < 0) {
		snprintf(
		    msg, msg_size, "cannot encode the \"%s\" request: %s", cmd, strerror(errno));
		goto done;
	}
	for (;;) {
		int w = frame_flush(fd, &out, &off);
		if (w == 1)
			break;
		if (w < 0) {
			/* A refused peer may be answered and closed before it finished
			 * writing: its reply is still there to read. */
			if (errno == EPIPE || errno == ECONNRESET)
				break;
			snprintf(msg, msg_size, "send to %s: %s", path, strerror(errno));
			goto done;
		}
		if (wait_fd(fd, POLLOUT, deadline) <= 0)
			goto timeout;
	}
	for (;;) {
		enum frame_status st = frame_reader_read(&rd, fd, err, sizeof(err));
		const char *p;
		size_t n;

		if (st == FRAME_READY) {
			p = frame_reader_data(&rd, &n);
			if (frame_reply_decode(rep, p, n, err, sizeof(err)) < 0) {
				snprintf(msg, msg_size, "klsd sent a bad reply: %s", err);
				goto done;
			}
			rc = 0;
			goto done;
		}
		if (st == FRAME_EOF) {
			snprintf(msg, msg_size, "klsd closed the connection without a reply");
			goto done;
		}
		if (st == FRAME_ERROR) {
			snprintf(msg, msg_size, "reading klsd's reply: %s", err);
			goto done;
		}
		if (wait_fd(fd, POLLIN, deadline) <= 0)
			goto timeout;
	}
timeout:
	snprintf(msg, msg_size, "no reply from klsd on %s within %d ms", path, timeout_ms);
done:
	frame_reader_free(&rd);
	buf_free(&out);
	close(fd);
	return rc;
}
