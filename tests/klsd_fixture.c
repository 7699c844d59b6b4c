/*
 * klsd integration fixture: see klsd_fixture.h.
 */
#include "config.h"

#include "tests/klsd_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/creds.h"
#include "supervisor/lease_store.h"
#include "tests/harness.h"
#include "tests/kinesis_fixture.h"

/* f's directory and paths under it, and its clients. */
static int
fixture_setup(struct klsd_fixture *f, const char *base, const char *kep, const char *dep)
{
	struct aws_service_config cfg;
	struct aws_error err;

	snprintf(f->kinesis_url, sizeof(f->kinesis_url), "%s", kep);
	snprintf(f->dir, sizeof(f->dir), "/tmp/%s.XXXXXX", base);
	if (!mkdtemp(f->dir)) {
		CU_FAIL("mkdtemp");
		return -1;
	}
	snprintf(f->conf, sizeof(f->conf), "%s/klsd.conf", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/klsd.log", f->dir);
	snprintf(f->handler, sizeof(f->handler), "%s/handler.so", f->dir);
	f->creds = creds_provider_new_static("AKIDKLSTEST", "kls-test-secret", NULL);
	kinesis_service_config(&cfg, "us-east-1", kep, f->creds);
	f->kin = kinesis_client_new(&cfg, NULL, &err);
	ddb_service_config(&cfg, "us-east-1", dep, f->creds);
	f->ddb = ddb_client_new(&cfg, NULL, &err);
	if (!f->kin || !f->ddb) {
		CU_FAIL("clients");
		return -1;
	}
	return 0;
}

int
fixture_init(struct klsd_fixture *f, const char *prefix, int shards)
{
	return fixture_init_kinesis(f, prefix, shards, "KINESIS_ENDPOINT");
}

int
fixture_init_kinesis(struct klsd_fixture *f, const char *prefix, int shards,
    const char *kinesis_var)
{
	const char *kep, *dep;
	char base[48];

	memset(f, 0, sizeof(*f));
	if (!(kep = test_env(kinesis_var)) || !(dep = test_env("DYNAMODB_ENDPOINT")))
		return -1;
	test_unique_name(base, sizeof(base), prefix);
	snprintf(f->app, sizeof(f->app), "%s", base);
	snprintf(f->stream, sizeof(f->stream), "%s-s", base);
	snprintf(f->shm, sizeof(f->shm), "/kls.%s", base);
	snprintf(f->worker, sizeof(f->worker), "test-%s", base);
	if (fixture_setup(f, base, kep, dep) < 0)
		return -1;
	if (shards > 0 &&
	    test_kinesis_create_stream(f->kin, f->stream, shards, 30000, NULL) < 0) {
		CU_FAIL("create stream");
		return -1;
	}
	return 0;
}

int
fixture_init_worker(struct klsd_fixture *w, const struct klsd_fixture *f, int n)
{
	const char *dep;
	char base[64];

	memset(w, 0, sizeof(*w));
	if (!(dep = test_env("DYNAMODB_ENDPOINT")))
		return -1;
	w->shared = true;
	snprintf(w->app, sizeof(w->app), "%s", f->app);
	snprintf(w->stream, sizeof(w->stream), "%s", f->stream);
	snprintf(w->shm, sizeof(w->shm), "%.70s.w%d", f->shm, n);
	snprintf(w->worker, sizeof(w->worker), "%.56s-w%d", f->worker, n);
	snprintf(base, sizeof(base), "%.40s-w%d", f->app, n);
	return fixture_setup(w, base, f->kinesis_url, dep);
}

static void
remove_tree(const char *dir)
{
	char cmd[300];

	/* Only our own mkdtemp directory under /tmp. */
	if (strncmp(dir, "/tmp/", 5) != 0 || strstr(dir, ".."))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

void
fixture_done(struct klsd_fixture *f)
{
	struct aws_error err;

	if (f->pid)
		fixture_stop(f, SIGKILL, 5000);
	/* KLS_TEST_VERBOSE=1 shows what klsd did in every test, passed or not. */
	if (getenv("KLS_TEST_VERBOSE") && f->log[0])
		fixture_dump_log(f);
	if (f->kin && !f->shared)
		kinesis_delete_stream(f->kin, f->stream, &err);
	if (f->ddb && !f->shared)
		ddb_delete_table(f->ddb, f->app, &err);
	kinesis_client_free(f->kin);
	ddb_client_free(f->ddb);
	creds_provider_free(f->creds);
	if (f->dir[0])
		remove_tree(f->dir);
	memset(f, 0, sizeof(*f));
}

int
fixture_write_config(struct klsd_fixture *f, const char *extra)
{
	FILE *fp = fopen(f->conf, "w");

	/* One socket per worker id, so several klsd of one fixture do not collide. */
	snprintf(f->sock, sizeof(f->sock), "%s/%s.sock", f->dir, f->worker);
	if (!fp)
		return -1;
	fprintf(fp,
	    "[kls]\napplication = %s\nstream = %s\nregion = us-east-1\nstate_dir = %s/state\n"
	    "shm_name = %s\nworker_id = %s\nlog_level = debug\ncontrol_socket = %s\n"
	    "[reader]\nhandler = %s\n%s",
	    f->app, f->stream, f->dir, f->shm, f->worker, f->sock, f->handler,
	    extra ? extra : "");
	return fclose(fp) == 0 ? 0 : -1;
}

int
fixture_start(struct klsd_fixture *f, const char *fake_mode)
{
	char klsd[512], self[512];
	ssize_t n;
	pid_t pid;

	snprintf(klsd, sizeof(klsd), "%s/supervisor/klsd", test_builddir());
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(f->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
		if (fake_mode) {
			setenv("KLS_READER", self, 1);
			setenv("FAKE_READER", fake_mode, 1);
			setenv("FAKE_READER_DIR", f->dir, 1);
		} else {
			unsetenv("KLS_READER"); /* the build tree's reader/kls-reader */
		}
		for (int i = 0; i < FIXTURE_ENV_MAX && f->env[i]; i++)
			putenv((char *)f->env[i]);
		/* The emulators check only that a signature is there. */
		setenv("AWS_ACCESS_KEY_ID", "AKIDKLSTEST", 0);
		setenv("AWS_SECRET_ACCESS_KEY", "kls-test-secret", 0);
		execl(klsd, "klsd", "-d", "-c", f->conf, (char *)NULL);
		_exit(127);
	}
	f->pid = pid;
	return 0;
}

int
fixture_stop(struct klsd_fixture *f, int sig, int timeout_ms)
{
	kls_mono end = mono_add_ms(mono_now(), timeout_ms);
	int st;

	if (!f->pid)
		return -1;
	kill(f->pid, sig);
	while (mono_before(mono_now(), end)) {
		pid_t r = waitpid(f->pid, &st, WNOHANG);
		if (r == f->pid) {
			f->pid = 0;
			return st;
		}
		sleep_ms(20);
	}
	kill(f->pid, SIGKILL);
	waitpid(f->pid, &st, 0);
	f->pid = 0;
	return -1;
}

int
fixture_clean_exit(struct klsd_fixture *f)
{
	int st = fixture_stop(f, SIGTERM, 30000);
	if (!(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		fprintf(stderr, "\nklsd ended with status 0x%x\n", (unsigned)st);
		fixture_dump_log(f);
		return -1;
	}
	return 0;
}

bool
fixture_start_owning(struct klsd_fixture *f, const char *fake_mode, int n)
{
	if (fixture_start(f, fake_mode) < 0) {
		CU_FAIL("start klsd");
		return false;
	}
	if (!fixture_wait_owned(f, f->worker, n, 30000)) {
		fixture_dump_log(f);
		CU_FAIL("klsd did not take every lease");
		return false;
	}
	return true;
}

int
fixture_put(struct klsd_fixture *f, int first, int n)
{
	for (int done = 0; done < n;) {
		struct kinesis_put_entry e[100];
		char data[100][16], pk[100][16];
		int k = n - done < 100 ? n - done : 100;
		size_t failed = 0;
		struct aws_error err;

		for (int i = 0; i < k; i++) {
			snprintf(data[i], sizeof(data[i]), "rec-%05d", first + done + i);
			snprintf(pk[i], sizeof(pk[i]), "pk-%d", first + done + i);
			e[i] = (struct kinesis_put_entry){ data[i], strlen(data[i]), pk[i], NULL };
		}
		if (kinesis_put_records(f->kin, f->stream, e, (size_t)k, NULL, &failed, &err) < 0 ||
		    failed) {
			fprintf(stderr, "\nput %s: %s\n", f->stream,
			    failed ? "records refused" : err.message);
			return -1;
		}
		done += k;
	}
	return 0;
}

void
fixture_example(struct klsd_fixture *f, const char *name)
{
	snprintf(f->handler, sizeof(f->handler), "%s/examples/.libs/%s.so", test_builddir(), name);
}

int
fixture_leases(struct klsd_fixture *f, struct lease **out)
{
	struct aws_error err;
	size_t n, skipped;

	if (lease_store_scan(f->ddb, f->app, 0, out, &n, &skipped, &err) != DDB_OK)
		return -1;
	return (int)n;
}

int
fixture_owned(struct klsd_fixture *f, const char *owner)
{
	struct lease *v;
	int n = fixture_leases(f, &v), c = 0;

	for (int i = 0; i < n; i++)
		c += owner ? strcmp(v[i].owner, owner) == 0 : v[i].owner[0] != '\0';
	if (n > 0)
		free(v);
	return n < 0 ? -1 : c;
}

bool
fixture_wait_owned(struct klsd_fixture *f, const char *owner, int n, int timeout_ms)
{
	kls_mono end = mono_add_ms(mono_now(), timeout_ms);

	do {
		if (fixture_owned(f, owner) == n)
			return true;
		sleep_ms(100);
	} while (mono_before(mono_now(), end));
	return false;
}

int
fixture_log_count(const struct klsd_fixture *f, bool fake, const char *const *words)
{
	char path[256], line[2048];
	FILE *fp;
	int n = 0;

	snprintf(path, sizeof(path), "%s", fake ? f->dir : f->log);
	if (fake)
		snprintf(path, sizeof(path), "%s/log", f->dir);
	if (!(fp = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), fp)) {
		bool all = true;
		for (const char *const *w = words; *w && all; w++)
			all = strstr(line, *w) != NULL;
		n += all;
	}
	fclose(fp);
	return n;
}

bool
fixture_wait_log(const struct klsd_fixture *f, bool fake, const char *const *words, int n,
    int timeout_ms)
{
	kls_mono end = mono_add_ms(mono_now(), timeout_ms);

	do {
		if (fixture_log_count(f, fake, words) >= n)
			return true;
		sleep_ms(50);
	} while (mono_before(mono_now(), end));
	return false;
}

void
fixture_dump_log(const struct klsd_fixture *f)
{
	char line[2048];
	FILE *fp = fopen(f->log, "r");

	if (!fp)
		return;
	fprintf(stderr, "\n---- klsd log %s ----\n", f->log);
	while (fgets(line, sizeof(line), fp))
		fputs(line, stderr);
	fprintf(stderr, "----\n");
	fclose(fp);
}

bool
fixture_alive(pid_t pid)
{
	char path[64], buf[512];
	int fd;
	ssize_t n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

int
fixture_reader_pids(const struct klsd_fixture *f, pid_t *out, int max)
{
	char path[256], line[512];
	FILE *fp;
	int n = 0;

	snprintf(path, sizeof(path), "%s/log", f->dir);
	if (!(fp = fopen(path, "r")))
		return 0;
	while (n < max && fgets(line, sizeof(line), fp)) {
		const char *p = strstr(line, " pid=");
		if (strncmp(line, "start ", 6) == 0 && p)
			out[n++] = (pid_t)atoi(p + 5);
	}
	fclose(fp);
	return n;
}

/* The number a shell pipeline prints; -1 when it cannot run. */
static int
shell_count(const char *cmd)
{
	char buf[64] = "";
	FILE *p;

	if (!(p = popen(cmd, "r")))
		return -1;
	if (!fgets(buf, sizeof(buf), p))
		buf[0] = '\0';
	pclose(p);
	return atoi(buf);
}

int
fixture_handler_lines(const struct klsd_fixture *f, const char *prefix, const char *containing)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cat %s/%s-shardId-* 2>/dev/null | grep -c -- '%s'", f->dir,
	    prefix, containing);
	return shell_count(cmd);
}

int
fixture_handler_batches(const struct klsd_fixture *f, const char *prefix)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
	    "cat %s/%s-shardId-* 2>/dev/null | cut -d' ' -f1,5,6 | sort -u | wc -l", f->dir,
	    prefix);
	return shell_count(cmd);
}

int64_t
fixture_kill_readers_gone(struct klsd_fixture *f, const pid_t *pids, int n, int timeout_ms)
{
	kls_mono t0 = mono_now(), end = mono_add_ms(t0, timeout_ms);

	fixture_stop(f, SIGKILL, timeout_ms);
	for (;;) {
		bool gone = true;
		for (int i = 0; i < n; i++)
			gone &= !fixture_alive(pids[i]);
		if (gone)
			return mono_diff_ms(t0, mono_now());
		if (!mono_before(mono_now(), end))
			return -1;
		sleep_ms(10);
	}
}
