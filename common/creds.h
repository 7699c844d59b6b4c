/*
 * AWS credentials: a provider that resolves them from the standard chain and hands
 * out a copy on each call, refreshing temporary credentials before they expire.
 * Thread-safe: klsd's pool threads and a reader's fetch loop share one provider.
 * Secrets never reach a log line: errors name the source and the failing step only.
 */
#ifndef KLS_CREDS_H
#define KLS_CREDS_H

#include <stdint.h>

#include "common/aws.h"

struct aws_credentials {
	char access_key_id[128];
	char secret_access_key[128];
	char session_token[2048]; /* "" when the credentials are long-lived */
	int64_t expires_ms;       /* wall-clock ms since the epoch; 0 = does not expire */
	char source[32];          /* "environment", "profile:NAME", "container", "imds", "static" */
};

/* Where the chain looks; NULL/0 fields take the AWS tools' defaults and variables. */
struct creds_config {
	const char *profile;           /* NULL: $AWS_PROFILE, else "default" */
	const char *credentials_file;  /* NULL: $AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials */
	const char *config_file;       /* NULL: $AWS_CONFIG_FILE, else ~/.aws/config */
	const char *imds_endpoint;     /* NULL: $AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254 */
	int imds_disabled;             /* also honoured: $AWS_EC2_METADATA_DISABLED=true */
	long timeout_ms;               /* per metadata request; 0 = 1000 */
	int64_t refresh_before_ms;     /* refresh this long before expiry; 0 = 5 minutes */
};

struct aws_creds_provider;

/* The standard chain, in order: environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN), shared credentials and config files (profile), container
 * credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI, plain http only to
 * loopback or the container link-local addresses, optional authorization token), EC2
 * IMDSv2 (token PUT first; never falls back to IMDSv1). NULL only on allocation failure:
 * a chain that finds nothing reports it from creds_get. */
struct aws_creds_provider *creds_provider_new(const struct creds_config *cfg);
/* Fixed credentials (tests, tools). Copies the strings; token may be NULL. */
struct aws_creds_provider *creds_provider_new_static(const char *access_key_id,
    const char *secret_access_key, const char *session_token);
void creds_provider_free(struct aws_creds_provider *p);

/* Current credentials, resolving or refreshing them as needed. 0, or -1 with err
 * (type "Credentials", message naming each source tried and why it failed). */
int creds_get(struct aws_creds_provider *p, struct aws_credentials *out, struct aws_error *err);

#endif
