/*
 * `klsd -t`: a valid configuration is printed with where each value came from (exit 0);
 * every bad key or value is reported with file, line and key (exit 2), all of them in
 * one run; bad command lines are refused the same way. Runs the real klsd binary.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"

static char dir[64];

static int
suite_init(void)
{
	snprintf(dir, sizeof(dir), "/tmp/klsd-config-test.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int
suite_cleanup(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Runs klsd with args (NULL-terminated) and collects stdout and stderr. */
static int
run_klsd(const char *const *args, char *out, size_t outsz, char *err, size_t errsz)
{
	char klsd[512], outf[128], errf[128];
	const char *argv[16] = { "klsd" };
	int st, n = 1;
	pid_t pid;
	FILE *fp;

	snprintf(klsd, sizeof(klsd), "%s/supervisor/klsd", test_builddir());
	snprintf(outf, sizeof(outf), "%s/out", dir);
	snprintf(errf, sizeof(errf), "%s/err", dir);
	for (; args[n - 1] && n < 15; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int o = open(outf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(o, 1);
		dup2(e, 2);
		/* Only the file and the command line: no endpoint from the test environment. */
		unsetenv("KINESIS_ENDPOINT");
		unsetenv("DYNAMODB_ENDPOINT");
		setenv("AWS_REGION", "eu-west-1", 1);
		execv(klsd, (char *const *)argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	out[0] = err[0] = '\0';
	if ((fp = fopen(outf, "r"))) {
		out[fread(out, 1, outsz - 1, fp)] = '\0';
		fclose(fp);
	}
	if ((fp = fopen(errf, "r"))) {
		err[fread(err, 1, errsz - 1, fp)] = '\0';
		fclose(fp);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fputs(text, fp);
	fclose(fp);
}

static void
test_klsd_config_valid(void)
{
	static char out[65536], err[4096];
	char path[128];

	snprintf(path, sizeof(path), "%s/good.conf", dir);
	write_file(path, "[kls]\napplication = orders\nstream = orders-stream\n"
	                 "[reader]\nhandler = /usr/lib/kls/counting.so\n[handler]\nlabel = x\n");
	CU_ASSERT_EQUAL(run_klsd((const char *[]){ "-t", "-c", path, "-o", "reader.max_records=500",
	                             NULL },
	                    out, sizeof(out), err, sizeof(err)),
	    0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "application = orders\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "# from command line\nmax_records = 500\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(out, "# from environment variable AWS_REGION\nregion = eu-west-1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "label = x"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is valid"));
}

static void
test_klsd_config_errors(void)
{
	static char out[65536], err[8192];
	char path[128], want[256];
	static const struct {
		int line;
		const char *text; /* after "FILE:LINE: " */
	} errors[] = {
		{ 4, "[kls] stream: \"bad name!\"" },
		{ 6, "[reader] max_records: 20000 is out of range 1..10000" },
		{ 7, "[reader] handler: " },
		{ 9, "[lease] failover: unknown key" },
		{ 10, "[lease] renew_interval_ms: " },
	};

	snprintf(path, sizeof(path), "%s/bad.conf", dir);
	write_file(path, "# every line below but the headers is wrong somehow\n"
	                 "[kls]\n"
	                 "application = orders\n"
	                 "stream = bad name!\n"
	                 "[reader]\n"
	                 "max_records = 20000\n"
	                 "handler = relative/path.so\n"
	                 "[lease]\n"
	                 "failover = 10\n"
	                 "renew_interval_ms = ten\n");
	CU_ASSERT_EQUAL(run_klsd((const char *[]){ "-t", "-c", path, NULL }, out, sizeof(out), err,
	                    sizeof(err)),
	    2);
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		snprintf(want, sizeof(want), "%s:%d: %s", path, errors[i].line, errors[i].text);
		if (!strstr(err, want))
			fprintf(stderr, "\nmissing \"%s\" in:\n%s\n", want, err);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
	}
	CU_ASSERT_EQUAL(out[0], '\0');

	/* The command line is named as such; a missing required key names the file. */
	snprintf(path, sizeof(path), "%s/partial.conf", dir);
	write_file(path, "[kls]\napplication = orders\nstream = s\n");
	CU_ASSERT_EQUAL(run_klsd((const char *[]){ "-t", "-c", path, "-o",
	                             "reader.read_mode=fanout", NULL },
	                    out, sizeof(out), err, sizeof(err)),
	    2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "command line: [reader] read_mode: "));
	snprintf(want, sizeof(want), "%s: [reader] handler: required key is missing", path);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
}

static void
test_klsd_config_usage(void)
{
	static char out[4096], err[4096];
	char path[128];

	CU_ASSERT_EQUAL(run_klsd((const char *[]){ "-t", NULL }, out, sizeof(out), err,
	                    sizeof(err)),
	    2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "usage: klsd -c FILE"));
	CU_ASSERT_EQUAL(run_klsd((const char *[]){ "-x", NULL }, out, sizeof(out), err,
	                    sizeof(err)),
	    2);
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	CU_ASSERT_EQUAL(run_klsd((const char *[]){ "-t", "-c", path, NULL }, out, sizeof(out), err,
	                    sizeof(err)),
	    2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
}

static CU_TestInfo klsd_config_tests[] = {
	{ "valid configuration printed with origins", test_klsd_config_valid },
	{ "every error with file, line and key", test_klsd_config_errors },
	{ "bad command lines", test_klsd_config_usage },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "klsd_config", suite_init, suite_cleanup, NULL, NULL, klsd_config_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
