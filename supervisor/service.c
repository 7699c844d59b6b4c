/*
 * klsd as a service (see service.h for how the service files divide the work): daemon
 * mode and pidfile, systemd's notification protocol, the control socket and /metrics in
 * the poll loop, and the hooks the loop's files call.
 *
 * Readiness. READY=1 means what systemd's Type=notify promises a waiting unit: klsd has
 * done its first take cycle, the takes it started have landed, and every lease it holds
 * has a reader that reached ACTIVE in shm (or failed for good, or is in its restart
 * backoff: a crash loop must not hold a host's boot hostage). If that has not happened
 * READY_WAIT_MS after the first take cycle, klsd says READY anyway, with a STATUS= line
 * that tells how many readers are attached.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libutil.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "supervisor/control.h"
#include "supervisor/klsd_int.h"
#include "supervisor/metrics.h"

/* Longest wait for readers to attach before READY=1 is sent anyway. */
#define READY_WAIT_MS 30000

/* ---------------------------------------------------------------- daemon mode */

int
klsd_daemonize(const char *pidfile, bool detach, struct pidfh **pfh, int *ready_fd)
{
	int p[2], fd;
	pid_t other = 0, pid;

	*pfh = NULL;
	*ready_fd = -1;
	if (pidfile) {
		*pfh = pidfile_open(pidfile, 0600, &other);
		if (!*pfh) {
			if (errno == EEXIST)
				log_errorx("pidfile %s: klsd pid %d is running", pidfile,
				    (int)other);
			else
				log_error("pidfile %s", pidfile);
			return -1;
		}
	}
	if (detach) {
		if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
			log_error("detaching");
			pidfile_remove(*pfh);
			return -1;
		}
		if (pid > 0) {
			char c = 0;
			ssize_t n;
			/* The child holds the pidfile's lock (the same open file). */
			close(p[1]);
			while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
				;
			if (n == 1 && c == '1')
				_exit(0);
			fprintf(stderr, "klsd: failed to start (see syslog)\n");
			_exit(1);
		}
		close(p[0]);
		*ready_fd = p[1];
		if (setsid() < 0)
			log_warn("setsid");
		if (chdir("/") < 0)
			log_warn("chdir /");
		if ((fd = open("/dev/null", O_RDWR)) >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
	if (*pfh && pidfile_write(*pfh) < 0) {
		log_error("writing pidfile %s", pidfile);
		pidfile_remove(*pfh);
		*pfh = NULL;
		return -1;
	}
	return 0;
}

void
klsd_daemon_ready(int ready_fd)
{
	if (ready_fd < 0)
		return;
	if (write(ready_fd, "1", 1) != 1)
		log_warn("telling the parent that klsd is up");
	close(ready_fd);
}

int
klsd_set_source(struct klsd *k, const char *file, char *const *overrides, size_t n, bool daemon)
{
	struct svc_source *s = &k->svc.src;

	if (!realpath(file, s->file))
		return -1;
	if (n && !(s->overrides = calloc(n, sizeof(*s->overrides))))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!(s->overrides[i] = strdup(overrides[i])))
			return -1;
		s->noverrides++;
	}
	s->daemon = daemon;
	return 0;
}

/* ---------------------------------------------------------------- open, close */

int
svc_open(struct klsd *k)
{
	struct klsd_svc *s = &k->svc;
	struct control_config cc = {
		.path = k->cfg.kls.control_socket,
		.uid = geteuid(),
		.commands = svc_commands,
		.ncommands = svc_ncommands,
		.ctx = k,
	};
	uint64_t usec = 0;
	char err[512];

	s->started = mono_now();
	s->next_watchdog = KLS_MONO_ZERO;
	/* The environment is read and cleaned here, before klsd's threads exist. */
	if (sdnotify_watchdog_env(&usec) < 0)
		log_warnx("WATCHDOG_USEC or WATCHDOG_PID is not a number: no watchdog pings");
	s->watchdog_ms = sdnotify_watchdog_period_ms(usec);
	if (sdnotify_open_env(&s->notify) < 0) {
		log_error("NOTIFY_SOCKET: not notifying systemd");
		s->notify.fd = -1;
	}
	if (sdnotify_enabled(&s->notify))
		log_info("notifying systemd%s", s->watchdog_ms ? ", watchdog on" : "");
	if (control_open(&s->ctl, &cc, err, sizeof(err)) < 0) {
		log_errorx("control socket: %s", err);
		return -1;
	}
	log_info("control socket %s", k->cfg.kls.control_socket);
	return observe_open(k);
}

