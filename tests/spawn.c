/* Runs a program of the build tree with its stdout on a pipe (see spawn.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/spawn.h"

#define ARGS_MAX 30

pid_t
spawn_program(const char *program, const char *const *args, const char *const *env, int *out_fd)
{
	char path[4096];
	const char *argv[ARGS_MAX + 2];
	size_t i;
	int fds[2];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", test_builddir(), program);
	argv[0] = path;
	for (i = 0; i < ARGS_MAX && args[i]; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	if (pipe(fds) < 0)
		return -1;
	if ((pid = fork()) == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		for (i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	*out_fd = fds[0];
	return pid;
}
