/*
 * kls-ctl's actions: workers, release SHARD, drain, reload. Each sends one request over
 * klsd's control socket and prints the reply's data as JSON ("ok" when klsd sends none);
 * klsd's refusal is printed to err with exit status 1.
 */
#include "config.h"

#include "ctl/ctl.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/control_client.h"

#define TIMEOUT_DEFAULT_S 10
#define TIMEOUT_MAX_S 3600

struct action {
	const char *cmd;
	const char *operand; /* the one positional argument ("SHARD"), or NULL */
	const char *arg_key; /* its request argument name */
	const char *what;    /* one line for -h */
};

static void
action_usage(const struct action *a, FILE *f)
{
	fprintf(f,
	    "usage: kls-ctl %s [-a APP | -S PATH] [-t SECONDS]%s%s\n  %s\n"
	    "  -a, --app APP       the application's socket, " CTL_RUN_DIR "/APP.sock\n"
	    "  -S, --socket PATH   klsd's control socket (its control_socket setting)\n"
	    "  -t, --timeout SEC   wait at most SEC seconds for klsd (default %d)\n"
	    "Without -a or -S, the only *.sock in " CTL_RUN_DIR " is used.\n",
	    a->cmd, a->operand ? " " : "", a->operand ? a->operand : "", a->what,
	    TIMEOUT_DEFAULT_S);
}

static int
print_reply(const struct frame_reply *rep, FILE *out)
{
	struct kls_buf b;
	int rc;

	if (!rep->data)
		return fputs("ok\n", out) < 0 ? -1 : 0;
	buf_init(&b, 0);
	rc = frame_object_json(&b, rep->data, 2);
	if (rc == 0 && fprintf(out, "%s\n", b.data) < 0)
		rc = -1;
	buf_free(&b);
	return rc;
}

static int
run_action(const struct action *a, int argc, char **argv, FILE *out, FILE *err)
{
	static const struct option opts[] = {
	    {"app", required_argument, NULL, 'a'},
	    {"socket", required_argument, NULL, 'S'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *app = NULL, *sock = NULL;
	char path[PATH_MAX], msg[512], *end;
	struct frame_arg arg;
	struct frame_reply rep;
	long timeout_s = TIMEOUT_DEFAULT_S;
	int c, rc;

	/* optind = 0 restarts glibc's getopt so tests can run commands repeatedly. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":a:S:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			app = optarg;
			break;
		case 'S':
			sock = optarg;
			break;
		case 't':
			errno = 0;
			timeout_s = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || timeout_s < 1 ||
			    timeout_s > TIMEOUT_MAX_S) {
				fprintf(err, "kls-ctl %s: -t wants 1 to %d seconds, not \"%s\"\n",
				    a->cmd, TIMEOUT_MAX_S, optarg);
				return 1;
			}
			break;
		case 'h':
			action_usage(a, out);
			return 0;
		case ':':
			fprintf(
			    err, "kls-ctl %s: %s needs an argument\n", a->cmd, argv[optind - 1]);
			return 1;
		default:
			fprintf(err, "kls-ctl %s: unknown option %s\n", a->cmd, argv[optind - 1]);
			action_usage(a, err);
			return 1;
		}
	}
	if (argc - optind != (a->operand ? 1 : 0)) {
		if (a->operand && optind >= argc)
			fprintf(err, "kls-ctl %s: missing %s\n", a->cmd, a->operand);
		else
			fprintf(err, "kls-ctl %s: unexpected argument \"%s\"\n", a->cmd,
			    argv[optind + (a->operand ? 1 : 0)]);
		action_usage(a, err);
		return 1;
	}
	if (app && sock) {
		fprintf(err, "kls-ctl %s: give -a or -S, not both\n", a->cmd);
		return 1;
	}
	if (ctl_pick_socket(CTL_RUN_DIR, app, sock, path, sizeof(path), msg, sizeof(msg)) < 0) {
		fprintf(err, "kls-ctl %s: %s\n", a->cmd, msg);
		return 1;
	}
	arg.key = a->arg_key;
	arg.value = a->operand ? argv[optind] : NULL;
	if (ctl_control_call(path, a->cmd, &arg, a->operand ? 1 : 0, (int)timeout_s * 1000, &rep,
	        msg, sizeof(msg)) < 0) {
		fprintf(err, "kls-ctl %s: %s\n", a->cmd, msg);
		return 1;
	}
	if (!rep.ok) {
		fprintf(err, "kls-ctl %s: klsd: %s\n", a->cmd, rep.error);
		frame_reply_free(&rep);
		return 1;
	}
	rc = print_reply(&rep, out);
	frame_reply_free(&rep);
	if (rc < 0 || fflush(out) != 0) {
		fprintf(err, "kls-ctl %s: writing output: %s\n", a->cmd, strerror(errno));
		return 1;
	}
	return 0;
}

int
ctl_klsd_status(const char *app, const char *sock, FILE *out, FILE *err)
{
	char path[PATH_MAX], msg[512];
	struct frame_reply rep;
	int rc;

	if (ctl_pick_socket(CTL_RUN_DIR, app, sock, path, sizeof(path), msg, sizeof(msg)) < 0 ||
	    ctl_control_call(path, "status", NULL, 0, TIMEOUT_DEFAULT_S * 1000, &rep, msg,
	        sizeof(msg)) < 0) {
		fprintf(err, "kls-ctl status: %s\n", msg);
		return 1;
	}
	if (!rep.ok) {
		fprintf(err, "kls-ctl status: klsd: %s\n", rep.error);
		frame_reply_free(&rep);
		return 1;
	}
	rc = print_reply(&rep, out);
	frame_reply_free(&rep);
	if (rc < 0 || fflush(out) != 0) {
		fprintf(err, "kls-ctl status: writing output: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

int
ctl_cmd_workers(int argc, char **argv, FILE *out, FILE *err)
{
	static const struct action a = {"workers", NULL, NULL,
	    "workers of the application and the leases each holds, as klsd sees them"};
	return run_action(&a, argc, argv, out, err);
}

int
ctl_cmd_release(int argc, char **argv, FILE *out, FILE *err)
{
	static const struct action a = {"release", "SHARD", "shard",
	    "drain the shard's reader, checkpoint, and give its lease up"};
	return run_action(&a, argc, argv, out, err);
}

int
ctl_cmd_drain(int argc, char **argv, FILE *out, FILE *err)
{
	static const struct action a = {"drain", NULL, NULL,
	    "hand every lease off (readers drain and checkpoint), then klsd exits"};
	return run_action(&a, argc, argv, out, err);
}

int
ctl_cmd_reload(int argc, char **argv, FILE *out, FILE *err)
{
	static const struct action a = {
	    "reload", NULL, NULL, "re-read the configuration file, as SIGHUP does"};
	return run_action(&a, argc, argv, out, err);
}
