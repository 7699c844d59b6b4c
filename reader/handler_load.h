/*
 * Loading a handler shared object into kls-reader: path hygiene (like sshd's checks
 * on its key files), dlopen, and the ABI checks of include/kls/handler.h, each with a
 * message that names the handler, what was wrong and where. Every failure here is
 * permanent: the reader exits with READER_EXIT_PERMANENT and klsd does not restart it.
 *
 * Also the calls into a loaded handler, with the documented defaults for the
 * optional callbacks, so the reader loop never tests for NULL itself.
 */
#ifndef KLS_READER_HANDLER_LOAD_H
#define KLS_READER_HANDLER_LOAD_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "kls/handler.h"

enum handler_err {
	HANDLER_ERR_NONE = 0,
	HANDLER_ERR_PATH,     /* not absolute, cannot be resolved, too long */
	HANDLER_ERR_UNSAFE,   /* a component is group/world-writable or wrongly owned */
	HANDLER_ERR_NOT_FILE, /* not a regular file */
	HANDLER_ERR_DLOPEN,   /* dlopen refused it (not ELF, missing dependency, ...) */
	HANDLER_ERR_SYMBOL,   /* no kls_handler data symbol of its own */
	HANDLER_ERR_MAGIC,    /* the descriptor's magic is wrong */
	HANDLER_ERR_ABI,      /* ABI major differs or minor is newer than ours */
	HANDLER_ERR_SIZE,     /* descriptor too small for its ABI minor */
	HANDLER_ERR_DESCRIPTOR, /* no name, or a required callback is NULL */
};

struct handler_error {
	enum handler_err code;
	char msg[PATH_MAX + 256]; /* "handler /x/y.so: ABI major 2, this kls-reader supports 1" */
};

struct handler {
	void *dl;		    /* dlopen handle */
	char path[PATH_MAX];	    /* the resolved path that was checked and loaded */
	struct kls_handler_v1 cb; /* a copy, zero-filled past the handler's size */
};

/*
 * Checks path as handler_load does, without loading it: absolute; resolved with
 * realpath; the file and every directory from it up to / owned by root or
 * trusted_uid and neither group- nor world-writable; a regular file. Because nobody
 * else can write any directory on the resolved path, the file cannot be swapped
 * between this check and dlopen. On success stores the resolved path in
 * resolved[PATH_MAX] and returns 0; otherwise fills err and returns -1.
 */
int handler_check_path(const char *path, uid_t trusted_uid, char *resolved,
    struct handler_error *err);

/*
 * Checks path (trusting root and geteuid()), dlopens the resolved path with
 * RTLD_NOW | RTLD_LOCAL, finds its kls_handler descriptor and checks it. On success
 * fills h and returns 0; otherwise fills err, leaves nothing loaded, returns -1.
 */
int handler_load(const char *path, struct handler *h, struct handler_error *err);

/* dlcloses a loaded handler (after destroy). Safe on a zeroed struct. */
void handler_unload(struct handler *h);

/*
 * The calls. Return values are the handler's (KLS_HANDLER_OK or an error), with
 * these defaults when an optional callback is absent: shard_ended and
 * shutdown_requested return KLS_HANDLER_OK; lease_lost and destroy do nothing.
 */
int handler_init(const struct handler *h, const struct kls_shard_info *shard,
    const struct kls_handler_config *config, struct kls_ctx *ctx, void **state);
int handler_process(const struct handler *h, void *state, const struct kls_record *records,
    size_t n, struct kls_ctx *ctx);
void handler_lease_lost(const struct handler *h, void *state);
int handler_shard_ended(const struct handler *h, void *state, struct kls_ctx *ctx);
int handler_shutdown_requested(const struct handler *h, void *state, struct kls_ctx *ctx);
void handler_destroy(const struct handler *h, void *state);

/* True when the handler has its own shard_ended (manual mode then leaves SHARD_END
 * to it). */
bool handler_has_shard_ended(const struct handler *h);

#endif
