/*
 * Every configuration key kls knows: its section, type, range or syntax, default and what a
 * change of it needs at reload, in one table that the parser, the writer, the reload check
 * and the tests all walk. Also the value parsers, the defaults derived from other keys, and
 * the rules between keys. docs/kls.conf.md documents the same table for people; the unit
 * tests check that it names every key.
 */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/conf_keys.h"
#include "common/timestamp.h"

/* Enum fields are written through an int (config_key_parse fills one); GCC makes these
 * enums int-sized, and this keeps it that way. */
_Static_assert(sizeof(enum config_checkpoint) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_position) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_read_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_poison_policy) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_shard_end) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_billing) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_cw_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_target) == sizeof(int), "enum size");
_Static_assert(K_COUNT <= CONFIG_KEYS_MAX, "CONFIG_KEYS_MAX too small for the key table");

/* The first name of each value is the one config_write uses. */
static const struct config_enum_name bool_names[] = {
    {"on", 1},
    {"off", 0},
    {"true", 1},
    {"false", 0},
    {"yes", 1},
    {"no", 0},
    {NULL, 0},
};
static const struct config_enum_name log_level_names[] = {
    {"error", LOG_LEVEL_ERROR},
    {"warn", LOG_LEVEL_WARN},
    {"info", LOG_LEVEL_INFO},
    {"debug", LOG_LEVEL_DEBUG},
    {NULL, 0},
};
static const struct config_enum_name log_target_names[] = {
    {"stderr", LOG_TARGET_STDERR},
    {"journal", LOG_TARGET_JOURNAL},
    {"syslog", LOG_TARGET_SYSLOG},
    {NULL, 0},
};
static const struct config_enum_name checkpoint_names[] = {
    {"auto", CONFIG_CHECKPOINT_AUTO},
    {"manual", CONFIG_CHECKPOINT_MANUAL},
    {NULL, 0},
};
static const struct config_enum_name position_names[] = {
    {"TRIM_HORIZON", CONFIG_POSITION_TRIM_HORIZON},
    {"LATEST", CONFIG_POSITION_LATEST},
    {"AT_TIMESTAMP", CONFIG_POSITION_AT_TIMESTAMP},
    {NULL, 0},
};
static const struct config_enum_name read_mode_names[] = {
    {"polling", CONFIG_READ_POLLING},
    {"fan-out", CONFIG_READ_FAN_OUT},
    {NULL, 0},
};
static const struct config_enum_name poison_names[] = {
    {"retry", CONFIG_POISON_RETRY},
    {"dead-letter", CONFIG_POISON_DEAD_LETTER},
    {"release", CONFIG_POISON_RELEASE},
    {NULL, 0},
};
static const struct config_enum_name shard_end_names[] = {
    {"auto", CONFIG_SHARD_END_AUTO},
    {"handler", CONFIG_SHARD_END_HANDLER},
    {NULL, 0},
};
static const struct config_enum_name cw_level_names[] = {
    {"summary", CONFIG_CW_SUMMARY},
    {"detailed", CONFIG_CW_DETAILED},
    {NULL, 0},
};
static const struct config_enum_name billing_names[] = {
    {"on-demand", CONFIG_BILLING_ON_DEMAND},
    {"provisioned", CONFIG_BILLING_PROVISIONED},
    {NULL, 0},
};

#define AT(group, field) offsetof(struct config, group.field)
#define STR(sec, name, syn, group, field, lo, hi, flags)                                           \
	{                                                                                          \
		sec, name, CT_STR, syn, AT(group, field), lo, hi, NULL, NULL, flags                \
	}
#define U32(sec, name, group, field, lo, hi, def, flags)                                           \
	{                                                                                          \
		sec, name, CT_U32, SYN_ANY, AT(group, field), lo, hi, NULL, def, flags             \
	}
#define ENUM(sec, name, group, field, names, def, flags)                                           \
	{                                                                                          \
		sec, name, CT_ENUM, SYN_ANY, AT(group, field), 0, 0, names, def, flags             \
	}

