/*
 * kls-rusage: runs a command and reports the CPU time and peak RSS of the whole process
 * tree it starts, for scripts/bench.
 *
 *   kls-rusage [-o FILE] [-p PIDFILE] [-g GRACE_S] -- COMMAND [ARGS...]
 *
 * A process's CPU time reaches its parent's RUSAGE_CHILDREN only when the parent waits
 * for it; klsd waits for its readers, and this wrapper waits for klsd, so its
 * RUSAGE_CHILDREN covers klsd and every reader klsd reaped. A reader whose klsd did
 * not reap it (klsd died first) is reparented to this wrapper, which makes itself a
 * child subreaper for that reason and waits for it too (killing descendants still
 * alive GRACE_S seconds after COMMAND exited; the report counts them).
 *
 * SIGINT, SIGTERM and SIGHUP are passed on to COMMAND. The report is one JSON line,
 * {"exit_status","signal","user_s","sys_s","cpu_s","maxrss_kb","wall_s","killed"},
 * written to FILE (default stderr); maxrss_kb is the largest peak RSS of any one
 * process of the tree. The exit status is COMMAND's (128 + signal when killed).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The command's pid, read by the signal handler to pass signals on. */
static volatile pid_t child;

static void
forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* SIGKILLs the processes reparented to us that are still alive; returns how many. */
static int
kill_orphans(void)
{
	char path[64], line[4096], *p, *end;
	FILE *f;
	int n = 0;
	long pid;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof(line), f))
		for (p = line; (pid = strtol(p, &end, 10)) > 0 && end != p; p = end) {
			kill((pid_t)pid, SIGKILL);
			n++;
		}
	fclose(f);
	return n;
}

int
main(int argc, char **argv)
{
	const char *out_path = NULL, *pid_path = NULL;
	struct sigaction sa = { .sa_handler = forward };
	struct rusage ru;
	double grace = 10, t0, deadline = 0;
	int ch, status, exit_status = -1, signal_no = 0, killed = 0;
	pid_t pid;
	FILE *out;

	while ((ch = getopt(argc, argv, "+o:p:g:")) != -1) {
		switch (ch) {
		case 'o': out_path = optarg; break;
		case 'p': pid_path = optarg; break;
		case 'g': grace = atof(optarg); break;
		default:
			fprintf(stderr, "usage: kls-rusage [-o FILE] [-p PIDFILE] [-g GRACE_S] -- "
			                "COMMAND [ARGS...]\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "kls-rusage: no command\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("kls-rusage: PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	t0 = now_s();
	if ((pid = fork()) < 0) {
		perror("kls-rusage: fork");
		return 1;
	}
	if (pid == 0) {
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "kls-rusage: %s: %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	child = pid;
	if (pid_path) {
		FILE *f = fopen(pid_path, "w");

		if (f == NULL || fprintf(f, "%d\n", (int)pid) < 0 || fclose(f) != 0)
			perror(pid_path);
	}
	/* Until no descendant is left: the command first, then whatever it left behind. */
	for (;;) {
		pid_t w = waitpid(-1, &status, exit_status < 0 && !signal_no ? 0 : WNOHANG);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: all reaped */
		}
		if (w == pid) {
			child = 0;
			if (WIFEXITED(status))
				exit_status = WEXITSTATUS(status);
			else
				signal_no = WTERMSIG(status);
			deadline = now_s() + grace;
			continue;
		}
		if (w == 0) {
			if (now_s() >= deadline) {
				killed += kill_orphans();
				deadline = now_s() + 5; /* and then wait for them to go */
			}
			usleep(10000);
		}
	}
	getrusage(RUSAGE_CHILDREN, &ru);
	out = out_path ? fopen(out_path, "w") : stderr;
	if (out == NULL) {
		perror(out_path);
		out = stderr;
	}
	fprintf(out,
	    "{\"exit_status\":%d,\"signal\":%d,\"user_s\":%.3f,\"sys_s\":%.3f,\"cpu_s\":%.3f,"
	    "\"maxrss_kb\":%ld,\"wall_s\":%.3f,\"killed\":%d}\n",
	    exit_status, signal_no, tv_s(ru.ru_utime), tv_s(ru.ru_stime),
	    tv_s(ru.ru_utime) + tv_s(ru.ru_stime), ru.ru_maxrss, now_s() - t0, killed);
	if (out != stderr)
		fclose(out);
	return signal_no ? 128 + signal_no : exit_status;
}
