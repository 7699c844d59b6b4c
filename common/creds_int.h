/*
 * Inside the credentials provider: the interface between the chain (creds.c) and
 * its sources (creds_files.c, creds_http.c). Not for other modules.
 * Every source reports why it found nothing in a short text that never holds a
 * secret: it names variables, files, lines, hosts and steps, never values.
 */
#ifndef KLS_CREDS_INT_H
#define KLS_CREDS_INT_H

#include <stddef.h>

#include "common/creds.h"

/* FOUND: out is filled (source included). ABSENT: not configured here, the chain
 * moves on. FAILED: configured but unusable (bad file, URL or response), the chain
 * stops. FAILED_IO: configured but the fetch failed (network, 5xx), the chain stops
 * and the caller may retry. */
enum creds_status {
	CREDS_FOUND,
	CREDS_ABSENT,
	CREDS_FAILED,
	CREDS_FAILED_IO,
};

/* Copies src into a fixed field; -1 (nothing copied) if it does not fit. */
int creds_copy(char *dst, size_t size, const char *src);

/* Profile NAME from the shared credentials file ([NAME]), then the config file
 * ([profile NAME], or [default]). explicit: the profile was asked for, so its
 * absence from both files is a failure rather than a reason to move on. */
enum creds_status creds_from_files(const char *profile, int explicit, const char *cred_path,
    const char *conf_path, struct aws_credentials *out, char *why, size_t whysize);

/* Container credentials from $AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI. */
enum creds_status creds_from_container(
    long timeout_ms, struct aws_credentials *out, char *why, size_t whysize);

/* EC2 instance metadata, IMDSv2 only. endpoint: base URL without a trailing path. */
enum creds_status creds_from_imds(
    const char *endpoint, long timeout_ms, struct aws_credentials *out, char *why, size_t whysize);

#endif
