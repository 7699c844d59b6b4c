/*
 * Control-socket frames: the incremental reader, a structural check of msgpack bytes
 * that runs before msgpack-c allocates anything, request and reply codecs, and a JSON
 * rendering of replies for kls-ctl. See frame.h for the wire format.
 */
#include "config.h"

#include "common/frame.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ERR(...) snprintf(err, errlen, __VA_ARGS__)

void
frame_reader_init(struct frame_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max > FRAME_MAX ? FRAME_MAX : max;
}

void
frame_reader_free(struct frame_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

/* read(2) once: >0 bytes, 0 end of stream, -1 would block, -2 error (err set). */
static ssize_t
read_some(int fd, void *p, size_t n, char *err, size_t errlen)
{
	for (;;) {
		ssize_t got = read(fd, p, n);
		if (got >= 0)
			return got;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -1;
		ERR("read: %s", strerror(errno));
		return -2;
	}
}

enum frame_status
frame_reader_read(struct frame_reader *r, int fd, char *err, size_t errlen)
{
	ssize_t n;

	if (r->ready) {
		/* The previous frame was consumed; a frame buffer lives only as long as
		 * its frame, so an idle connection holds no payload memory. */
		free(r->buf);
		r->buf = NULL;
		r->head_got = r->got = 0;
		r->len = 0;
		r->ready = false;
	}
	while (r->head_got < FRAME_HEAD) {
		n = read_some(fd, r->head + r->head_got, FRAME_HEAD - r->head_got, err, errlen);
		if (n == -1)
			return FRAME_AGAIN;
		if (n == -2)
			return FRAME_ERROR;
		if (n == 0) {
			if (r->head_got == 0)
				return FRAME_EOF;
			ERR("truncated frame: the stream ended after %zu of %d length bytes",
			    r->head_got, FRAME_HEAD);
			return FRAME_ERROR;
		}
		r->head_got += (size_t)n;
	}
	if (!r->buf) {
		r->len = (uint32_t)r->head[0] << 24 | (uint32_t)r->head[1] << 16 |
		         (uint32_t)r->head[2] << 8 | r->head[3];
		if (r->len == 0) {
			ERR("empty frame: the length prefix is 0");
			return FRAME_ERROR;
		}
		if (r->len > r->max) {
			ERR("frame of %" PRIu32 " bytes exceeds the %zu-byte limit", r->len,
			    r->max);
			return FRAME_ERROR;
		}
		r->buf = malloc(r->len);
		if (!r->buf) {
			ERR("no memory for a frame of %" PRIu32 " bytes", r->len);
			return FRAME_ERROR;
		}
	}
	while (r->got < r->len) {
		n = read_some(fd, r->buf + r->got, r->len - r->got, err, errlen);
		if (n == -1)
			return FRAME_AGAIN;
		if (n == -2)
			return FRAME_ERROR;
		if (n == 0) {
			ERR("truncated frame: the stream ended after %zu of %" PRIu32
			    " payload bytes",
			    r->got, r->len);
			return FRAME_ERROR;
		}
		r->got += (size_t)n;
	}
	r->ready = true;
	return FRAME_READY;
}

const char *
frame_reader_data(const struct frame_reader *r, size_t *len)
{
	*len = r->ready ? r->len : 0;
	return r->ready ? r->buf : NULL;
}

/* Big-endian unsigned integer of w bytes at p[*off], advancing *off. */
static int
get_be(const char *p, size_t n, size_t *off, unsigned w, uint64_t *v)
{
	if (n - *off < w)
		return -1;
	*v = 0;
	for (unsigned i = 0; i < w; i++)
		*v = *v << 8 | (unsigned char)p[(*off)++];
	return 0;
}

int
frame_check(const char *p, size_t n, char *err, size_t errlen)
{
	/* Objects still expected at each nesting level; level 0 is the one top object. */
	uint64_t left[FRAME_DEPTH_MAX + 1];
	int depth = 0;
	size_t off = 0;

	left[0] = 1;
	while (depth >= 0) {
		unsigned char c;
		uint64_t len = 0, count = 0;
		unsigned lenw = 0, fixed = 0;
		const char *what = NULL; /* a container's or sized value's name */
		size_t at;

		if (left[depth] == 0) {
			depth--;
			continue;
		}
		left[depth]--;
		if (off >= n) {
			ERR("truncated msgpack: an object is missing at offset %zu", off);
			return -1;
		}
		at = off;
		c = (unsigned char)p[off++];
		if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
			continue; /* fixints, nil, booleans */
		} else if (c <= 0x8f) {
			what = "map", count = 2 * (uint64_t)(c & 0x0f);
		} else if (c <= 0x9f) {
			what = "array", count = c & 0x0f;
		} else if (c <= 0xbf) {
			what = "string", len = c & 0x1f;
		} else if (c == 0xc1) {
			ERR("malformed msgpack: byte 0xc1 (never used) at offset %zu", at);
			return -1;
		} else if (c <= 0xc6) {
			what = "binary", lenw = 1u << (c - 0xc4);
		} else if (c <= 0xc9) {
			what = "extension", lenw = 1u << (c - 0xc7), fixed = 1;
		} else if (c <= 0xd3) {
			/* float32, float64, uint8..64, int8..64 */
			static const unsigned widths[] = {4, 8, 1, 2, 4, 8, 1, 2, 4, 8};
			what = "number", fixed = widths[c - 0xca];
		} else if (c <= 0xd8) {
			what = "extension", fixed = 1 + (1u << (c - 0xd4));
		} else if (c <= 0xdb) {
			what = "string", lenw = 1u << (c - 0xd9);
		} else if (c <= 0xdd) {
			what = "array", lenw = c == 0xdc ? 2 : 4;
		} else {
			what = "map", lenw = c == 0xde ? 2 : 4;
		}
		if (lenw && get_be(p, n, &off, lenw, &len) < 0) {
			ERR("truncated msgpack: the %s at offset %zu ends inside its length", what,
			    at);
			return -1;
		}
		if (c >= 0xdc && c <= 0xdf) {
			/* array16/32, map16/32: the length field is an element count */
			count = c >= 0xde ? 2 * len : len;
			len = 0;
		}
		if (len + fixed > n - off) {
			ERR("truncated msgpack: the %s at offset %zu needs %" PRIu64
			    " bytes, %zu follow",
			    what, at, len + fixed, n - off);
			return -1;
		}
		off += len + fixed;
		if (count == 0)
			continue;
		/* Every element takes at least one byte: a count beyond the bytes left is
		 * a lie, refused before msgpack-c would allocate room for it. */
		if (count > n - off) {
			ERR("truncated msgpack: the %s at offset %zu declares %" PRIu64
			    " elements, %zu bytes follow",
			    what, at, what[0] == 'm' ? count / 2 : count, n - off);
			return -1;
		}
		if (depth == FRAME_DEPTH_MAX) {
			ERR("msgpack nested deeper than %d levels at offset %zu", FRAME_DEPTH_MAX,
			    at);
			return -1;
		}
		left[++depth] = count;
	}
	if (off < n) {
		ERR("%zu bytes after the msgpack object (one map per frame)", n - off);
		return -1;
	}
	return 0;
}

