/* Command-line helpers shared by the tools/ programs. */
#ifndef KLS_TOOLS_CLI_H
#define KLS_TOOLS_CLI_H

#include <stdint.h>

/* Parses s, the value of option opt, as a decimal integer in [min, max] into out; on
 * anything else says so on stderr as "prog: opt: ..." and returns -1. */
int cli_u64(const char *prog, const char *opt, const char *s, uint64_t min, uint64_t max,
    uint64_t *out);

#endif
