/*
 * The credentials provider: a fixed set (static) or the standard AWS chain
 * (environment, shared files, container, EC2 IMDSv2; the sources live in
 * creds_files.c and creds_http.c), cached and refreshed before expiry.
 *
 * Concurrency: one mutex guards the cache and is held across a fetch, so callers
 * that arrive during a refresh wait for that one fetch instead of each asking the
 * metadata service (a fetch is bounded by the request timeouts, about a second).
 * Refresh: temporary credentials are fetched again from the source that gave them
 * once they are within refresh_before_ms of expiry. A failed refresh keeps serving
 * the old credentials while they are valid and waits REFRESH_RETRY_MS before the
 * next try, so a dead endpoint does not stall every request; expired credentials
 * are dropped and the whole chain runs again.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/creds_int.h"

#define DEFAULT_TIMEOUT_MS 1000
#define DEFAULT_REFRESH_BEFORE_MS (5 * 60 * 1000)
#define DEFAULT_IMDS_ENDPOINT "http://169.254.169.254"
#define REFRESH_RETRY_MS 5000
#define PROFILE_NAME_MAX 128

enum source { SRC_ENV, SRC_FILES, SRC_CONTAINER, SRC_IMDS, SRC_COUNT };

struct aws_creds_provider {
	pthread_mutex_t mu;
	int chain; /* 0: static credentials, which never change */
	/* The configuration, copied; NULL means "from the environment, else the default". */
	char *profile, *credentials_file, *config_file, *imds_endpoint;
	int imds_disabled;
	long timeout_ms;
	int64_t refresh_before_ms;
	/* The cache, under mu. */
	int have;
	enum source cur_src;
	struct aws_credentials cur;
	int64_t retry_at_ms; /* wall ms: no refresh attempt before this after a failed one */
};

int
creds_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

static const char *
env_nonempty(const char *name)
{
	const char *v = getenv(name);
	return v != NULL && *v != '\0' ? v : NULL;
}

static char *
dup_or_null(const char *s, int *failed)
{
	char *d;
	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*failed = 1;
	return d;
}

struct aws_creds_provider *
creds_provider_new(const struct creds_config *cfg)
{
	static const struct creds_config none;
	struct aws_creds_provider *p = calloc(1, sizeof(*p));
	int failed = 0;

	if (p == NULL)
		return NULL;
	if (cfg == NULL)
		cfg = &none;
	p->chain = 1;
	p->profile = dup_or_null(cfg->profile, &failed);
	p->credentials_file = dup_or_null(cfg->credentials_file, &failed);
	p->config_file = dup_or_null(cfg->config_file, &failed);
	p->imds_endpoint = dup_or_null(cfg->imds_endpoint, &failed);
	p->imds_disabled = cfg->imds_disabled;
	p->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	p->refresh_before_ms =
	    cfg->refresh_before_ms > 0 ? cfg->refresh_before_ms : DEFAULT_REFRESH_BEFORE_MS;
	if (failed || pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p->profile);
		free(p->credentials_file);
		free(p->config_file);
		free(p->imds_endpoint);
		free(p);
		return NULL;
	}
	return p;
}

struct aws_creds_provider *
creds_provider_new_static(
    const char *access_key_id, const char *secret_access_key, const char *session_token)
{
	struct aws_creds_provider *p;

	if (access_key_id == NULL || secret_access_key == NULL)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	if (creds_copy(p->cur.access_key_id, sizeof(p->cur.access_key_id), access_key_id) < 0 ||
	    creds_copy(p->cur.secret_access_key, sizeof(p->cur.secret_access_key),
	        secret_access_key) < 0 ||
	    creds_copy(p->cur.session_token, sizeof(p->cur.session_token),
	        session_token != NULL ? session_token : "") < 0 ||
	    pthread_mutex_init(&p->mu, NULL) != 0) {
		explicit_bzero(p, sizeof(*p));
		free(p);
		return NULL;
	}
	strcpy(p->cur.source, "static");
	p->have = 1;
	return p;
}

void
creds_provider_free(struct aws_creds_provider *p)
{
	if (p == NULL)
		return;
	pthread_mutex_destroy(&p->mu);
	free(p->profile);
	free(p->credentials_file);
	free(p->config_file);
	free(p->imds_endpoint);
	explicit_bzero(p, sizeof(*p));
	free(p);
}