const char *
frame_type_name(msgpack_object_type t)
{
	switch (t) {
	case MSGPACK_OBJECT_NIL:
		return "nil";
	case MSGPACK_OBJECT_BOOLEAN:
		return "a boolean";
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return "an integer";
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return "a float";
	case MSGPACK_OBJECT_STR:
		return "a string";
	case MSGPACK_OBJECT_ARRAY:
		return "an array";
	case MSGPACK_OBJECT_MAP:
		return "a map";
	case MSGPACK_OBJECT_BIN:
		return "binary";
	case MSGPACK_OBJECT_EXT:
		return "an extension";
	}
	return "an unknown type";
}

/* A peer's string made safe to quote in a message: at most 32 bytes, printable ASCII. */
static const char *
show(const msgpack_object_str *s, char *out, size_t size)
{
	size_t n = s->size < 32 ? s->size : 32, i;

	if (size == 0)
		return "";
	if (n > size - 1)
		n = size - 1;
	for (i = 0; i < n; i++)
		out[i] = s->ptr[i] >= 0x20 && s->ptr[i] < 0x7f ? s->ptr[i] : '?';
	out[i] = '\0';
	return out;
}

static bool
str_is(const msgpack_object_str *s, const char *lit)
{
	return s->size == strlen(lit) && memcmp(s->ptr, lit, s->size) == 0;
}