const struct config_key config_keys[K_COUNT] = {
    [K_APPLICATION] =
        STR("kls", "application", SYN_APP, kls, application, 1, 64, CK_REQUIRED | CK_RESTART),
    [K_STREAM] = STR("kls", "stream", SYN_NAME, kls, stream, 1, 128, CK_REQUIRED | CK_RESTART),
    [K_REGION] = STR("kls", "region", SYN_REGION, kls, region, 1, 32, CK_REQUIRED | CK_RESTART),
    [K_TABLE] = STR("kls", "table", SYN_NAME, kls, table, 3, CONFIG_VALUE_MAX, CK_RESTART),
    [K_WORKER_ID] =
        STR("kls", "worker_id", SYN_WORKER, kls, worker_id, 1, 128, CK_EMPTY_OK | CK_RESTART),
    [K_STATE_DIR] =
        STR("kls", "state_dir", SYN_PATH, kls, state_dir, 2, CONFIG_VALUE_MAX, CK_RESTART),
    [K_SHM_NAME] = STR("kls", "shm_name", SYN_SHM, kls, shm_name, 2, CONFIG_VALUE_MAX, CK_RESTART),
    /* sun_path holds 108 bytes with the NUL. */
    [K_CONTROL_SOCKET] =
        STR("kls", "control_socket", SYN_PATH, kls, control_socket, 2, 107, CK_RESTART),
    [K_USER] = STR("kls", "user", SYN_USER, kls, user, 1, 32, CK_EMPTY_OK | CK_READER),
    [K_LOG_LEVEL] =
        ENUM("kls", "log_level", kls, log_level, log_level_names, "info", CK_READER | CK_SUPER),
    [K_LOG_TARGET] = ENUM(
        "kls", "log_target", kls, log_target, log_target_names, "stderr", CK_READER | CK_SUPER),

    [K_HANDLER] = STR("reader", "handler", SYN_PATH, reader, handler, 2, CONFIG_VALUE_MAX,
        CK_REQUIRED | CK_READER),
    [K_CHECKPOINT] =
        ENUM("reader", "checkpoint", reader, checkpoint, checkpoint_names, "auto", CK_READER),
    [K_CHECKPOINT_INTERVAL_MS] = U32("reader", "checkpoint_interval_ms", reader,
        checkpoint_interval_ms, 1, 600000, "5000", CK_ZERO_OK | CK_READER | CK_SUPER),
    [K_INITIAL_POSITION] = ENUM("reader", "initial_position", reader, initial_position,
        position_names, "TRIM_HORIZON", CK_READER | CK_SUPER),
    [K_INITIAL_TIMESTAMP] = {"reader", "initial_timestamp", CT_TIMESTAMP, SYN_ANY,
        AT(reader, initial_timestamp_ms), 0, 0, NULL, NULL, CK_EMPTY_OK | CK_READER | CK_SUPER},
    [K_MAX_RECORDS] =
        U32("reader", "max_records", reader, max_records, 1, 10000, "10000", CK_READER),
    [K_IDLE_BACKOFF_MS] =
        U32("reader", "idle_backoff_ms", reader, idle_backoff_ms, 0, 600000, "500", CK_READER),
    [K_MAX_CALLS_PER_SECOND] =
        U32("reader", "max_calls_per_second", reader, max_calls_per_second, 1, 5, "5", CK_READER),
    [K_READ_MODE] =
        ENUM("reader", "read_mode", reader, read_mode, read_mode_names, "polling", CK_RESTART),
    [K_CONSUMER_NAME] = STR("reader", "consumer_name", SYN_NAME, reader, consumer_name, 1, 128,
        CK_EMPTY_OK | CK_RESTART),
    [K_HEARTBEAT_TIMEOUT_MS] = U32("reader", "heartbeat_timeout_ms", reader, heartbeat_timeout_ms,
        1000, 3600000, "60000", CK_ZERO_OK | CK_SUPER),
    [K_DRAIN_TIMEOUT_MS] =
        U32("reader", "drain_timeout_ms", reader, drain_timeout_ms, 100, 600000, "10000", CK_SUPER),
    [K_POISON_RETRIES] =
        U32("reader", "poison_retries", reader, poison_retries, 1, 1000, "3", CK_SUPER),
    [K_POISON_POLICY] = ENUM("reader", "poison_policy", reader, poison_policy, poison_names,
        "retry", CK_READER | CK_SUPER),
    [K_DEAD_LETTER_DIR] = STR("reader", "dead_letter_dir", SYN_PATH, reader, dead_letter_dir, 2,
        CONFIG_VALUE_MAX, CK_EMPTY_OK | CK_READER | CK_SUPER),
    [K_RESTART_BACKOFF_MIN_MS] = U32("reader", "restart_backoff_min_ms", reader,
        restart_backoff_min_ms, 10, 600000, "100", CK_SUPER),
    [K_RESTART_BACKOFF_MAX_MS] = U32("reader", "restart_backoff_max_ms", reader,
        restart_backoff_max_ms, 10, 3600000, "30000", CK_SUPER),
    [K_SHARD_END_CHECKPOINT] = ENUM("reader", "shard_end_checkpoint", reader, shard_end_checkpoint,
        shard_end_names, "auto", CK_READER),

    [K_FAILOVER_MS] =
        U32("lease", "failover_ms", lease, failover_ms, 500, 3600000, "10000", CK_SUPER),
    [K_RENEW_INTERVAL_MS] =
        U32("lease", "renew_interval_ms", lease, renew_interval_ms, 50, 3600000, NULL, CK_SUPER),
    [K_TAKE_INTERVAL_MS] =
        U32("lease", "take_interval_ms", lease, take_interval_ms, 100, 86400000, NULL, CK_SUPER),
    [K_SHARD_SYNC_INTERVAL_MS] = U32("lease", "shard_sync_interval_ms", lease,
        shard_sync_interval_ms, 1000, 86400000, "60000", CK_SUPER),
    [K_MAX_LEASES] = U32("lease", "max_leases", lease, max_leases, 0, 65535, "0", CK_SUPER),
    [K_HANDOFF_TIMEOUT_MS] = U32(
        "lease", "handoff_timeout_ms", lease, handoff_timeout_ms, 1000, 3600000, "30000", CK_SUPER),
    [K_BILLING_MODE] =
        ENUM("lease", "billing_mode", lease, billing_mode, billing_names, "on-demand", CK_RESTART),
    [K_READ_CAPACITY] = U32(
        "lease", "read_capacity", lease, read_capacity, 1, 40000, NULL, CK_EMPTY_OK | CK_RESTART),
    [K_WRITE_CAPACITY] = U32(
        "lease", "write_capacity", lease, write_capacity, 1, 40000, NULL, CK_EMPTY_OK | CK_RESTART),
    [K_SAFETY_MARGIN_MS] =
        U32("lease", "safety_margin_ms", lease, safety_margin_ms, 0, 3600000, NULL, CK_SUPER),

    [K_KINESIS_ENDPOINT] = STR("aws", "kinesis_endpoint", SYN_URL, aws, kinesis_endpoint, 1,
        CONFIG_VALUE_MAX, CK_EMPTY_OK | CK_RESTART),
    [K_DYNAMODB_ENDPOINT] = STR("aws", "dynamodb_endpoint", SYN_URL, aws, dynamodb_endpoint, 1,
        CONFIG_VALUE_MAX, CK_EMPTY_OK | CK_RESTART),
    [K_CLOUDWATCH_ENDPOINT] = STR("aws", "cloudwatch_endpoint", SYN_URL, aws, cloudwatch_endpoint,
        1, CONFIG_VALUE_MAX, CK_EMPTY_OK | CK_RESTART),
    [K_PROFILE] = STR("aws", "profile", SYN_NAME, aws, profile, 1, 64, CK_EMPTY_OK | CK_RESTART),
    [K_CONNECT_TIMEOUT_MS] = U32("aws", "connect_timeout_ms", aws, connect_timeout_ms, 100, 120000,
        "5000", CK_READER | CK_SUPER),
    [K_REQUEST_TIMEOUT_MS] = U32("aws", "request_timeout_ms", aws, request_timeout_ms, 1000, 600000,
        "10000", CK_READER | CK_SUPER),
    [K_MAX_RESPONSE_BYTES] = U32("aws", "max_response_bytes", aws, max_response_bytes, 65536,
        1073741824, "33554432", CK_READER | CK_SUPER),

    [K_METRICS_LISTEN] = STR("metrics", "listen", SYN_HOSTPORT, metrics, listen, 1,
        CONFIG_VALUE_MAX, CK_EMPTY_OK | CK_RESTART),
    [K_METRICS_CLOUDWATCH] = {"metrics", "cloudwatch", CT_BOOL, SYN_ANY, AT(metrics, cloudwatch), 0,
        0, bool_names, "off", CK_SUPER},
    [K_METRICS_NAMESPACE] = STR("metrics", "namespace", SYN_NAMESPACE, metrics,
        cloudwatch_namespace, 1, CONFIG_VALUE_MAX, CK_SUPER),
    /* KCL's metricsBufferTimeMillis and metricsLevel defaults. */
    [K_METRICS_CW_INTERVAL_MS] = U32("metrics", "cloudwatch_interval_ms", metrics,
        cloudwatch_interval_ms, 1000, 3600000, "10000", CK_SUPER),
    [K_METRICS_CW_LEVEL] = ENUM("metrics", "cloudwatch_level", metrics, cloudwatch_level,
        cw_level_names, "detailed", CK_SUPER),
};

