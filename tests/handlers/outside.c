/*
 * A handler written the way someone outside the kls tree writes one: it includes only
 * <kls/handler.h>, found through the installed kls.pc, and the C library (no config.h,
 * nothing from examples/). tests/outside_handler_test.sh copies it out of the tree,
 * builds it with `cc -shared -fPIC $(pkg-config --cflags kls)`, and runs it under the
 * installed klsd and kls-reader.
 *
 * [handler] keys:
 *   path = FILE   required; "%s" is replaced by the shard id. One line per record:
 *                 <shard> <sequence> <sub-sequence> <reader executable> <data>
 *                 (data last and as it came: the test's records are printable text
 *                 without newlines).
 *
 * The reader executable (/proc/self/exe) lets the test check which kls-reader ran it.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kls/handler.h>

struct outside {
	FILE *out;
	const char *shard_id;
	char exe[PATH_MAX];
};

static int
outside_init(const struct kls_shard_info *shard, const struct kls_handler_config *config,
    struct kls_ctx *ctx, void **state)
{
	const char *pattern = kls_config_get(config, "path");
	const char *at;
	char path[PATH_MAX];
	struct outside *o;
	ssize_t n;
	int len;

	if (pattern == NULL) {
		kls_log(ctx, KLS_LOG_ERROR, "outside: [handler] path is required");
		return KLS_HANDLER_ERROR_PERMANENT;
	}
	at = strstr(pattern, "%s");
	if (at != NULL)
		len = snprintf(path, sizeof(path), "%.*s%s%s", (int)(at - pattern), pattern,
		    shard->shard_id, at + 2);
	else
		len = snprintf(path, sizeof(path), "%s", pattern);
	if (len < 0 || (size_t)len >= sizeof(path)) {
		kls_log(ctx, KLS_LOG_ERROR, "outside: path = %s: too long", pattern);
		return KLS_HANDLER_ERROR_PERMANENT;
	}
	o = calloc(1, sizeof(*o));
	if (o == NULL) {
		kls_log(ctx, KLS_LOG_ERROR, "outside: out of memory");
		return KLS_HANDLER_ERROR;
	}
	o->shard_id = shard->shard_id;
	n = readlink("/proc/self/exe", o->exe, sizeof(o->exe) - 1);
	if (n <= 0) {
		kls_log(ctx, KLS_LOG_ERROR, "outside: readlink /proc/self/exe: %s",
		    strerror(errno));
		free(o);
		return KLS_HANDLER_ERROR;
	}
	o->exe[n] = '\0';
	o->out = fopen(path, "a");
	if (o->out == NULL) {
		kls_log(ctx, KLS_LOG_ERROR, "outside: open %s: %s", path, strerror(errno));
		free(o);
		return KLS_HANDLER_ERROR;
	}
	kls_log(ctx, KLS_LOG_INFO, "outside: %s: writing %s", shard->shard_id, path);
	*state = o;
	return KLS_HANDLER_OK;
}

static int
outside_process(void *state, const struct kls_record *records, size_t n, struct kls_ctx *ctx)
{
	struct outside *o = state;

	for (size_t i = 0; i < n; i++)
		fprintf(o->out, "%s %s %" PRIu64 " %s %.*s\n", o->shard_id,
		    records[i].sequence_number, records[i].sub_sequence_number, o->exe,
		    (int)records[i].data_len, (const char *)records[i].data);
	/* Written out before kls checkpoints the batch (checkpoint = auto). */
	if (fflush(o->out) != 0 || ferror(o->out)) {
		kls_log(ctx, KLS_LOG_ERROR, "outside: write: %s", strerror(errno));
		return KLS_HANDLER_ERROR;
	}
	return KLS_HANDLER_OK;
}

static void
outside_destroy(void *state)
{
	struct outside *o = state;

	fclose(o->out);
	free(o);
}

KLS_HANDLER_EXPORT const struct kls_handler_v1 kls_handler = {
	KLS_HANDLER_V1_HEADER,
	.name = "outside",
	.version = "1",
	.init = outside_init,
	.process = outside_process,
	.destroy = outside_destroy,
};