static void
unpacked_free(msgpack_unpacked *u, char **raw)
{
	msgpack_unpacked_destroy(u);
	free(*raw);
	*raw = NULL;
}

/* Checks, copies (into *raw) and unpacks one map; what names it in messages. */
static int
unpack_map(msgpack_unpacked *u, char **raw, const char *p, size_t n, const char *what, char *err,
    size_t errlen)
{
	size_t off = 0;
	msgpack_unpack_return rc;

	if (frame_check(p, n, err, errlen) < 0)
		return -1;
	*raw = malloc(n);
	if (!*raw) {
		ERR("no memory to decode the %s", what);
		return -1;
	}
	memcpy(*raw, p, n);
	msgpack_unpacked_init(u);
	rc = msgpack_unpack_next(u, *raw, n, &off);
	if (rc != MSGPACK_UNPACK_SUCCESS) {
		unpacked_free(u, raw);
		ERR("msgpack could not decode the %s (%s)", what,
		    rc == MSGPACK_UNPACK_NOMEM_ERROR ? "out of memory" : "parse error");
		return -1;
	}
	if (u->data.type != MSGPACK_OBJECT_MAP) {
		ERR("the %s is %s, not a map", what, frame_type_name(u->data.type));
		unpacked_free(u, raw);
		return -1;
	}
	for (uint32_t i = 0; i < u->data.via.map.size; i++) {
		const msgpack_object *k = &u->data.via.map.ptr[i].key;
		if (k->type != MSGPACK_OBJECT_STR) {
			ERR("key %" PRIu32 " of the %s is %s, not a string", i + 1, what,
			    frame_type_name(k->type));
			unpacked_free(u, raw);
			return -1;
		}
		for (uint32_t j = 0; j < i; j++)
			if (u->data.via.map.ptr[j].key.via.str.size == k->via.str.size &&
			    !memcmp(u->data.via.map.ptr[j].key.via.str.ptr, k->via.str.ptr,
			        k->via.str.size)) {
				char s[40];
				ERR("key \"%s\" appears twice in the %s",
				    show(&k->via.str, s, sizeof(s)), what);
				unpacked_free(u, raw);
				return -1;
			}
	}
	return 0;
}

