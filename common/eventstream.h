/*
 * An incremental decoder for the AWS event stream framing
 * (application/vnd.amazon.eventstream), the body of a Kinesis SubscribeToShard response.
 *
 * Bytes arrive in whatever chunks libcurl hands over: a message may be split across
 * chunks and a chunk may hold several messages. eventstream_next() takes the chunk,
 * consumes bytes until one message is complete and returns it, or consumes the whole
 * chunk and asks for more. Only the message being assembled is buffered, so memory is
 * bounded by the largest message allowed, not by the chunk size or the stream length.
 *
 * Wire format (integers big-endian, CRC-32 as in zlib/gzip):
 *   u32 total_length, u32 headers_length, u32 prelude_crc (over the 8 bytes before it),
 *   headers (headers_length bytes), payload, u32 message_crc (over everything before it).
 *   A header: u8 name_len (>= 1), name, u8 type, value (see enum eventstream_type).
 *
 * Every problem (a CRC mismatch, a length out of bounds, a header running past its
 * block, an unknown type, the stream ending inside a message) is reported with what was
 * wrong and its stream offset, and leaves the decoder failed: a corrupt stream cannot be
 * resynchronised, so the caller drops the subscription and subscribes again (after
 * eventstream_reset()).
 */
#ifndef KLS_EVENTSTREAM_H
#define KLS_EVENTSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Prelude (two lengths and their CRC) plus the message CRC: the empty message's size. */
#define EVENTSTREAM_PRELUDE_LEN 12
#define EVENTSTREAM_MIN_MESSAGE 16
#define EVENTSTREAM_UUID_LEN 16

enum eventstream_type {
	EVENTSTREAM_BOOL_TRUE = 0, /* no value bytes */
	EVENTSTREAM_BOOL_FALSE = 1,
	EVENTSTREAM_BYTE = 2,      /* int8 */
	EVENTSTREAM_INT16 = 3,
	EVENTSTREAM_INT32 = 4,
	EVENTSTREAM_INT64 = 5,
	EVENTSTREAM_BYTES = 6,     /* u16 length + bytes */
	EVENTSTREAM_STRING = 7,    /* u16 length + UTF-8 (not checked here) */
	EVENTSTREAM_TIMESTAMP = 8, /* int64 milliseconds since the epoch */
	EVENTSTREAM_UUID = 9,      /* 16 bytes */
};

struct eventstream_limits {
	size_t max_message;     /* total_length: 16 MiB (a SubscribeToShardEvent is far less) */
	size_t max_headers_len; /* headers_length: 128 KiB */
	size_t max_headers;     /* headers in one message: 128 (Kinesis sends 3 or 4) */
	size_t max_value_len;   /* a string or byte array value: 32767, as aws-c-event-stream */
};

/* One header. Pointers are into the decoder and valid until its next call. */
struct eventstream_header {
	const char *name; /* NUL-terminated copy; name_len bytes, 1 to 255 (may hold a NUL) */
	size_t name_len;
	enum eventstream_type type;
	/* Types 0-5 and 8: the value, sign-extended (bool: 1 or 0). */
	int64_t num;
	/* Types 6, 7, 9: NUL-terminated copy of the value bytes (uuid: 16 bytes), else NULL. */
	const unsigned char *bytes;
	size_t bytes_len;
};

/* One complete, CRC-checked message. Pointers are valid until the decoder's next call. */
struct eventstream_message {
	uint64_t offset; /* stream offset of the message's first byte */
	uint32_t total_len;
	uint32_t headers_len;
	uint32_t prelude_crc;
	uint32_t message_crc;
	const struct eventstream_header *headers; /* in wire order */
	size_t n_headers;
	const unsigned char *payload; /* followed by a NUL not counted in payload_len */
	size_t payload_len;
};

