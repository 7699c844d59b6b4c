/*
 * Handler loading for kls-reader: refuse a handler that someone other than root or
 * the reader's own user could have written, then refuse one that is not a kls
 * handler of an ABI this reader speaks. The checks run before any handler code
 * except the shared object's own constructors, which dlopen runs; that is why the
 * path checks come first and are strict. See handler_load.h.
 */
#include "config.h"

#include "reader/handler_load.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest handler name we accept: it goes into logs and the shm slot. */
#define HANDLER_NAME_MAX 64

/*
 * Bytes of struct kls_handler_v1 each ABI minor of major 1 defines: a handler of
 * minor m must provide at least required_size[m]. Append an entry with each minor.
 */
static const size_t required_size[] = {
	[0] = offsetof(struct kls_handler_v1, destroy) + sizeof(((struct kls_handler_v1 *)0)->destroy),
};
_Static_assert(sizeof(required_size) / sizeof(required_size[0]) == KLS_HANDLER_ABI_MINOR + 1,
    "one required size per ABI minor");

static int
fail(struct handler_error *err, enum handler_err code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(struct handler_error *err, enum handler_err code, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	err->code = code;
	n = snprintf(err->msg, sizeof(err->msg), "handler %s: ", path);
	if (n < 0 || (size_t)n >= sizeof(err->msg))
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* One component of the resolved path: owner and write bits. */
static int
check_owner_mode(const char *path, const char *what, const char *component,
    const struct stat *st, uid_t trusted_uid, struct handler_error *err)
{
	unsigned mode = (unsigned)(st->st_mode & 07777);

	if (st->st_uid != 0 && st->st_uid != trusted_uid)
		return fail(err, HANDLER_ERR_UNSAFE, path, "%s %s is owned by uid %lu, not root or uid %lu",
		    what, component, (unsigned long)st->st_uid, (unsigned long)trusted_uid);
	/* A root-owned sticky directory such as /tmp lets others add entries but not rename
	 * or remove ours, and every component below it is checked in turn: as safe as a
	 * directory only we can write (sshd judges it the same way). */
	if (S_ISDIR(st->st_mode) && st->st_uid == 0 && (st->st_mode & S_ISVTX))
		return 0;
	if (st->st_mode & S_IWOTH)
		return fail(err, HANDLER_ERR_UNSAFE, path, "%s %s is world-writable (mode %04o)", what,
		    component, mode);
	if (st->st_mode & S_IWGRP)
		return fail(err, HANDLER_ERR_UNSAFE, path, "%s %s is group-writable (mode %04o)", what,
		    component, mode);
	return 0;
}

int
handler_check_path(const char *path, uid_t trusted_uid, char *resolved,
    struct handler_error *err)
{
	char dir[PATH_MAX];
	struct stat st;

	err->code = HANDLER_ERR_NONE;
	err->msg[0] = '\0';
	if (path == NULL || path[0] == '\0')
		return fail(err, HANDLER_ERR_PATH, "(none)", "no handler path configured");
	if (path[0] != '/')
		return fail(err, HANDLER_ERR_PATH, path, "path is not absolute");
	if (strnlen(path, PATH_MAX) >= PATH_MAX)
		return fail(err, HANDLER_ERR_PATH, "(too long)", "path longer than %d bytes", PATH_MAX - 1);
	/* Check what will be loaded: with every symlink resolved, the components below
	 * are the ones the kernel walks when dlopen opens the resolved path. */
	if (realpath(path, resolved) == NULL)
		return fail(err, HANDLER_ERR_PATH, path, "cannot resolve path: %s", strerror(errno));
	if (stat(resolved, &st) == -1)
		return fail(err, HANDLER_ERR_PATH, path, "stat %s: %s", resolved, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, HANDLER_ERR_NOT_FILE, path, "%s is not a regular file", resolved);
	if (check_owner_mode(path, "file", resolved, &st, trusted_uid, err) == -1)
		return -1;

	/* Every directory from the file's up to /: write access to any of them would let
	 * its owner replace what is below it. */
	memcpy(dir, resolved, strlen(resolved) + 1);
	for (;;) {
		char *slash = strrchr(dir, '/');
		if (slash == dir)
			slash[1] = '\0'; /* the root directory itself */
		else
			*slash = '\0';
		if (stat(dir, &st) == -1)
			return fail(err, HANDLER_ERR_PATH, path, "stat %s: %s", dir, strerror(errno));
		if (check_owner_mode(path, "directory", dir, &st, trusted_uid, err) == -1)
			return -1;
		if (strcmp(dir, "/") == 0)
			return 0;
	}
}

/* Checks the descriptor at sym (avail bytes in the symbol) and copies it into out,
 * zero-filling what an older minor lacks. */
static int
check_descriptor(const char *path, const void *sym, size_t avail, struct kls_handler_v1 *out,
    struct handler_error *err)
{
	struct kls_handler_v1 d;
	size_t head = offsetof(struct kls_handler_v1, reserved);

	if (avail < head)
		return fail(err, HANDLER_ERR_SIZE, path,
		    "symbol " KLS_HANDLER_SYMBOL " is %zu bytes, too small for a descriptor", avail);
	memset(&d, 0, sizeof(d));
	memcpy(&d, sym, head);
	if (d.magic != KLS_HANDLER_MAGIC)
		return fail(err, HANDLER_ERR_MAGIC, path,
		    "bad magic 0x%08x in " KLS_HANDLER_SYMBOL " (expected 0x%08x): not a kls handler "
		    "descriptor", (unsigned)d.magic, (unsigned)KLS_HANDLER_MAGIC);
	if (d.abi_major != KLS_HANDLER_ABI_MAJOR)
		return fail(err, HANDLER_ERR_ABI, path, "ABI major %u, this kls-reader supports %u",
		    (unsigned)d.abi_major, (unsigned)KLS_HANDLER_ABI_MAJOR);
	if (d.abi_minor > KLS_HANDLER_ABI_MINOR)
		return fail(err, HANDLER_ERR_ABI, path,
		    "ABI %u.%u is newer than this kls-reader supports (%u.%u): upgrade kls",
		    (unsigned)d.abi_major, (unsigned)d.abi_minor, (unsigned)KLS_HANDLER_ABI_MAJOR,
		    (unsigned)KLS_HANDLER_ABI_MINOR);
	if (d.size < required_size[d.abi_minor])
		return fail(err, HANDLER_ERR_SIZE, path,
		    "descriptor size %u is smaller than the %zu bytes ABI %u.%u requires",
		    (unsigned)d.size, required_size[d.abi_minor], (unsigned)d.abi_major,
		    (unsigned)d.abi_minor);
	if (d.size > avail)
		return fail(err, HANDLER_ERR_SIZE, path,
		    "descriptor claims %u bytes but symbol " KLS_HANDLER_SYMBOL " holds %zu",
		    (unsigned)d.size, avail);
	memcpy(&d, sym, d.size < sizeof(d) ? d.size : sizeof(d));
	if (d.name == NULL || d.name[0] == '\0')
		return fail(err, HANDLER_ERR_DESCRIPTOR, path, "descriptor has no name");
	if (strnlen(d.name, HANDLER_NAME_MAX + 1) > HANDLER_NAME_MAX)
		return fail(err, HANDLER_ERR_DESCRIPTOR, path, "descriptor name longer than %d bytes",
		    HANDLER_NAME_MAX);
	if (d.init == NULL)
		return fail(err, HANDLER_ERR_DESCRIPTOR, path, "required callback init is NULL");
	if (d.process == NULL)
		return fail(err, HANDLER_ERR_DESCRIPTOR, path, "required callback process is NULL");
	*out = d;
	return 0;
}

/* Finds the descriptor symbol, insisting that it is a data object defined by the
 * handler itself (not by one of its dependencies), and returns its size. */
static const void *
find_descriptor(const char *path, void *dl, size_t *avail, struct handler_error *err)
{
	struct link_map *own = NULL, *where = NULL;
	const ElfW(Sym) *esym = NULL;
	Dl_info info;
	void *sym;

	dlerror();
	sym = dlsym(dl, KLS_HANDLER_SYMBOL);
	if (sym == NULL) {
		fail(err, HANDLER_ERR_SYMBOL, path,
		    "no symbol " KLS_HANDLER_SYMBOL ": not a kls handler (does it export "
		    "const struct kls_handler_v1 " KLS_HANDLER_SYMBOL "?)");
		return NULL;
	}
	if (dlinfo(dl, RTLD_DI_LINKMAP, &own) == -1 ||
	    dladdr1(sym, &info, (void **)&where, RTLD_DL_LINKMAP) == 0 ||
	    dladdr1(sym, &info, (void **)&esym, RTLD_DL_SYMENT) == 0 || esym == NULL) {
		fail(err, HANDLER_ERR_SYMBOL, path, "cannot inspect symbol " KLS_HANDLER_SYMBOL);
		return NULL;
	}
	if (where != own) {
		fail(err, HANDLER_ERR_SYMBOL, path,
		    "symbol " KLS_HANDLER_SYMBOL " comes from %s, not from the handler itself",
		    info.dli_fname ? info.dli_fname : "another object");
		return NULL;
	}
	/* st_info has the same layout in both ELF classes (elf.h defines ELF64_ST_TYPE
	 * as ELF32_ST_TYPE). */
	if (ELF32_ST_TYPE(esym->st_info) != STT_OBJECT) {
		fail(err, HANDLER_ERR_SYMBOL, path,
		    "symbol " KLS_HANDLER_SYMBOL " is not a data object (a function?): export "
		    "const struct kls_handler_v1 " KLS_HANDLER_SYMBOL);
		return NULL;
	}
	*avail = (size_t)esym->st_size;
	return sym;
}

int
handler_load(const char *path, struct handler *h, struct handler_error *err)
{
	const void *sym;
	size_t avail = 0;
	void *dl;

	memset(h, 0, sizeof(*h));
	if (handler_check_path(path, geteuid(), h->path, err) == -1)
		return -1;
	/* RTLD_NOW: an unresolved symbol fails here, as a permanent load error, rather
	 * than killing the reader in the middle of a batch. RTLD_LOCAL: the handler's
	 * symbols never interpose on those of other objects. */
	dl = dlopen(h->path, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		const char *e = dlerror();
		return fail(err, HANDLER_ERR_DLOPEN, path, "dlopen: %s", e ? e : "unknown error");
	}
	sym = find_descriptor(path, dl, &avail, err);
	if (sym == NULL || check_descriptor(path, sym, avail, &h->cb, err) == -1) {
		dlclose(dl);
		memset(h, 0, sizeof(*h));
		return -1;
	}
	h->dl = dl;
	return 0;
}

void
handler_unload(struct handler *h)
{
	if (h->dl != NULL)
		dlclose(h->dl);
	memset(h, 0, sizeof(*h));
}

int
handler_init(const struct handler *h, const struct kls_shard_info *shard,
    const struct kls_handler_config *config, struct kls_ctx *ctx, void **state)
{
	*state = NULL;
	return h->cb.init(shard, config, ctx, state);
}

int
handler_process(const struct handler *h, void *state, const struct kls_record *records,
    size_t n, struct kls_ctx *ctx)
{
	return h->cb.process(state, records, n, ctx);
}

void
handler_lease_lost(const struct handler *h, void *state)
{
	if (h->cb.lease_lost != NULL)
		h->cb.lease_lost(state);
}

int
handler_shard_ended(const struct handler *h, void *state, struct kls_ctx *ctx)
{
	return h->cb.shard_ended != NULL ? h->cb.shard_ended(state, ctx) : KLS_HANDLER_OK;
}

int
handler_shutdown_requested(const struct handler *h, void *state, struct kls_ctx *ctx)
{
	return h->cb.shutdown_requested != NULL ? h->cb.shutdown_requested(state, ctx)
						: KLS_HANDLER_OK;
}

void
handler_destroy(const struct handler *h, void *state)
{
	if (h->cb.destroy != NULL)
		h->cb.destroy(state);
}

bool
handler_has_shard_ended(const struct handler *h)
{
	return h->cb.shard_ended != NULL;
}
