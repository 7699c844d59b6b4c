/*
 * Which shm table or control socket kls-ctl uses: the one named, the one of the
 * application named, or the only one on the host. With several applications and no
 * choice it refuses and lists them rather than guessing.
 */
#include "config.h"

#include "ctl/ctl.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>

/* Names listed in the "several" message. */
#define LIST_MAX 8

/* What one kind of object looks like in its directory, and how messages call it. */
struct kind {
	const char *prefix, *suffix;
	const char *noun; /* "kls table", "control socket" */
	const char *hint; /* after "no <noun> in DIR" */
};

static bool
matches(const struct kind *k, const char *name)
{
	size_t n = strlen(name), p = strlen(k->prefix), s = strlen(k->suffix);
	return n > p + s && !strncmp(name, k->prefix, p) && !strcmp(name + n - s, k->suffix);
}

/* The only entry of dir that is of kind k, into found. 0, or -1 with msg. */
static int
pick_only(
    const char *dir, const struct kind *k, char *found, size_t size, char *msg, size_t msg_size)
{
	char list[LIST_MAX * 64] = "";
	struct dirent *de;
	unsigned count = 0;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		int e = errno;
		snprintf(msg, msg_size, "opendir %s: %s%s%s%s", dir, strerror(e),
		    e == ENOENT ? " (" : "", e == ENOENT ? k->hint : "", e == ENOENT ? ")" : "");
		return -1;
	}
	while ((de = readdir(d))) {
		if (!matches(k, de->d_name) || strlen(de->d_name) >= size)
			continue;
		if (count++ == 0)
			snprintf(found, size, "%s", de->d_name);
		if (count <= LIST_MAX) {
			size_t used = strlen(list);
			snprintf(list + used, sizeof(list) - used, "%s%.60s", used ? ", " : "",
			    de->d_name);
		}
	}
	closedir(d);
	if (count == 0) {
		snprintf(msg, msg_size, "no %s in %s (%s)", k->noun, dir, k->hint);
		return -1;
	}
	if (count > 1) {
		snprintf(msg, msg_size, "%u %ss in %s (%s%s): pick one with -a APP", count, k->noun,
		    dir, list, count > LIST_MAX ? ", ..." : "");
		return -1;
	}
	return 0;
}

static int
bad_app(const char *app, char *msg, size_t msg_size)
{
	snprintf(msg, msg_size,
	    "bad application name \"%s\" (letters, digits, \".\", \"_\", \"-\")", app);
	return -1;
}

int
ctl_pick_table(const char *dir, const char *app, const char *shm, char *name, size_t size,
    char *msg, size_t msg_size)
{
	static const struct kind table = {"kls.", "", "kls table", "is klsd running?"};
	char found[KLS_SHM_NAME_MAX + 8];

	if (shm) {
		if (snprintf(name, size, "%s%s", shm[0] == '/' ? "" : "/", shm) >= (int)size) {
			snprintf(msg, msg_size, "shm name \"%s\" is too long", shm);
			return -1;
		}
		return 0;
	}
	if (app)
		return kls_shm_name(name, size, app) < 0 ? bad_app(app, msg, msg_size) : 0;
	if (pick_only(dir, &table, found, sizeof(found), msg, msg_size) < 0)
		return -1;
	if (snprintf(name, size, "/%s", found) >= (int)size) {
		snprintf(msg, msg_size, "table name %s is too long", found);
		return -1;
	}
	return 0;
}

int
ctl_pick_socket(const char *dir, const char *app, const char *sock, char *path, size_t size,
    char *msg, size_t msg_size)
{
	static const struct kind socket = {
	    "", ".sock", "control socket", "is klsd running? -S PATH names another socket"};
	char found[256], check[KLS_SHM_NAME_MAX + 8];
	int n;

	if (sock)
		n = snprintf(path, size, "%s", sock);
	else if (app && kls_shm_name(check, sizeof(check), app) < 0)
		return bad_app(app, msg, msg_size);
	else if (app)
		n = snprintf(path, size, "%s/%s.sock", dir, app);
	else if (pick_only(dir, &socket, found, sizeof(found), msg, msg_size) < 0)
		return -1;
	else
		n = snprintf(path, size, "%s/%s", dir, found);
	if (n >= (int)size) {
		snprintf(msg, msg_size, "control socket path is too long");
		return -1;
	}
	return 0;
}
