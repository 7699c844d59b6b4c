/*
 * Tests of common/config: every kind of bad line or value is reported with the file, line
 * and key; all errors of a file are reported; defaults; the precedence of environment, file
 * and command line; [handler] order; config_write round trips (through a memfd too); the
 * shipped example parses and the documentation names every key; reload classification.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/conf_keys.h"
#include "tests/harness.h"

/* A valid configuration with only the required keys; extra text starts on line 9. */
static const char base[] = "# test configuration\n"
                           "[kls]\n"
                           "application = orders\n"
                           "stream = orders-stream\n"
                           "region = eu-west-1\n"
                           "\n"
                           "[reader]\n"
                           "handler = /usr/lib/kls/count.so\n";

static struct config *
load(const char *text, char *const *envp)
{
	struct config *cfg = config_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	config_parse_string(cfg, text, "t.conf");
	if (envp != NULL)
		config_apply_env(cfg, envp);
	config_finish(cfg);
	return cfg;
}

static struct config *
load_extra(const char *extra, char *const *envp)
{
	char text[8192];
	snprintf(text, sizeof(text), "%s%s", base, extra);
	return load(text, envp);
}

static void
print_errors(const struct config *cfg)
{
	for (size_t i = 0; i < config_error_count(cfg); i++)
		fprintf(stderr, "    error: %s\n", config_error_at(cfg, i)->message);
}

static bool
has_error(const struct config *cfg, const char *message)
{
	for (size_t i = 0; i < config_error_count(cfg); i++) {
		if (strcmp(config_error_at(cfg, i)->message, message) == 0)
			return true;
	}
	print_errors(cfg);
	fprintf(stderr, "    expected: %s\n", message);
	return false;
}

static void
assert_clean(const struct config *cfg)
{
	if (config_error_count(cfg) != 0)
		print_errors(cfg);
	CU_ASSERT_EQUAL(config_error_count(cfg), 0);
}

static void
test_config_defaults(void)
{
	struct config *cfg = load(base, NULL);
	assert_clean(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->kls.table, "orders");
	CU_ASSERT_STRING_EQUAL(cfg->kls.state_dir, "/var/lib/kls/orders");
	CU_ASSERT_STRING_EQUAL(cfg->kls.shm_name, "/kls.orders");
	CU_ASSERT_STRING_EQUAL(cfg->kls.control_socket, "/run/kls/orders.sock");
	CU_ASSERT_STRING_EQUAL(cfg->kls.worker_id, "");
	CU_ASSERT_STRING_EQUAL(cfg->kls.user, "");
	CU_ASSERT_EQUAL(cfg->kls.log_level, LOG_LEVEL_INFO);
	CU_ASSERT_EQUAL(cfg->kls.log_target, LOG_TARGET_STDERR);
	CU_ASSERT_EQUAL(cfg->reader.checkpoint, CONFIG_CHECKPOINT_AUTO);
	CU_ASSERT_EQUAL(cfg->reader.initial_position, CONFIG_POSITION_TRIM_HORIZON);
	CU_ASSERT_EQUAL(cfg->reader.initial_timestamp_ms, -1);
	CU_ASSERT_EQUAL(cfg->reader.max_records, 10000);
	CU_ASSERT_EQUAL(cfg->reader.idle_backoff_ms, 500);
	CU_ASSERT_EQUAL(cfg->reader.max_calls_per_second, 5);
	CU_ASSERT_EQUAL(cfg->reader.read_mode, CONFIG_READ_POLLING);
	CU_ASSERT_EQUAL(cfg->reader.heartbeat_timeout_ms, 60000);
	CU_ASSERT_EQUAL(cfg->reader.drain_timeout_ms, 10000);
	CU_ASSERT_EQUAL(cfg->reader.poison_retries, 3);
	CU_ASSERT_EQUAL(cfg->reader.poison_policy, CONFIG_POISON_RETRY);
	CU_ASSERT_EQUAL(cfg->reader.restart_backoff_min_ms, 100);
	CU_ASSERT_EQUAL(cfg->reader.restart_backoff_max_ms, 30000);
	CU_ASSERT_EQUAL(cfg->reader.shard_end_checkpoint, CONFIG_SHARD_END_AUTO);
	CU_ASSERT_EQUAL(cfg->lease.failover_ms, 10000);
	CU_ASSERT_EQUAL(cfg->lease.renew_interval_ms, 3333);
	CU_ASSERT_EQUAL(cfg->lease.take_interval_ms, 20000);
	CU_ASSERT_EQUAL(cfg->lease.safety_margin_ms, 1000);
	CU_ASSERT_EQUAL(cfg->lease.shard_sync_interval_ms, 60000);
	CU_ASSERT_EQUAL(cfg->lease.max_leases, 0);
	CU_ASSERT_EQUAL(cfg->lease.handoff_timeout_ms, 30000);
	CU_ASSERT_EQUAL(cfg->lease.billing_mode, CONFIG_BILLING_ON_DEMAND);
	CU_ASSERT_EQUAL(cfg->lease.read_capacity, 0);
	CU_ASSERT_STRING_EQUAL(cfg->aws.kinesis_endpoint, "");
	CU_ASSERT_EQUAL(cfg->aws.connect_timeout_ms, 5000);
	CU_ASSERT_EQUAL(cfg->aws.request_timeout_ms, 10000);
	CU_ASSERT_EQUAL(cfg->aws.max_response_bytes, 32u * 1024 * 1024);
	CU_ASSERT_STRING_EQUAL(cfg->metrics.listen, "");
	CU_ASSERT_FALSE(cfg->metrics.cloudwatch);
	CU_ASSERT_STRING_EQUAL(cfg->metrics.cloudwatch_namespace, "orders");
	CU_ASSERT_EQUAL(cfg->metrics.cloudwatch_interval_ms, 10000);
	CU_ASSERT_EQUAL(cfg->metrics.cloudwatch_level, CONFIG_CW_DETAILED);
	CU_ASSERT_EQUAL(cfg->handler_count, 0);
	config_free(cfg);
}

