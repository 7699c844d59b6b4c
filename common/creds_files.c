/*
 * The shared credentials and config files (~/.aws/credentials, ~/.aws/config).
 * They are INI files read the way the AWS CLI reads them: "[NAME]" sections in the
 * credentials file, "[profile NAME]" (or "[default]") in the config file, "key = value"
 * or "key: value" with case-insensitive keys, "#" and ";" comment lines, and
 * indented lines after a key being continuations or nested settings (s3 = ...),
 * which we skip. Our own small parser rather than inih: inih's packaged build
 * caps lines at 200 bytes, shorter than a session token, and we want every
 * malformed line reported as FILE:LINE without echoing it (it may hold a secret).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/creds_int.h"

/* Far beyond any real credentials file; stops us reading a mistaken path to a log. */
#define CREDS_FILE_MAX (1u << 20)

struct profile_keys {
	struct aws_credentials c;
	int section_seen;
	int has_id, has_secret, has_token;
};

/*
 * One file's bytes, at most CREDS_FILE_MAX; ABSENT when it does not exist. Character
 * devices are read too, so AWS_SHARED_CREDENTIALS_FILE=/dev/null works as "none";
 * FIFOs and folders are refused, a FIFO would block the caller.
 */
static enum creds_status
read_file(const char *path, struct kls_buf *b, char *why, size_t whysize)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR)) {
		snprintf(why, whysize, "no file %s", path);
		return CREDS_ABSENT;
	}
	if (fd < 0) {
		snprintf(why, whysize, "%s: %s", path, strerror(errno));
		return CREDS_FAILED;
	}
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))) {
		snprintf(why, whysize, "%s: not a regular file", path);
		close(fd);
		return CREDS_FAILED;
	}
	for (;;) {
		ssize_t n;

		if (buf_reserve(b, 4096) < 0) {
			snprintf(why, whysize, "%s: %s", path,
			    errno == EMSGSIZE ? "larger than 1 MiB" : "out of memory");
			close(fd);
			return CREDS_FAILED;
		}
		n = read(fd, b->data + b->len, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, whysize, "%s: %s", path, strerror(errno));
			close(fd);
			return CREDS_FAILED;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
		b->data[b->len] = '\0';
	}
	close(fd);
	return CREDS_FOUND;
}

static void
trim(char **s, char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
		(*e)--;
}

/* Does the section header [s, e) name the profile we want? */
static int
section_matches(const char *s, const char *e, const char *profile, int is_config)
{
	size_t n = (size_t)(e - s), plen = strlen(profile);

	if (is_config && n > 7 && strncmp(s, "profile", 7) == 0 && (s[7] == ' ' || s[7] == '\t')) {
		s += 7;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		n = (size_t)(e - s);
	} else if (is_config && strcmp(profile, "default") != 0) {
		return 0; /* in the config file only "default" goes without the prefix */
	}
	return n == plen && memcmp(s, profile, n) == 0;
}

/* Stores value [v, e) of key [k, ke) if it is one of ours; -1 if it does not fit. */
static int
take_key(struct profile_keys *pk, const char *k, const char *ke, char *v, char *e)
{
	static const struct {
		const char *name;
		size_t off, size, flag;
	} keys[] = {
	    {"aws_access_key_id", offsetof(struct aws_credentials, access_key_id),
	        sizeof(pk->c.access_key_id), offsetof(struct profile_keys, has_id)},
	    {"aws_secret_access_key", offsetof(struct aws_credentials, secret_access_key),
	        sizeof(pk->c.secret_access_key), offsetof(struct profile_keys, has_secret)},
	    {"aws_session_token", offsetof(struct aws_credentials, session_token),
	        sizeof(pk->c.session_token), offsetof(struct profile_keys, has_token)},
	    /* The name older tools wrote for the session token. */
	    {"aws_security_token", offsetof(struct aws_credentials, session_token),
	        sizeof(pk->c.session_token), offsetof(struct profile_keys, has_token)},
	};
	size_t klen = (size_t)(ke - k), vlen = (size_t)(e - v);

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char *dst = (char *)&pk->c + keys[i].off;
		int *flag = (int *)((char *)pk + keys[i].flag);
		if (strlen(keys[i].name) != klen || strncasecmp(k, keys[i].name, klen) != 0)
			continue;
		if (vlen >= keys[i].size)
			return -1;
		memcpy(dst, v, vlen);
		dst[vlen] = '\0';
		*flag = vlen > 0;
		return 0;
	}
	return 0;
}

/*
 * Validates the whole file and collects the wanted profile's keys. FAILED with
 * "PATH:LINE: what" for a malformed line; the line itself is never quoted.
 */
static enum creds_status
parse_profile(const char *path, char *data, size_t len, const char *profile, int is_config,
    struct profile_keys *pk, char *why, size_t whysize)
{
	char *p = data, *end = data + len;
	int line = 0, in_section = 0, in_wanted = 0, key_seen = 0;
	const char *what = NULL;

