/*
 * kls's configuration: one INI file per application (/etc/kls/<app>.conf), the endpoint
 * and region variables AWS tools use, and command-line overrides, merged into one struct
 * of typed fields that klsd and kls-reader read directly (no string lookups on hot paths).
 *
 * Precedence, lowest first: built-in defaults < environment < file < command line. The
 * environment is ambient (ECS injects AWS_REGION, shells export AWS_PROFILE), the file is
 * written for this application, and the command line is what the operator typed just now;
 * docs/kls.conf.md argues it in full and lists every key.
 *
 * Building one:
 *	cfg = config_new();
 *	config_parse_file(cfg, "/etc/kls/orders.conf");
 *	config_parse_override(cfg, "reader.max_records=100");	(any number, any order)
 *	config_apply_env(cfg, environ);
 *	if (config_finish(cfg) == -1) print every config_error_message(), exit 2.
 * Every step records its errors in cfg (up to CONFIG_ERRORS_MAX, each naming the file and
 * line, "command line" or the environment variable, and the key) and goes on, so one run
 * reports everything that is wrong. Nothing here logs or exits.
 *
 * klsd hands the validated configuration to each reader as text (config_write_buf into a
 * sealed memfd; `kls-reader --config-fd N` calls config_load_fd): every key is written
 * explicitly, so the reader sees exactly what klsd validated and never re-reads a file that
 * may have changed since.
 *
 * A struct config holds no pointers: it may be copied by value and freed with free() or
 * config_free().
 */
#ifndef KLS_CONF_H
#define KLS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/log.h"

/* Longest value of any key, in bytes. Keeps every "key = value" line within the line
 * length the packaged inih parses (200 bytes), so config_write output always parses. */
#define CONFIG_VALUE_MAX 160
/* [handler] pairs: count and key length. */
#define CONFIG_HANDLER_MAX 64
#define CONFIG_HANDLER_KEY_MAX 32
/* Errors kept per configuration; later ones are counted, not kept. */
#define CONFIG_ERRORS_MAX 32
#define CONFIG_ERROR_LEN 512
/* Largest configuration text accepted from a file or descriptor. */
#define CONFIG_TEXT_MAX (256 * 1024)
/* Size of the per-key bookkeeping arrays; config_keys.c asserts the key table fits. */
#define CONFIG_KEYS_MAX 64
/* Environment variables config_apply_env reads (see config.c). */
#define CONFIG_ENV_VARS 9

enum config_checkpoint {
	CONFIG_CHECKPOINT_AUTO,   /* kls checkpoints after every batch the handler accepts */
	CONFIG_CHECKPOINT_MANUAL, /* the handler checkpoints */
};

enum config_position {
	CONFIG_POSITION_TRIM_HORIZON,
	CONFIG_POSITION_LATEST,
	CONFIG_POSITION_AT_TIMESTAMP,
};

enum config_read_mode {
	CONFIG_READ_POLLING, /* GetRecords */
	CONFIG_READ_FAN_OUT, /* SubscribeToShard with a registered consumer */
};

enum config_poison_policy {
	CONFIG_POISON_RETRY,
	CONFIG_POISON_DEAD_LETTER,
	CONFIG_POISON_RELEASE,
};

enum config_shard_end {
	CONFIG_SHARD_END_AUTO,    /* kls checkpoints SHARD_END if the handler did not */
	CONFIG_SHARD_END_HANDLER, /* the handler must; the shard stays open until it does */
};

/* Which metrics go to CloudWatch: KCL's metrics levels (NONE is cloudwatch = off). */
enum config_cw_level {
	CONFIG_CW_SUMMARY,  /* the ones KCL publishes at SUMMARY */
	CONFIG_CW_DETAILED, /* all of them */
};

enum config_billing {
	CONFIG_BILLING_ON_DEMAND,
	CONFIG_BILLING_PROVISIONED,
};

/* [kls] */
struct config_kls {
	char application[CONFIG_VALUE_MAX + 1];
	char stream[CONFIG_VALUE_MAX + 1];
	char region[CONFIG_VALUE_MAX + 1];
	char table[CONFIG_VALUE_MAX + 1];
	char worker_id[CONFIG_VALUE_MAX + 1]; /* "" = klsd reads or creates state_dir/worker-id */
	char state_dir[CONFIG_VALUE_MAX + 1];
	char shm_name[CONFIG_VALUE_MAX + 1];
	char control_socket[CONFIG_VALUE_MAX + 1];
	char user[CONFIG_VALUE_MAX + 1]; /* "" = readers keep klsd's user */
	enum log_level log_level;
	enum log_target log_target;
};

