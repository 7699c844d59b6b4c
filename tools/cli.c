/* Command-line helpers shared by the tools/ programs (see cli.h). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "tools/cli.h"

int
cli_u64(const char *prog, const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr,
		    "%s: %s: want an integer from %" PRIu64 " to %" PRIu64 ", not \"%s\"\n", prog,
		    opt, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}
