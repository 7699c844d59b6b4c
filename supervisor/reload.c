/*
 * Configuration reload (SIGHUP, `kls-ctl reload`, `systemctl reload`): the file and the
 * -o overrides are read again exactly as at start (main.c), config_compare says what
 * changed, and:
 *   - errors, or a key only a restart can change (stream, table, ...): refused with a
 *     message naming the file's error or the key; the running configuration stays;
 *   - keys only klsd reads (timings, log level): applied in place, leases untouched;
 *   - keys readers read ([reader] handler, [handler] ...): a new sealed memfd for every
 *     reader started from now on, and the running readers are restarted one at a time
 *     (DRAIN, final checkpoint, respawn with the new memfd), each lease kept throughout.
 * systemd hears RELOADING=1 at the start and READY=1 once the new configuration is in
 * force everywhere (after the last reader's restart).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "supervisor/klsd_int.h"

extern char **environ;

/* Longest a reader's restart may take before the roll moves on to the next one: its
 * drain, then its respawn up to ACTIVE. */
#define RELOAD_STEP_SLACK_MS 10000

/* Reads the configuration as main.c did. NULL after writing the first error to msg. */
static struct config *
load(const struct klsd *k, char *msg, size_t msglen)
{
	const struct svc_source *src = &k->svc.src;
	struct config *cfg = config_new();

	if (!cfg) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < src->noverrides; i++)
		config_parse_override(cfg, src->overrides[i]);
	config_parse_file(cfg, src->file);
	config_apply_env(cfg, environ);
	if (config_finish(cfg) == 0) {
		if (src->daemon)
			cfg->kls.log_target = LOG_TARGET_SYSLOG;
		return cfg;
	}
	for (size_t i = 0; i < config_error_count(cfg); i++)
		log_errorx("reload: %s", config_error_at(cfg, i)->message);
	snprintf(msg, msglen, "%s%s", config_error_at(cfg, 0)->message,
	    config_error_count(cfg) > 1 ? " (and more errors: see the log)" : "");
	config_free(cfg);
	return NULL;
}

static void
finish(struct klsd *k, const char *text)
{
	struct klsd_svc *s = &k->svc;

	snprintf(s->reload.last, sizeof(s->reload.last), "%s", text);
	if (sdnotify_ready(&s->notify, text) < 0 && errno != EAGAIN && !s->notify_warned) {
		s->notify_warned = true;
		log_warn("sd_notify READY after reload");
	}
	snprintf(s->status_sent, sizeof(s->status_sent), "%s", text);
}

static void
refuse(struct klsd *k, const char *why, const char *msg)
{
	char text[sizeof(k->svc.reload.last)];

	k->svc.reload.refused++;
	log_warnx("%s: reload refused: %s; the running configuration stays", why, msg);
	snprintf(text, sizeof(text), "reload refused: %s", msg);
	finish(k, text);
}

