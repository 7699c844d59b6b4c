/*
 * Private to common/conf.c and common/conf_keys.c: the table of every configuration key
 * (section, name, type, range, default, what a change needs) and the value parsers, so that
 * the file, overrides, environment, defaults and config_write all go through one path.
 */
#ifndef KLS_CONF_KEYS_H
#define KLS_CONF_KEYS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/conf.h"

/* Index of each key in config_keys[], in documentation (and config_write) order. */
enum config_key_id {
	K_APPLICATION,
	K_STREAM,
	K_REGION,
	K_TABLE,
	K_WORKER_ID,
	K_STATE_DIR,
	K_SHM_NAME,
	K_CONTROL_SOCKET,
	K_USER,
	K_LOG_LEVEL,
	K_LOG_TARGET,

	K_HANDLER,
	K_CHECKPOINT,
	K_INITIAL_POSITION,
	K_INITIAL_TIMESTAMP,
	K_MAX_RECORDS,
	K_IDLE_BACKOFF_MS,
	K_MAX_CALLS_PER_SECOND,
	K_READ_MODE,
	K_CONSUMER_NAME,
	K_HEARTBEAT_TIMEOUT_MS,
	K_DRAIN_TIMEOUT_MS,
	K_POISON_RETRIES,
	K_POISON_POLICY,
	K_DEAD_LETTER_DIR,
	K_RESTART_BACKOFF_MIN_MS,
	K_RESTART_BACKOFF_MAX_MS,
	K_SHARD_END_CHECKPOINT,

	K_FAILOVER_MS,
	K_RENEW_INTERVAL_MS,
	K_TAKE_INTERVAL_MS,
	K_SHARD_SYNC_INTERVAL_MS,
	K_MAX_LEASES,
	K_HANDOFF_TIMEOUT_MS,
	K_BILLING_MODE,
	K_READ_CAPACITY,
	K_WRITE_CAPACITY,
	K_SAFETY_MARGIN_MS,

	K_KINESIS_ENDPOINT,
	K_DYNAMODB_ENDPOINT,
	K_CLOUDWATCH_ENDPOINT,
	K_PROFILE,
	K_CONNECT_TIMEOUT_MS,
	K_REQUEST_TIMEOUT_MS,
	K_MAX_RESPONSE_BYTES,

	K_METRICS_LISTEN,
	K_METRICS_CLOUDWATCH,
	K_METRICS_NAMESPACE,
	K_METRICS_CW_INTERVAL_MS,
	K_METRICS_CW_LEVEL,

	K_COUNT
};

enum config_type {
	CT_STR,
	CT_U32,
	CT_BOOL,
	CT_ENUM,      /* stored as the field's C enum (int-sized) */
	CT_TIMESTAMP, /* int64_t ms since the epoch, -1 = not set */
};

/* What a string value must look like beyond its length and printable characters. */
enum config_syntax {
	SYN_ANY,
	SYN_NAME,   /* [A-Za-z0-9_.-]: AWS resource names */
	SYN_APP,    /* a name that is also a path component: not starting with '.' */
	SYN_REGION, /* [a-z0-9-] */
	SYN_PATH,   /* absolute, no ".." component */
	SYN_SHM,    /* "/name", one component */
	SYN_URL,    /* http(s)://host[:port][/path] */
	SYN_HOSTPORT,
	SYN_USER,
	SYN_WORKER, /* printable, no blanks */
	SYN_NAMESPACE,
};

struct config_enum_name {
	const char *name;
	int value;
};

/* Key flags. */
#define CK_REQUIRED 0x01 /* no default: must be set */
#define CK_EMPTY_OK 0x02 /* "" means not set ("" string, 0 integer, -1 timestamp) */
#define CK_ZERO_OK 0x04  /* integer 0 is allowed outside min..max (off / no limit) */
#define CK_RESTART 0x08  /* only a full restart can change it */
#define CK_READER 0x10   /* readers use it: a change restarts them */
#define CK_SUPER 0x20    /* klsd uses it and applies a change in place */

struct config_key {
	const char *section;
	const char *name;
	enum config_type type;
	enum config_syntax syntax;            /* CT_STR only */
	size_t offset;                        /* of the field in struct config */
	uint32_t min, max;                    /* integer range, or string length range */
	const struct config_enum_name *names; /* CT_ENUM and CT_BOOL: NULL-terminated */
	const char *def; /* default as text; NULL = required, optional or derived */
	unsigned flags;
};

extern const struct config_key config_keys[K_COUNT];

/* Index of section/name, or -1. */
int config_key_find(const char *section, const char *name);
/* Parses text for key k into out (at least CONFIG_VALUE_MAX + 1 bytes, aligned for
 * int64_t). 0, or -1 with a reason in why ("20000 is out of range 1..10000"). */
int config_key_parse(
    const struct config_key *k, const char *text, void *out, char *why, size_t whylen);
/* Checks a free-form value (printable, representable in the INI syntax, bounded). */
int config_value_check(const char *text, size_t max, char *why, size_t whylen);
/* Appends the field's value as text that config_key_parse reads back to the same value. */
int config_key_format(const struct config_key *k, const struct config *cfg, struct kls_buf *out);
bool config_key_equal(const struct config_key *k, const struct config *a, const struct config *b);
/* Size of the field of k in struct config. */
size_t config_key_size(const struct config_key *k);

/* config_finish's key-specific steps, in config_keys.c. */
void config_derive_defaults(struct config *cfg);
void config_check_rules(struct config *cfg);

/* From config.c, for the steps above. */
/* Sets key from text with the given origin, unless a source of higher precedence already
 * set it; records an error at that origin's location when text is bad. 0 or -1. */
int config_set_key(struct config *cfg, int key, const char *text, enum config_origin origin,
    unsigned line, int env_var);
/* Sets key to a default computed from the key from_key; a bad result is reported on key
 * at from_key's location. */
void config_set_derived(struct config *cfg, int key, int from_key, const char *text);
/* Records an error about key. Its location is where key was set, or where alt_key was set
 * when key holds a default (alt_key -1 for none). */
void config_key_error(struct config *cfg, int key, int alt_key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Whether key was given by some source (not a default) and is valid. */
bool config_key_given(const struct config *cfg, int key);
bool config_key_invalid(const struct config *cfg, int key);

#endif
