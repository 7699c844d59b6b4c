/*
 * klsd's control socket: a unix stream socket (mode 0600 in a 0700 directory) where
 * kls-ctl sends framed msgpack requests (common/frame.h) and gets one reply per request.
 * klsd registers a table of commands with callbacks, so this file knows nothing of
 * leases or readers: it owns the socket, the peers' credentials, framing and the limits.
 *
 * Built for klsd's poll loop: everything (listener, connections, idle timer) sits behind
 * one epoll descriptor. Poll control_fd() for POLLIN and call control_handle() when it is
 * readable; nothing blocks. A peer whose uid is neither klsd's nor root's, a frame that is
 * truncated, mistyped or oversized, gets an error reply and its connection is closed; the
 * server keeps serving everyone else. Refused peers and bad frames are logged (warn).
 * Single-threaded: control_open sets the umask around bind.
 */
#ifndef KLS_CONTROL_H
#define KLS_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#include "common/frame.h"

/* Defaults for struct control_config's zero fields. */
#define CONTROL_CLIENTS_DEFAULT 16
#define CONTROL_IDLE_MS_DEFAULT 10000

/*
 * A command: pack the reply's data as exactly one msgpack object into `data` (or pack
 * nothing: the reply then has no data) and return 0; or write a message for the operator
 * into err and return -1 (the reply is {"ok": false, "error": err}). Requests' arguments
 * are read with frame_arg_str(req, ...). Data over FRAME_MAX becomes an error reply.
 */
typedef int (*control_fn)(
    void *ctx, const struct frame_request *req, msgpack_packer *data, char *err, size_t errlen);

struct control_command {
	const char *name; /* "status", "workers", "release", "drain", "reload" */
	control_fn fn;
};

struct control_config {
	const char *path; /* absolute, shorter than sun_path; its parent is made 0700 */
	uid_t uid;        /* the uid allowed besides root: klsd passes geteuid() */
	const struct control_command *commands;
	size_t ncommands;
	void *ctx;                /* passed to every callback */
	unsigned max_clients;     /* connections at once; 0 = CONTROL_CLIENTS_DEFAULT */
	unsigned idle_timeout_ms; /* a connection silent this long is closed; 0 = default */
};

struct control_server;

/*
 * Creates the parent directory if missing (0700), replaces a stale socket at path only
 * when nothing answers on it (refuses when something does, or when path is not a
 * socket), binds 0600 and listens. 0 with *out, or -1 with err naming the call and path.
 */
int control_open(
    struct control_server **out, const struct control_config *cfg, char *err, size_t errlen);
/* The one descriptor to poll for POLLIN. */
int control_fd(const struct control_server *s);
/* Accepts, reads, dispatches, replies and expires idle connections: whatever is ready.
 * 0, or -1 with errno when epoll itself failed. */
int control_handle(struct control_server *s);
/* Connections open now (for tests and status). */
size_t control_clients(const struct control_server *s);
/* Tries once to send replies still queued (e.g. drain's), closes everything, and
 * unlinks the socket if it is still the one this server bound. NULL is a no-op. */
void control_close(struct control_server *s);

#endif
