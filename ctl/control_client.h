/*
 * kls-ctl's side of klsd's control socket: connect, send one framed request, wait for
 * the reply with a deadline. Used by the action commands (workers, release, drain,
 * reload); `status` never needs it (it reads shared memory).
 */
#ifndef KLS_CTL_CONTROL_CLIENT_H
#define KLS_CTL_CONTROL_CLIENT_H

#include <stddef.h>

#include "common/frame.h"

/* Where klsd's sockets are unless the configuration says otherwise. */
#define CTL_RUN_DIR "/run/kls"

/*
 * Sends {"cmd": cmd, "args": {args...}} to the socket at path and waits at most
 * timeout_ms for the whole exchange. 0 with *rep filled (free it with frame_reply_free;
 * rep->ok may still be false: klsd refused), or -1 with msg saying what went wrong
 * (no socket, nobody listening, permission, timeout, a malformed reply).
 */
int ctl_control_call(const char *path, const char *cmd, const struct frame_arg *args, size_t nargs,
    int timeout_ms, struct frame_reply *rep, char *msg, size_t msg_size);

#endif