void
svc_close(struct klsd *k)
{
	struct klsd_svc *s = &k->svc;

	control_close(s->ctl);
	s->ctl = NULL;
	observe_close(k);
	sdnotify_close(&s->notify);
	for (size_t i = 0; i < s->src.noverrides; i++)
		free(s->src.overrides[i]);
	free(s->src.overrides);
	free(s->avoid);
}

/* ---------------------------------------------------------------- notify */

static void
notify_error(struct klsd_svc *s, const char *what)
{
	/* A full queue drops one message; the next state change or ping follows. Anything
	 * else (systemd gone) is said once, not at every ping. */
	if (errno == EAGAIN || s->notify_warned)
		return;
	s->notify_warned = true;
	log_warn("sd_notify %s (further failures are not logged)", what);
}

/* The STATUS= text for what klsd does now. */
static void
status_text(const struct klsd *k, char *out, size_t size)
{
	size_t running = 0;

	for (size_t i = 0; i < k->nheld; i++)
		running += k->held[i]->proc.pid != 0;
	switch (k->phase) {
	case PHASE_TABLE:
		snprintf(out, size, "starting: waiting for lease table %s", k->cfg.kls.table);
		break;
	case PHASE_RUNNING:
		if (k->svc.reload.rolling)
			snprintf(out, size, "reloading: reader %u of %u restarted; %zu leases held",
			    k->svc.reload.done, k->svc.reload.total, k->nheld);
		else
			snprintf(out, size, "%s%zu leases held, %zu readers running",
			    k->svc.ready ? "" : "starting: ", k->nheld, running);
		break;
	case PHASE_STOPPING:
	case PHASE_DONE:
		snprintf(out, size, "stopping: %zu leases left to release", k->nheld);
		break;
	}
}

static void
send_status(struct klsd *k)
{
	char text[sizeof(k->svc.status_sent)];

	status_text(k, text, sizeof(text));
	if (strcmp(text, k->svc.status_sent) == 0)
		return;
	if (sdnotify_status(&k->svc.notify, text) < 0)
		notify_error(&k->svc, "STATUS");
	else
		snprintf(k->svc.status_sent, sizeof(k->svc.status_sent), "%s", text);
}

/* Whether every held lease has its reader attached (or given up on). */
static bool
readers_attached(const struct klsd *k, size_t *attached)
{
	bool all = true;

	*attached = 0;
	for (const struct write_job *j = k->writes; j; j = j->next_out)
		if (j->kind == LW_TAKE)
			all = false;
	for (size_t i = 0; i < k->nheld; i++) {
		const struct held *h = k->held[i];
		bool ok = h->state != HELD_ADOPTING &&
		          (h->state != HELD_ACTIVE || kls_shm_slot_state(h->s) == KLS_SLOT_ACTIVE ||
		              h->proc.state == READER_FAILED || h->proc.restarts > 0);
		*attached += h->state == HELD_ACTIVE && kls_shm_slot_state(h->s) == KLS_SLOT_ACTIVE;
		all &= ok;
	}
	return all;
}

static void
check_ready(struct klsd *k, kls_mono now)
{
	struct klsd_svc *s = &k->svc;
	size_t attached;
	char text[160];
	bool all;

	if (s->ready || k->phase != PHASE_RUNNING || s->take_cycles == 0)
		return;
	all = readers_attached(k, &attached);
	if (!all && mono_diff_ms(s->first_cycle_at, now) < READY_WAIT_MS)
		return;
	s->ready = true;
	snprintf(text, sizeof(text), "%zu leases held, %zu readers attached%s", k->nheld, attached,
	    all ? "" : " (not all readers attached in time)");
	log_info("ready: %s", text);
	if (sdnotify_ready(&s->notify, text) < 0)
		notify_error(&k->svc, "READY");
	else
		snprintf(s->status_sent, sizeof(s->status_sent), "%s", text);
}

void
svc_stopping(struct klsd *k, const char *why)
{
	char text[128];

	snprintf(text, sizeof(text), "stopping (%s): draining %zu readers", why, k->nheld);
	if (sdnotify_stopping(&k->svc.notify, text) < 0)
		notify_error(&k->svc, "STOPPING");
	else
		snprintf(k->svc.status_sent, sizeof(k->svc.status_sent), "%s", text);
}

/* ---------------------------------------------------------------- the loop */

