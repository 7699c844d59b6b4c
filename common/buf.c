/* Growable byte buffer with a hard cap: bounds what we accept from outside. */
#include "config.h"

#include "common/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
buf_init(struct kls_buf *b, size_t limit)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->limit = limit;
}

void
buf_free(struct kls_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_reset(struct kls_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int
buf_reserve(struct kls_buf *b, size_t extra)
{
	size_t need, ncap;
	char *p;

	if (extra > SIZE_MAX - b->len - 1) {
		errno = ENOMEM;
		return -1;
	}
	need = b->len + extra + 1;
	if (b->limit && need > b->limit + 1) {
		errno = EMSGSIZE;
		return -1;
	}
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	p = realloc(b->data, ncap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
buf_append(struct kls_buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_puts(struct kls_buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_printf(struct kls_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room = b->data && b->cap > b->len ? b->cap - b->len : 0;
	int n;

	/* Formatted straight into the room already allocated, which is the usual case for
	 * a buffer reused across calls; only text that does not fit is formatted twice. */
	va_start(ap, fmt);
	n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < room && (!b->limit || b->len + (size_t)n <= b->limit)) {
		b->len += (size_t)n;
		return 0;
	}
	if (b->data)
		b->data[b->len] = '\0'; /* whatever did not fit is not part of the buffer */
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int
buf_json_string(struct kls_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	if (buf_append(b, "\"", 1) < 0)
		return -1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[7];
		size_t n = 0;
		switch (*p) {
		case '"': esc[n++] = '\\'; esc[n++] = '"'; break;
		case '\\': esc[n++] = '\\'; esc[n++] = '\\'; break;
		case '\n': esc[n++] = '\\'; esc[n++] = 'n'; break;
		case '\r': esc[n++] = '\\'; esc[n++] = 'r'; break;
		case '\t': esc[n++] = '\\'; esc[n++] = 't'; break;
		default:
			if (*p < 0x20) {
				memcpy(esc, "\\u00", 4);
				n = 4;
				esc[n++] = hex[*p >> 4];
				esc[n++] = hex[*p & 15];
			} else {
				esc[n++] = (char)*p;
			}
		}
		if (buf_append(b, esc, n) < 0)
			return -1;
	}
	return buf_append(b, "\"", 1);
}
