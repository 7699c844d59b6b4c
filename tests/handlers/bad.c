/*
 * Broken handlers for the loader tests: one source, one defect per module, chosen by
 * a BAD_* macro in the module's CPPFLAGS (tests/local.mk). Each module is otherwise a
 * valid handler, so the test shows that the loader refuses it for that defect alone.
 */
#include "config.h"

/* Two variants define kls_handler with another type on purpose. */
#if defined(BAD_SIZE) || defined(BAD_FUNCTION)
#define KLS_HANDLER_NO_DECLARATION
#endif
#include <kls/handler.h>

#if !defined(BAD_SIZE)
static int
bad_init(const struct kls_shard_info *shard, const struct kls_handler_config *config,
    struct kls_ctx *ctx, void **state)
{
	*state = NULL;
	return KLS_HANDLER_OK;
}
#endif

#if !defined(BAD_SIZE) && !defined(BAD_NO_PROCESS)
static int
bad_process(void *state, const struct kls_record *records, size_t n, struct kls_ctx *ctx)
{
	return KLS_HANDLER_OK;
}
#endif

#if defined(BAD_NO_SYMBOL)
/* A descriptor under another name: what a typo in the symbol name gives. */
#define SYMBOL kls_handler_v1
#elif defined(BAD_FUNCTION)
/* A function where the data symbol belongs. */
#define SYMBOL unused_descriptor
KLS_HANDLER_EXPORT const struct kls_handler_v1 *kls_handler(void);
#else
#define SYMBOL kls_handler
#endif

#if defined(BAD_SIZE)
/* What a handler built against a truncated header would export: the header fields
 * and nothing else. */
struct short_descriptor {
	uint32_t magic;
	uint16_t abi_major, abi_minor;
	uint32_t size, reserved;
	const char *name;
};
KLS_HANDLER_EXPORT const struct short_descriptor SYMBOL = {
	.magic = KLS_HANDLER_MAGIC,
	.abi_major = KLS_HANDLER_ABI_MAJOR,
	.abi_minor = KLS_HANDLER_ABI_MINOR,
	.size = sizeof(struct short_descriptor),
	.name = "bad_size",
};
#else
KLS_HANDLER_EXPORT const struct kls_handler_v1 SYMBOL = {
	KLS_HANDLER_V1_HEADER,
#if defined(BAD_MAGIC)
	.magic = 0x4b4c5349u,
#elif defined(BAD_MAJOR)
	.abi_major = KLS_HANDLER_ABI_MAJOR + 1,
#elif defined(BAD_MINOR)
	.abi_minor = KLS_HANDLER_ABI_MINOR + 1,
#endif
	.name = "bad",
	.init = bad_init,
#if !defined(BAD_NO_PROCESS)
	.process = bad_process,
#endif
};
#endif

#if defined(BAD_FUNCTION)
const struct kls_handler_v1 *
kls_handler(void)
{
	return &SYMBOL;
}
#endif
