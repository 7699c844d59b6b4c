/* Test-only event stream encoder: see eventstream_enc.h. */
#include "config.h"

#include "tests/eventstream_enc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/eventstream.h"

/* Tests have no use for an encoder that can fail: out of memory ends the test run. */
static void
put(struct kls_buf *out, const void *p, size_t n)
{
	if (buf_append(out, p, n) < 0)
		abort();
}

void
enc_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void
put_be(struct kls_buf *out, uint64_t v, size_t n)
{
	unsigned char b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
	put(out, b, n);
}

void
enc_headers(struct kls_buf *out, const struct enc_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t nl = h[i].name_len ? h[i].name_len : strlen(h[i].name);
		unsigned char t = (unsigned char)h[i].type;
		const void *v = h[i].bytes ? h[i].bytes : h[i].str;
		size_t vl = h[i].bytes ? h[i].len : h[i].str ? strlen(h[i].str) : 0;

		put_be(out, nl, 1);
		put(out, h[i].name, nl);
		put(out, &t, 1);
		switch (h[i].type) {
		case 0:
		case 1:
			break;
		case 2: put_be(out, (uint64_t)h[i].num, 1); break;
		case 3: put_be(out, (uint64_t)h[i].num, 2); break;
		case 4: put_be(out, (uint64_t)h[i].num, 4); break;
		case 5:
		case 8: put_be(out, (uint64_t)h[i].num, 8); break;
		case 6:
		case 7:
			put_be(out, vl, 2);
			put(out, v, vl);
			break;
		case 9: put(out, h[i].uuid, 16); break;
		default: break;
		}
	}
}

void
enc_prelude(struct kls_buf *out, uint32_t total, uint32_t hlen)
{
	unsigned char p[12];

	enc_be32(p, total);
	enc_be32(p + 4, hlen);
	enc_be32(p + 8, eventstream_crc32(0, p, 8));
	put(out, p, 12);
}

void
enc_message_raw(struct kls_buf *out, const void *hb, size_t hlen, const void *payload,
    size_t plen)
{
	size_t start = out->len, total = 16 + hlen + plen;
	unsigned char crc[4];

	enc_prelude(out, (uint32_t)total, (uint32_t)hlen);
	put(out, hb, hlen);
	put(out, payload, plen);
	enc_be32(crc, eventstream_crc32(0, out->data + start, total - 4));
	put(out, crc, 4);
}

void
enc_message(struct kls_buf *out, const struct enc_header *h, size_t n, const void *p, size_t plen)
{
	struct kls_buf hb;

	buf_init(&hb, 0);
	enc_headers(&hb, h, n);
	enc_message_raw(out, hb.data ? hb.data : "", hb.len, p, plen);
	buf_free(&hb);
}

void
enc_strings(struct kls_buf *out, const char *payload, ...)
{
	struct enc_header h[16];
	size_t n = 0;
	const char *name;
	va_list ap;

	va_start(ap, payload);
	while (n < 16 && (name = va_arg(ap, const char *))) {
		memset(&h[n], 0, sizeof(h[n]));
		h[n].name = name;
		h[n].type = 7;
		h[n].str = va_arg(ap, const char *);
		n++;
	}
	va_end(ap);
	enc_message(out, h, n, payload, strlen(payload));
}

void
enc_fix_crcs(unsigned char *m, size_t n)
{
	uint32_t total;

	if (n < 12)
		return;
	enc_be32(m + 8, eventstream_crc32(0, m, 8));
	total = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 | (uint32_t)m[2] << 8 | m[3];
	if (total >= 16 && total <= n)
		enc_be32(m + total - 4, eventstream_crc32(0, m, total - 4));
}

int
enc_reencode(struct kls_buf *out, const struct eventstream_message *m)
{
	struct enc_header h[128];

	if (m->n_headers > 128)
		return -1;
	for (size_t i = 0; i < m->n_headers; i++) {
		const struct eventstream_header *g = &m->headers[i];
		memset(&h[i], 0, sizeof(h[i]));
		h[i].name = g->name;
		h[i].name_len = g->name_len;
		h[i].type = (int)g->type;
		h[i].num = g->num;
		/* Never NULL, so a zero-length value is taken as bytes, not as a string. */
		h[i].bytes = g->bytes ? g->bytes : (const unsigned char *)"";
		h[i].len = g->bytes_len;
		h[i].uuid = g->bytes;
	}
	enc_message(out, h, m->n_headers, m->payload, m->payload_len);
	return 0;
}