int
reload_start(struct klsd *k, const char *why, char *msg, size_t msglen)
{
	struct klsd_svc *s = &k->svc;
	struct config_change ch;
	struct config *cfg, old;

	if (k->phase == PHASE_STOPPING || k->phase == PHASE_DONE) {
		snprintf(msg, msglen, "klsd is shutting down");
		return -1;
	}
	if (s->reload.rolling) {
		snprintf(msg, msglen, "a reload is still restarting readers (%u of %u done)",
		    s->reload.done, s->reload.total);
		log_warnx("%s: %s; try again when it is done", why, msg);
		return -1;
	}
	log_info("%s: reloading %s", why, s->src.file);
	if (sdnotify_reloading(&s->notify, "reloading the configuration") < 0 && errno != EAGAIN &&
	    !s->notify_warned) {
		s->notify_warned = true;
		log_warn("sd_notify RELOADING");
	}
	if (!(cfg = load(k, msg, msglen))) {
		refuse(k, why, msg);
		return -1;
	}
	config_compare(&k->cfg, cfg, &ch);
	if (ch.restart_key[0]) {
		snprintf(msg, msglen, "%s changed, and only a restart of klsd can apply that",
		    ch.restart_key);
		config_free(cfg);
		refuse(k, why, msg);
		return -1;
	}
	if (!ch.readers && !ch.supervisor) {
		config_free(cfg);
		snprintf(msg, msglen, "configuration unchanged");
		log_info("%s: %s", why, msg);
		s->reload.applied++;
		finish(k, msg);
		return 0;
	}
	old = k->cfg;
	k->cfg = *cfg;
	config_free(cfg);
	if (ch.readers && klsd_make_config_fd(k) < 0) {
		k->cfg = old;
		snprintf(msg, msglen, "could not pass the new configuration to readers");
		refuse(k, why, msg);
		return -1;
	}
	log_init("klsd", k->cfg.kls.log_target, k->cfg.kls.log_level);
	s->reload.applied++;
	if (!ch.readers) {
		snprintf(msg, msglen, "applied (klsd settings only; readers keep running)");
		log_info("%s: configuration %s", why, msg);
		finish(k, "reloaded");
		return 0;
	}
	s->reload.rolling = true;
	s->reload.started = mono_now();
	s->reload.current[0] = '\0';
	s->reload.done = s->reload.total = 0;
	for (size_t i = 0; i < k->nheld; i++) {
		struct held *h = k->held[i];
		h->svc.reload_pending = h->state == HELD_ACTIVE && h->proc.pid;
		s->reload.total += h->svc.reload_pending;
	}
	snprintf(msg, msglen, "applied; restarting %u reader%s one at a time", s->reload.total,
	    s->reload.total == 1 ? "" : "s");
	log_info("%s: configuration %s", why, msg);
	return 0;
}

/* The reader restart under way is over: the new run is attached, or it cannot be. */
static bool
step_done(struct klsd *k, kls_mono now)
{
	struct held *h = held_find(k, k->svc.reload.current);

	if (!h || h->state != HELD_ACTIVE || h->proc.state == READER_FAILED ||
	    !mono_before(now, k->svc.reload.current_deadline))
		return true;
	return h->proc.pid && h->proc.pid != h->svc.reload_pid &&
	       kls_shm_slot_state(h->s) == KLS_SLOT_ACTIVE;
}

kls_mono
reload_tick(struct klsd *k, kls_mono now)
{
	struct svc_reload *r = &k->svc.reload;

	if (!r->rolling)
		return KLS_MONO_NEVER;
	if (r->current[0]) {
		if (!step_done(k, now))
			return r->current_deadline;
		r->current[0] = '\0';
		r->done++;
	}
	if (k->phase != PHASE_RUNNING) {
		r->rolling = false;
		return KLS_MONO_NEVER;
	}
	for (size_t i = 0; i < k->nheld; i++) {
		struct held *h = k->held[i];

		if (!h->svc.reload_pending)
			continue;
		h->svc.reload_pending = false;
		/* Gone, or restarted meanwhile: it already runs the new configuration. */
		if (h->state != HELD_ACTIVE || !h->proc.pid || h->proc.drain_sent ||
		    mono_before(r->started, h->proc.started_at)) {
			r->done++;
			continue;
		}
		log_info("reload: restarting reader %s pid %d (%u of %u)", h->l.key,
		    (int)h->proc.pid, r->done + 1, r->total);
		snprintf(r->current, sizeof(r->current), "%s", h->l.key);
		h->svc.reload_pid = h->proc.pid;
		supervise_command(h, KLS_CMD_DRAIN);
		h->proc.kill_at = mono_add_ms(now, k->cfg.reader.drain_timeout_ms);
		r->current_deadline = mono_add_ms(now,
		    (int64_t)k->cfg.reader.drain_timeout_ms + RELOAD_STEP_SLACK_MS);
		return r->current_deadline;
	}
	r->rolling = false;
	log_info("reload: done, %u reader%s restarted with the new configuration", r->done,
	    r->done == 1 ? "" : "s");
	finish(k, "reloaded");
	return KLS_MONO_NEVER;
}
