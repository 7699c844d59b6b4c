/*
 * klsd: the program. Reads and checks the configuration, settles the worker id, and
 * hands over to the main loop (klsd.c).
 *
 *   klsd -c FILE [-o section.key=value]... [-t] [-f]
 *
 *   -c FILE   the application's configuration (kls.conf(5))
 *   -o K=V    override one key (repeatable; beats the file)
 *   -t        check the configuration, print it with where each value came from, exit
 *             0 when valid, 2 when not (every error names file, line and key)
 *   -f        stay in the foreground (the only mode for now; a daemon mode with a
 *             pidfile will go in run_foreground's place)
 */
#include "config.h"

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
	fprintf(stderr, "usage: klsd -c FILE [-o section.key=value]... [-t] [-f]\n");
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

static int
run_foreground(const struct config *cfg)
{
	char id[CONFIG_VALUE_MAX + 1], why[512];
	struct klsd *k;
	sigset_t set;
	int status;

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
	if (!(k = klsd_new(cfg, id)))
		return 1;
	status = klsd_run(k);
	klsd_free(k);
	log_info("exiting with status %d", status);
	return status;
}

int
main(int argc, char **argv)
{
	const char *file = NULL;
	struct config *cfg;
	bool check = false;
	int c, status;

	log_init("klsd", LOG_TARGET_STDERR, LOG_LEVEL_INFO);
	if (!(cfg = config_new())) {
		fprintf(stderr, "klsd: out of memory\n");
		return 1;
	}
	/* Overrides are recorded as they come (each one's errors included) and merged with
	 * their precedence by config_finish, so they may come before -c. */
	while ((c = getopt(argc, argv, "c:o:tf")) != -1) {
		switch (c) {
		case 'c': file = optarg; break;
		case 'o': config_parse_override(cfg, optarg); break;
		case 't': check = true; break;
		case 'f': break;
		default: config_free(cfg); usage();
		}
	}
	if (!file || optind != argc) {
		config_free(cfg);
		usage();
	}
	config_parse_file(cfg, file);
	config_apply_env(cfg, environ);
	if (config_finish(cfg) < 0) {
		print_errors(cfg);
		config_free(cfg);
		return EXIT_CONFIG;
	}
	if (check) {
		struct kls_buf b;
		buf_init(&b, CONFIG_TEXT_MAX);
		status = config_write_buf(cfg, &b, CONFIG_WRITE_ORIGINS) == 0 ? 0 : 1;
		if (status == 0)
			fwrite(b.data, 1, b.len, stdout);
		buf_free(&b);
		fprintf(stderr, "klsd: configuration %s is valid\n", file);
		config_free(cfg);
		return status;
	}
	log_init("klsd", cfg->kls.log_target, cfg->kls.log_level);
	status = run_foreground(cfg);
	config_free(cfg);
	return status;
}
