/*
 * kls-reader: one process per shard this host holds a lease on, started by klsd
 *
 *	kls-reader --config-fd FD --shm NAME --slot N --wake-fd FD
 *
 * (common/reader_proto.h is the contract: arguments, inherited descriptors, exit
 * statuses). It reads the shard with GetRecords and hands the records to the handler
 * shared object named in the configuration, checkpointing through klsd.
 *
 * Setup runs in a fixed order, each step before anything that depends on it:
 *   1. log identity ("kls-reader"; every message names the shard);
 *   2. parent-death signal (SIGKILL), then make sure the parent did not die before it
 *      was set: a reader must never outlive klsd, which alone can fence it;
 *   3. attach the shm table and take the slot (ASSIGNED -> ACTIVE). This comes before
 *      the privilege drop because the table is 0600 and owned by klsd's user; the
 *      mapping stays usable afterwards. From here on errors reach kls-ctl through the
 *      progress group, not only the log;
 *   4. the configuration klsd validated, from the sealed memfd;
 *   5. process title "kls-reader: <stream> <shard>" (now that both are known;
 *      title.c adds " [draining]" when klsd asks for a drain);
 *   6. optional privilege drop to [kls] user (only when running as root), then the
 *      parent-death signal again: a credential change clears it;
 *   7. dlopen the handler and check its ABI block (any failure is permanent: exit 2);
 *   8. the start position, the watchdog thread, the Kinesis client, handler init;
 * then the GetRecords loop (fetch.c), or with read_mode = fan-out the SubscribeToShard
 * loop (subscribe.c), until drained, stopped, lease lost, shard end or
 * a failure, and the clean exit: destroy, slot back to ASSIGNED.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/log.h"
#include "reader/reader.h"
#include "reader/subscribe.h"

struct args {
	int config_fd;
	int wake_fd;
	uint32_t slot;
	char shm[256];
};

static void
usage(void)
{
	fprintf(stderr, "usage: kls-reader --config-fd FD --shm NAME --slot N --wake-fd FD\n"
	                "(started by klsd; see kls-reader(8))\n");
}

static int
parse_uint(const char *s, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > max || s[0] == '-' || s[0] == '+')
		return -1;
	*out = v;
	return 0;
}

static int
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "config-fd", required_argument, NULL, 'c' },
		{ "shm", required_argument, NULL, 's' },
		{ "slot", required_argument, NULL, 'n' },
		{ "wake-fd", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned seen = 0;
	long v;
	int c;

	a->config_fd = a->wake_fd = -1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
		case 'w':
			if (parse_uint(optarg, INT_MAX, &v) < 0) {
				log_errorx("--%s %s: not a descriptor number",
				    c == 'c' ? "config-fd" : "wake-fd", optarg);
				return -1;
			}
			*(c == 'c' ? &a->config_fd : &a->wake_fd) = (int)v;
			seen |= c == 'c' ? 1 : 8;
			break;
		case 's':
			if (strlen(optarg) >= sizeof(a->shm)) {
				log_errorx("--shm: name longer than %zu bytes", sizeof(a->shm) - 1);
				return -1;
			}
			memcpy(a->shm, optarg, strlen(optarg) + 1);
			seen |= 2;
			break;
		case 'n':
			if (parse_uint(optarg, KLS_SHM_MAX_SLOTS - 1, &v) < 0) {
				log_errorx("--slot %s: not a slot number", optarg);
				return -1;
			}
			a->slot = (uint32_t)v;
			seen |= 4;
			break;
		default: return -1;
		}
	}
	if (optind != argc || seen != 15) {
		log_errorx("missing or extra arguments");
		return -1;
	}
	return 0;
}

/* SIGKILL when the parent (klsd) dies; -1 when it is already gone. */
static int
parent_death(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		log_error("prctl(PR_SET_PDEATHSIG)");
		return -1;
	}
	/* The parent may have died before the signal was armed: then we were reparented. */
	if (getppid() != parent) {
		log_errorx("parent %ld exited before the reader was set up", (long)parent);
		return -1;
	}
	return 0;
}

/* The wake pipe must be writable; it is made non-blocking and close-on-exec. */
static int
check_fd(int fd, bool write_end, const char *what)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0) {
		log_error("%s %d", what, fd);
		return -1;
	}
	if (write_end && (fl & O_ACCMODE) == O_RDONLY) {
		log_errorx("%s %d is not open for writing", what, fd);
		return -1;
	}
	if ((write_end && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		log_error("%s %d: fcntl", what, fd);
		return -1;
	}
	return 0;
}

