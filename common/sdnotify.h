/*
 * systemd's notification protocol without libsystemd: one unix datagram per message to
 * the socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).
 * klsd sends READY=1 once its initial leases are held and their readers attached,
 * WATCHDOG=1 every sdnotify_watchdog_period_ms, RELOADING=1 (with MONOTONIC_USEC) and
 * READY=1 around a reload, STOPPING=1 when it starts to shut down.
 *
 * Nothing here blocks: the socket is non-blocking, a full receive queue gives EAGAIN and
 * the message is dropped (the next watchdog ping or state change follows soon). Without
 * $NOTIFY_SOCKET every send is a successful no-op, so callers need no "under systemd?"
 * branches. Library code: errors are returned, never logged.
 */
#ifndef KLS_SDNOTIFY_H
#define KLS_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* Longest message sdnotify_send accepts (systemd reads up to its page-sized buffer). */
#define SDNOTIFY_MSG_MAX 4096

struct sdnotify {
	int fd; /* -1 when notifications are off */
	struct sockaddr_un addr;
	socklen_t addrlen;
};

/*
 * Prepares to notify the socket at `path` ($NOTIFY_SOCKET's value): an absolute path or
 * "@abstract". NULL or "" turns notifications off (returns 0). -1 with errno EINVAL (a
 * relative path), ENAMETOOLONG, or socket()'s errno. Call sdnotify_close in the end.
 */
int sdnotify_open(struct sdnotify *n, const char *path);
/*
 * sdnotify_open(getenv("NOTIFY_SOCKET")), then removes NOTIFY_SOCKET, WATCHDOG_USEC and
 * WATCHDOG_PID from the environment so readers exec'd later do not inherit them. Call
 * sdnotify_watchdog_env first if the watchdog is wanted. Single-threaded start-up only
 * (it edits the environment).
 */
int sdnotify_open_env(struct sdnotify *n);
void sdnotify_close(struct sdnotify *n);
bool sdnotify_enabled(const struct sdnotify *n);

/* Sends one message of "KEY=value" lines as is. 0 (also when off), or -1 with errno
 * (EAGAIN: systemd's queue is full; EMSGSIZE: longer than SDNOTIFY_MSG_MAX). */
int sdnotify_send(struct sdnotify *n, const char *msg);
/* Helpers for the messages klsd sends; status may be NULL (no STATUS= line). */
int sdnotify_ready(struct sdnotify *n, const char *status);
int sdnotify_status(struct sdnotify *n, const char *status);
int sdnotify_watchdog(struct sdnotify *n);
/* RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC, as systemd's Type=notify-reload
 * wants); send sdnotify_ready when the reload is done. */
int sdnotify_reloading(struct sdnotify *n, const char *status);
int sdnotify_stopping(struct sdnotify *n, const char *status);
int sdnotify_mainpid(struct sdnotify *n, pid_t pid);

/*
 * The watchdog interval systemd asks for: usec and pid are the values of $WATCHDOG_USEC
 * and $WATCHDOG_PID (either may be NULL), self is getpid(). *interval_usec is 0 when no
 * watchdog is wanted (no WATCHDOG_USEC, or WATCHDOG_PID names another process). -1 with
 * EINVAL when a value is not a positive decimal number.
 */
int sdnotify_watchdog_parse(const char *usec, const char *pid, pid_t self, uint64_t *interval_usec);
/* sdnotify_watchdog_parse on this process's environment. */
int sdnotify_watchdog_env(uint64_t *interval_usec);
/* How often to send WATCHDOG=1 for an interval: half of it, as systemd recommends, in
 * milliseconds and at least 1; 0 for no watchdog. */
uint64_t sdnotify_watchdog_period_ms(uint64_t interval_usec);

#endif