kls_mono
svc_tick(struct klsd *k, kls_mono now)
{
	struct klsd_svc *s = &k->svc;
	kls_mono next = KLS_MONO_NEVER, t;

	if (s->watchdog_ms) {
		if (!mono_before(now, s->next_watchdog)) {
			if (sdnotify_watchdog(&s->notify) < 0)
				notify_error(s, "WATCHDOG");
			s->next_watchdog = mono_add_ms(now, (int64_t)s->watchdog_ms);
		}
		next = s->next_watchdog;
	}
	for (size_t i = 0; i < k->nheld; i++)
		poison_tick(k, k->held[i]);
	t = reload_tick(k, now);
	if (mono_before(t, next))
		next = t;
	check_ready(k, now);
	if (s->ready || k->phase != PHASE_RUNNING)
		send_status(k);
	t = observe_tick(k, now);
	if (mono_before(t, next))
		next = t;
	return next;
}

size_t
svc_pollfds(struct klsd *k, struct pollfd *fds)
{
	size_t n = 0;

	if (k->svc.ctl)
		fds[n++] = (struct pollfd){ .fd = control_fd(k->svc.ctl), .events = POLLIN };
	if (k->svc.mh)
		fds[n++] = (struct pollfd){ .fd = metrics_http_fd(k->svc.mh), .events = POLLIN };
	return n;
}

void
svc_polled(struct klsd *k, const struct pollfd *fds, size_t n)
{
	size_t i = 0;

	if (k->svc.ctl && i < n && fds[i++].revents && control_handle(k->svc.ctl) < 0)
		log_error("control socket");
	if (k->svc.mh && i < n && fds[i++].revents && metrics_http_handle(k->svc.mh) < 0)
		log_warnx("/metrics: the HTTP server reported a failure");
}

/* ---------------------------------------------------------------- hooks */

void
svc_count(struct klsd *k, enum svc_counter c)
{
	k->svc.count[c]++;
}

void
svc_take_cycle(struct klsd *k, kls_mono now)
{
	struct klsd_svc *s = &k->svc;

	if (s->take_cycles++ == 0)
		s->first_cycle_at = now;
	s->last_scan_at = now;
	/* A cycle counts against an avoided shard once we no longer hold it (a release
	 * drains first); then it is skipped `cycles` times. */
	for (size_t i = 0; i < s->navoid;) {
		struct svc_avoid *a = &s->avoid[i];
		if (held_find(k, a->key) || klsd_write_pending(k, a->key)) {
			i++;
			continue;
		}
		if (a->cycles == 0) {
			log_info("shard %s may be taken again (%s)", a->key, a->why);
			*a = s->avoid[--s->navoid];
			continue;
		}
		a->cycles--;
		i++;
	}
}

bool
svc_avoiding(const struct klsd *k, const char *key)
{
	for (size_t i = 0; i < k->svc.navoid; i++)
		if (strcmp(k->svc.avoid[i].key, key) == 0)
			return true;
	return false;
}

void
svc_avoid(struct klsd *k, const char *key, unsigned cycles, const char *why)
{
	struct klsd_svc *s = &k->svc;
	struct svc_avoid *a = NULL, *nv;

	for (size_t i = 0; i < s->navoid && !a; i++)
		if (strcmp(s->avoid[i].key, key) == 0)
			a = &s->avoid[i];
	if (!a) {
		/* At most one entry per lease we held: bounded by the table. */
		if (!(nv = realloc(s->avoid, (s->navoid + 1) * sizeof(*nv)))) {
			log_warnx("shard %s: out of memory; it may be taken again at once", key);
			return;
		}
		s->avoid = nv;
		a = &s->avoid[s->navoid++];
		snprintf(a->key, sizeof(a->key), "%s", key);
	}
	a->cycles = cycles;
	snprintf(a->why, sizeof(a->why), "%s", why);
}

bool
svc_reader_exited(struct klsd *k, struct held *h, int wstatus, kls_mono now)
{
	enum reader_verdict v = reader_verdict(wstatus);

	observe_reaped(k, h);
	if (poison_reader_exited(k, h, wstatus, now))
		return true;
	/* supervise.c restarts exactly these. */
	if ((v == READER_V_RESTART || v == READER_V_LEASE_LOST) && h->state == HELD_ACTIVE &&
	    k->phase == PHASE_RUNNING)
		svc_count(k, SVC_READER_RESTARTS);
	return false;
}