static enum creds_status
from_env(struct aws_credentials *out, char *why, size_t whysize)
{
	static const char *const names[3] = {
	    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"};
	const char *v[3];
	char *dst[3] = {out->access_key_id, out->secret_access_key, out->session_token};
	size_t size[3] = {
	    sizeof(out->access_key_id), sizeof(out->secret_access_key), sizeof(out->session_token)};

	for (int i = 0; i < 3; i++)
		v[i] = env_nonempty(names[i]);
	if (v[0] == NULL && v[1] == NULL) {
		snprintf(why, whysize, "AWS_ACCESS_KEY_ID not set");
		return CREDS_ABSENT;
	}
	if (v[0] == NULL || v[1] == NULL) {
		snprintf(why, whysize, "%s is set but %s is not", names[v[0] == NULL ? 1 : 0],
		    names[v[0] == NULL ? 0 : 1]);
		return CREDS_FAILED;
	}
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < 3; i++) {
		if (creds_copy(dst[i], size[i], v[i] != NULL ? v[i] : "") < 0) {
			snprintf(
			    why, whysize, "%s is longer than %zu bytes", names[i], size[i] - 1);
			explicit_bzero(out, sizeof(*out));
			return CREDS_FAILED;
		}
	}
	strcpy(out->source, "environment");
	return CREDS_FOUND;
}

/* Path from cfg, else the variable, else $HOME/.aws/NAME; a leading ~/ means $HOME. */
static const char *
file_path(const char *cfg, const char *var, const char *name, char *buf, size_t size)
{
	const char *path = cfg != NULL ? cfg : env_nonempty(var);
	const char *home = env_nonempty("HOME");

	if (path != NULL && strncmp(path, "~/", 2) != 0)
		return path;
	if (home == NULL)
		return NULL;
	if (path != NULL)
		snprintf(buf, size, "%s/%s", home, path + 2);
	else
		snprintf(buf, size, "%s/.aws/%s", home, name);
	return buf;
}

static enum creds_status
from_files(const struct aws_creds_provider *p, struct aws_credentials *out, char *label,
    size_t labelsize, char *why, size_t whysize)
{
	const char *profile = p->profile != NULL ? p->profile : env_nonempty("AWS_PROFILE");
	char credbuf[4096], confbuf[4096];
	const char *cred, *conf;
	int explicit = profile != NULL && strcmp(profile, "default") != 0;

	if (profile == NULL)
		profile = "default";
	snprintf(label, labelsize, "profile %s", profile);
	if (strlen(profile) > PROFILE_NAME_MAX) {
		snprintf(why, whysize, "profile name longer than %d bytes", PROFILE_NAME_MAX);
		return CREDS_FAILED;
	}
	cred = file_path(p->credentials_file, "AWS_SHARED_CREDENTIALS_FILE", "credentials", credbuf,
	    sizeof(credbuf));
	conf = file_path(p->config_file, "AWS_CONFIG_FILE", "config", confbuf, sizeof(confbuf));
	return creds_from_files(profile, explicit, cred, conf, out, why, whysize);
}

static enum creds_status
from_imds(
    const struct aws_creds_provider *p, struct aws_credentials *out, char *why, size_t whysize)
{
	const char *off = getenv("AWS_EC2_METADATA_DISABLED");
	const char *ep;

	if (p->imds_disabled || (off != NULL && strcasecmp(off, "true") == 0)) {
		snprintf(why, whysize, "disabled%s",
		    p->imds_disabled ? "" : " by AWS_EC2_METADATA_DISABLED");
		return CREDS_ABSENT;
	}
	ep = p->imds_endpoint != NULL ? p->imds_endpoint
	                              : env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	return creds_from_imds(
	    ep != NULL ? ep : DEFAULT_IMDS_ENDPOINT, p->timeout_ms, out, why, whysize);
}