int
frame_request_decode(struct frame_request *req, const char *p, size_t n, char *err, size_t errlen)
{
	const msgpack_object_map *m;
	char s[40];

	memset(req, 0, sizeof(*req));
	if (unpack_map(&req->msg, &req->raw, p, n, "request", err, errlen) < 0)
		return -1;
	m = &req->msg.data.via.map;
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object_str *k = &m->ptr[i].key.via.str;
		const msgpack_object *v = &m->ptr[i].val;

		if (str_is(k, "cmd")) {
			if (v->type != MSGPACK_OBJECT_STR) {
				ERR("\"cmd\" is %s, not a string", frame_type_name(v->type));
				goto fail;
			}
			if (v->via.str.size == 0 || v->via.str.size > FRAME_CMD_MAX ||
			    memchr(v->via.str.ptr, '\0', v->via.str.size)) {
				ERR("\"cmd\" must be 1 to %d bytes without NUL, not %" PRIu32
				    " bytes",
				    FRAME_CMD_MAX, v->via.str.size);
				goto fail;
			}
			memcpy(req->cmd, v->via.str.ptr, v->via.str.size);
		} else if (str_is(k, "args")) {
			if (v->type != MSGPACK_OBJECT_MAP) {
				ERR("\"args\" is %s, not a map", frame_type_name(v->type));
				goto fail;
			}
			for (uint32_t j = 0; j < v->via.map.size; j++)
				if (v->via.map.ptr[j].key.type != MSGPACK_OBJECT_STR) {
					ERR("key %" PRIu32 " of \"args\" is %s, not a string",
					    j + 1, frame_type_name(v->via.map.ptr[j].key.type));
					goto fail;
				}
			req->args = v;
		} else {
			/* Strict: a request klsd does not fully understand is not executed. */
			ERR("unknown key \"%s\" in the request (expected \"cmd\", \"args\")",
			    show(k, s, sizeof(s)));
			goto fail;
		}
	}
	if (!req->cmd[0]) {
		ERR("the request has no \"cmd\"");
		goto fail;
	}
	return 0;
fail:
	frame_request_free(req);
	return -1;
}

void
frame_request_free(struct frame_request *req)
{
	unpacked_free(&req->msg, &req->raw);
	memset(req, 0, sizeof(*req));
}

int
frame_reply_decode(struct frame_reply *rep, const char *p, size_t n, char *err, size_t errlen)
{
	const msgpack_object_map *m;
	bool have_ok = false, have_error = false;

	memset(rep, 0, sizeof(*rep));
	if (unpack_map(&rep->msg, &rep->raw, p, n, "reply", err, errlen) < 0)
		return -1;
	m = &rep->msg.data.via.map;
	/* Tolerant of keys it does not know: a newer klsd may say more than we print. */
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object_str *k = &m->ptr[i].key.via.str;
		const msgpack_object *v = &m->ptr[i].val;

		if (str_is(k, "ok")) {
			if (v->type != MSGPACK_OBJECT_BOOLEAN) {
				ERR("\"ok\" is %s, not a boolean", frame_type_name(v->type));
				goto fail;
			}
			rep->ok = v->via.boolean;
			have_ok = true;
		} else if (str_is(k, "error")) {
			if (v->type != MSGPACK_OBJECT_STR) {
				ERR("\"error\" is %s, not a string", frame_type_name(v->type));
				goto fail;
			}
			snprintf(rep->error, sizeof(rep->error), "%.*s",
			    (int)(v->via.str.size < FRAME_ERROR_MAX ? v->via.str.size
			                                            : FRAME_ERROR_MAX),
			    v->via.str.ptr);
			have_error = true;
		} else if (str_is(k, "data")) {
			rep->data = v->type == MSGPACK_OBJECT_NIL ? NULL : v;
		}
	}
	if (!have_ok) {
		ERR("the reply has no \"ok\"");
		goto fail;
	}
	if (!rep->ok && !have_error) {
		ERR("a failed reply without \"error\"");
		goto fail;
	}
	return 0;
fail:
	frame_reply_free(rep);
	return -1;
}

void
frame_reply_free(struct frame_reply *rep)
{
	unpacked_free(&rep->msg, &rep->raw);
	memset(rep, 0, sizeof(*rep));
}

int
frame_arg_str(const struct frame_request *req, const char *key, char *out, size_t size, char *err,
    size_t errlen)
{
	const msgpack_object_map *m;

	if (!req->args)
		return 0;
	m = &req->args->via.map;
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object *v = &m->ptr[i].val;
		if (!str_is(&m->ptr[i].key.via.str, key))
			continue;
		if (v->type != MSGPACK_OBJECT_STR) {
			ERR("argument \"%s\" is %s, not a string", key, frame_type_name(v->type));
			return -1;
		}
		if (v->via.str.size >= size || memchr(v->via.str.ptr, '\0', v->via.str.size)) {
			ERR("argument \"%s\" must be under %zu bytes without NUL, not %" PRIu32
			    " bytes",
			    key, size, v->via.str.size);
			return -1;
		}
		memcpy(out, v->via.str.ptr, v->via.str.size);
		out[v->via.str.size] = '\0';
		return 1;
	}
	return 0;
}