/* [reader] */
struct config_reader {
	char handler[CONFIG_VALUE_MAX + 1];
	enum config_checkpoint checkpoint;
	enum config_position initial_position;
	int64_t initial_timestamp_ms; /* ms since the epoch; -1 = not set */
	uint32_t max_records;
	uint32_t idle_backoff_ms;
	uint32_t max_calls_per_second;
	enum config_read_mode read_mode;
	char consumer_name[CONFIG_VALUE_MAX + 1]; /* "" unless read_mode is fan-out */
	uint32_t heartbeat_timeout_ms;            /* 0 = no watchdog */
	uint32_t drain_timeout_ms;
	uint32_t poison_retries;
	enum config_poison_policy poison_policy;
	char dead_letter_dir[CONFIG_VALUE_MAX + 1]; /* "" unless poison_policy is dead-letter */
	uint32_t restart_backoff_min_ms;
	uint32_t restart_backoff_max_ms;
	enum config_shard_end shard_end_checkpoint;
};

/* [lease] */
struct config_lease {
	uint32_t failover_ms;
	uint32_t renew_interval_ms;
	uint32_t take_interval_ms;
	uint32_t shard_sync_interval_ms;
	uint32_t max_leases; /* 0 = no limit */
	uint32_t handoff_timeout_ms;
	enum config_billing billing_mode;
	uint32_t read_capacity;  /* 0 unless billing_mode is provisioned */
	uint32_t write_capacity; /* 0 unless billing_mode is provisioned */
	uint32_t safety_margin_ms;
};

/* [aws]; an empty endpoint means the service's public endpoint for the region. */
struct config_aws {
	char kinesis_endpoint[CONFIG_VALUE_MAX + 1];
	char dynamodb_endpoint[CONFIG_VALUE_MAX + 1];
	char cloudwatch_endpoint[CONFIG_VALUE_MAX + 1];
	char profile[CONFIG_VALUE_MAX + 1]; /* "" = the credential chain's default */
	uint32_t connect_timeout_ms;
	uint32_t request_timeout_ms;
	uint32_t max_response_bytes;
};

/* [metrics] */
struct config_metrics {
	char listen[CONFIG_VALUE_MAX + 1]; /* "host:port"; "" = no /metrics endpoint */
	bool cloudwatch;
	char cloudwatch_namespace[CONFIG_VALUE_MAX + 1]; /* key "namespace" */
	uint32_t cloudwatch_interval_ms; /* one statistic set per metric per interval */
	enum config_cw_level cloudwatch_level;
};

/* One [handler] pair, passed to the handler's init in file order. */
struct config_pair {
	char key[CONFIG_HANDLER_KEY_MAX + 1];
	char value[CONFIG_VALUE_MAX + 1];
};

struct config_error {
	unsigned line; /* line in the file, 0 when the error has no line */
	char message[CONFIG_ERROR_LEN];
};

/* Where a value came from. Order is precedence: a later source replaces an earlier one. */
enum config_origin {
	CONFIG_ORIGIN_DEFAULT = 0,
	CONFIG_ORIGIN_ENV,
	CONFIG_ORIGIN_FILE,
	CONFIG_ORIGIN_CMDLINE,
};

/* Bookkeeping of config.c; read it only through the functions below. */
struct config_meta {
	char source[256]; /* file name or descriptor label, for messages */
	bool have_source;
	bool finished;
	uint8_t origin[CONFIG_KEYS_MAX]; /* enum config_origin of each key's value */
	bool invalid[CONFIG_KEYS_MAX];   /* a bad value was given: skip rules that use it */
	uint32_t line[CONFIG_KEYS_MAX];  /* file line of the value, when from the file */
	uint8_t env_var[CONFIG_KEYS_MAX];
	uint8_t pair_origin[CONFIG_HANDLER_MAX];
	uint32_t pair_line[CONFIG_HANDLER_MAX];
	/* Copies of the environment taken by config_apply_env, used by config_finish for keys no
	 * file or command line set (so unused variables are never judged). */
	bool env_set[CONFIG_ENV_VARS];
	char env_value[CONFIG_ENV_VARS][CONFIG_VALUE_MAX + 2];
	size_t error_count;
	size_t errors_dropped;
	struct config_error errors[CONFIG_ERRORS_MAX];
};