enum eventstream_errkind {
	EVENTSTREAM_ERR_NONE = 0,
	EVENTSTREAM_ERR_PRELUDE_CRC,  /* the prelude's CRC does not match its 8 bytes */
	EVENTSTREAM_ERR_MESSAGE_CRC,  /* the message CRC does not match */
	EVENTSTREAM_ERR_LENGTH,       /* total or headers length impossible or over a limit */
	EVENTSTREAM_ERR_HEADER,       /* a malformed header, or too many */
	EVENTSTREAM_ERR_TRUNCATED,    /* the stream ended inside a message */
	EVENTSTREAM_ERR_NOMEM,
};

struct eventstream_error {
	enum eventstream_errkind kind;
	int errnum;      /* EBADMSG (corrupt), EMSGSIZE (over a limit), EINVAL, ENOMEM */
	uint64_t offset; /* stream offset of the field found wrong */
	/* "event stream: prelude CRC mismatch (computed 0x..., received 0x...) at stream
	 * offset 1234" */
	char message[256];
};

/* Everything here is private to eventstream.c; callers use the functions below. */
struct eventstream_decoder {
	struct eventstream_limits lim;
	struct kls_buf msg;     /* the message being assembled; its payload is NUL-ended */
	struct kls_buf strings; /* NUL-terminated copies of header names and values */
	struct eventstream_header *headers;
	size_t headers_cap;
	uint64_t consumed;   /* stream bytes consumed so far */
	uint32_t total_len;  /* of the message being assembled; 0 while in its prelude */
	uint32_t headers_len;
	bool ready;  /* a message was returned: its views live until the next call */
	bool failed;
	struct eventstream_error err;
};

/* The defaults named in struct eventstream_limits. */
void eventstream_limits_default(struct eventstream_limits *lim);

/* lim NULL means the defaults. Returns 0, or -1 with errno EINVAL for unusable limits
 * (zero, or a message limit below 16 bytes or above 2^32 - 1). Allocates nothing yet. */
int eventstream_init(struct eventstream_decoder *d, const struct eventstream_limits *lim);
void eventstream_free(struct eventstream_decoder *d);
/* Back to the start of a new stream (for a new subscription): clears a failure and any
 * partial message, keeps buffers and limits. */
void eventstream_reset(struct eventstream_decoder *d);

/*
 * Consumes bytes from *data (*len of them), advancing both, until a message is complete.
 * Returns 1 with *msg filled (more messages may follow in what is left of *data: call
 * again), 0 when all of *data was consumed and the message in progress needs more bytes,
 * or -1 with errno set and eventstream_error() saying what was wrong (and for every call
 * after that, until eventstream_reset()).
 *   while ((rc = eventstream_next(d, &p, &n, &m)) == 1)
 *       handle(&m);
 */
int eventstream_next(struct eventstream_decoder *d, const unsigned char **data, size_t *len,
    struct eventstream_message *msg);

/* The stream has ended (connection closed): 0 when it ended between messages, or -1
 * with errno EBADMSG (EVENTSTREAM_ERR_TRUNCATED) when a message was cut off, or when the
 * decoder had already failed. */
int eventstream_finish(struct eventstream_decoder *d);

/* The last error; kind EVENTSTREAM_ERR_NONE when none. */
const struct eventstream_error *eventstream_error(const struct eventstream_decoder *d);

/* Stream bytes consumed since init or reset. */
uint64_t eventstream_offset(const struct eventstream_decoder *d);

/* The first header named name (compared over its full length), or NULL. */
const struct eventstream_header *eventstream_header_find(const struct eventstream_message *m,
    const char *name);
/* How many headers are named name. */
size_t eventstream_header_count(const struct eventstream_message *m, const char *name);

/* CRC-32 (IEEE 802.3, reflected 0xEDB88320; zlib's crc32()): pass 0 to start, the
 * previous result to continue. */
uint32_t eventstream_crc32(uint32_t crc, const void *p, size_t n);

/* "bool true", "string", ...: for messages and tests; "unknown" outside 0-9. */
const char *eventstream_type_name(int type);

#endif