/* Step 3: the table, our slot's shard, and the slot taken. */
static int
attach(struct reader *r, const struct args *a, pid_t parent)
{
	struct kls_shm_err err;
	const struct kls_shm_header *hdr;

	if (kls_shm_attach(a->shm, &r->shm, &err) < 0) {
		log_errorx("%s", err.msg);
		return READER_EXIT_PERMANENT;
	}
	hdr = kls_shm_header(r->shm);
	/* Only klsd's own children may run its shards: it alone fences them. */
	if (hdr->klsd_pid != parent) {
		log_errorx("table %s belongs to klsd pid %d, but this reader's parent is pid %ld",
		    a->shm, (int)hdr->klsd_pid, (long)parent);
		return READER_EXIT_PERMANENT;
	}
	r->slot = kls_shm_slot(r->shm, a->slot);
	if (!r->slot) {
		log_errorx("table %s has no slot %u", a->shm, a->slot);
		return READER_EXIT_PERMANENT;
	}
	if (kls_shm_lease_read(r->slot, &r->lease, KLS_SHM_READ_TRIES) < 0) {
		log_errorx("table %s slot %u: lease group torn", a->shm, a->slot);
		return READER_EXIT_TRANSIENT;
	}
	snprintf(r->shard_id, sizeof(r->shard_id), "%s", r->lease.shard_id);
	if (r->lease.command == KLS_CMD_DRAIN || r->lease.command == KLS_CMD_STOP) {
		log_info("%s: command %u before start: nothing to do", r->shard_id,
		    r->lease.command);
		return READER_EXIT_DRAINED;
	}
	if (!kls_shm_slot_activate(r->shm, a->slot, r->shard_id, &err)) {
		log_errorx("%s", err.msg);
		return READER_EXIT_PERMANENT;
	}
	r->slot_idx = a->slot;
	progress_start(r);
	return READER_CONTINUE;
}

