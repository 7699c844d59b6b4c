/*
 * Is the process recorded in the shm table still the one that wrote it? A pid alone is
 * not enough (pids are reused), so the table also records the process start time,
 * field 22 of /proc/<pid>/stat, which a reused pid does not share.
 */
#include "config.h"

#include "shm/table.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads the state letter (field 3) and start time (field 22) of pid. */
static int
proc_stat(pid_t pid, char *state, uint64_t *ticks)
{
	char path[64], buf[2048], *p, *tok, *save = NULL;
	ssize_t n;
	int fd, field;

	if (pid <= 0) {
		errno = EINVAL;
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		errno = n == 0 ? EPROTO : errno;
		return -1;
	}
	buf[n] = '\0';
	/* Field 2 is the command name in parentheses and may itself hold ") ": the fields
	 * we want come after the last ')'. */
	p = strrchr(buf, ')');
	if (!p) {
		errno = EPROTO;
		return -1;
	}
	field = 3;
	for (tok = strtok_r(p + 1, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save), field++) {
		if (field == 3)
			*state = tok[0];
		if (field == 22) {
			char *end;
			errno = 0;
			*ticks = strtoull(tok, &end, 10);
			if (errno || *end) {
				errno = EPROTO;
				return -1;
			}
			return 0;
		}
	}
	errno = EPROTO;
	return -1;
}

int
kls_proc_start_ticks(pid_t pid, uint64_t *ticks)
{
	char state;
	return proc_stat(pid, &state, ticks);
}

bool
kls_proc_alive(pid_t pid, uint64_t start_ticks)
{
	char state = '?';
	uint64_t ticks = 0;

	if (pid <= 0)
		return false;
	/* EPERM: it exists but belongs to someone else, which still makes it alive. */
	if (kill(pid, 0) < 0 && errno != EPERM)
		return false;
	if (proc_stat(pid, &state, &ticks) < 0)
		/* Gone between the two calls, or /proc unreadable: only "gone" is dead. */
		return errno != ENOENT && errno != ESRCH;
	/* A zombie holds no locks and runs no code; its pid is not reused until reaped. */
	if (state == 'Z' || state == 'X')
		return false;
	return start_ticks == 0 || ticks == start_ticks;
}