static void
test_config_derived_follow_failover(void)
{
	struct config *cfg = load_extra("[lease]\nfailover_ms = 3000\n", NULL);
	assert_clean(cfg);
	CU_ASSERT_EQUAL(cfg->lease.renew_interval_ms, 1000);
	CU_ASSERT_EQUAL(cfg->lease.take_interval_ms, 6000);
	CU_ASSERT_EQUAL(cfg->lease.safety_margin_ms, 300);
	config_free(cfg);
}

/* Each case adds text after base (line 9 on) and must yield exactly this one error. */
static const struct {
	const char *extra;
	unsigned line;
	const char *message;
} bad_cases[] = {
    {"[reader]\nmax_record = 5\n", 10, "t.conf:10: [reader] max_record: unknown key"},
    {"[readers]\nmax_records = 5\nfoo = 1\n", 9, "t.conf:9: unknown section [readers]"},
    {"[reader]\nmax_records = 10k\n", 10,
        "t.conf:10: [reader] max_records: \"10k\" is not an integer"},
    {"[reader]\nmax_records = 20000\n", 10,
        "t.conf:10: [reader] max_records: 20000 is out of range 1..10000"},
    {"[reader]\nmax_records = 0\n", 10,
        "t.conf:10: [reader] max_records: 0 is out of range 1..10000"},
    {"[reader]\nmax_records = 99999999999999999999\n", 10,
        "t.conf:10: [reader] max_records: 99999999999999999999 is out of range 1..10000"},
    {"[reader]\nmax_records =\n", 10,
        "t.conf:10: [reader] max_records: empty value; expected an integer 1..10000"},
    {"[reader]\nheartbeat_timeout_ms = 10\n", 10,
        "t.conf:10: [reader] heartbeat_timeout_ms: 10 is out of range 1000..3600000 (or 0)"},
    {"[reader]\ncheckpoint = sometimes\n", 10,
        "t.conf:10: [reader] checkpoint: \"sometimes\" is not one of auto, manual"},
    {"[metrics]\ncloudwatch = maybe\n", 10,
        "t.conf:10: [metrics] cloudwatch: \"maybe\" is not one of on, off, true, false, yes, no"},
    {"[kls]\nstate_dir = var/lib/kls\n", 10,
        "t.conf:10: [kls] state_dir: \"var/lib/kls\" is not an absolute path"},
    {"[kls]\nstate_dir = /var/lib/../etc\n", 10,
        "t.conf:10: [kls] state_dir: \"/var/lib/../etc\" must not contain '..'"},
    {"[kls]\nshm_name = kls.orders\n", 10,
        "t.conf:10: [kls] shm_name: \"kls.orders\" is not a shared memory name (\"/name\" of "
        "letters, digits, '_', '.', '-')"},
    {"[kls]\ntable = ab\n", 10, "t.conf:10: [kls] table: \"ab\" is shorter than 3 characters"},
    {"[kls]\nlog_target = console\n", 10,
        "t.conf:10: [kls] log_target: \"console\" is not one of stderr, journal, syslog"},
    {"[aws]\nkinesis_endpoint = ftp://127.0.0.1\n", 10,
        "t.conf:10: [aws] kinesis_endpoint: \"ftp://127.0.0.1\" is not an http:// or https:// "
        "URL"},
    {"[aws]\ndynamodb_endpoint = http://key:secret@host\n", 10,
        "t.conf:10: [aws] dynamodb_endpoint: \"http://key:secret@host\" does not have a valid "
        "host[:port]"},
    {"[metrics]\nlisten = 9464\n", 10,
        "t.conf:10: [metrics] listen: \"9464\" is not host:port (like 127.0.0.1:9464)"},
    {"[metrics]\nnamespace = AWS/Kinesis\n", 10,
        "t.conf:10: [metrics] namespace: \"AWS/Kinesis\" is not a CloudWatch namespace (letters, "
        "digits, . _ - / # : and blanks; not AWS/...)"},
    {"[reader]\njust some words\n", 10, "t.conf:10: syntax error: expected 'key = value'"},
    {"[reader\nmax_records = 5\n", 9, "t.conf:9: syntax error: '[' without ']'"},
    {"[reader] max_records = 5\n", 9, "t.conf:9: syntax error: text after ']'"},
    /* An indented line is not a continuation of the key above. */
    {"[handler]\nurl = http://x\n    /more\n", 11,
        "t.conf:11: syntax error: expected 'key = value'"},
    {"[handler]\nbad key! = 1\n", 10,
        "t.conf:10: [handler] bad key!: a handler key is 1 to 32 letters, digits, '_', '.' "
        "or '-'"},
    {"[handler]\nk = a\tb\n", 10, "t.conf:10: [handler] k: value contains a control character"},
    {"[reader]\nmax_records = 5\n\n; comment\nmax_records = 6\n", 13,
        "t.conf:13: [reader] max_records: duplicate key (first set on line 10)"},
    {"[handler]\nk = 1\n[reader]\n[handler]\nk = 2\n", 13,
        "t.conf:13: [handler] k: duplicate key (first set on line 10)"},
    {"[reader]\ninitial_position = AT_TIMESTAMP\n", 10,
        "t.conf:10: [reader] initial_timestamp: required when initial_position = AT_TIMESTAMP"},
    {"[reader]\ninitial_position = AT_TIMESTAMP\ninitial_timestamp = 2024-02-30T00:00:00Z\n", 11,
        "t.conf:11: [reader] initial_timestamp: \"2024-02-30T00:00:00Z\" is not a UTC time like "
        "2024-05-01T12:00:00Z or epoch seconds"},
    {"[reader]\ninitial_timestamp = 1700000000\n", 10,
        "t.conf:10: [reader] initial_timestamp: only allowed with initial_position = "
        "AT_TIMESTAMP"},
    {"[reader]\nread_mode = fan-out\n", 10,
        "t.conf:10: [reader] consumer_name: required when read_mode = fan-out"},
    {"[reader]\nconsumer_name = orders-efo\n", 10,
        "t.conf:10: [reader] consumer_name: only allowed with read_mode = fan-out"},
    {"[reader]\npoison_policy = dead-letter\n", 10,
        "t.conf:10: [reader] dead_letter_dir: required when poison_policy = dead-letter"},
    {"[lease]\nbilling_mode = provisioned\nread_capacity = 5\n", 10,
        "t.conf:10: [lease] write_capacity: required when billing_mode = provisioned"},
    {"[lease]\nwrite_capacity = 5\n", 10,
        "t.conf:10: [lease] write_capacity: only allowed with billing_mode = provisioned"},
    {"[lease]\nfailover_ms = 3000\nrenew_interval_ms = 2800\n", 11,
        "t.conf:11: [lease] renew_interval_ms: 2800 must be less than failover_ms - "
        "safety_margin_ms (3000 - 300 = 2700)"},
    {"[lease]\nsafety_margin_ms = 10000\n", 10,
        "t.conf:10: [lease] safety_margin_ms: 10000 must be less than failover_ms (10000)"},
    {"[reader]\nrestart_backoff_min_ms = 60000\n", 10,
        "t.conf:10: [reader] restart_backoff_min_ms: 60000 is greater than "
        "restart_backoff_max_ms (30000)"},
    {"[reader]\ndrain_timeout_ms = 40000\n", 10,
        "t.conf:10: [lease] handoff_timeout_ms: 30000 must be greater than [reader] "
        "drain_timeout_ms (40000)"},
};