	while (p < end) {
		char *eol = memchr(p, '\n', (size_t)(end - p)), *s = p, *e, *sep;
		int indented = *p == ' ' || *p == '\t';

		if (eol == NULL)
			eol = end;
		e = eol;
		p = eol < end ? eol + 1 : end;
		line++;
		trim(&s, &e);
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (indented && key_seen)
			continue; /* continuation or nested setting of the previous key */
		if (memchr(s, '\0', (size_t)(e - s)) != NULL) {
			what = "NUL byte";
			break;
		}
		if (*s == '[') {
			if (e[-1] != ']') {
				what = "section header without ]";
				break;
			}
			s++;
			e--;
			trim(&s, &e);
			if (s == e) {
				what = "empty section name";
				break;
			}
			in_section = 1;
			key_seen = 0;
			in_wanted = section_matches(s, e, profile, is_config);
			pk->section_seen |= in_wanted;
			continue;
		}
		if (!in_section) {
			what = "key outside any [section]";
			break;
		}
		for (sep = s; sep < e && *sep != '=' && *sep != ':'; sep++)
			;
		if (sep == e) {
			what = "expected key = value";
			break;
		}
		{
			char *k = s, *ke = sep, *v = sep + 1;
			trim(&k, &ke);
			trim(&v, &e);
			if (k == ke) {
				what = "empty key";
				break;
			}
			key_seen = 1;
			if (in_wanted && take_key(pk, k, ke, v, e) < 0) {
				what = "value too long";
				break;
			}
		}
	}
	if (what != NULL) {
		snprintf(why, whysize, "%s:%d: %s", path, line, what);
		return CREDS_FAILED;
	}
	return CREDS_FOUND;
}

/* One file's part of the lookup: FOUND (pk filled), ABSENT (why says so), FAILED. */
static enum creds_status
profile_from_file(const char *path, const char *profile, int is_config, struct profile_keys *pk,
    char *why, size_t whysize)
{
	struct kls_buf b;
	enum creds_status st;

	/* One read's slack over the cap, so a file of exactly 1 MiB still fits. */
	buf_init(&b, CREDS_FILE_MAX + 4096);
	st = read_file(path, &b, why, whysize);
	if (st == CREDS_FOUND)
		st = parse_profile(
		    path, b.data ? b.data : "", b.len, profile, is_config, pk, why, whysize);
	if (b.data != NULL)
		explicit_bzero(b.data, b.cap);
	buf_free(&b);
	if (st != CREDS_FOUND)
		return st;
	if (!pk->section_seen) {
		snprintf(why, whysize, "%s: no profile %s", path, profile);
		return CREDS_ABSENT;
	}
	if (pk->has_id != pk->has_secret) {
		snprintf(why, whysize, "%s: profile %s has %s but no %s", path, profile,
		    pk->has_id ? "aws_access_key_id" : "aws_secret_access_key",
		    pk->has_id ? "aws_secret_access_key" : "aws_access_key_id");
		return CREDS_FAILED;
	}
	if (!pk->has_id) {
		snprintf(why, whysize, "%s: profile %s has no aws_access_key_id", path, profile);
		return CREDS_ABSENT;
	}
	return CREDS_FOUND;
}

enum creds_status
creds_from_files(const char *profile, int explicit, const char *cred_path, const char *conf_path,
    struct aws_credentials *out, char *why, size_t whysize)
{
	const char *paths[2] = {cred_path, conf_path};
	char reasons[2][256] = {"", ""};
	int seen = 0;

	for (int i = 0; i < 2; i++) {
		struct profile_keys pk;
		enum creds_status st;

		if (paths[i] == NULL) {
			snprintf(reasons[i], sizeof(reasons[i]), "%s file unknown ($HOME not set)",
			    i == 0 ? "credentials" : "config");
			continue;
		}
		memset(&pk, 0, sizeof(pk));
		st = profile_from_file(
		    paths[i], profile, i == 1, &pk, reasons[i], sizeof(reasons[i]));
		seen |= pk.section_seen;
		if (st == CREDS_FOUND) {
			*out = pk.c;
			out->expires_ms = 0;
			snprintf(out->source, sizeof(out->source), "profile:%s", profile);
			explicit_bzero(&pk, sizeof(pk));
			return st;
		}
		explicit_bzero(&pk, sizeof(pk));
		if (st == CREDS_FAILED) {
			snprintf(why, whysize, "%s", reasons[i]);
			return st;
		}
	}
	if (explicit && !seen) {
		snprintf(why, whysize, "not found (%s; %s)", reasons[0], reasons[1]);
		return CREDS_FAILED;
	}
	if (explicit) {
		/* A named profile that only assumes a role (role_arn, sso_*, credential_process)
		 * must not quietly become the instance's identity further down the chain. */
		snprintf(why, whysize,
		    "no static keys; role_arn, sso and "
		    "credential_process are not supported (%s; %s)",
		    reasons[0], reasons[1]);
		return CREDS_FAILED;
	}
	snprintf(why, whysize, "%s; %s", reasons[0], reasons[1]);
	return CREDS_ABSENT;
}
