/*
 * klsd: the program. Reads and checks the configuration, settles the worker id,
 * detaches unless told not to, and hands over to the main loop (klsd.c).
 *
 *   klsd -c FILE [-o section.key=value]... [-d] [-p PIDFILE] [-t]
 *
 *   -c FILE     the application's configuration (kls.conf(5))
 *   -o K=V      override one key (repeatable; beats the file)
 *   -d          stay in the foreground (systemd, tests); -f is the same. Without it klsd
 *               detaches (kls.init) and logs to syslog
 *   -p PIDFILE  keep a locked pidfile (libbsd pidfile_open), in either mode
 *   -t          check the configuration, print it with where each value came from, exit
 *               0 when valid, 2 when not (every error names file, line and key)
 *
 * The configuration is checked before klsd detaches, so a bad file fails the command
 * that started it (exit 2); the parent of a detached klsd exits once the child has set
 * itself up (shm table, control socket, metrics), 1 when it could not.
 */
#include "config.h"

#include <errno.h>
#include <libutil.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/log.h"
#include "supervisor/klsd.h"
#include "supervisor/worker_id.h"

extern char **environ;

#define EXIT_CONFIG 2

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: klsd -c FILE [-o section.key=value]... [-d] [-p PIDFILE] [-t]\n");
	exit(EXIT_CONFIG);
}

static void
print_errors(const struct config *cfg)
{
	for (size_t i = 0; i < config_error_count(cfg); i++)
		fprintf(stderr, "klsd: %s\n", config_error_at(cfg, i)->message);
	if (config_errors_dropped(cfg))
		fprintf(stderr, "klsd: ... and %zu more errors\n", config_errors_dropped(cfg));
}

/* What main.c passes on to the running klsd. */
struct run_args {
	const char *file;
	char **overrides;
	size_t noverrides;
	bool detach;
	const char *pidfile;
};

static int
run(const struct config *cfg, const struct run_args *a)
{
	char id[CONFIG_VALUE_MAX + 1], why[512];
	struct pidfh *pfh;
	struct klsd *k;
	sigset_t set;
	int status, ready_fd;

	if (cfg->kls.worker_id[0]) {
		snprintf(id, sizeof(id), "%s", cfg->kls.worker_id);
	} else if (worker_id_load(cfg->kls.state_dir, id, sizeof(id), why, sizeof(why)) < 0) {
		log_errorx("worker id: %s", why);
		return 1;
	}
	/* Blocked before any thread exists, so every thread inherits the mask and the
	 * signals reach the loop's signalfd only. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* A reader's closed pipe or a dropped connection must be an error, not a death. */
	signal(SIGPIPE, SIG_IGN);
	if (klsd_daemonize(a->pidfile, a->detach, &pfh, &ready_fd) < 0)
		return 1;
	/* Messages until here reached whoever started klsd. */
	if (a->detach)
		log_init("klsd", LOG_TARGET_SYSLOG, cfg->kls.log_level);
	if (!(k = klsd_new(cfg, id))) {
		pidfile_remove(pfh);
		return 1;
	}
	if (klsd_set_source(k, a->file, a->overrides, a->noverrides, a->detach) < 0) {
		log_error("configuration %s", a->file);
		klsd_free(k);
		pidfile_remove(pfh);
		return 1;
	}
	klsd_daemon_ready(ready_fd);
	status = klsd_run(k);
	klsd_free(k);
	pidfile_remove(pfh);
	log_info("exiting with status %d", status);
	return status;
}

int
main(int argc, char **argv)
{
	struct run_args a = { .overrides = calloc((size_t)argc, sizeof(char *)) };
	struct config *cfg;
	char path[PATH_MAX];
	bool check = false, foreground = false;
	int c, status;

	/* One malloc arena, not one per thread: the DynamoDB pool's threads each kept an
	 * arena of their own (~80 KB touched apiece) for a few requests a second, which
	 * cannot contend for a lock worth having four heaps for. */
	mallopt(M_ARENA_MAX, 1);
	log_init("klsd", LOG_TARGET_STDERR, LOG_LEVEL_INFO);
	if (!(cfg = config_new()) || !a.overrides) {
		fprintf(stderr, "klsd: out of memory\n");
		return 1;
	}
	/* Overrides are recorded as they come (each one's errors included) and merged with
	 * their precedence by config_finish, so they may come before -c. */
	while ((c = getopt(argc, argv, "c:o:tdfp:")) != -1) {
		switch (c) {
		case 'c': a.file = optarg; break;
		case 'o':
			config_parse_override(cfg, optarg);
			a.overrides[a.noverrides++] = optarg; /* again at each reload */
			break;
		case 't': check = true; break;
		case 'd':
		case 'f': foreground = true; break;
		case 'p': a.pidfile = optarg; break;
		default: config_free(cfg); free(a.overrides); usage();
		}
	}
	if (!a.file || optind != argc) {
		config_free(cfg);
		free(a.overrides);
		usage();
	}
	config_parse_file(cfg, a.file);
	config_apply_env(cfg, environ);
	if (config_finish(cfg) < 0) {
		print_errors(cfg);
		config_free(cfg);
		free(a.overrides);
		return EXIT_CONFIG;
	}
	if (check) {
		struct kls_buf b;
		buf_init(&b, CONFIG_TEXT_MAX);
		status = config_write_buf(cfg, &b, CONFIG_WRITE_ORIGINS) == 0 ? 0 : 1;
		if (status == 0)
			fwrite(b.data, 1, b.len, stdout);
		buf_free(&b);
		fprintf(stderr, "klsd: configuration %s is valid\n", a.file);
		config_free(cfg);
		free(a.overrides);
		return status;
	}
	log_init("klsd", cfg->kls.log_target, cfg->kls.log_level);
	a.detach = !foreground;
	/* A detached klsd runs in /, and a reload reads the file again. */
	if (!realpath(a.file, path)) {
		fprintf(stderr, "klsd: %s: %s\n", a.file, strerror(errno));
		config_free(cfg);
		free(a.overrides);
		return 1;
	}
	a.file = path;
	/* Detached, stderr is /dev/null: syslog is where the log can go, for readers too
	 * (they get this configuration); klsd itself switches once it has detached. */
	if (a.detach)
		cfg->kls.log_target = LOG_TARGET_SYSLOG;
	status = run(cfg, &a);
	config_free(cfg);
	free(a.overrides);
	return status;
}
