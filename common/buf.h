/* A growable byte buffer with a hard cap, for request and response bodies. */
#ifndef KLS_BUF_H
#define KLS_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct kls_buf {
	char *data; /* always NUL-terminated when non-NULL, so text can be parsed in place */
	size_t len;
	size_t cap;
	size_t limit; /* 0 = no limit; appends past it fail with EMSGSIZE */
};

void buf_init(struct kls_buf *b, size_t limit);
void buf_free(struct kls_buf *b);
void buf_reset(struct kls_buf *b);
/* 0, or -1 with errno ENOMEM or EMSGSIZE (past the limit). */
int buf_reserve(struct kls_buf *b, size_t extra);
int buf_append(struct kls_buf *b, const void *p, size_t n);
int buf_puts(struct kls_buf *b, const char *s);
int buf_printf(struct kls_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal, quotes included. */
int buf_json_string(struct kls_buf *b, const char *s);

#endif