static enum creds_status
from_source(const struct aws_creds_provider *p, enum source s, struct aws_credentials *out,
    char *label, size_t labelsize, char *why, size_t whysize)
{
	static const char *const labels[SRC_COUNT] = {
	    "environment", "profile", "container", "imds"};

	snprintf(label, labelsize, "%s", labels[s]);
	switch (s) {
	case SRC_ENV:
		return from_env(out, why, whysize);
	case SRC_FILES:
		return from_files(p, out, label, labelsize, why, whysize);
	case SRC_CONTAINER:
		return creds_from_container(p->timeout_ms, out, why, whysize);
	case SRC_IMDS:
	case SRC_COUNT:
		break;
	}
	return from_imds(p, out, why, whysize);
}

static void
set_error(struct aws_error *err, enum creds_status st, const char *msg)
{
	size_t n = strnlen(msg, sizeof(err->message) - 1);

	memset(err, 0, sizeof(*err));
	err->cls = st == CREDS_FAILED_IO ? AWS_ERR_RETRYABLE : AWS_ERR_FATAL;
	strcpy(err->type, "Credentials");
	memcpy(err->message, msg, n); /* truncated to fit; the memset ended it */
}

/* Runs the chain under p->mu; 0 with p->cur set, or -1 with err listing each source tried. */
static int
resolve_chain(struct aws_creds_provider *p, struct aws_error *err)
{
	char tried[1024], label[PROFILE_NAME_MAX + 16], why[512];
	size_t used = 0, before = 0;
	enum creds_status st = CREDS_ABSENT;

	tried[0] = '\0';
	for (enum source s = 0; s < SRC_COUNT; s++) {
		struct aws_credentials c;

		why[0] = '\0';
		st = from_source(p, s, &c, label, sizeof(label), why, sizeof(why));
		if (st == CREDS_FOUND) {
			p->cur = c;
			p->cur_src = s;
			p->have = 1;
			p->retry_at_ms = 0;
			explicit_bzero(&c, sizeof(c));
			return 0;
		}
		before = used < sizeof(tried) ? used : sizeof(tried) - 1;
		if (used < sizeof(tried))
			used += (size_t)snprintf(tried + used, sizeof(tried) - used, "%s%s: %s",
			    used ? "; " : "", label, why);
		if (st != CREDS_ABSENT)
			break;
	}
	if (st == CREDS_ABSENT) {
		char msg[sizeof(tried) + 32];
		snprintf(msg, sizeof(msg), "no credentials found: %s", tried);
		set_error(err, st, msg);
	} else {
		/* The failing source first, so a long list cannot truncate it away. */
		char msg[sizeof(tried) + sizeof(why) + sizeof(label) + 32];
		tried[before] = '\0';
		snprintf(msg, sizeof(msg), "%s: %s%s%s%s", label, why, before ? " (after " : "",
		    tried, before ? ")" : "");
		set_error(err, st, msg);
	}
	return -1;
}

/* Fetches the cached credentials' source again; p->cur is kept while still valid. */
static int
refresh(struct aws_creds_provider *p, struct aws_error *err)
{
	char label[PROFILE_NAME_MAX + 16], why[512], msg[700];
	struct aws_credentials c;
	enum creds_status st =
	    from_source(p, p->cur_src, &c, label, sizeof(label), why, sizeof(why));
	int64_t now;

	if (st == CREDS_FOUND) {
		p->cur = c;
		p->retry_at_ms = 0;
		explicit_bzero(&c, sizeof(c));
		return 0;
	}
	now = wall_now_ms();
	if (now < p->cur.expires_ms) {
		p->retry_at_ms = now + REFRESH_RETRY_MS;
		return 0;
	}
	p->have = 0;
	snprintf(msg, sizeof(msg), "refreshing expired credentials: %s: %s", label, why);
	set_error(err, st, msg);
	return -1;
}

int
creds_get(struct aws_creds_provider *p, struct aws_credentials *out, struct aws_error *err)
{
	int64_t now, exp;
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	now = wall_now_ms();
	exp = p->cur.expires_ms;
	if (p->have && exp != 0 && now >= exp)
		p->have = 0; /* expired: whatever gave them, look again from the top */
	if (!p->have)
		rc = resolve_chain(p, err);
	else if (exp != 0 && now >= exp - p->refresh_before_ms && now >= p->retry_at_ms)
		rc = refresh(p, err);
	if (rc == 0)
		*out = p->cur;
	else
		memset(out, 0, sizeof(*out));
	pthread_mutex_unlock(&p->mu);
	return rc;
}