int
config_key_find(const char *section, const char *name)
{
	for (int i = 0; i < K_COUNT; i++) {
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcmp(config_keys[i].name, name) == 0)
			return i;
	}
	return -1;
}

size_t
config_key_size(const struct config_key *k)
{
	switch (k->type) {
	case CT_STR:
		return CONFIG_VALUE_MAX + 1;
	case CT_U32:
		return sizeof(uint32_t);
	case CT_BOOL:
		return sizeof(bool);
	case CT_ENUM:
		return sizeof(int);
	case CT_TIMESTAMP:
		return sizeof(int64_t);
	}
	return 0;
}

static bool
is_name_char(int c)
{
	return isascii(c) && (isalnum(c) || c == '_' || c == '.' || c == '-');
}

static bool
all_chars(const char *s, bool (*ok)(int))
{
	for (; *s != '\0'; s++) {
		if (!ok((unsigned char)*s))
			return false;
	}
	return true;
}

static bool
is_region_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static bool
is_host_char(int c)
{
	return isascii(c) && (isalnum(c) || c == '.' || c == '-');
}

static bool
is_namespace_char(int c)
{
	return isascii(c) && (isalnum(c) || strchr("._-/#: ", c) != NULL);
}

static bool
is_worker_char(int c)
{
	return c > ' ' && c < 0x7f;
}

