/*
 * Which shm table kls-ctl reads: the one named, the one of the application named, or
 * the only one on the host. With several applications and no choice it refuses and
 * lists them rather than guessing.
 */
#include "config.h"

#include "ctl/ctl.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>

/* Names listed in the "several tables" message. */
#define LIST_MAX 8

int
ctl_pick_table(const char *dir, const char *app, const char *shm, char *name, size_t size,
    char *msg, size_t msg_size)
{
	char found[KLS_SHM_NAME_MAX + 8] = "", list[LIST_MAX * 64] = "";
	struct dirent *de;
	unsigned count = 0;
	DIR *d;

	if (shm) {
		if (snprintf(name, size, "%s%s", shm[0] == '/' ? "" : "/", shm) >= (int)size) {
			snprintf(msg, msg_size, "shm name \"%s\" is too long", shm);
			return -1;
		}
		return 0;
	}
	if (app) {
		if (kls_shm_name(name, size, app) < 0) {
			snprintf(msg, msg_size,
			    "bad application name \"%s\" (letters, digits, \".\", \"_\", \"-\")",
			    app);
			return -1;
		}
		return 0;
	}
	d = opendir(dir);
	if (!d) {
		snprintf(msg, msg_size, "opendir %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "kls.", 4) != 0 || strlen(de->d_name) >= sizeof(found))
			continue;
		if (count++ == 0)
			snprintf(found, sizeof(found), "%s", de->d_name);
		if (count <= LIST_MAX) {
			size_t used = strlen(list);
			snprintf(list + used, sizeof(list) - used, "%s%.60s", used ? ", " : "",
			    de->d_name);
		}
	}
	closedir(d);
	if (count == 0) {
		snprintf(msg, msg_size, "no kls table in %s (is klsd running?)", dir);
		return -1;
	}
	if (count > 1) {
		snprintf(msg, msg_size, "%u kls tables in %s (%s%s): pick one with -a APP", count,
		    dir, list, count > LIST_MAX ? ", ..." : "");
		return -1;
	}
	if (snprintf(name, size, "/%s", found) >= (int)size) {
		snprintf(msg, msg_size, "table name %s is too long", found);
		return -1;
	}
	return 0;
}
