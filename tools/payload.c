/* The "seq=<n> " record payload of kls-produce and kls-fixture (see payload.h). */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>

#include "tools/payload.h"

size_t
payload_fill(char *out, size_t size, uint64_t n)
{
	int len = snprintf(out, PAYLOAD_PREFIX_MAX + 1, "seq=%" PRIu64 " ", n);
	size_t i;

	if ((size_t)len >= size)
		return (size_t)len;
	/* Letters that shift with n, so records of one size still differ past the prefix. */
	for (i = (size_t)len; i < size; i++)
		out[i] = (char)('a' + (i + n) % 26);
	return size;
}

int
payload_seq(const void *data, size_t len, uint64_t *n)
{
	const char *p = data;
	uint64_t v = 0;
	size_t i = 4;

	if (len < 6 || p[0] != 's' || p[1] != 'e' || p[2] != 'q' || p[3] != '=')
		return -1;
	for (; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
		if (i - 4 >= 20 || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (i == 4 || i >= len || p[i] != ' ')
		return -1;
	*n = v;
	return 0;
}
