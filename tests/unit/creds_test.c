/*
 * Tests of common/creds: the static provider and each source of the standard
 * chain, against temporary files and loopback stub servers, with the environment
 * set per test. Every test starts from reset_env(): no AWS variables, HOME an
 * empty temporary folder, IMDS disabled unless the test points it at a stub.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/creds.h"
#include "common/creds_int.h"
#include "tests/harness.h"
#include "tests/stub_http.h"

static char tmpdir[64];

static const char *const aws_vars[] = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_DISABLED",
};

static void
reset_env(void)
{
	for (size_t i = 0; i < sizeof(aws_vars) / sizeof(aws_vars[0]); i++)
		unsetenv(aws_vars[i]);
	setenv("HOME", tmpdir, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static int
suite_init(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kls-creds-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
suite_clean(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes content to tmpdir/name; returns the path (static storage per slot). */
static const char *
write_file(const char *name, const char *content)
{
	static char paths[4][256];
	static int slot;
	char *path = paths[slot++ % 4];
	FILE *f;

	snprintf(path, 256, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(content, f);
	fclose(f);
	return path;
}

static void
iso_time(char *out, size_t size, int64_t from_now_s)
{
	time_t t = time(NULL) + from_now_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Resolves with a fresh chain provider; the caller checks rc, c and err. */
static int
get_once(const struct creds_config *cfg, struct aws_credentials *c, struct aws_error *err)
{
	struct aws_creds_provider *p = creds_provider_new(cfg);
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(err, 0, sizeof(*err));
	rc = creds_get(p, c, err);
	creds_provider_free(p);
	return rc;
}

/* Resolves once with a fresh provider and expects failure naming want (if set) and
 * never holding secret (if set). */
static void
expect_fail(const struct creds_config *cfg, const char *want, const char *secret)
{
	struct aws_credentials c;
	struct aws_error err;

	CU_ASSERT_EQUAL(get_once(cfg, &c, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.type, "Credentials");
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "");
	if (want != NULL)
		CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));
	if (secret != NULL)
		CU_ASSERT_PTR_NULL(strstr(err.message, secret));
}

/* ---- stub container credentials endpoint ---- */

struct cstub {
	int exp_s;       /* Expiration this far from now */
	int fail_from;   /* requests with index >= this get HTTP 500 (0: never) */
	const char *raw; /* if set, the body verbatim */
	size_t big;      /* if set, a body this large */
	char auth[256];  /* Authorization header of the last request, "" if none */
};

static void
container_handler(void *arg, const struct stub_request *req, struct stub_response *resp)
{
	struct cstub *cs = arg;
	char exp[32];

	if (stub_header(req, "Authorization", cs->auth, sizeof(cs->auth)) < 0)
		cs->auth[0] = '\0';
	if (cs->fail_from && req->index >= cs->fail_from) {
		resp->status = 500;
		return;
	}
	if (cs->big) {
		for (size_t i = 0; i < cs->big; i++)
			buf_append(&resp->body, " ", 1);
		return;
	}
	if (cs->raw) {
		buf_puts(&resp->body, cs->raw);
		return;
	}
	iso_time(exp, sizeof(exp), cs->exp_s ? cs->exp_s : 3600);
	buf_printf(&resp->body,
	    "{\"AccessKeyId\":\"ASIACONTAINER%d\",\"SecretAccessKey\":\"CSECRET\","
	    "\"Token\":\"CTOKEN\",\"Expiration\":\"%s\"}",
	    req->index, exp);
}

static struct stub_server *
container_stub(struct cstub *cs)
{
	struct stub_server *s = stub_start(container_handler, cs);
	char url[128];

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	snprintf(url, sizeof(url), "%s/v2/credentials/abc", stub_url(s));
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	return s;
}

/* ---- stub IMDS ---- */

struct istub {
	int put_status; /* 0 = 200 */
	int put_drop;   /* drop the PUT's connection */
	int puts, puts_with_ttl;
	int gets_with_token, gets_without_token;
};

#define IMDS_TOKEN "IMDSTOKEN-42"