struct config {
	struct config_kls kls;
	struct config_reader reader;
	struct config_lease lease;
	struct config_aws aws;
	struct config_metrics metrics;
	size_t handler_count;
	struct config_pair handler[CONFIG_HANDLER_MAX];
	struct config_meta meta;
};

/* An empty configuration (nothing set yet); NULL with errno ENOMEM. */
struct config *config_new(void);
void config_free(struct config *cfg);

/*
 * Sources. Each returns 0, or -1 when it recorded at least one error (and keeps going past
 * bad lines, so every error of a file is recorded). One file or descriptor per config.
 */
int config_parse_file(struct config *cfg, const char *path);
/* Reads from offset 0 with pread (works on a sealed memfd, leaves the offset alone). */
int config_parse_fd(struct config *cfg, int fd, const char *label);
/* label names the text in messages (e.g. a file name). */
int config_parse_string(struct config *cfg, const char *text, const char *label);
/* key is "section.key" (e.g. "reader.max_records", "handler.url"); value as in the file. */
int config_set_override(struct config *cfg, const char *key, const char *value);
/* arg is "section.key=value", as given to `-o`. */
int config_parse_override(struct config *cfg, const char *arg);
/* Takes KINESIS_ENDPOINT, DYNAMODB_ENDPOINT, AWS_ENDPOINT_URL_KINESIS,
 * AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_CLOUDWATCH, AWS_ENDPOINT_URL, AWS_REGION,
 * AWS_DEFAULT_REGION and AWS_PROFILE from envp (NULL-terminated "NAME=value" strings, e.g.
 * environ). They are judged in config_finish, and only where they are used. */
int config_apply_env(struct config *cfg, char *const *envp);

/* Applies the environment, defaults and derived defaults, then checks required keys and
 * the rules between keys. 0 when the configuration has no error at all, else -1. Sources
 * added afterwards are not merged; calling it again only repeats the verdict. */
int config_finish(struct config *cfg);

/* Convenience for one source and nothing else: new + parse + finish. NULL only when memory
 * ran out (errno ENOMEM); otherwise check config_error_count(). */
struct config *config_load_file(const char *path);
struct config *config_load_fd(int fd, const char *label);

size_t config_error_count(const struct config *cfg);
/* Errors not kept because CONFIG_ERRORS_MAX were already recorded. */
size_t config_errors_dropped(const struct config *cfg);
const struct config_error *config_error_at(const struct config *cfg, size_t i);

/* The effective configuration as INI text that parses back to an equal configuration:
 * every key, explicit values ("key =" for optional keys that are not set). With
 * CONFIG_WRITE_ORIGINS, a comment before each key says where its value came from (for
 * `klsd -t`). Returns 0, or -1 with errno (ENOMEM, EMSGSIZE from the buffer's limit, or
 * EINVAL when cfg has errors or was not finished). */
#define CONFIG_WRITE_ORIGINS 0x1
int config_write_buf(const struct config *cfg, struct kls_buf *out, unsigned flags);
int config_write(const struct config *cfg, FILE *f);

/* Same typed values and the same [handler] pairs in the same order (origins ignored). */
bool config_equal(const struct config *a, const struct config *b);

/* What a reload from a running configuration to a new one takes. */
struct config_change {
	/* First key (in documentation order) that only a full restart can change, as
	 * "section.key"; "" when a reload can apply the new configuration. */
	char restart_key[64];
	bool readers;    /* a key readers use changed: restart them one by one */
	bool supervisor; /* a key only klsd uses changed: klsd applies it in place */
};
void config_compare(const struct config *old, const struct config *new, struct config_change *out);

/* Names of enum values as written in the file, for logs and status output. */
const char *config_position_name(enum config_position p);
const char *config_read_mode_name(enum config_read_mode m);
const char *config_poison_policy_name(enum config_poison_policy p);

#endif
