/*
 * Shared by the libFuzzer targets (the *_fuzz.c files here, built by `make fuzz`): CHECK
 * aborts, so libFuzzer records the input that broke a property as a crash.
 */
#ifndef KLS_TEST_FUZZ_H
#define KLS_TEST_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); \
			abort(); \
		} \
	} while (0)

#endif