static int
pack_write(void *data, const char *p, size_t n)
{
	return buf_append(data, p, n);
}

void
frame_packer_init(msgpack_packer *pk, struct kls_buf *b)
{
	msgpack_packer_init(pk, b, pack_write);
}

int
frame_pack_cstr(msgpack_packer *pk, const char *s)
{
	return msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* Reserves the length prefix of a frame that starts at out->len. */
static int
frame_open(struct kls_buf *out, size_t *start, msgpack_packer *pk)
{
	*start = out->len;
	frame_packer_init(pk, out);
	return buf_append(out, "\0\0\0\0", FRAME_HEAD);
}

/* Fills in the length, or undoes the frame: rc is the packing's result so far. */
static int
frame_close(struct kls_buf *out, size_t start, int rc)
{
	size_t payload = out->len - start - FRAME_HEAD;
	int saved = errno;

	if (rc == 0 && payload > FRAME_MAX)
		rc = -1, saved = EMSGSIZE;
	if (rc != 0) {
		if (out->data) {
			out->len = start;
			out->data[start] = '\0';
		}
		errno = saved ? saved : ENOMEM;
		return -1;
	}
	for (int i = 0; i < FRAME_HEAD; i++)
		out->data[start + i] = (char)(payload >> (8 * (FRAME_HEAD - 1 - i)));
	return 0;
}

int
frame_encode_request(
    struct kls_buf *out, const char *cmd, const struct frame_arg *args, size_t nargs)
{
	msgpack_packer pk;
	size_t start;
	int rc;

	if (!cmd[0] || strlen(cmd) > FRAME_CMD_MAX || nargs > UINT32_MAX) {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	rc = frame_open(out, &start, &pk);
	if (rc)
		return -1;
	rc = msgpack_pack_map(&pk, nargs ? 2 : 1);
	rc = rc ? rc : frame_pack_cstr(&pk, "cmd");
	rc = rc ? rc : frame_pack_cstr(&pk, cmd);
	if (nargs) {
		rc = rc ? rc : frame_pack_cstr(&pk, "args");
		rc = rc ? rc : msgpack_pack_map(&pk, nargs);
		for (size_t i = 0; i < nargs && !rc; i++) {
			rc = frame_pack_cstr(&pk, args[i].key);
			rc = rc ? rc : frame_pack_cstr(&pk, args[i].value);
		}
	}
	return frame_close(out, start, rc);
}

int
frame_encode_reply_ok(struct kls_buf *out, const char *data, size_t len)
{
	char err[FRAME_ERRLEN];
	msgpack_packer pk;
	size_t start;
	int rc;

	if (data && frame_check(data, len, err, sizeof(err)) < 0) {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	if (frame_open(out, &start, &pk))
		return -1;
	rc = msgpack_pack_map(&pk, data ? 2 : 1);
	rc = rc ? rc : frame_pack_cstr(&pk, "ok");
	rc = rc ? rc : msgpack_pack_true(&pk);
	if (data) {
		rc = rc ? rc : frame_pack_cstr(&pk, "data");
		/* Already one packed object: its bytes are the value. */
		rc = rc ? rc : buf_append(out, data, len);
	}
	return frame_close(out, start, rc);
}

int
frame_encode_reply_error(struct kls_buf *out, const char *error)
{
	size_t n = strlen(error);
	msgpack_packer pk;
	size_t start;
	int rc;

	if (n > FRAME_ERROR_MAX) {
		n = FRAME_ERROR_MAX;
		while (n > 0 && ((unsigned char)error[n] & 0xc0) == 0x80)
			n--;
	}
	errno = 0;
	if (frame_open(out, &start, &pk))
		return -1;
	rc = msgpack_pack_map(&pk, 2);
	rc = rc ? rc : frame_pack_cstr(&pk, "ok");
	rc = rc ? rc : msgpack_pack_false(&pk);
	rc = rc ? rc : frame_pack_cstr(&pk, "error");
	rc = rc ? rc : msgpack_pack_str_with_body(&pk, error, n);
	return frame_close(out, start, rc);
}

int
frame_flush(int fd, struct kls_buf *out, size_t *off)
{
	while (*off < out->len) {
		ssize_t w = send(fd, out->data + *off, out->len - *off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		*off += (size_t)w;
	}
	buf_reset(out);
	*off = 0;
	return 1;
}

static int
json_str(struct kls_buf *out, const char *p, size_t n)
{
	int rc = buf_append(out, "\"", 1);

	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '"' || c == '\\')
			rc = buf_printf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			rc = buf_printf(out, "\\u%04x", c);
		else
			rc = buf_append(out, &p[i], 1);
	}
	return rc ? rc : buf_append(out, "\"", 1);
}

static int
json_newline(struct kls_buf *out, int indent, int level)
{
	if (indent == 0)
		return 0;
	return buf_printf(out, "\n%*s", indent * level, "");
}

static int
json_value(struct kls_buf *out, const msgpack_object *o, int indent, int level)
{
	int rc = 0;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return buf_puts(out, "null");
	case MSGPACK_OBJECT_BOOLEAN:
		return buf_puts(out, o->via.boolean ? "true" : "false");
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return buf_printf(out, "%" PRIu64, o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return buf_printf(out, "%" PRId64, o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64))
			return buf_puts(out, "null");
		return buf_printf(out, "%.17g", o->via.f64);
	case MSGPACK_OBJECT_STR:
		return json_str(out, o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		return buf_printf(out, "\"<%" PRIu32 " bytes>\"", o->via.bin.size);
	case MSGPACK_OBJECT_EXT:
		return buf_printf(out, "\"<%" PRIu32 " bytes>\"", o->via.ext.size);
	case MSGPACK_OBJECT_ARRAY:
		rc = buf_puts(out, "[");
		for (uint32_t i = 0; i < o->via.array.size && !rc; i++) {
			rc = i ? buf_puts(out, indent ? "," : ", ") : 0;
			rc = rc ? rc : json_newline(out, indent, level + 1);
			rc = rc ? rc : json_value(out, &o->via.array.ptr[i], indent, level + 1);
		}
		if (!rc && o->via.array.size)
			rc = json_newline(out, indent, level);
		return rc ? rc : buf_puts(out, "]");
	case MSGPACK_OBJECT_MAP:
		rc = buf_puts(out, "{");
		for (uint32_t i = 0; i < o->via.map.size && !rc; i++) {
			const msgpack_object *k = &o->via.map.ptr[i].key;
			rc = i ? buf_puts(out, indent ? "," : ", ") : 0;
			rc = rc ? rc : json_newline(out, indent, level + 1);
			if (!rc && k->type == MSGPACK_OBJECT_STR) {
				rc = json_str(out, k->via.str.ptr, k->via.str.size);
			} else if (!rc) {
				/* JSON keys are strings: quote the key's own rendering. */
				struct kls_buf kb;
				buf_init(&kb, FRAME_MAX);
				rc = json_value(&kb, k, 0, 0);
				rc = rc ? rc : json_str(out, kb.data, kb.len);
				buf_free(&kb);
			}
			rc = rc ? rc : buf_puts(out, ": ");
			rc = rc ? rc : json_value(out, &o->via.map.ptr[i].val, indent, level + 1);
		}
		if (!rc && o->via.map.size)
			rc = json_newline(out, indent, level);
		return rc ? rc : buf_puts(out, "}");
	}
	return buf_puts(out, "null");
}

int
frame_object_json(struct kls_buf *out, const msgpack_object *o, int indent)
{
	return json_value(out, o, indent, 0);
}