/* "host:port" or "[v6]:port" at s (up to end); port 1..65535 required when need_port. On
 * success returns the first character after the authority. */
static const char *
parse_authority(const char *s, bool need_port)
{
	const char *p = s;
	if (*p == '[') {
		for (p++; isxdigit((unsigned char)*p) || *p == ':' || *p == '.'; p++)
			;
		if (*p != ']' || p == s + 1)
			return NULL;
		p++;
	} else {
		while (is_host_char((unsigned char)*p))
			p++;
		if (p == s)
			return NULL;
	}
	if (*p != ':')
		return need_port ? NULL : p;
	p++;
	unsigned long port = 0;
	const char *digits = p;
	while (isdigit((unsigned char)*p) && p - digits < 6)
		port = port * 10 + (unsigned long)(*p++ - '0');
	if (p == digits || port == 0 || port > 65535 || isdigit((unsigned char)*p))
		return NULL;
	return p;
}

/* Syntax of a string value beyond length and characters; 0 or -1 with why. */
static int
check_syntax(enum config_syntax syn, const char *s, char *why, size_t whylen)
{
	switch (syn) {
	case SYN_ANY:
		return 0;
	case SYN_APP:
		if (s[0] == '.') {
			snprintf(why, whylen, "\"%s\" must not start with '.'", s);
			return -1;
		}
		/* fall through */
	case SYN_NAME:
		if (!all_chars(s, is_name_char)) {
			snprintf(why, whylen,
			    "\"%s\" may only contain letters, digits, '_', '.' and '-'", s);
			return -1;
		}
		return 0;
	case SYN_REGION:
		if (!all_chars(s, is_region_char)) {
			snprintf(why, whylen, "\"%s\" is not a region name (like eu-west-1)", s);
			return -1;
		}
		return 0;
	case SYN_PATH:
		if (s[0] != '/') {
			snprintf(why, whylen, "\"%s\" is not an absolute path", s);
			return -1;
		}
		for (const char *p = s; (p = strstr(p, "/..")) != NULL; p += 3) {
			if (p[3] == '/' || p[3] == '\0') {
				snprintf(why, whylen, "\"%s\" must not contain '..'", s);
				return -1;
			}
		}
		return 0;
	case SYN_SHM:
		if (s[0] != '/' || s[1] == '.' || !all_chars(s + 1, is_name_char)) {
			snprintf(why, whylen,
			    "\"%s\" is not a shared memory name (\"/name\" of letters, digits, "
			    "'_', '.', '-')",
			    s);
			return -1;
		}
		return 0;
	case SYN_URL: {
		const char *p = NULL;
		if (strncmp(s, "https://", 8) == 0)
			p = s + 8;
		else if (strncmp(s, "http://", 7) == 0)
			p = s + 7;
		if (p == NULL) {
			snprintf(why, whylen, "\"%s\" is not an http:// or https:// URL", s);
			return -1;
		}
		p = parse_authority(p, false);
		if (p == NULL || (*p != '\0' && *p != '/')) {
			snprintf(why, whylen, "\"%s\" does not have a valid host[:port]", s);
			return -1;
		}
		if (strpbrk(p, " ?#") != NULL) {
			snprintf(
			    why, whylen, "\"%s\" must not have blanks, a query or a fragment", s);
			return -1;
		}
		return 0;
	}
	case SYN_HOSTPORT: {
		const char *p = parse_authority(s, true);
		if (p == NULL || *p != '\0') {
			snprintf(why, whylen, "\"%s\" is not host:port (like 127.0.0.1:9464)", s);
			return -1;
		}
		return 0;
	}
	case SYN_USER:
		if (s[0] == '-' || !all_chars(s, is_name_char)) {
			snprintf(why, whylen, "\"%s\" is not a user name", s);
			return -1;
		}
		return 0;
	case SYN_WORKER:
		if (!all_chars(s, is_worker_char)) {
			snprintf(why, whylen, "\"%s\" must be printable ASCII without blanks", s);
			return -1;
		}
		return 0;
	case SYN_NAMESPACE:
		if (!all_chars(s, is_namespace_char) || strncmp(s, "AWS/", 4) == 0) {
			snprintf(why, whylen,
			    "\"%s\" is not a CloudWatch namespace (letters, digits, . _ - / # : "
			    "and blanks; not AWS/...)",
			    s);
			return -1;
		}
		return 0;
	}
	return 0;
}