static void
imds_handler(void *arg, const struct stub_request *req, struct stub_response *resp)
{
	struct istub *is = arg;
	char v[128], exp[32];

	if (strcmp(req->method, "PUT") == 0 && strcmp(req->path, "/latest/api/token") == 0) {
		is->puts++;
		if (stub_header(req, "X-aws-ec2-metadata-token-ttl-seconds", v, sizeof(v)) == 0 &&
		    atoi(v) > 0)
			is->puts_with_ttl++;
		resp->drop = is->put_drop;
		resp->status = is->put_status ? is->put_status : 200;
		buf_puts(&resp->body, IMDS_TOKEN);
		return;
	}
	if (stub_header(req, "X-aws-ec2-metadata-token", v, sizeof(v)) < 0 ||
	    strcmp(v, IMDS_TOKEN) != 0) {
		is->gets_without_token++;
		resp->status = 401;
		return;
	}
	is->gets_with_token++;
	if (strcmp(req->path, "/latest/meta-data/iam/security-credentials/") == 0) {
		buf_puts(&resp->body, "kls-role\n");
	} else if (strcmp(req->path, "/latest/meta-data/iam/security-credentials/kls-role") == 0) {
		iso_time(exp, sizeof(exp), 6 * 3600);
		buf_printf(&resp->body,
		    "{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIAIMDS\","
		    "\"SecretAccessKey\":\"ISECRET\",\"Token\":\"ITOKEN\",\"Expiration\":\"%s\"}",
		    exp);
	} else {
		resp->status = 404;
	}
}

/* ---- static and environment ---- */

