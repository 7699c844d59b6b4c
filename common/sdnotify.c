/*
 * sd_notify(3) in a few lines: a non-blocking unix datagram socket and sendto. The
 * protocol is documented by systemd as stable for exactly this use (services that do not
 * link libsystemd): one datagram of newline-separated "KEY=value" assignments.
 */
#include "config.h"

#include "common/sdnotify.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int
sdnotify_open(struct sdnotify *n, const char *path)
{
	size_t len = path ? strlen(path) : 0;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (len == 0)
		return 0;
	if (path[0] != '/' && path[0] != '@') {
		errno = EINVAL;
		return -1;
	}
	n->addr.sun_family = AF_UNIX;
	if (path[0] == '@') {
		/* Abstract namespace: a leading NUL, and the length says where the name ends. */
		if (len > sizeof(n->addr.sun_path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(n->addr.sun_path + 1, path + 1, len - 1);
		n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	} else {
		if (len >= sizeof(n->addr.sun_path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(n->addr.sun_path, path, len + 1);
		n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	}
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	return n->fd < 0 ? -1 : 0;
}

int
sdnotify_open_env(struct sdnotify *n)
{
	int rc = sdnotify_open(n, getenv("NOTIFY_SOCKET"));
	int saved = errno;

	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	errno = saved;
	return rc;
}

void
sdnotify_close(struct sdnotify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

bool
sdnotify_enabled(const struct sdnotify *n)
{
	return n->fd >= 0;
}

int
sdnotify_send(struct sdnotify *n, const char *msg)
{
	size_t len = strlen(msg);
	ssize_t w;

	if (n->fd < 0)
		return 0;
	if (len > SDNOTIFY_MSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	do
		w = sendto(
		    n->fd, msg, len, MSG_NOSIGNAL, (const struct sockaddr *)&n->addr, n->addrlen);
	while (w < 0 && errno == EINTR);
	return w < 0 ? -1 : 0;
}

/* "<head>" or "<head>\nSTATUS=<status>"; a status with a newline would inject keys. */
static int
send_with_status(struct sdnotify *n, const char *head, const char *status)
{
	char msg[SDNOTIFY_MSG_MAX + 1];

	if (status && strchr(status, '\n')) {
		errno = EINVAL;
		return -1;
	}
	if (snprintf(msg, sizeof(msg), "%s%s%s", head, status ? "\nSTATUS=" : "",
	        status ? status : "") >= (int)sizeof(msg)) {
		errno = EMSGSIZE;
		return -1;
	}
	return sdnotify_send(n, msg);
}

int
sdnotify_ready(struct sdnotify *n, const char *status)
{
	return send_with_status(n, "READY=1", status);
}

int
sdnotify_status(struct sdnotify *n, const char *status)
{
	char head[SDNOTIFY_MSG_MAX + 1];

	if (!status || strchr(status, '\n')) {
		errno = EINVAL;
		return -1;
	}
	if (snprintf(head, sizeof(head), "STATUS=%s", status) >= (int)sizeof(head)) {
		errno = EMSGSIZE;
		return -1;
	}
	return sdnotify_send(n, head);
}

int
sdnotify_watchdog(struct sdnotify *n)
{
	return sdnotify_send(n, "WATCHDOG=1");
}

int
sdnotify_reloading(struct sdnotify *n, const char *status)
{
	struct timespec ts;
	char head[64];

	/* systemd compares this stamp with its own CLOCK_MONOTONIC, not CLOCK_BOOTTIME. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(head, sizeof(head), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
	    (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
	return send_with_status(n, head, status);
}

int
sdnotify_stopping(struct sdnotify *n, const char *status)
{
	return send_with_status(n, "STOPPING=1", status);
}

int
sdnotify_mainpid(struct sdnotify *n, pid_t pid)
{
	char msg[32];

	snprintf(msg, sizeof(msg), "MAINPID=%ld", (long)pid);
	return sdnotify_send(n, msg);
}

/* A positive decimal number without sign, spaces or trailing bytes. */
static int
parse_positive(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v == 0)
		return -1;
	*out = v;
	return 0;
}

int
sdnotify_watchdog_parse(const char *usec, const char *pid, pid_t self, uint64_t *interval_usec)
{
	uint64_t u, p;

	*interval_usec = 0;
	if (!usec || !*usec)
		return 0;
	if (parse_positive(usec, &u) < 0 || (pid && *pid && parse_positive(pid, &p) < 0)) {
		errno = EINVAL;
		return -1;
	}
	/* WATCHDOG_PID names the process the watchdog is for; a child that inherited the
	 * variables must not ping on its parent's behalf. */
	if (pid && *pid && p != (uint64_t)self)
		return 0;
	*interval_usec = u;
	return 0;
}

int
sdnotify_watchdog_env(uint64_t *interval_usec)
{
	return sdnotify_watchdog_parse(
	    getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"), getpid(), interval_usec);
}

uint64_t
sdnotify_watchdog_period_ms(uint64_t interval_usec)
{
	uint64_t ms = interval_usec / 2000;

	if (interval_usec == 0)
		return 0;
	return ms ? ms : 1;
}