int
config_value_check(const char *s, size_t max, char *why, size_t whylen)
{
	size_t len = strlen(s);
	if (len > max) {
		snprintf(why, whylen, "value is longer than %zu characters", max);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			snprintf(why, whylen, "value contains a control character");
			return -1;
		}
	}
	if (len > 0 && (s[0] == ' ' || s[len - 1] == ' ')) {
		snprintf(why, whylen, "value has leading or trailing blanks");
		return -1;
	}
	/* inih reads ';' at the start of a value, or after a blank, as a comment: such a value
	 * could not be written back to a file (or to a reader's memfd) unchanged. */
	if (s[0] == ';' || strstr(s, " ;") != NULL) {
		snprintf(why, whylen, "\"%s\" contains ';' where it would start a comment", s);
		return -1;
	}
	return 0;
}

static int
parse_u32(const struct config_key *k, const char *s, uint32_t *out, char *why, size_t whylen)
{
	if (*s == '\0') {
		if (k->flags & CK_EMPTY_OK) {
			*out = 0;
			return 0;
		}
		snprintf(why, whylen, "empty value; expected an integer %" PRIu32 "..%" PRIu32,
		    k->min, k->max);
		return -1;
	}
	uint64_t v = 0;
	for (const char *p = s; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p)) {
			snprintf(why, whylen, "\"%s\" is not an integer", s);
			return -1;
		}
		if (v <= UINT32_MAX)
			v = v * 10 + (uint64_t)(*p - '0');
	}
	bool zero_ok = (k->flags & CK_ZERO_OK) && v == 0;
	if (!zero_ok && (v < k->min || v > k->max)) {
		snprintf(why, whylen, "%s is out of range %" PRIu32 "..%" PRIu32 "%s", s, k->min,
		    k->max, (k->flags & CK_ZERO_OK) ? " (or 0)" : "");
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
parse_names(const struct config_key *k, const char *s, int *out, char *why, size_t whylen)
{
	for (const struct config_enum_name *n = k->names; n->name != NULL; n++) {
		if (strcasecmp(n->name, s) == 0) {
			*out = n->value;
			return 0;
		}
	}
	int len = snprintf(why, whylen, "\"%s\" is not one of", s);
	for (const struct config_enum_name *n = k->names; n->name != NULL; n++) {
		if (len < 0 || (size_t)len >= whylen)
			break;
		len += snprintf(
		    why + len, whylen - (size_t)len, "%s %s", n == k->names ? "" : ",", n->name);
	}
	return -1;
}

/* An RFC 3339 time from 1970 to 9999 (see common/timestamp.h), or epoch seconds. */
static int
parse_timestamp(const struct config_key *k, const char *s, int64_t *out, char *why, size_t whylen)
{
	int64_t ms = -1;

	if (*s == '\0') {
		*out = -1;
		return 0;
	}
	if ((rfc3339_parse_ms(s, &ms) == -1 && epoch_seconds_parse_ms(s, &ms) == -1) || ms < 0 ||
	    ms / 1000 > EPOCH_SECONDS_MAX) {
		snprintf(why, whylen,
		    "\"%s\" is not a UTC time like 2024-05-01T12:00:00Z or epoch seconds", s);
		return -1;
	}
	*out = ms;
	return 0;
}

int
config_key_parse(const struct config_key *k, const char *text, void *out, char *why, size_t whylen)
{
	if (config_value_check(text, CONFIG_VALUE_MAX, why, whylen) == -1)
		return -1;
	switch (k->type) {
	case CT_U32:
		return parse_u32(k, text, out, why, whylen);
	case CT_BOOL: {
		int v;
		if (parse_names(k, text, &v, why, whylen) == -1)
			return -1;
		*(bool *)out = v != 0;
		return 0;
	}
	case CT_ENUM:
		return parse_names(k, text, out, why, whylen);
	case CT_TIMESTAMP:
		return parse_timestamp(k, text, out, why, whylen);
	case CT_STR:
		break;
	}
	size_t len = strlen(text);
	if (len == 0 && (k->flags & CK_EMPTY_OK)) {
		*(char *)out = '\0';
		return 0;
	}
	if (len == 0) {
		snprintf(why, whylen, "empty value");
		return -1;
	}
	if (len < k->min) {
		snprintf(
		    why, whylen, "\"%s\" is shorter than %" PRIu32 " characters", text, k->min);
		return -1;
	}
	if (len > k->max) {
		snprintf(why, whylen, "value is longer than %" PRIu32 " characters", k->max);
		return -1;
	}
	if (check_syntax(k->syntax, text, why, whylen) == -1)
		return -1;
	memcpy(out, text, len + 1);
	return 0;
}

static const char *
name_of(const struct config_enum_name *names, int v)
{
	for (const struct config_enum_name *n = names; n->name != NULL; n++) {
		if (n->value == v)
			return n->name;
	}
	return "?";
}

int
config_key_format(const struct config_key *k, const struct config *cfg, struct kls_buf *out)
{
	const char *field = (const char *)cfg + k->offset;
	switch (k->type) {
	case CT_STR:
		return buf_puts(out, field);
	case CT_U32: {
		uint32_t v;
		memcpy(&v, field, sizeof(v));
		if (v == 0 && (k->flags & CK_EMPTY_OK))
			return 0;
		return buf_printf(out, "%" PRIu32, v);
	}
	case CT_BOOL: {
		bool v;
		memcpy(&v, field, sizeof(v));
		return buf_puts(out, name_of(k->names, v ? 1 : 0));
	}
	case CT_ENUM: {
		int v;
		memcpy(&v, field, sizeof(v));
		return buf_puts(out, name_of(k->names, v));
	}
	case CT_TIMESTAMP: {
		int64_t v;
		memcpy(&v, field, sizeof(v));
		if (v < 0)
			return 0;
		time_t t = (time_t)(v / 1000);
		struct tm tm;
		if (gmtime_r(&t, &tm) == NULL)
			return -1;
		return buf_printf(out, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(v % 1000));
	}
	}
	return -1;
}

bool
config_key_equal(const struct config_key *k, const struct config *a, const struct config *b)
{
	const char *fa = (const char *)a + k->offset;
	const char *fb = (const char *)b + k->offset;
	if (k->type == CT_STR)
		return strcmp(fa, fb) == 0;
	return memcmp(fa, fb, config_key_size(k)) == 0;
}

const char *
config_position_name(enum config_position p)
{
	return name_of(position_names, (int)p);
}

const char *
config_read_mode_name(enum config_read_mode m)
{
	return name_of(read_mode_names, (int)m);
}

const char *
config_poison_policy_name(enum config_poison_policy p)
{
	return name_of(poison_names, (int)p);
}

void
config_derive_defaults(struct config *cfg)
{
	char text[CONFIG_VALUE_MAX + 32];
	if (config_key_given(cfg, K_APPLICATION)) {
		const char *app = cfg->kls.application;
		config_set_derived(cfg, K_TABLE, K_APPLICATION, app);
		snprintf(text, sizeof(text), "/var/lib/kls/%s", app);
		config_set_derived(cfg, K_STATE_DIR, K_APPLICATION, text);
		snprintf(text, sizeof(text), "/kls.%s", app);
		config_set_derived(cfg, K_SHM_NAME, K_APPLICATION, text);
		snprintf(text, sizeof(text), "/run/kls/%s.sock", app);
		config_set_derived(cfg, K_CONTROL_SOCKET, K_APPLICATION, text);
		config_set_derived(cfg, K_METRICS_NAMESPACE, K_APPLICATION, app);
	}
	if (!config_key_invalid(cfg, K_FAILOVER_MS)) {
		/* KCL's ratios: renew three times per failover time, look for leases to take
		 * every two; self-fence a tenth of the failover time early. */
		uint32_t f = cfg->lease.failover_ms;
		snprintf(text, sizeof(text), "%" PRIu32, f / 3);
		config_set_derived(cfg, K_RENEW_INTERVAL_MS, K_FAILOVER_MS, text);
		snprintf(text, sizeof(text), "%" PRIu64, (uint64_t)f * 2);
		config_set_derived(cfg, K_TAKE_INTERVAL_MS, K_FAILOVER_MS, text);
		snprintf(text, sizeof(text), "%" PRIu32, f / 10);
		config_set_derived(cfg, K_SAFETY_MARGIN_MS, K_FAILOVER_MS, text);
	}
}

/* A key that belongs to one mode: required in it, an error outside it (a consumer_name
 * without fan-out means the operator believes something that is not happening). */
static void
mode_key(struct config *cfg, int key, bool have, int mode, bool in_mode, const char *mode_text)
{
	if (config_key_invalid(cfg, key) || config_key_invalid(cfg, mode))
		return;
	const struct config_key *m = &config_keys[mode];
	if (in_mode && !have)
		config_key_error(cfg, key, mode, "required when %s = %s", m->name, mode_text);
	else if (!in_mode && have)
		config_key_error(cfg, key, -1, "only allowed with %s = %s", m->name, mode_text);
}

static bool
any_invalid(const struct config *cfg, int a, int b, int c)
{
	return config_key_invalid(cfg, a) || config_key_invalid(cfg, b) ||
	       (c >= 0 && config_key_invalid(cfg, c));
}

void
config_check_rules(struct config *cfg)
{
	struct config_reader *r = &cfg->reader;
	struct config_lease *l = &cfg->lease;

	mode_key(cfg, K_INITIAL_TIMESTAMP, r->initial_timestamp_ms >= 0, K_INITIAL_POSITION,
	    r->initial_position == CONFIG_POSITION_AT_TIMESTAMP, "AT_TIMESTAMP");
	mode_key(cfg, K_CONSUMER_NAME, r->consumer_name[0] != '\0', K_READ_MODE,
	    r->read_mode == CONFIG_READ_FAN_OUT, "fan-out");
	mode_key(cfg, K_DEAD_LETTER_DIR, r->dead_letter_dir[0] != '\0', K_POISON_POLICY,
	    r->poison_policy == CONFIG_POISON_DEAD_LETTER, "dead-letter");
	bool provisioned = l->billing_mode == CONFIG_BILLING_PROVISIONED;
	mode_key(cfg, K_READ_CAPACITY, l->read_capacity != 0, K_BILLING_MODE, provisioned,
	    "provisioned");
	mode_key(cfg, K_WRITE_CAPACITY, l->write_capacity != 0, K_BILLING_MODE, provisioned,
	    "provisioned");

	if (!any_invalid(cfg, K_RESTART_BACKOFF_MIN_MS, K_RESTART_BACKOFF_MAX_MS, -1) &&
	    r->restart_backoff_min_ms > r->restart_backoff_max_ms)
		config_key_error(cfg, K_RESTART_BACKOFF_MIN_MS, K_RESTART_BACKOFF_MAX_MS,
		    "%" PRIu32 " is greater than restart_backoff_max_ms (%" PRIu32 ")",
		    r->restart_backoff_min_ms, r->restart_backoff_max_ms);

	/* Self-fencing: the owner's deadline is its last renew plus failover_ms minus the
	 * margin, so a renew must be due well before that deadline. */
	if (!any_invalid(cfg, K_SAFETY_MARGIN_MS, K_FAILOVER_MS, -1) &&
	    l->safety_margin_ms >= l->failover_ms) {
		config_key_error(cfg, K_SAFETY_MARGIN_MS, K_FAILOVER_MS,
		    "%" PRIu32 " must be less than failover_ms (%" PRIu32 ")", l->safety_margin_ms,
		    l->failover_ms);
	} else if (!any_invalid(cfg, K_RENEW_INTERVAL_MS, K_SAFETY_MARGIN_MS, K_FAILOVER_MS) &&
	           l->renew_interval_ms >= l->failover_ms - l->safety_margin_ms) {
		config_key_error(cfg, K_RENEW_INTERVAL_MS, K_FAILOVER_MS,
		    "%" PRIu32 " must be less than failover_ms - safety_margin_ms (%" PRIu32
		    " - %" PRIu32 " = %" PRIu32 ")",
		    l->renew_interval_ms, l->failover_ms, l->safety_margin_ms,
		    l->failover_ms - l->safety_margin_ms);
	}

	/* The old owner drains its reader before it lets a handoff complete; a handoff
	 * timeout shorter than the drain would force every slow drain. */
	if (!any_invalid(cfg, K_HANDOFF_TIMEOUT_MS, K_DRAIN_TIMEOUT_MS, -1) &&
	    l->handoff_timeout_ms <= r->drain_timeout_ms)
		config_key_error(cfg, K_HANDOFF_TIMEOUT_MS, K_DRAIN_TIMEOUT_MS,
		    "%" PRIu32 " must be greater than [reader] drain_timeout_ms (%" PRIu32 ")",
		    l->handoff_timeout_ms, r->drain_timeout_ms);
}