static void
test_creds_static(void)
{
	struct aws_creds_provider *p = creds_provider_new_static("AKID", "SECRET", "TOK");
	struct aws_credentials c;
	struct aws_error err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(creds_get(p, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "AKID");
	CU_ASSERT_STRING_EQUAL(c.secret_access_key, "SECRET");
	CU_ASSERT_STRING_EQUAL(c.session_token, "TOK");
	CU_ASSERT_EQUAL(c.expires_ms, 0);
	CU_ASSERT_STRING_EQUAL(c.source, "static");
	creds_provider_free(p);

	p = creds_provider_new_static("AKID", "SECRET", NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(creds_get(p, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(c.session_token, "");
	creds_provider_free(p);
}

static void
test_creds_env(void)
{
	struct aws_credentials c;
	struct aws_error err;

	reset_env();
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET", 1);
	setenv("AWS_SESSION_TOKEN", "ENVTOKEN", 1);
	CU_ASSERT_EQUAL_FATAL(get_once(NULL, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "AKIAENV");
	CU_ASSERT_STRING_EQUAL(c.secret_access_key, "ENVSECRET");
	CU_ASSERT_STRING_EQUAL(c.session_token, "ENVTOKEN");
	CU_ASSERT_EQUAL(c.expires_ms, 0);
	CU_ASSERT_STRING_EQUAL(c.source, "environment");

	unsetenv("AWS_SESSION_TOKEN");
	CU_ASSERT_EQUAL_FATAL(get_once(NULL, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(c.session_token, "");
}

static void
test_creds_env_partial(void)
{
	static const struct {
		const char *id, *secret, *missing;
	} cases[] = {
	    {"AKIAENV", NULL, "AWS_SECRET_ACCESS_KEY is not"},
	    {NULL, "ENVSECRET", "AWS_ACCESS_KEY_ID is not"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aws_credentials c;
		struct aws_error err;

		reset_env();
		/* A usable file must not be reached: the half-set environment is an error. */
		setenv("AWS_SHARED_CREDENTIALS_FILE",
		    write_file("env-partial", "[default]\naws_access_key_id = "
		                              "AKIAFILE\naws_secret_access_key = FILESECRET\n"),
		    1);
		if (cases[i].id)
			setenv("AWS_ACCESS_KEY_ID", cases[i].id, 1);
		if (cases[i].secret)
			setenv("AWS_SECRET_ACCESS_KEY", cases[i].secret, 1);
		CU_ASSERT_EQUAL(get_once(NULL, &c, &err), -1);
		CU_ASSERT_STRING_EQUAL(err.type, "Credentials");
		CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].missing));
		CU_ASSERT_PTR_NULL(strstr(err.message, "ENVSECRET"));
		CU_ASSERT_STRING_EQUAL(c.access_key_id, "");
	}
}

/* ---- shared files ---- */

static void
test_creds_env_beats_files(void)
{
	struct aws_credentials c;
	struct aws_error err;

	reset_env();
	setenv("AWS_SHARED_CREDENTIALS_FILE",
	    write_file("both",
	        "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = FILESECRET\n"),
	    1);
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET", 1);
	CU_ASSERT_EQUAL_FATAL(get_once(NULL, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "AKIAENV");

	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	CU_ASSERT_EQUAL_FATAL(get_once(NULL, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "AKIAFILE");
	CU_ASSERT_STRING_EQUAL(c.secret_access_key, "FILESECRET");
	CU_ASSERT_STRING_EQUAL(c.source, "profile:default");
}

static void
test_creds_profiles(void)
{
	static const char credfile[] = "# comment\n"
	                               "; another\n"
	                               "[default]\n"
	                               "aws_access_key_id = AKIADEFAULT\n"
	                               "aws_secret_access_key = DEFSECRET\n"
	                               "\n"
	                               "[dev]\r\n"
	                               "  AWS_Access_Key_Id=AKIADEV\r\n"
	                               "aws_secret_access_key: DEVSECRET\r\n"
	                               "aws_session_token = DEVTOKEN\r\n"
	                               "[profile prefixed]\n"
	                               "aws_access_key_id = AKIAPREFIXEDCRED\n"
	                               "aws_secret_access_key = S\n"
	                               "[both]\n"
	                               "aws_access_key_id = AKIABOTHCRED\n"
	                               "aws_secret_access_key = S\n"
	                               "[regiononly]\n"
	                               "region = eu-west-1\n"
	                               "[roleonly]\n"
	                               "role_arn = arn:aws:iam::123456789012:role/x\n"
	                               "source_profile = default\n";
	static const char conffile[] = "[default]\n"
	                               "region = us-east-1\n"
	                               "[profile ops]\n"
	                               "region = us-west-2\n"
	                               "s3 =\n"
	                               "    max_concurrent_requests = 20\n"
	                               "aws_access_key_id = AKIAOPS\n"
	                               "aws_secret_access_key = OPSSECRET\n"
	                               "[plain]\n"
	                               "aws_access_key_id = AKIAPLAIN\n"
	                               "aws_secret_access_key = S\n"
	                               "[profile both]\n"
	                               "aws_access_key_id = AKIABOTHCONF\n"
	                               "aws_secret_access_key = S\n"
	                               "[profile regiononly]\n"
	                               "aws_access_key_id = AKIAREGIONONLY\n"
	                               "aws_secret_access_key = S\n";
	static const struct {
		const char *env_profile, *cfg_profile, *id, *token, *fail;
	} cases[] = {
	    {NULL, NULL, "AKIADEFAULT", "", NULL},
	    {"dev", NULL, "AKIADEV", "DEVTOKEN", NULL},
	    {"nope", "dev", "AKIADEV", "DEVTOKEN", NULL},     /* cfg beats AWS_PROFILE */
	    {"ops", NULL, "AKIAOPS", "", NULL},               /* config file, [profile NAME] */
	    {"both", NULL, "AKIABOTHCRED", "", NULL},         /* credentials file beats config */
	    {"regiononly", NULL, "AKIAREGIONONLY", "", NULL}, /* keys only in config */
	    /* "[NAME]" in the config file and "[profile NAME]" in credentials are other profiles */
	    {"plain", NULL, NULL, NULL, "profile plain: not found"},
	    {"prefixed", NULL, NULL, NULL, "profile prefixed: not found"},
	    {"missing", NULL, NULL, NULL, "profile missing: not found"},
	    /* a named profile that only assumes a role must not fall through to IMDS */
	    {"roleonly", NULL, NULL, NULL, "profile roleonly: no static keys"},
	};
	const char *cred = write_file("profiles-credentials", credfile);
	const char *conf = write_file("profiles-config", conffile);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct creds_config cfg = {.profile = cases[i].cfg_profile};
		struct aws_credentials c;
		struct aws_error err;
		int rc;

		reset_env();
		setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
		setenv("AWS_CONFIG_FILE", conf, 1);
		if (cases[i].env_profile)
			setenv("AWS_PROFILE", cases[i].env_profile, 1);
		rc = get_once(&cfg, &c, &err);
		if (cases[i].id) {
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_STRING_EQUAL(c.access_key_id, cases[i].id);
			CU_ASSERT_STRING_EQUAL(c.session_token, cases[i].token);
			CU_ASSERT_EQUAL(strncmp(c.source, "profile:", 8), 0);
		} else {
			CU_ASSERT_EQUAL(rc, -1);
			CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].fail));
		}
	}
}

static void
test_creds_profile_default_paths(void)
{
	struct aws_credentials c;
	struct aws_error err;
	char dir[128];

	reset_env();
	snprintf(dir, sizeof(dir), "%s/.aws", tmpdir);
	mkdir(dir, 0700);
	write_file(".aws/config", "[profile home]\naws_access_key_id = AKIAHOME\n"
	                          "aws_secret_access_key = HOMESECRET\n");
	setenv("AWS_PROFILE", "home", 1);
	CU_ASSERT_EQUAL(get_once(NULL, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "AKIAHOME");
	CU_ASSERT_STRING_EQUAL(c.source, "profile:home");
	CU_ASSERT_EQUAL(unlink(write_file(".aws/config", "")), 0);
	CU_ASSERT_EQUAL(rmdir(dir), 0);
}

/* Files that stop the chain: the message names the file and line (or profile). */
static void
test_creds_bad_files(void)
{
	static const struct {
		const char *content, *where;
	} cases[] = {
	    {"[default\naws_access_key_id = A\n", ":1: section header without ]"},
	    {"[default]\naws_access_key_id = A\naws_secret_access_key FILESECRET\n",
	        ":3: expected key = value"},
	    {"aws_access_key_id = A\n[default]\n", ":1: key outside any [section]"},
	    {"[default]\n\n# c\n= FILESECRET\n", ":4: empty key"},
	    {"[]\n", ":1: empty section name"},
	    {"[other]\nok = 1\n[default]\naws_access_key_id = A\naws_secret_access_key = B\n"
	     "garbage line\n",
	        ":6: expected key = value"},
	    {"[default]\naws_access_key_id = AKIAFILE\n",
	        ": profile default has aws_access_key_id but no aws_secret_access_key"},
	    {"[default]\naws_secret_access_key = FILESECRET\n",
	        ": profile default has aws_secret_access_key but no aws_access_key_id"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int inconf = 0; inconf < 2; inconf++) {
			const char *path = write_file("bad", cases[i].content);
			char want[300];

			reset_env();
			setenv(inconf ? "AWS_CONFIG_FILE" : "AWS_SHARED_CREDENTIALS_FILE", path, 1);
			snprintf(want, sizeof(want), "%s%s", path, cases[i].where);
			expect_fail(NULL, want, "FILESECRET");
		}
	}
}

static void
test_creds_file_kinds(void)
{
	/* /dev/null is the usual way to say "no shared credentials file". */
	reset_env();
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
	expect_fail(NULL,
	    "no credentials found: environment: AWS_ACCESS_KEY_ID not set; "
	    "profile default: /dev/null: no profile default",
	    NULL);

	/* A folder is a mistake worth stopping for. */
	setenv("AWS_SHARED_CREDENTIALS_FILE", tmpdir, 1);
	expect_fail(NULL, "not a regular file", NULL);
}

/* ---- container ---- */

static void
test_creds_files_beat_container(void)
{
	struct cstub cs = {0};
	struct stub_server *s;
	struct aws_credentials c;
	struct aws_error err;

	reset_env();
	s = container_stub(&cs);
	setenv("AWS_SHARED_CREDENTIALS_FILE",
	    write_file("beat-container",
	        "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = FILESECRET\n"),
	    1);
	CU_ASSERT_EQUAL(get_once(NULL, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "AKIAFILE");
	CU_ASSERT_EQUAL(stub_count(s), 0);

	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	CU_ASSERT_EQUAL(get_once(NULL, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "ASIACONTAINER0");
	CU_ASSERT_EQUAL(stub_count(s), 1);
	stub_stop(s);
}

static void
test_creds_container_token(void)
{
	struct cstub cs = {.exp_s = 1800};
	struct stub_server *s;
	struct aws_credentials c;
	struct aws_error err;
	int64_t now = wall_now_ms();

	reset_env();
	s = container_stub(&cs);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer env-token", 1);
	CU_ASSERT_EQUAL_FATAL(get_once(NULL, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(cs.auth, "Bearer env-token");
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "ASIACONTAINER0");
	CU_ASSERT_STRING_EQUAL(c.secret_access_key, "CSECRET");
	CU_ASSERT_STRING_EQUAL(c.session_token, "CTOKEN");
	CU_ASSERT_STRING_EQUAL(c.source, "container");
	/* Expiration is whole seconds, 30 minutes ahead. */
	CU_ASSERT(c.expires_ms > now + 1790 * 1000 && c.expires_ms < now + 1810 * 1000);

	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	CU_ASSERT_EQUAL(get_once(NULL, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(cs.auth, "");
	stub_stop(s);
}

static void
test_creds_container_token_file(void)
{
	struct cstub cs = {0};
	struct stub_server *s;
	struct aws_credentials c;
	struct aws_error err;

	reset_env();
	s = container_stub(&cs);
	/* The file wins over the variable; its trailing newline is not part of the token. */
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "env-token", 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", write_file("token", "file-token\n"), 1);
	CU_ASSERT_EQUAL(get_once(NULL, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(cs.auth, "file-token");

	/* A token with a line break would inject a header: refused, and not echoed. */
	write_file("token", "file-token\r\nX-Evil: 1");
	expect_fail(NULL, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "file-token");
	CU_ASSERT_EQUAL(stub_count(s), 1);

	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/nonexistent/kls-token", 1);
	expect_fail(NULL, "/nonexistent/kls-token", NULL);
	CU_ASSERT_EQUAL(stub_count(s), 1);
	stub_stop(s);
}

static void
test_creds_container_relative_uri(void)
{
	struct cstub cs = {0};
	struct creds_config cfg = {.timeout_ms = 300};
	struct stub_server *s;

	reset_env();
	s = container_stub(&cs);
	/* The relative form wins over the full one and always means the ECS agent's address. */
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/rel", 1);
	expect_fail(&cfg, "http://169.254.170.2/v2/credentials/rel", NULL);
	CU_ASSERT_EQUAL(stub_count(s), 0);

	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "no-slash", 1);
	expect_fail(&cfg, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", NULL);
	stub_stop(s);
}

static void
test_creds_container_hosts(void)
{
	static const struct {
		const char *url;
		int allowed;
	} cases[] = {
	    {"http://10.0.0.1/creds", 0},
	    {"http://example.com/creds", 0},
	    {"http://169.254.170.3/creds", 0},
	    {"http://169.254.169.254/creds", 0},
	    {"http://127.0.0.1.example.com/creds", 0},
	    {"http://[fd00:ec2::24]/creds", 0},
	    {"http://[::2]/creds", 0},
	    {"ftp://127.0.0.1/creds", 0},
	    {"file:///etc/passwd", 0},
	    {"not a url", 0},
	    {"http://127.9.9.9:1/creds", 1},
	    {"http://[::1]:1/creds", 1},
	    {"http://LOCALHOST:1/creds", 1},
	    {"http://169.254.170.2:1/creds", 1},
	    {"http://169.254.170.23:1/creds", 1},
	    {"http://[fd00:ec2::23]:1/creds", 1},
	    {"https://10.0.0.1:1/creds", 1},
	};
	struct creds_config cfg = {.timeout_ms = 300};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aws_credentials c;
		struct aws_error err;

		reset_env();
		setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", cases[i].url, 1);
		setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "TOKSECRET", 1);
		/* Nothing listens on these: allowed ones fail to connect, others are refused. */
		CU_ASSERT_EQUAL(get_once(&cfg, &c, &err), -1);
		CU_ASSERT_EQUAL(strncmp(err.message, "container: ", 11), 0);
		if (cases[i].allowed) {
			CU_ASSERT_PTR_NULL(strstr(err.message, "FULL_URI"));
		} else {
			CU_ASSERT_PTR_NOT_NULL(
			    strstr(err.message, "AWS_CONTAINER_CREDENTIALS_FULL_URI"));
		}
		CU_ASSERT_PTR_NULL(strstr(err.message, "TOKSECRET"));
	}
}

static void
test_creds_container_localhost(void)
{
	struct cstub cs = {0};
	struct stub_server *s;
	struct aws_credentials c;
	struct aws_error err;
	char url[128];

	reset_env();
	s = container_stub(&cs);
	snprintf(url, sizeof(url), "http://localhost:%d/creds", stub_port(s));
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	CU_ASSERT_EQUAL(get_once(NULL, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(c.source, "container");
	stub_stop(s);
}

static void
test_creds_container_bad_responses(void)
{
	static const struct {
		const char *raw;
		size_t big;
		const char *why;
	} cases[] = {
	    {"not json", 0, "not a JSON object"},
	    {"[1,2]", 0, "not a JSON object"},
	    {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"RESPSECRET\",\"Token\":\"T\"}", 0,
	        "no Expiration"},
	    {"{\"SecretAccessKey\":\"RESPSECRET\"}", 0, "lacks AccessKeyId"},
	    {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"\"}", 0, "lacks SecretAccessKey"},
	    {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"RESPSECRET\",\"Token\":\"T\","
	     "\"Expiration\":\"tomorrow\"}",
	        0, "Expiration is not"},
	    {NULL, 100 * 1024, "larger than 65536"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cstub cs = {.raw = cases[i].raw, .big = cases[i].big};
		struct stub_server *s;

		reset_env();
		s = container_stub(&cs);
		expect_fail(NULL, cases[i].why, "RESPSECRET");
		stub_stop(s);
	}
	{
		/* A long-lived key pair (no Token) needs no Expiration. */
		struct cstub cs = {
		    .raw = "{\"AccessKeyId\":\"AKIALONG\",\"SecretAccessKey\":\"S\"}"};
		struct stub_server *s;
		struct aws_credentials c;
		struct aws_error err;

		reset_env();
		s = container_stub(&cs);
		CU_ASSERT_EQUAL(get_once(NULL, &c, &err), 0);
		CU_ASSERT_EQUAL(c.expires_ms, 0);
		stub_stop(s);
	}
}

/* ---- IMDS ---- */

static void
test_creds_container_beats_imds(void)
{
	struct cstub cs = {0};
	struct istub is = {0};
	struct stub_server *cont, *imds;
	struct creds_config cfg = {0};
	struct aws_credentials c;
	struct aws_error err;

	reset_env();
	unsetenv("AWS_EC2_METADATA_DISABLED");
	cont = container_stub(&cs);
	imds = stub_start(imds_handler, &is);
	CU_ASSERT_PTR_NOT_NULL_FATAL(imds);
	cfg.imds_endpoint = stub_url(imds);
	CU_ASSERT_EQUAL(get_once(&cfg, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(c.source, "container");
	CU_ASSERT_EQUAL(stub_count(imds), 0);

	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	CU_ASSERT_EQUAL(get_once(&cfg, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(c.source, "imds");
	CU_ASSERT_EQUAL(stub_count(imds), 3);
	stub_stop(cont);
	stub_stop(imds);
}

static void
test_creds_imds_v2(void)
{
	struct istub is = {0};
	struct stub_server *s = stub_start(imds_handler, &is);
	struct aws_credentials c;
	struct aws_error err;
	char ep[128];
	int64_t now = wall_now_ms();

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	reset_env();
	unsetenv("AWS_EC2_METADATA_DISABLED");
	/* The variable names the endpoint; a trailing slash is fine. */
	snprintf(ep, sizeof(ep), "%s/", stub_url(s));
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, 1);
	CU_ASSERT_EQUAL_FATAL(get_once(NULL, &c, &err), 0);
	CU_ASSERT_EQUAL(is.puts, 1);
	CU_ASSERT_EQUAL(is.puts_with_ttl, 1);
	CU_ASSERT_EQUAL(is.gets_with_token, 2);
	CU_ASSERT_EQUAL(is.gets_without_token, 0);
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "ASIAIMDS");
	CU_ASSERT_STRING_EQUAL(c.secret_access_key, "ISECRET");
	CU_ASSERT_STRING_EQUAL(c.session_token, "ITOKEN");
	CU_ASSERT_STRING_EQUAL(c.source, "imds");
	CU_ASSERT(c.expires_ms > now + 5 * 3600 * 1000LL);
	stub_stop(s);
}

static void
test_creds_imds_no_v1_fallback(void)
{
	static const struct {
		int status, drop;
	} cases[] = {{403, 0}, {405, 0}, {500, 0}, {200, 1}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct istub is = {.put_status = cases[i].status, .put_drop = cases[i].drop};
		struct stub_server *s = stub_start(imds_handler, &is);
		struct creds_config cfg = {.timeout_ms = 2000};
		struct aws_credentials c;
		struct aws_error err;

		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		reset_env();
		unsetenv("AWS_EC2_METADATA_DISABLED");
		cfg.imds_endpoint = stub_url(s);
		CU_ASSERT_EQUAL(get_once(&cfg, &c, &err), -1);
		CU_ASSERT_EQUAL(strncmp(err.message, "imds: PUT ", 10), 0);
		CU_ASSERT_EQUAL(is.puts, 1);
		CU_ASSERT_EQUAL(is.gets_without_token, 0);
		CU_ASSERT_EQUAL(is.gets_with_token, 0);
		CU_ASSERT_EQUAL(stub_count(s), 1);
		CU_ASSERT_EQUAL(err.cls,
		    cases[i].status >= 500 || cases[i].drop ? AWS_ERR_RETRYABLE : AWS_ERR_FATAL);
		stub_stop(s);
	}
}

static void
test_creds_imds_disabled(void)
{
	struct istub is = {0};
	struct stub_server *s = stub_start(imds_handler, &is);
	struct creds_config cfg = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	reset_env();
	setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
	cfg.imds_endpoint = stub_url(s);
	expect_fail(&cfg, "imds: disabled", NULL);

	unsetenv("AWS_EC2_METADATA_DISABLED");
	cfg.imds_disabled = 1;
	expect_fail(&cfg, "imds: disabled", NULL);
	CU_ASSERT_EQUAL(stub_count(s), 0);
	stub_stop(s);
}

/* ---- refresh ---- */

/* A chain provider whose credentials come from a container stub (cs) with the
 * given refresh window. */
static struct aws_creds_provider *
container_provider(struct cstub *cs, int64_t refresh_before_ms, struct stub_server **s)
{
	struct creds_config cfg = {.refresh_before_ms = refresh_before_ms};
	struct aws_creds_provider *p;

	reset_env();
	*s = container_stub(cs);
	p = creds_provider_new(&cfg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

static void
test_creds_refresh_before_expiry(void)
{
	struct cstub cs = {.exp_s = 120};
	struct stub_server *s;
	struct aws_creds_provider *p = container_provider(&cs, 10 * 60 * 1000, &s);
	struct aws_credentials c;
	struct aws_error err;

	CU_ASSERT_EQUAL(creds_get(p, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "ASIACONTAINER0");
	/* Two minutes left is inside the ten-minute window: fetched again. */
	CU_ASSERT_EQUAL(creds_get(p, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "ASIACONTAINER1");
	CU_ASSERT_EQUAL(stub_count(s), 2);
	creds_provider_free(p);

	/* With the default five-minute window an hour-long credential is reused. */
	cs.exp_s = 3600;
	p = creds_provider_new(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(creds_get(p, &c, &err), 0);
	CU_ASSERT_EQUAL(creds_get(p, &c, &err), 0);
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "ASIACONTAINER2");
	CU_ASSERT_EQUAL(stub_count(s), 3);
	creds_provider_free(p);
	stub_stop(s);
}

static void
test_creds_refresh_failure_keeps_valid(void)
{
	struct cstub cs = {.exp_s = 120, .fail_from = 1};
	struct stub_server *s;
	struct aws_creds_provider *p = container_provider(&cs, 10 * 60 * 1000, &s);
	struct aws_credentials c;
	struct aws_error err;

	CU_ASSERT_EQUAL(creds_get(p, &c, &err), 0);
	CU_ASSERT_EQUAL(creds_get(p, &c, &err), 0);
	CU_ASSERT_EQUAL(stub_count(s), 2); /* the refresh was tried and failed */
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "ASIACONTAINER0");
	CU_ASSERT_STRING_EQUAL(c.secret_access_key, "CSECRET");
	/* Right after a failure the next refresh waits a little rather than stall callers. */
	CU_ASSERT_EQUAL(creds_get(p, &c, &err), 0);
	CU_ASSERT_EQUAL(stub_count(s), 2);
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "ASIACONTAINER0");
	creds_provider_free(p);
	stub_stop(s);
}

static void
test_creds_expired_refetched(void)
{
	struct cstub cs = {.exp_s = 2, .fail_from = 1};
	struct stub_server *s;
	struct aws_creds_provider *p = container_provider(&cs, 1, &s);
	struct aws_credentials c;
	struct aws_error err;

	CU_ASSERT_EQUAL(creds_get(p, &c, &err), 0);
	sleep_ms(3000);
	/* Expired and the endpoint now fails: an error, not the stale keys. */
	CU_ASSERT_EQUAL(creds_get(p, &c, &err), -1);
	CU_ASSERT_STRING_EQUAL(c.access_key_id, "");
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "HTTP 500"));
	CU_ASSERT_EQUAL(err.cls, AWS_ERR_RETRYABLE);
	creds_provider_free(p);
	stub_stop(s);
}

/* ---- chain-wide ---- */

static void
test_creds_nothing_found(void)
{
	struct aws_credentials c;
	struct aws_error err;

	reset_env();
	CU_ASSERT_EQUAL(get_once(NULL, &c, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.type, "Credentials");
	CU_ASSERT_EQUAL(err.cls, AWS_ERR_FATAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no credentials found"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "environment: AWS_ACCESS_KEY_ID not set"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "profile default: no file "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/.aws/credentials"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/.aws/config"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(err.message, "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "imds: disabled"));
}

/* Every failure where a secret is within reach leaves it out of the message. */
static void
test_creds_errors_hide_secrets(void)
{
	static const char secret[] = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETKEY";
	struct aws_credentials c;
	struct aws_error err;
	char body[512], path[64];

	for (int i = 0; i < 6; i++) {
		struct cstub cs = {0};
		struct stub_server *s = NULL;

		reset_env();
		switch (i) {
		case 0: /* environment: secret set, id missing */
			setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
			setenv("AWS_SESSION_TOKEN", secret, 1);
			break;
		case 1: /* a malformed line holding the secret */
			snprintf(
			    body, sizeof(body), "[default]\naws_secret_access_key %s\n", secret);
			setenv("AWS_SHARED_CREDENTIALS_FILE", write_file("secret1", body), 1);
			break;
		case 2: /* a secret without its key id */
			snprintf(
			    body, sizeof(body), "[default]\naws_secret_access_key = %s\n", secret);
			setenv("AWS_SHARED_CREDENTIALS_FILE", write_file("secret2", body), 1);
			break;
		case 3: /* a secret longer than its field */
			snprintf(body, sizeof(body),
			    "[default]\naws_access_key_id = A\n"
			    "aws_secret_access_key = %s%s%s%s\n",
			    secret, secret, secret, secret);
			setenv("AWS_SHARED_CREDENTIALS_FILE", write_file("secret3", body), 1);
			break;
		case 4: /* a container response with the secret but no key id */
			snprintf(body, sizeof(body),
			    "{\"SecretAccessKey\":\"%s\",\"Token\":\"%s\"}", secret, secret);
			cs.raw = body;
			s = container_stub(&cs);
			setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", secret, 1);
			break;
		case 5: /* an authorization token file to a refused host */
			snprintf(path, sizeof(path), "secret5");
			setenv(
			    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", write_file(path, secret), 1);
			setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.9.9.9/", 1);
			break;
		}
		CU_ASSERT_EQUAL(get_once(NULL, &c, &err), -1);
		CU_ASSERT(err.message[0] != '\0');
		CU_ASSERT_PTR_NULL(strstr(err.message, secret));
		CU_ASSERT_PTR_NULL(strstr(err.message, "wJalrX"));
		stub_stop(s);
	}
}

struct thread_arg {
	struct aws_creds_provider *p;
	int failures;
};

static void *
getter(void *arg)
{
	struct thread_arg *ta = arg;
	for (int i = 0; i < 10; i++) {
		struct aws_credentials c;
		struct aws_error err;
		if (creds_get(ta->p, &c, &err) != 0 ||
		    strncmp(c.access_key_id, "ASIACONTAINER", 13) != 0)
			ta->failures++;
	}
	return NULL;
}

static void
test_creds_threads(void)
{
	struct cstub cs = {.exp_s = 120};
	struct thread_arg ta[4];
	pthread_t th[4];
	struct stub_server *s;
	struct aws_creds_provider *p = container_provider(&cs, 10 * 60 * 1000, &s);

	for (int i = 0; i < 4; i++) {
		ta[i] = (struct thread_arg){p, 0};
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, getter, &ta[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CU_ASSERT_EQUAL(ta[i].failures, 0);
	}
	/* Every call was inside the refresh window so each fetched once, and none failed
	 * (the stub server takes at most 64 connections: the count stays under that). */
	CU_ASSERT_EQUAL(stub_count(s), 40);
	creds_provider_free(p);
	stub_stop(s);
}

static CU_TestInfo creds_tests[] = {
    {"static", test_creds_static},
    {"env", test_creds_env},
    {"env partial", test_creds_env_partial},
    {"env beats files", test_creds_env_beats_files},
    {"profiles", test_creds_profiles},
    {"profile default paths", test_creds_profile_default_paths},
    {"bad files", test_creds_bad_files},
    {"file kinds", test_creds_file_kinds},
    {"files beat container", test_creds_files_beat_container},
    {"container token", test_creds_container_token},
    {"container token file", test_creds_container_token_file},
    {"container relative uri", test_creds_container_relative_uri},
    {"container hosts", test_creds_container_hosts},
    {"container localhost", test_creds_container_localhost},
    {"container bad responses", test_creds_container_bad_responses},
    {"container beats imds", test_creds_container_beats_imds},
    {"imds v2", test_creds_imds_v2},
    {"imds no v1 fallback", test_creds_imds_no_v1_fallback},
    {"imds disabled", test_creds_imds_disabled},
    {"refresh before expiry", test_creds_refresh_before_expiry},
    {"refresh failure keeps valid", test_creds_refresh_failure_keeps_valid},
    {"expired refetched", test_creds_expired_refetched},
    {"nothing found", test_creds_nothing_found},
    {"errors hide secrets", test_creds_errors_hide_secrets},
    {"threads", test_creds_threads},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"creds", suite_init, suite_clean, NULL, NULL, creds_tests},
    CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
