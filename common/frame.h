/*
 * Frames of klsd's control socket: a 4-byte big-endian payload length, then exactly one
 * msgpack map of that many bytes. Requests are {"cmd": str, "args": map (optional)},
 * replies {"ok": bool, "error": str (when not ok), "data": any (optional)}.
 *
 * Everything from the peer is bounded and checked before msgpack-c sees it: the length
 * against FRAME_MAX before any allocation, then the payload's structure (every container
 * count and string length against the bytes that follow, nesting depth, trailing bytes)
 * so a six-byte frame cannot ask the decoder for gigabytes. Errors are precise sentences
 * ("\"cmd\" is an integer, not a string") that the server sends back in its error reply.
 * Library code: nothing here logs or exits.
 */
#ifndef KLS_FRAME_H
#define KLS_FRAME_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Largest payload (after the 4-byte length) either side accepts or sends. */
#define FRAME_MAX (64 * 1024)
#define FRAME_HEAD 4
/* Deepest nesting of maps and arrays accepted in a payload. */
#define FRAME_DEPTH_MAX 16
/* Longest command name, and longest error text kept from a reply. */
#define FRAME_CMD_MAX 32
#define FRAME_ERROR_MAX 512
/* Room for any message these functions write into err. */
#define FRAME_ERRLEN 256

/* Incremental reader for a non-blocking descriptor. */
enum frame_status {
	FRAME_ERROR = -1, /* err says why; the stream is unusable after this */
	FRAME_AGAIN = 0,  /* no complete frame yet (EAGAIN): poll and call again */
	FRAME_READY = 1,  /* frame_reader_data has one complete payload */
	FRAME_EOF = 2,    /* the peer closed between frames */
};

struct frame_reader {
	unsigned char head[FRAME_HEAD];
	size_t head_got;
	uint32_t len; /* payload length, once head_got == FRAME_HEAD */
	size_t got;
	char *buf;
	size_t max;
	bool ready;
};

/* max: largest payload accepted (FRAME_MAX or less). */
void frame_reader_init(struct frame_reader *r, size_t max);
void frame_reader_free(struct frame_reader *r);
/*
 * Reads from fd until one frame is complete or fd has nothing more, never past the end
 * of the frame (so the next frame stays in the socket). Calling it after FRAME_READY
 * starts the next frame. A length over max or of 0 is an error as soon as the 4 bytes
 * are in, before the payload is read; an end of stream inside a frame is "truncated".
 */
enum frame_status frame_reader_read(struct frame_reader *r, int fd, char *err, size_t errlen);
/* The payload of the frame just read (valid until the next frame_reader_read). */
const char *frame_reader_data(const struct frame_reader *r, size_t *len);

/*
 * Checks that p[0..n) is exactly one well-formed msgpack object whose containers and
 * strings fit in n bytes and nest at most FRAME_DEPTH_MAX deep. 0, or -1 with err.
 */
int frame_check(const char *p, size_t n, char *err, size_t errlen);

/* A decoded request. msgpack-c's strings point into the bytes decoded, so the decoders
 * keep their own copy (raw): the frame's buffer may be reused at once. */
struct frame_request {
	char cmd[FRAME_CMD_MAX + 1];
	const msgpack_object *args; /* a map, or NULL when the request has none */
	msgpack_unpacked msg;
	char *raw;
};

/* A decoded reply; data points into msg and raw, NULL when absent. */
struct frame_reply {
	bool ok;
	char error[FRAME_ERROR_MAX + 1];
	const msgpack_object *data;
	msgpack_unpacked msg;
	char *raw;
};

/* Both decoders: 0, or -1 with err (and nothing to free). Free with the _free calls. */
int frame_request_decode(
    struct frame_request *req, const char *p, size_t n, char *err, size_t errlen);
void frame_request_free(struct frame_request *req);
int frame_reply_decode(struct frame_reply *rep, const char *p, size_t n, char *err, size_t errlen);
void frame_reply_free(struct frame_reply *rep);

/* A request's string argument: 1 copied to out, 0 absent, -1 (err) not a string or
 * longer than size - 1 bytes. */
int frame_arg_str(const struct frame_request *req, const char *key, char *out, size_t size,
    char *err, size_t errlen);

/* A string-valued request argument to encode. */
struct frame_arg {
	const char *key;
	const char *value;
};

/*
 * Encoders append one whole frame (length included) to out; on failure out is left as it
 * was. -1 with errno EMSGSIZE (payload over FRAME_MAX), EINVAL (a command name that is
 * empty or longer than FRAME_CMD_MAX, data that is not one msgpack object), or ENOMEM.
 */
int frame_encode_request(
    struct kls_buf *out, const char *cmd, const struct frame_arg *args, size_t nargs);
/* data: one packed msgpack object (len bytes) for "data", or NULL for none. */
int frame_encode_reply_ok(struct kls_buf *out, const char *data, size_t len);
/* An error text longer than FRAME_ERROR_MAX is cut (at a UTF-8 boundary). */
int frame_encode_reply_error(struct kls_buf *out, const char *error);

/* Makes pk append to b (whose limit bounds what a producer can pack). */
void frame_packer_init(msgpack_packer *pk, struct kls_buf *b);
/* Packs a NUL-terminated string. */
int frame_pack_cstr(msgpack_packer *pk, const char *s);

/*
 * Writes out->data[*off..out->len) to a non-blocking fd: 1 all written (out is reset),
 * 0 the socket is full (poll for POLLOUT and call again), -1 with errno.
 */
int frame_flush(int fd, struct kls_buf *out, size_t *off);

/* Appends o as JSON (maps with non-string keys get their keys rendered as strings; binary
 * and extension values as "<N bytes>"), indented by `indent` spaces per level (0: one
 * line). For printing replies. 0, or -1 with errno. */
int frame_object_json(struct kls_buf *out, const msgpack_object *o, int indent);
/* The msgpack type's name for messages: "a string", "an integer", ... */
const char *frame_type_name(msgpack_object_type t);

#endif
