/*
 * The worker id file: see worker_id.h.
 */
#include "config.h"

#include "supervisor/worker_id.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int
worker_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > WORKER_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

int
worker_uuid(char out[37])
{
	uint8_t b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t r = getrandom(b + got, sizeof(b) - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
	    b[14], b[15]);
	return 0;
}

/* mkdir -p with mode 0700 for the directories it makes. */
static int
make_dirs(const char *dir, char *why, size_t whylen)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path)) {
		snprintf(why, whylen, "state directory \"%s\": bad length", dir);
		return -1;
	}
	memcpy(path, dir, n + 1);
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			snprintf(why, whylen, "mkdir %s: %s", path, strerror(errno));
			return -1;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

static int
read_id(const char *file, char *out, size_t size, char *why, size_t whylen)
{
	char buf[WORKER_ID_MAX + 2];
	ssize_t n;
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -1; /* errno for the caller: ENOENT means "make one" */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(why, whylen, "read %s: %s", file, strerror(errno));
		errno = EIO;
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (!worker_id_valid(buf) || strlen(buf) >= size) {
		snprintf(why, whylen,
		    "%s does not hold a worker id (1..%d printable characters, no blanks)", file,
		    WORKER_ID_MAX);
		errno = EINVAL;
		return -1;
	}
	memcpy(out, buf, strlen(buf) + 1);
	return 0;
}

int
worker_id_load(const char *state_dir, char *out, size_t size, char *why, size_t whylen)
{
	char file[PATH_MAX], tmp[PATH_MAX], host[HOST_NAME_MAX + 1], uuid[37],
	    id[WORKER_ID_MAX + 2];
	int fd, len;

	if (make_dirs(state_dir, why, whylen) < 0)
		return -1;
	if ((size_t)snprintf(file, sizeof(file), "%s/worker-id", state_dir) >= sizeof(file) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.worker-id.%ld", state_dir, (long)getpid()) >=
	        sizeof(tmp)) {
		snprintf(why, whylen, "state directory \"%s\": path too long", state_dir);
		return -1;
	}
	if (read_id(file, out, size, why, whylen) == 0)
		return 0;
	if (errno != ENOENT) {
		if (errno != EIO && errno != EINVAL)
			snprintf(why, whylen, "open %s: %s", file, strerror(errno));
		return -1;
	}
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (worker_uuid(uuid) < 0) {
		snprintf(why, whylen, "getrandom: %s", strerror(errno));
		return -1;
	}
	/* The uuid alone is unique; the host name is for people reading the table, cut so
	 * the id stays within its bound. */
	len = snprintf(id, sizeof(id), "%.*s:%s", WORKER_ID_MAX - 37, host, uuid);
	if (!worker_id_valid(id)) {
		/* A host name with blanks or odd bytes: the uuid still identifies us. */
		len = snprintf(id, sizeof(id), "host:%s", uuid);
	}
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(why, whylen, "create %s: %s", tmp, strerror(errno));
		return -1;
	}
	id[len] = '\n';
	if (write(fd, id, (size_t)len + 1) != len + 1 || fsync(fd) < 0) {
		snprintf(why, whylen, "write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	/* link() never replaces: if another klsd got there first, its id wins. */
	if (link(tmp, file) < 0 && errno != EEXIST) {
		snprintf(why, whylen, "link %s: %s", file, strerror(errno));
		unlink(tmp);
		return -1;
	}
	unlink(tmp);
	if (read_id(file, out, size, why, whylen) == 0)
		return 0;
	if (errno == ENOENT)
		snprintf(why, whylen, "open %s: %s", file, strerror(errno));
	return -1;
}