static void
test_config_bad_values(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct config *cfg = load_extra(bad_cases[i].extra, NULL);
		if (config_error_count(cfg) != 1 ||
		    config_error_at(cfg, 0)->line != bad_cases[i].line ||
		    strcmp(config_error_at(cfg, 0)->message, bad_cases[i].message) != 0) {
			fprintf(stderr, "\n  case %zu:\n", i);
			print_errors(cfg);
			fprintf(stderr, "    expected (line %u): %s\n", bad_cases[i].line,
			    bad_cases[i].message);
			CU_FAIL("bad case");
		}
		config_free(cfg);
	}
}

static void
test_config_key_before_section(void)
{
	char text[4096];
	snprintf(text, sizeof(text), "stray = 1\n%s", base);
	struct config *cfg = load(text, NULL);
	CU_ASSERT_EQUAL(config_error_count(cfg), 1);
	CU_ASSERT(has_error(cfg, "t.conf:1: stray: key before any [section]"));
	config_free(cfg);
}

static void
test_config_long_line(void)
{
	char extra[400];
	memset(extra, 0, sizeof(extra));
	strcpy(extra, "[handler]\nk = ");
	memset(extra + strlen(extra), 'x', 250);
	strcat(extra, "\nj = 1\n");
	struct config *cfg = load_extra(extra, NULL);
	CU_ASSERT_EQUAL(config_error_count(cfg), 1);
	CU_ASSERT(has_error(cfg, "t.conf:10: line is longer than 197 characters"));
	CU_ASSERT_EQUAL(cfg->handler_count, 1); /* j, after the long line, still counted */
	config_free(cfg);
}

static void
test_config_missing_required(void)
{
	struct config *cfg = load("[kls]\napplication = orders\n", NULL);
	CU_ASSERT_EQUAL(config_finish(cfg), -1); /* a second call repeats the verdict only */
	CU_ASSERT_EQUAL(config_error_count(cfg), 3);
	CU_ASSERT(has_error(cfg, "t.conf: [kls] stream: required key is missing"));
	CU_ASSERT(has_error(cfg, "t.conf: [kls] region: required key is missing"));
	CU_ASSERT(has_error(cfg, "t.conf: [reader] handler: required key is missing"));
	config_free(cfg);
	/* An empty value does not count as given. */
	cfg = load("[kls]\napplication =\nstream = s\nregion = r\n[reader]\nhandler = /h\n", NULL);
	CU_ASSERT_EQUAL(config_error_count(cfg), 1);
	CU_ASSERT(has_error(cfg, "t.conf:2: [kls] application: empty value"));
	config_free(cfg);
}

