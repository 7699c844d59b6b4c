/*
 * Runs a program of the build tree (tools/kls-fixture, tools/kls-produce) as a child
 * with its stdout on a pipe, for tests that exercise a program as its users do.
 */
#ifndef KLS_TEST_SPAWN_H
#define KLS_TEST_SPAWN_H

#include <sys/types.h>

/* Starts "$top_builddir/<program>" with args (NULL-terminated, at most 30) and the
 * NAME=value strings of env (NULL-terminated, may be NULL) added to the environment.
 * Returns the pid with *out_fd the read end of its stdout, or -1. */
pid_t spawn_program(const char *program, const char *const *args, const char *const *env,
    int *out_fd);

#endif