/* Step 4: the configuration klsd validated. */
static struct config *
load_config(struct reader *r, int fd)
{
	char label[64];
	struct config *cfg;

	snprintf(label, sizeof(label), "configuration from klsd (fd %d)", fd);
	cfg = config_load_fd(fd, label);
	close(fd);
	if (!cfg) {
		log_errorx("%s: %s: out of memory", r->shard_id, label);
		progress_error(r, "%s: out of memory", label);
		return NULL;
	}
	if (config_error_count(cfg) > 0) {
		for (size_t i = 0; i < config_error_count(cfg); i++)
			log_errorx("%s: %s", r->shard_id, config_error_at(cfg, i)->message);
		progress_error(r, "%s", config_error_at(cfg, 0)->message);
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* Step 6: [kls] user, when running as root. */
static int
drop_privileges(struct reader *r, pid_t parent)
{
	const char *user = r->cfg->kls.user;
	struct passwd *pw;

	if (user[0] == '\0' || geteuid() != 0)
		return 0;
	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		log_errorx("%s: [kls] user %s: %s", r->shard_id, user,
		    errno ? strerror(errno) : "no such user");
		progress_error(r, "[kls] user %s: no such user", user);
		return -1;
	}
	if (pw->pw_uid == 0)
		return 0;
	if (initgroups(user, pw->pw_gid) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		log_error("%s: dropping privileges to %s", r->shard_id, user);
		progress_error(r, "dropping privileges to %s: %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		log_errorx("%s: could regain root after dropping to %s", r->shard_id, user);
		return -1;
	}
	/* A credential change clears the parent-death signal: arm it again. */
	return parent_death(parent);
}

/* Step 7. */
static int
load_handler(struct reader *r)
{
	struct handler_error err;

	if (handler_load(r->cfg->reader.handler, &r->h, &err) < 0) {
		log_errorx("%s: %s", r->shard_id, err.msg);
		progress_error(r, "%s", err.msg);
		return READER_EXIT_PERMANENT;
	}
	log_info("%s: handler %s%s%s loaded from %s", r->shard_id, r->h.cb.name,
	    r->h.cb.version ? " " : "", r->h.cb.version ? r->h.cb.version : "", r->h.path);
	return READER_CONTINUE;
}

/* Step 8 up to the loop; then the loop. */
static int
run(struct reader *r)
{
	const struct config *cfg = r->cfg;
	const struct kls_shm_header *hdr = kls_shm_header(r->shm);
	const struct checkpoint_sink sink = { handshake_persist, r };
	int64_t hb = cfg->reader.heartbeat_timeout_ms;
	int rc;

	r->beat_ms = hb ? hb / 4 : READER_BEAT_MAX_MS;
	if (r->beat_ms > READER_BEAT_MAX_MS)
		r->beat_ms = READER_BEAT_MAX_MS;
	if (r->beat_ms < 10)
		r->beat_ms = 10;
	reader_ctx_init(&r->ctx, hdr->worker_id, r->shard_id, r->h.cb.name, &sink);
	r->info = (struct kls_shard_info){
		.size = sizeof(struct kls_shard_info),
		.checkpoint_mode = cfg->reader.checkpoint == CONFIG_CHECKPOINT_MANUAL
		                       ? KLS_CHECKPOINT_MANUAL
		                       : KLS_CHECKPOINT_AUTO,
		.application = cfg->kls.application,
		.stream = cfg->kls.stream,
		.shard_id = r->shard_id,
		.worker_id = hdr->worker_id,
		.restarts = r->lease.restarts,
	};
	if ((rc = fetch_position(r)) != READER_CONTINUE)
		return rc;
	if (fence_init(&r->fence, r->slot, &r->lease, r->beat_ms, hb,
	        (int64_t)cfg->aws.connect_timeout_ms + cfg->aws.request_timeout_ms + 5000) < 0) {
		log_error("%s: watchdog", r->shard_id);
		return READER_EXIT_TRANSIENT;
	}
	if (fence_start(&r->fence) < 0) {
		log_error("%s: watchdog thread", r->shard_id);
		fence_destroy(&r->fence);
		return READER_EXIT_TRANSIENT;
	}
	/* The one place the read mode is chosen: both loops deliver through deliver.c. */
	if ((rc = fetch_open(r)) == READER_CONTINUE && (rc = deliver_init(r)) == READER_CONTINUE)
		rc = cfg->reader.read_mode == CONFIG_READ_FAN_OUT ? subscribe_run(r) : fetch_run(r);
	deliver_destroy(r);
	fence_destroy(&r->fence);
	fetch_close(r);
	return rc;
}

int
main(int argc, char **argv, char **envp)
{
	static struct reader r; /* static: large, and one per process */
	struct config *cfg = NULL;
	struct args a;
	pid_t parent = getppid();
	int rc;

	log_init("kls-reader", LOG_TARGET_STDERR, LOG_LEVEL_INFO);
	/* A dead klsd's pipe must give EPIPE, not kill us before we can log. */
	signal(SIGPIPE, SIG_IGN);
	memset(&a, 0, sizeof(a));
	if (parse_args(argc, argv, &a) < 0) {
		usage();
		return READER_EXIT_PERMANENT;
	}
	/* After parsing: setproctitle reuses the memory argv points into. */
	setproctitle_init(argc, argv, envp);
	if (parent_death(parent) < 0)
		return READER_EXIT_TRANSIENT;
	if (check_fd(a.wake_fd, true, "--wake-fd") < 0 ||
	    check_fd(a.config_fd, false, "--config-fd") < 0)
		return READER_EXIT_PERMANENT;
	r.wake_fd = a.wake_fd;
	if ((rc = attach(&r, &a, parent)) != READER_CONTINUE) {
		kls_shm_close(r.shm);
		return rc;
	}
	if (!(cfg = load_config(&r, a.config_fd))) {
		rc = READER_EXIT_PERMANENT;
		goto out;
	}
	r.cfg = cfg;
	log_init("kls-reader", cfg->kls.log_target, cfg->kls.log_level);
	reader_title(&r, false);
	if (drop_privileges(&r, parent) < 0) {
		rc = READER_EXIT_PERMANENT;
		goto out;
	}
	if ((rc = load_handler(&r)) == READER_CONTINUE) {
		rc = run(&r);
		handler_unload(&r.h);
	}
out:
	log_info("%s: exiting: %s", r.shard_id, READER_EXIT_NAME(rc));
	progress_state(&r, KLS_HANDLER_DONE);
	kls_shm_slot_deactivate(r.slot);
	kls_shm_close(r.shm);
	config_free(cfg);
	return rc;
}