static void
test_config_all_errors_reported(void)
{
	static const char text[] = "[kls]\n"                 /* 1 */
	                           "application = .hidden\n" /* 2 */
	                           "stream = orders\n"       /* 3 */
	                           "region = EU_WEST\n"      /* 4 */
	                           "[reader]\n"              /* 5 */
	                           "handler = count.so\n"    /* 6 */
	                           "max_records = -1\n"      /* 7 */
	                           "color = blue\n"          /* 8 */
	                           "[lease]\n"               /* 9 */
	                           "billing_mode = free\n";  /* 10 */
	struct config *cfg = config_new();
	CU_ASSERT_EQUAL(config_parse_string(cfg, text, "/etc/kls/orders.conf"), -1);
	CU_ASSERT_EQUAL(config_finish(cfg), -1);
	static const unsigned lines[] = {2, 4, 6, 7, 8, 10};
	CU_ASSERT_EQUAL_FATAL(config_error_count(cfg), 6);
	for (size_t i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(config_error_at(cfg, i)->line, lines[i]);
	CU_ASSERT(has_error(cfg, "/etc/kls/orders.conf:2: [kls] application: \".hidden\" must not "
	                         "start with '.'"));
	CU_ASSERT(
	    has_error(cfg, "/etc/kls/orders.conf:4: [kls] region: \"EU_WEST\" is not a region "
	                   "name (like eu-west-1)"));
	CU_ASSERT(has_error(
	    cfg, "/etc/kls/orders.conf:6: [reader] handler: \"count.so\" is not an absolute path"));
	CU_ASSERT(has_error(cfg, "/etc/kls/orders.conf:7: [reader] max_records: \"-1\" is not an "
	                         "integer"));
	CU_ASSERT(has_error(cfg, "/etc/kls/orders.conf:8: [reader] color: unknown key"));
	CU_ASSERT(
	    has_error(cfg, "/etc/kls/orders.conf:10: [lease] billing_mode: \"free\" is not one "
	                   "of on-demand, provisioned"));
	config_free(cfg);
}

static void
test_config_error_bound(void)
{
	char text[8192];
	int len = snprintf(text, sizeof(text), "%s", base);
	for (int i = 0; i < CONFIG_ERRORS_MAX + 8; i++)
		len += snprintf(text + len, sizeof(text) - (size_t)len, "nope%d = 1\n", i);
	struct config *cfg = load(text, NULL);
	CU_ASSERT_EQUAL(config_error_count(cfg), CONFIG_ERRORS_MAX);
	CU_ASSERT_EQUAL(config_errors_dropped(cfg), 8);
	CU_ASSERT_PTR_NULL(config_error_at(cfg, CONFIG_ERRORS_MAX));
	config_free(cfg);
}

static void
test_config_env_precedence(void)
{
	static const char no_region[] = "[kls]\napplication = app\nstream = s\n"
	                                "[reader]\nhandler = /h.so\n";
	char *env1[] = {"AWS_DEFAULT_REGION=us-west-1", "AWS_REGION=us-east-2",
	    "AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:1", "KINESIS_ENDPOINT=http://127.0.0.1:2",
	    "AWS_ENDPOINT_URL=http://127.0.0.1:3", "AWS_PROFILE=dev", "UNRELATED=1", NULL};
	struct config *cfg = load(no_region, env1);
	assert_clean(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->kls.region, "us-east-2");
	CU_ASSERT_STRING_EQUAL(cfg->aws.kinesis_endpoint, "http://127.0.0.1:2");
	CU_ASSERT_STRING_EQUAL(cfg->aws.dynamodb_endpoint, "http://127.0.0.1:3");
	CU_ASSERT_STRING_EQUAL(cfg->aws.cloudwatch_endpoint, "http://127.0.0.1:3");
	CU_ASSERT_STRING_EQUAL(cfg->aws.profile, "dev");
	config_free(cfg);

	char *env2[] = {"AWS_DEFAULT_REGION=us-west-1",
	    "AWS_REGION=", "AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:1",
	    "DYNAMODB_ENDPOINT=http://[::1]:4", NULL};
	cfg = load(no_region, env2);
	assert_clean(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->kls.region, "us-west-1"); /* empty AWS_REGION is unset */
	CU_ASSERT_STRING_EQUAL(cfg->aws.kinesis_endpoint, "http://127.0.0.1:1");
	CU_ASSERT_STRING_EQUAL(cfg->aws.dynamodb_endpoint, "http://[::1]:4");
	CU_ASSERT_STRING_EQUAL(cfg->aws.cloudwatch_endpoint, "");
	config_free(cfg);

	/* The file beats the environment, and an unused bad variable is not judged. */
	char *env3[] = {"AWS_REGION=us-east-2", "KINESIS_ENDPOINT=ftp://nope", NULL};
	cfg =
	    load_extra("[aws]\nkinesis_endpoint = https://kinesis.eu-west-1.amazonaws.com\n", env3);
	assert_clean(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->kls.region, "eu-west-1");
	CU_ASSERT_STRING_EQUAL(
	    cfg->aws.kinesis_endpoint, "https://kinesis.eu-west-1.amazonaws.com");
	config_free(cfg);

	/* A bad variable that is used names the variable. */
	cfg = load(base, env3);
	CU_ASSERT_EQUAL(config_error_count(cfg), 1);
	CU_ASSERT(has_error(cfg, "environment variable KINESIS_ENDPOINT: [aws] kinesis_endpoint: "
	                         "\"ftp://nope\" is not an http:// or https:// URL"));
	config_free(cfg);

	/* No region anywhere. */
	cfg = load(no_region, NULL);
	CU_ASSERT(has_error(cfg, "t.conf: [kls] region: required key is missing"));
	config_free(cfg);
}

static void
test_config_override_precedence(void)
{
	char *env[] = {"AWS_REGION=us-east-2", NULL};
	struct config *cfg = config_new();
	/* Order of calls does not matter: the command line wins over the file and the
	 * environment; a later override of the same key wins over an earlier one. */
	CU_ASSERT_EQUAL(config_parse_override(cfg, "reader.max_records=100"), 0);
	CU_ASSERT_EQUAL(config_set_override(cfg, "kls.region", "ap-south-1"), 0);
	CU_ASSERT_EQUAL(config_parse_override(cfg, " lease.failover_ms = 20000 "), 0);
	CU_ASSERT_EQUAL(config_parse_override(cfg, "lease.failover_ms=30000"), 0);
	CU_ASSERT_EQUAL(config_parse_string(cfg,
	                    "[kls]\napplication = app\nstream = s\nregion = eu-west-1\n"
	                    "[reader]\nhandler = /h.so\nmax_records = 500\n"
	                    "[lease]\nfailover_ms = 15000\n",
	                    "t.conf"),
	    0);
	config_apply_env(cfg, env);
	CU_ASSERT_EQUAL(config_finish(cfg), 0);
	CU_ASSERT_EQUAL(cfg->reader.max_records, 100);
	CU_ASSERT_STRING_EQUAL(cfg->kls.region, "ap-south-1");
	CU_ASSERT_EQUAL(cfg->lease.failover_ms, 30000);
	CU_ASSERT_EQUAL(cfg->lease.renew_interval_ms, 10000);
	config_free(cfg);
}

static const struct {
	const char *arg;
	const char *message;
} bad_overrides[] = {
    {"reader.max_records=0", "command line: [reader] max_records: 0 is out of range 1..10000"},
    {"reader.nope=1", "command line: [reader] nope: unknown key"},
    {"readers.max_records=1", "command line: readers.max_records: unknown section [readers]"},
    {"max_records=1", "command line: \"max_records\": expected section.key"},
    {"reader.max_records", "command line: \"reader.max_records\": expected section.key=value"},
    {"kls.application=../x", "command line: [kls] application: \"../x\" must not start with '.'"},
    {"handler.k=a ;b",
        "command line: [handler] k: \"a ;b\" contains ';' where it would start a comment"},
    {"reader.consumer_name=efo",
        "command line: [reader] consumer_name: only allowed with read_mode = fan-out"},
};

static void
test_config_bad_overrides(void)
{
	for (size_t i = 0; i < sizeof(bad_overrides) / sizeof(bad_overrides[0]); i++) {
		struct config *cfg = config_new();
		config_parse_override(cfg, bad_overrides[i].arg);
		config_parse_string(cfg, base, "t.conf");
		CU_ASSERT_EQUAL(config_finish(cfg), -1);
		CU_ASSERT_EQUAL(config_error_count(cfg), 1);
		CU_ASSERT(has_error(cfg, bad_overrides[i].message));
		config_free(cfg);
	}
	/* A bad file value is an error even when the command line replaces it. */
	struct config *cfg = config_new();
	config_parse_override(cfg, "reader.max_records=100");
	config_parse_string(cfg, "[reader]\nmax_records = 20000\n", "t.conf");
	CU_ASSERT(has_error(cfg, "t.conf:2: [reader] max_records: 20000 is out of range 1..10000"));
	config_free(cfg);
}

static void
test_config_handler_pairs_in_order(void)
{
	struct config *cfg = config_new();
	config_parse_string(cfg,
	    "[handler]\nzeta = 1\nalpha = two words\nurl = http://h:1/a=b;c\nempty =\n"
	    "[kls]\napplication = app\nstream = s\nregion = r\n[reader]\nhandler = /h.so\n",
	    "t.conf");
	config_parse_override(cfg, "handler.alpha=2");
	config_parse_override(cfg, "handler.new.key=4");
	CU_ASSERT_EQUAL(config_finish(cfg), 0);
	static const char *const want[][2] = {{"zeta", "1"}, {"alpha", "2"},
	    {"url", "http://h:1/a=b;c"}, {"empty", ""}, {"new.key", "4"}};
	CU_ASSERT_EQUAL_FATAL(cfg->handler_count, 5);
	for (size_t i = 0; i < 5; i++) {
		CU_ASSERT_STRING_EQUAL(cfg->handler[i].key, want[i][0]);
		CU_ASSERT_STRING_EQUAL(cfg->handler[i].value, want[i][1]);
	}
	config_free(cfg);

	char text[8192];
	int len = snprintf(text, sizeof(text), "%s[handler]\n", base);
	for (int i = 0; i <= CONFIG_HANDLER_MAX; i++)
		len += snprintf(text + len, sizeof(text) - (size_t)len, "k%d = %d\n", i, i);
	cfg = load(text, NULL);
	CU_ASSERT_EQUAL(config_error_count(cfg), 1);
	CU_ASSERT(has_error(cfg, "t.conf:74: [handler] k64: more than 64 handler keys"));
	config_free(cfg);
}

/* A configuration that sets something other than the default nearly everywhere. */
static const char full[] = "[kls]\n"
                           "application = orders\n"
                           "stream = orders-stream\n"
                           "region = eu-west-1\n"
                           "table = orders-leases\n"
                           "worker_id = host1:6f1c0a3e-2d7b-4c55-9b1e-7a0f3c2d1e00\n"
                           "state_dir = /srv/kls/orders\n"
                           "shm_name = /kls.orders.test\n"
                           "control_socket = /run/kls-test/orders.sock\n"
                           "user = kls-reader\n"
                           "log_level = DEBUG\n"
                           "log_target = journal\n"
                           "[reader]\n"
                           "handler = /usr/lib/kls/handlers/file.so\n"
                           "checkpoint = manual\n"
                           "initial_position = at_timestamp\n"
                           "initial_timestamp = 2024-05-01T12:00:00.25Z\n"
                           "max_records = 250\n"
                           "idle_backoff_ms = 0\n"
                           "max_calls_per_second = 2\n"
                           "read_mode = fan-out\n"
                           "consumer_name = orders-efo\n"
                           "heartbeat_timeout_ms = 0\n"
                           "drain_timeout_ms = 2000\n"
                           "poison_retries = 7\n"
                           "poison_policy = dead-letter\n"
                           "dead_letter_dir = /var/spool/kls/dead letters\n"
                           "restart_backoff_min_ms = 50\n"
                           "restart_backoff_max_ms = 5000\n"
                           "shard_end_checkpoint = handler\n"
                           "[lease]\n"
                           "failover_ms = 6000\n"
                           "take_interval_ms = 9000\n"
                           "shard_sync_interval_ms = 5000\n"
                           "max_leases = 12\n"
                           "handoff_timeout_ms = 8000\n"
                           "billing_mode = provisioned\n"
                           "read_capacity = 10\n"
                           "write_capacity = 20\n"
                           "[aws]\n"
                           "dynamodb_endpoint = http://localhost:8000/\n"
                           "connect_timeout_ms = 1000\n"
                           "request_timeout_ms = 4000\n"
                           "max_response_bytes = 1048576\n"
                           "[metrics]\n"
                           "listen = [::1]:9464\n"
                           "cloudwatch = yes\n"
                           "namespace = KLS/Orders\n"
                           "[handler]\n"
                           "output = /tmp/out.txt\n"
                           "mode = append:fast\n"
                           "empty =\n";

static struct config *
load_full(void)
{
	char *env[] = {"KINESIS_ENDPOINT=http://127.0.0.1:4567", "AWS_PROFILE=test", NULL};
	struct config *cfg = config_new();
	config_parse_string(cfg, full, "full.conf");
	config_parse_override(cfg, "lease.renew_interval_ms=1500");
	config_parse_override(cfg, "handler.extra=x");
	config_apply_env(cfg, env);
	CU_ASSERT_EQUAL(config_finish(cfg), 0);
	assert_clean(cfg);
	return cfg;
}

static void
test_config_round_trip(void)
{
	struct config *cfg = load_full();
	CU_ASSERT_EQUAL(cfg->reader.initial_timestamp_ms, INT64_C(1714564800250));
	CU_ASSERT_EQUAL(cfg->kls.log_level, LOG_LEVEL_DEBUG);
	CU_ASSERT_TRUE(cfg->metrics.cloudwatch);
	CU_ASSERT_STRING_EQUAL(cfg->aws.kinesis_endpoint, "http://127.0.0.1:4567");

	struct kls_buf text;
	buf_init(&text, 0);
	CU_ASSERT_EQUAL_FATAL(config_write_buf(cfg, &text, 0), 0);
	struct config *back = load(text.data, NULL);
	assert_clean(back);
	CU_ASSERT_TRUE(config_equal(cfg, back));

	/* Writing the copy gives the same text: nothing drifts through a second pass. */
	struct kls_buf again;
	buf_init(&again, 0);
	CU_ASSERT_EQUAL(config_write_buf(back, &again, 0), 0);
	CU_ASSERT_STRING_EQUAL(text.data, again.data);

	/* config_equal can tell them apart. */
	back->reader.max_records++;
	CU_ASSERT_FALSE(config_equal(cfg, back));
	back->reader.max_records--;
	snprintf(back->handler[1].value, sizeof(back->handler[1].value), "other");
	CU_ASSERT_FALSE(config_equal(cfg, back));

	/* With origins, the text still parses to the same configuration. */
	struct kls_buf annotated;
	buf_init(&annotated, 0);
	CU_ASSERT_EQUAL(config_write_buf(cfg, &annotated, CONFIG_WRITE_ORIGINS), 0);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(annotated.data, "# from environment variable KINESIS_ENDPOINT\nkinesis_endpoint "
	                           "= http://127.0.0.1:4567\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(annotated.data, "# from full.conf:17\ninitial_timestamp = "
	                                              "2024-05-01T12:00:00.250Z\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(annotated.data, "# from command line\nrenew_interval_ms = 1500\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(annotated.data, "# default\ncloudwatch_endpoint =\n"));
	struct config *back2 = load(annotated.data, NULL);
	assert_clean(back2);
	CU_ASSERT_TRUE(config_equal(cfg, back2));

	buf_free(&text);
	buf_free(&again);
	buf_free(&annotated);
	config_free(back);
	config_free(back2);
	config_free(cfg);

	/* The defaults round trip too. */
	cfg = load(base, NULL);
	buf_init(&text, 0);
	CU_ASSERT_EQUAL(config_write_buf(cfg, &text, 0), 0);
	back = load(text.data, NULL);
	assert_clean(back);
	CU_ASSERT_TRUE(config_equal(cfg, back));
	buf_free(&text);
	config_free(back);
	config_free(cfg);
}

/* klsd's path to a reader: config_write into a sealed memfd, config_load_fd on the other
 * side; the written offset is left at the end and must not matter. */
static void
test_config_memfd(void)
{
	struct config *cfg = load_full();
	int fd = memfd_create("kls-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CU_ASSERT_FATAL(fd >= 0);
	FILE *f = fdopen(dup(fd), "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(config_write(cfg, f), 0);
	CU_ASSERT_EQUAL(fclose(f), 0);
	CU_ASSERT_EQUAL(
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL), 0);
	struct config *back = config_load_fd(fd, "config-fd 3");
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	assert_clean(back);
	CU_ASSERT_TRUE(config_equal(cfg, back));
	close(fd);
	config_free(back);
	config_free(cfg);
}

static void
test_config_write_refuses_bad(void)
{
	struct kls_buf b;
	buf_init(&b, 0);
	struct config *cfg = config_new();
	config_parse_string(cfg, base, "t.conf");
	errno = 0;
	CU_ASSERT_EQUAL(config_write_buf(cfg, &b, 0), -1); /* not finished */
	CU_ASSERT_EQUAL(errno, EINVAL);
	config_free(cfg);
	cfg = load_extra("[reader]\nmax_records = 0\n", NULL);
	errno = 0;
	CU_ASSERT_EQUAL(config_write_buf(cfg, &b, 0), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	config_free(cfg);
	buf_free(&b);
}

static void
test_config_files(void)
{
	char path[] = "/tmp/kls-config-test-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	/* CRLF line ends and a UTF-8 byte order mark, as editors on other systems write. */
	static const char crlf[] = "\xEF\xBB\xBF[kls]\r\napplication = orders\r\nstream = s\r\n"
	                           "region = eu-west-1\r\n[reader]\r\nhandler = /h.so\r\n"
	                           "max_records = 7\r\n";
	CU_ASSERT_EQUAL(write(fd, crlf, sizeof(crlf) - 1), (ssize_t)(sizeof(crlf) - 1));
	close(fd);
	struct config *cfg = config_load_file(path);
	assert_clean(cfg);
	CU_ASSERT_EQUAL(cfg->reader.max_records, 7);
	CU_ASSERT_STRING_EQUAL(cfg->kls.application, "orders");
	config_free(cfg);

	/* A second source is refused. */
	cfg = config_new();
	CU_ASSERT_EQUAL(config_parse_file(cfg, path), 0);
	CU_ASSERT_EQUAL(config_parse_string(cfg, base, "other.conf"), -1);
	char want[256];
	snprintf(
	    want, sizeof(want), "other.conf: a configuration was already loaded from %s", path);
	CU_ASSERT(has_error(cfg, want));
	config_free(cfg);
	unlink(path);

	cfg = config_load_file(path);
	snprintf(want, sizeof(want), "%s: open: No such file or directory", path);
	CU_ASSERT(has_error(cfg, want));
	config_free(cfg);
	cfg = config_load_file("/tmp");
	CU_ASSERT(has_error(cfg, "/tmp: is a directory"));
	config_free(cfg);

	/* A NUL byte inside a line. */
	static const char nul[] = "[reader]\nmax_records = 5\0junk\n";
	cfg = config_new();
	int pfd[2];
	CU_ASSERT_FATAL(pipe(pfd) == 0);
	CU_ASSERT_EQUAL(write(pfd[1], nul, sizeof(nul) - 1), (ssize_t)(sizeof(nul) - 1));
	close(pfd[1]);
	CU_ASSERT_EQUAL(config_parse_fd(cfg, pfd[0], "pipe"), -1); /* not seekable: read() */
	close(pfd[0]);
	CU_ASSERT(has_error(cfg, "pipe:2: line contains a NUL byte"));
	config_free(cfg);
}

static void
test_config_oversized_text(void)
{
	int fd = memfd_create("kls-big", MFD_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(ftruncate(fd, CONFIG_TEXT_MAX + 1), 0);
	struct config *cfg = config_load_fd(fd, "big");
	char want[64];
	snprintf(want, sizeof(want), "big: larger than %d bytes", CONFIG_TEXT_MAX);
	CU_ASSERT(has_error(cfg, want));
	config_free(cfg);
	close(fd);
}

static char *
slurp(const char *rel)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", test_srcdir(), rel);
	FILE *f = fopen(path, "r");
	CU_ASSERT_PTR_NOT_NULL(f);
	if (f == NULL)
		return NULL;
	char *data = calloc(1, 256 * 1024);
	size_t n = fread(data, 1, 256 * 1024 - 1, f);
	fclose(f);
	data[n] = '\0';
	return data;
}

static void
test_config_example_parses(void)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/scripts/kls.conf.example", test_srcdir());
	struct config *cfg = config_load_file(path);
	assert_clean(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->kls.application, "orders");
	config_free(cfg);
}

/* The reference table and the example mention every key the parser knows. */
static void
test_config_every_key_documented(void)
{
	char *doc = slurp("docs/kls.conf.md");
	char *example = slurp("scripts/kls.conf.example");
	CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(example);
	for (int i = 0; i < K_COUNT; i++) {
		char row[128], line[128];
		snprintf(row, sizeof(row), "| `%s` |", config_keys[i].name);
		snprintf(line, sizeof(line), "%s =", config_keys[i].name);
		if (strstr(doc, row) == NULL || strstr(example, line) == NULL) {
			fprintf(stderr, "\n  [%s] %s is not documented\n", config_keys[i].section,
			    config_keys[i].name);
			CU_FAIL("undocumented key");
		}
	}
	free(doc);
	free(example);
}

static const struct {
	int key;
	const char *text;
	int ok;
} value_cases[] = {
    {K_INITIAL_TIMESTAMP, "2024-05-01T12:00:00Z", 1},
    {K_INITIAL_TIMESTAMP, "2024-05-01T12:00:00.123456789Z", 1},
    {K_INITIAL_TIMESTAMP, "1714564800", 1},
    {K_INITIAL_TIMESTAMP, "1714564800.5", 1},
    {K_INITIAL_TIMESTAMP, "2024-05-01 12:00:00Z", 0},
    {K_INITIAL_TIMESTAMP, "2024-05-01T12:00:00", 0},
    {K_INITIAL_TIMESTAMP, "2024-05-01T12:00:00+02:00", 1},
    {K_INITIAL_TIMESTAMP, "2024-05-01T12:00:00+24:00", 0},
    {K_INITIAL_TIMESTAMP, "1970-01-01T00:30:00+01:00", 0},
    {K_INITIAL_TIMESTAMP, "253402300800", 0},
    {K_INITIAL_TIMESTAMP, "2024-13-01T00:00:00Z", 0},
    {K_INITIAL_TIMESTAMP, "1969-12-31T23:59:59Z", 0},
    {K_INITIAL_TIMESTAMP, "1714564800.", 0},
    {K_INITIAL_TIMESTAMP, "-5", 0},
    {K_INITIAL_TIMESTAMP, "99999999999999999999", 0},
    {K_KINESIS_ENDPOINT, "https://kinesis.eu-west-1.amazonaws.com", 1},
    {K_KINESIS_ENDPOINT, "http://127.0.0.1:4567", 1},
    {K_KINESIS_ENDPOINT, "http://[::1]:4567/prefix", 1},
    {K_KINESIS_ENDPOINT, "", 1},
    {K_KINESIS_ENDPOINT, "http://", 0},
    {K_KINESIS_ENDPOINT, "http://h:0", 0},
    {K_KINESIS_ENDPOINT, "http://h:65536", 0},
    {K_KINESIS_ENDPOINT, "http://h/p?q=1", 0},
    {K_KINESIS_ENDPOINT, "HTTP://h", 0},
    {K_KINESIS_ENDPOINT, "127.0.0.1:4567", 0},
    {K_METRICS_LISTEN, "127.0.0.1:9464", 1},
    {K_METRICS_LISTEN, "[::1]:9464", 1},
    {K_METRICS_LISTEN, "localhost:1", 1},
    {K_METRICS_LISTEN, "localhost", 0},
    {K_METRICS_LISTEN, ":9464", 0},
    {K_METRICS_LISTEN, "[]:9464", 0},
    {K_SHM_NAME, "/kls.orders", 1},
    {K_SHM_NAME, "/kls/orders", 0},
    {K_SHM_NAME, "/..", 0},
    {K_CONTROL_SOCKET, "/run/kls/a.sock", 1},
    {K_REGION, "eu-west-1", 1},
    {K_REGION, "eu west", 0},
    {K_USER, "kls-reader", 1},
    {K_USER, "-x", 0},
    {K_WORKER_ID, "host:uuid", 1},
    {K_WORKER_ID, "host uuid", 0},
    {K_STREAM, "orders_2024.v1-x", 1},
    {K_STREAM, "orders/x", 0},
    {K_METRICS_CLOUDWATCH, "ON", 1},
    {K_METRICS_CLOUDWATCH, "No", 1},
    {K_METRICS_CLOUDWATCH, "1", 0},
    {K_READ_MODE, "FAN-OUT", 1},
    {K_READ_MODE, "fanout", 0},
    {K_HANDLER, "/usr/lib/kls/x..so", 1},
    {K_HANDLER, "/usr/lib/kls/../x.so", 0},
    {K_HANDLER, "/usr/lib/kls/..", 0},
    {K_METRICS_NAMESPACE, "KLS/Orders #1", 1},
    {K_METRICS_CW_LEVEL, "SUMMARY", 1},
    {K_METRICS_CW_LEVEL, "none", 0},
    {K_METRICS_CW_INTERVAL_MS, "1000", 1},
    {K_METRICS_CW_INTERVAL_MS, "999", 0},
    {K_MAX_RECORDS, "+5", 0},
    {K_MAX_RECORDS, " 5", 0},
    {K_MAX_RECORDS, "0010", 1},
};

static void
test_config_value_syntax(void)
{
	for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
		char out[CONFIG_VALUE_MAX + 1] __attribute__((aligned(8)));
		char why[CONFIG_ERROR_LEN] = "";
		int rc = config_key_parse(
		    &config_keys[value_cases[i].key], value_cases[i].text, out, why, sizeof(why));
		if ((rc == 0) != value_cases[i].ok) {
			fprintf(stderr, "\n  [%s] %s = \"%s\": got %d (%s)\n",
			    config_keys[value_cases[i].key].section,
			    config_keys[value_cases[i].key].name, value_cases[i].text, rc, why);
			CU_FAIL("value case");
		}
	}
}

static void
test_config_timestamp_values(void)
{
	static const struct {
		const char *text;
		int64_t ms;
	} cases[] = {
	    {"1970-01-01T00:00:00Z", 0},
	    {"2024-05-01T12:00:00Z", INT64_C(1714564800000)},
	    {"2024-05-01T12:00:00.7Z", INT64_C(1714564800700)},
	    {"2024-02-29T23:59:59.999Z", INT64_C(1709251199999)},
	    {"2024-05-01T14:00:00+02:00", INT64_C(1714564800000)},
	    {"1714564800.25", INT64_C(1714564800250)},
	    {"253402300799", INT64_C(253402300799000)},
	    {"", -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = 0;
		char why[CONFIG_ERROR_LEN];
		CU_ASSERT_EQUAL(config_key_parse(&config_keys[K_INITIAL_TIMESTAMP], cases[i].text,
		                    &ms, why, sizeof(why)),
		    0);
		CU_ASSERT_EQUAL(ms, cases[i].ms);
	}
}

static void
test_config_compare(void)
{
	struct config *old = load(base, NULL);
	struct config *new = config_new();
	struct config_change ch;

	*new = *old; /* a struct config has no pointers: copies are independent */
	config_compare(old, new, &ch);
	CU_ASSERT_STRING_EQUAL(ch.restart_key, "");
	CU_ASSERT_FALSE(ch.readers);
	CU_ASSERT_FALSE(ch.supervisor);

	snprintf(new->kls.stream, sizeof(new->kls.stream), "other");
	new->reader.max_records = 5;
	config_compare(old, new, &ch);
	CU_ASSERT_STRING_EQUAL(ch.restart_key, "kls.stream");

	*new = *old;
	new->reader.max_records = 5;
	config_compare(old, new, &ch);
	CU_ASSERT_STRING_EQUAL(ch.restart_key, "");
	CU_ASSERT_TRUE(ch.readers);
	CU_ASSERT_FALSE(ch.supervisor);

	*new = *old;
	new->lease.failover_ms = 20000;
	config_compare(old, new, &ch);
	CU_ASSERT_FALSE(ch.readers);
	CU_ASSERT_TRUE(ch.supervisor);

	*new = *old;
	new->handler_count = 1;
	snprintf(new->handler[0].key, sizeof(new->handler[0].key), "k");
	config_compare(old, new, &ch);
	CU_ASSERT_TRUE(ch.readers);
	CU_ASSERT_STRING_EQUAL(ch.restart_key, "");

	*new = *old;
	snprintf(new->aws.dynamodb_endpoint, sizeof(new->aws.dynamodb_endpoint), "http://h:1");
	new->kls.log_level = LOG_LEVEL_DEBUG;
	config_compare(old, new, &ch);
	CU_ASSERT_STRING_EQUAL(ch.restart_key, "aws.dynamodb_endpoint");
	CU_ASSERT_TRUE(ch.readers);
	CU_ASSERT_TRUE(ch.supervisor);

	config_free(old);
	config_free(new);
}

static void
test_config_enum_names(void)
{
	CU_ASSERT_STRING_EQUAL(config_position_name(CONFIG_POSITION_AT_TIMESTAMP), "AT_TIMESTAMP");
	CU_ASSERT_STRING_EQUAL(config_read_mode_name(CONFIG_READ_FAN_OUT), "fan-out");
	CU_ASSERT_STRING_EQUAL(config_poison_policy_name(CONFIG_POISON_DEAD_LETTER), "dead-letter");
}

static CU_TestInfo config_tests[] = {
    {"defaults", test_config_defaults},
    {"derived defaults follow failover_ms", test_config_derived_follow_failover},
    {"bad values name file, line and key", test_config_bad_values},
    {"key before any section", test_config_key_before_section},
    {"long line", test_config_long_line},
    {"missing required keys", test_config_missing_required},
    {"all errors reported", test_config_all_errors_reported},
    {"error list is bounded", test_config_error_bound},
    {"environment precedence", test_config_env_precedence},
    {"override precedence", test_config_override_precedence},
    {"bad overrides", test_config_bad_overrides},
    {"handler pairs in order", test_config_handler_pairs_in_order},
    {"round trip", test_config_round_trip},
    {"memfd hand-over", test_config_memfd},
    {"write refuses bad configurations", test_config_write_refuses_bad},
    {"files, descriptors, CRLF and BOM", test_config_files},
    {"oversized text", test_config_oversized_text},
    {"example parses", test_config_example_parses},
    {"every key documented", test_config_every_key_documented},
    {"value syntax", test_config_value_syntax},
    {"timestamp values", test_config_timestamp_values},
    {"reload compare", test_config_compare},
    {"enum names", test_config_enum_names},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"config", NULL, NULL, NULL, NULL, config_tests},
    CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
