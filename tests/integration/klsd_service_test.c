/*
 * klsd as a service, with the real kls-reader and the example handlers against the
 * emulators: systemd notifications in order (a test notify socket), every control
 * command on a running klsd (and malformed frames that must not hurt it), /metrics
 * against what the file handler saw, `kls-ctl status --watch`, and a poison record
 * under each poison_policy.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/frame.h"
#include "ctl/control_client.h"
#include "ctl/ctl.h"
#include "shm/table.h"
#include "tests/harness.h"
#include "tests/klsd_fixture.h"

#define WORDS(...) ((const char *const[]){ __VA_ARGS__, NULL })
/* Renew every second, well before the drain point, and take every 2 s. */
#define FAST "[lease]\nfailover_ms = 6000\nrenew_interval_ms = 1000\ntake_interval_ms = 2000\n"

/* ---------------------------------------------------------------- helpers */

static const msgpack_object *
get(const msgpack_object *m, const char *key)
{
	if (!m || m->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
		    memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
			return &m->via.map.ptr[i].val;
	}
	return NULL;
}

static int64_t
get_int(const msgpack_object *m, const char *key)
{
	const msgpack_object *v = get(m, key);

	if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return (int64_t)v->via.u64;
	if (v && v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return v->via.i64;
	return -1;
}

/* The string value, NUL-terminated in buf ("" when absent or not a string). */
static const char *
get_str(const msgpack_object *m, const char *key, char *buf, size_t size)
{
	const msgpack_object *v = get(m, key);

	buf[0] = '\0';
	if (v && v->type == MSGPACK_OBJECT_STR)
		snprintf(buf, size, "%.*s", (int)v->via.str.size, v->via.str.ptr);
	return buf;
}

static bool
get_bool(const msgpack_object *m, const char *key)
{
	const msgpack_object *v = get(m, key);
	return v && v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
}

/* One control request; CU failure when the exchange itself fails. */
static bool
call(const struct klsd_fixture *f, const char *cmd, const char *shard, struct frame_reply *rep)
{
	struct frame_arg arg = { "shard", shard };
	char msg[512];

	if (ctl_control_call(f->sock, cmd, &arg, shard ? 1 : 0, 10000, rep, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "\n%s: %s\n", cmd, msg);
		CU_FAIL("control call");
		return false;
	}
	return true;
}

/* Runs kls-ctl in-process; its output in out (NUL-terminated). Returns the exit status. */
static int
ctl(char *out, size_t size, const char *const *argv)
{
	FILE *o = tmpfile(), *e = tmpfile();
	int argc = 0, rc;
	size_t n;

	while (argv[argc])
		argc++;
	rc = ctl_main(argc, (char **)argv, o, e);
	rewind(o);
	n = fread(out, 1, size - 1, o);
	out[n] = '\0';
	fclose(o);
	fclose(e);
	return rc;
}

/* The line number of the nth (1-based) klsd log line with all words, or -1. */
static int
log_line(const struct klsd_fixture *f, const char *const *words, int nth)
{
	char line[2048];
	FILE *fp = fopen(f->log, "r");
	int no = 0, found = -1;

	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		bool all = true;
		for (const char *const *w = words; *w && all; w++)
			all = strstr(line, *w) != NULL;
		no++;
		if (all && --nth == 0) {
			found = no;
			break;
		}
	}
	fclose(fp);
	return found;
}

static bool
wait_lines(const struct klsd_fixture *f, const char *prefix, const char *containing, int n,
    int timeout_ms)
{
	kls_mono end = mono_add_ms(mono_now(), timeout_ms);

	do {
		if (fixture_handler_lines(f, prefix, containing) >= n)
			return true;
		sleep_ms(200);
	} while (mono_before(mono_now(), end));
	return false;
}

static bool
wait_exit(struct klsd_fixture *f, int timeout_ms, int *status)
{
	kls_mono end = mono_add_ms(mono_now(), timeout_ms);

	do {
		if (waitpid(f->pid, status, WNOHANG) == f->pid) {
			f->pid = 0;
			return true;
		}
		sleep_ms(50);
	} while (mono_before(mono_now(), end));
	return false;
}

/* Slots in state ACTIVE (readers attached) in the fixture's table. */
static int
active_slots(const struct klsd_fixture *f)
{
	struct kls_shm_err err;
	struct kls_shm *t;
	int n = 0;

	if (kls_shm_attach_ro(f->shm, &t, &err) < 0)
		return -1;
	for (uint32_t i = 0; i < kls_shm_slot_count(t); i++)
		n += kls_shm_slot_state(kls_shm_slot_ro(t, i)) == KLS_SLOT_ACTIVE;
	kls_shm_close(t);
	return n;
}

static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Configuration for the file handler writing <dir>/<out>-<shard>.log; more holds
 * sections of its own ("[metrics]\n..."). */
static const char *
filelog_config(const struct klsd_fixture *f, const char *more, const char *out, char *buf,
    size_t size)
{
	snprintf(buf, size,
	    "max_records = 50\nidle_backoff_ms = 100\n" FAST "%s[handler]\npath = %s/%s-%%s.log\n",
	    more, f->dir, out);
	return buf;
}

/* A 2-shard stream, the file handler, records 0..records-1 put. */
static bool
filelog_setup(struct klsd_fixture *f, const char *prefix, const char *more, int records)
{
	char extra[1024];

	if (fixture_init(f, prefix, 2) < 0)
		return false;
	fixture_example(f, "filelog");
	if (fixture_write_config(f, filelog_config(f, more, "out", extra, sizeof(extra))) < 0 ||
	    fixture_put(f, 0, records) < 0) {
		CU_FAIL("setup");
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------- notify */

static void
test_klsd_service_notify_order(void)
{
	struct klsd_fixture f;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char seq[64] = "", buf[4096];
	kls_mono end;
	size_t n = 0;
	int fd = -1, ready = 0, watchdogs_after_ready = 0, active_at_ready = -1,
	    owned_at_ready = -1;
	bool monotonic = false;

	if (!filelog_setup(&f, "svc-notify", "", 100))
		goto out;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.90s/notify.sock", f.dir);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CU_ASSERT_EQUAL_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("NOTIFY_SOCKET", sa.sun_path, 1);
	setenv("WATCHDOG_USEC", "1000000", 1);
	CU_ASSERT_EQUAL(fixture_start(&f, NULL), 0);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");

	/* R = READY, W = WATCHDOG, L = RELOADING, S = STOPPING; STATUS-only messages are
	 * not events. */
	end = mono_add_ms(mono_now(), 90000);
	while (n + 1 < sizeof(seq) && mono_before(mono_now(), end)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t got;
		if (poll(&p, 1, 1000) <= 0)
			continue;
		if ((got = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0)
			break;
		buf[got] = '\0';
		if (strstr(buf, "WATCHDOG=1")) {
			/* Many pings: keep at most three in a row in the record. */
			if (n < 3 || strncmp(seq + n - 3, "WWW", 3) != 0)
				seq[n++] = 'W';
			watchdogs_after_ready += ready > 0;
			if (ready == 1 && watchdogs_after_ready == 2)
				kill(f.pid, SIGHUP); /* "configuration unchanged": still a reload */
		} else if (strstr(buf, "RELOADING=1")) {
			seq[n++] = 'L';
			monotonic = strstr(buf, "MONOTONIC_USEC=") != NULL;
		} else if (strstr(buf, "READY=1")) {
			seq[n++] = 'R';
			if (++ready == 1) {
				/* READY means leases held and their readers attached. */
				active_at_ready = active_slots(&f);
				owned_at_ready = fixture_owned(&f, f.worker);
			} else {
				kill(f.pid, SIGTERM);
			}
		} else if (strstr(buf, "STOPPING=1")) {
			seq[n++] = 'S';
			break;
		}
	}
	seq[n] = '\0';
	CU_ASSERT_EQUAL(active_at_ready, 2);
	CU_ASSERT_EQUAL(owned_at_ready, 2);
	CU_ASSERT_TRUE(monotonic);
	/* Pings from the start, READY, pings, the reload, and the stop last. */
	CU_ASSERT_PTR_NOT_NULL(strstr(seq, "RWW"));
	CU_ASSERT_PTR_NOT_NULL(strstr(seq, "LR"));
	CU_ASSERT_TRUE(n > 0 && seq[n - 1] == 'S');
	CU_ASSERT_TRUE(strchr(seq, 'R') < strchr(seq, 'L'));
	if (!strstr(seq, "LR") || n == 0 || seq[n - 1] != 'S')
		fprintf(stderr, "\nnotifications: %s\n", seq);
	CU_ASSERT_EQUAL(fixture_clean_exit(&f), 0);
out:
	if (fd >= 0)
		close(fd);
	fixture_done(&f);
}

/* ---------------------------------------------------------------- control */

/* Sends raw bytes on a new connection and returns the reply's error text ("" for an ok
 * reply, NULL when klsd just closed). */
static const char *
raw_exchange(const struct klsd_fixture *f, const void *bytes, size_t n, char *errbuf, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct frame_reader rd;
	struct frame_reply rep;
	char err[FRAME_ERRLEN];
	const char *data, *result = NULL;
	size_t len;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	kls_mono end = mono_add_ms(mono_now(), 10000);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.107s", f->sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, bytes, n) != (ssize_t)n) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	shutdown(fd, SHUT_WR);
	frame_reader_init(&rd, FRAME_MAX);
	while (mono_before(mono_now(), end)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		enum frame_status st;
		if (poll(&p, 1, 1000) <= 0)
			continue;
		st = frame_reader_read(&rd, fd, err, sizeof(err));
		if (st == FRAME_AGAIN)
			continue;
		if (st == FRAME_READY) {
			data = frame_reader_data(&rd, &len);
			if (frame_reply_decode(&rep, data, len, err, sizeof(err)) == 0) {
				snprintf(errbuf, size, "%s", rep.ok ? "" : rep.error);
				result = errbuf;
				frame_reply_free(&rep);
			}
		}
		break;
	}
	frame_reader_free(&rd);
	close(fd);
	return result;
}

static void
check_bad_frames(struct klsd_fixture *f)
{
	/* {"cmd": 5} */
	static const unsigned char mistyped[] = { 0, 0, 0, 6, 0x81, 0xa3, 'c', 'm', 'd', 0x05 };
	/* {"cmd": "frobnicate"} */
	static const unsigned char unknown[] = { 0, 0, 0, 16, 0x81, 0xa3, 'c', 'm', 'd', 0xaa, 'f',
		'r', 'o', 'b', 'n', 'i', 'c', 'a', 't', 'e' };
	/* A length past FRAME_MAX, and a frame cut short. */
	static const unsigned char oversized[] = { 0, 1, 0, 1, 0x81 };
	static const unsigned char truncated[] = { 0, 0, 0, 100, 0x81, 0xa3, 'c', 'm', 'd' };
	char err[FRAME_ERROR_MAX + 1];
	const char *e;
	struct frame_reply rep;

	e = raw_exchange(f, mistyped, sizeof(mistyped), err, sizeof(err));
	CU_ASSERT_TRUE(e && strstr(e, "string"));
	e = raw_exchange(f, unknown, sizeof(unknown), err, sizeof(err));
	CU_ASSERT_TRUE(e && strstr(e, "frobnicate") && strstr(e, "release"));
	e = raw_exchange(f, oversized, sizeof(oversized), err, sizeof(err));
	CU_ASSERT_TRUE(e && *e);
	e = raw_exchange(f, truncated, sizeof(truncated), err, sizeof(err));
	CU_ASSERT_TRUE(e == NULL || *e);
	/* And klsd serves on. */
	CU_ASSERT_TRUE(fixture_alive(f->pid));
	if (call(f, "status", NULL, &rep)) {
		CU_ASSERT_TRUE(rep.ok);
		frame_reply_free(&rep);
	}
}

/* Both readers of the fixture are running, as klsd's status says. */
static bool
wait_readers_running(struct klsd_fixture *f, int n)
{
	kls_mono end = mono_add_ms(mono_now(), 30000);

	do {
		struct frame_reply rep;
		const msgpack_object *l;
		int running = 0;
		char s[32];
		if (!call(f, "status", NULL, &rep))
			return false;
		l = get(rep.data, "leases");
		for (uint32_t i = 0; l && l->type == MSGPACK_OBJECT_ARRAY && i < l->via.array.size;
		     i++)
			running += strcmp(get_str(&l->via.array.ptr[i], "reader", s, sizeof(s)),
			               "running") == 0;
		frame_reply_free(&rep);
		if (running == n)
			return true;
		sleep_ms(200);
	} while (mono_before(mono_now(), end));
	return false;
}

static void
test_klsd_service_control_commands(void)
{
	struct klsd_fixture f;
	char extra[1024], s[256], shard[64] = "", out[16384];
	struct frame_reply rep;
	const msgpack_object *v;
	struct lease *leases;
	int n, st, released, again, cycles = 0;

	if (!filelog_setup(&f, "svc-ctl", "", 50) || !fixture_start_owning(&f, NULL, 2))
		goto out;
	CU_ASSERT_TRUE_FATAL(wait_readers_running(&f, 2));

	/* status: klsd's own view. */
	CU_ASSERT_TRUE_FATAL(call(&f, "status", NULL, &rep));
	CU_ASSERT_TRUE(rep.ok);
	CU_ASSERT_STRING_EQUAL(get_str(rep.data, "phase", s, sizeof(s)), "running");
	CU_ASSERT_STRING_EQUAL(get_str(rep.data, "worker", s, sizeof(s)), f.worker);
	CU_ASSERT_STRING_EQUAL(get_str(rep.data, "stream", s, sizeof(s)), f.stream);
	CU_ASSERT_EQUAL(get_int(rep.data, "leases_held"), 2);
	CU_ASSERT_EQUAL(get_int(rep.data, "pid"), f.pid);
	CU_ASSERT_EQUAL(get_int(get(rep.data, "counters"), "takes"), 2);
	v = get(rep.data, "leases");
	CU_ASSERT_TRUE_FATAL(v && v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size == 2);
	get_str(&v->via.array.ptr[0], "shard", shard, sizeof(shard));
	CU_ASSERT_STRING_EQUAL(get_str(&v->via.array.ptr[0], "state", s, sizeof(s)), "active");
	CU_ASSERT_TRUE(get_int(&v->via.array.ptr[0], "reader_pid") > 0);
	frame_reply_free(&rep);
	/* One lease. */
	CU_ASSERT_TRUE_FATAL(call(&f, "status", shard, &rep));
	CU_ASSERT_TRUE(rep.ok);
	CU_ASSERT_STRING_EQUAL(get_str(rep.data, "shard", s, sizeof(s)), shard);
	frame_reply_free(&rep);
	CU_ASSERT_TRUE_FATAL(call(&f, "status", "shardId-nosuch", &rep));
	CU_ASSERT_FALSE(rep.ok);
	CU_ASSERT_PTR_NOT_NULL(strstr(rep.error, "shardId-nosuch"));
	frame_reply_free(&rep);

	/* workers: the fleet from the last scan; only us here. */
	CU_ASSERT_TRUE_FATAL(call(&f, "workers", NULL, &rep));
	CU_ASSERT_TRUE(rep.ok);
	CU_ASSERT_EQUAL(get_int(rep.data, "leases"), 2);
	CU_ASSERT_EQUAL(get_int(get(rep.data, "free"), "count"), 0);
	CU_ASSERT_EQUAL(get_int(get(rep.data, "expired"), "count"), 0);
	v = get(rep.data, "workers");
	CU_ASSERT_TRUE_FATAL(v && v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size == 1);
	CU_ASSERT_STRING_EQUAL(get_str(&v->via.array.ptr[0], "worker", s, sizeof(s)), f.worker);
	CU_ASSERT_EQUAL(get_int(&v->via.array.ptr[0], "leases"), 2);
	CU_ASSERT_TRUE(get_bool(&v->via.array.ptr[0], "me"));
	frame_reply_free(&rep);
	/* The same through kls-ctl. */
	CU_ASSERT_EQUAL(ctl(out, sizeof(out), WORDS("kls-ctl", "workers", "-S", f.sock)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, f.worker));
	CU_ASSERT_EQUAL(ctl(out, sizeof(out), WORDS("kls-ctl", "status", "--klsd", "-S", f.sock)),
	    0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"leases_held\": 2"));

	check_bad_frames(&f);

	/* release: refused without a known shard, then one lease let go and left alone for
	 * one take cycle before it is taken again. */
	CU_ASSERT_TRUE_FATAL(call(&f, "release", NULL, &rep));
	CU_ASSERT_FALSE(rep.ok);
	CU_ASSERT_PTR_NOT_NULL(strstr(rep.error, "shard"));
	frame_reply_free(&rep);
	CU_ASSERT_TRUE_FATAL(call(&f, "release", "shardId-nosuch", &rep));
	CU_ASSERT_FALSE(rep.ok);
	frame_reply_free(&rep);
	CU_ASSERT_EQUAL(ctl(out, sizeof(out), WORDS("kls-ctl", "release", "-S", f.sock, shard)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"draining\": true"));
	CU_ASSERT_TRUE(fixture_wait_owned(&f, f.worker, 1, 20000));
	CU_ASSERT_TRUE(fixture_wait_owned(&f, f.worker, 2, 30000));
	released = log_line(&f, WORDS("lease ", shard, " released (counter"), 1);
	again = log_line(&f, WORDS("took lease ", shard), 2);
	CU_ASSERT_TRUE(released > 0 && again > released);
	for (int i = 1, l; (l = log_line(&f, WORDS("take cycle: "), i)) > 0; i++)
		cycles += l > released && l < again;
	/* The cycle it was skipped in, and the one that took it. */
	CU_ASSERT_TRUE(cycles >= 2);
	CU_ASSERT_TRUE(log_line(&f, WORDS("shard ", shard, " may be taken again"), 1) < again);

	/* reload: a new [handler] path; readers restart one at a time, leases stay. */
	filelog_config(&f, "", "out2", extra, sizeof(extra));
	CU_ASSERT_TRUE_FATAL(wait_readers_running(&f, 2));
	CU_ASSERT_EQUAL_FATAL(fixture_write_config(&f, extra), 0);
	CU_ASSERT_TRUE_FATAL(call(&f, "reload", NULL, &rep));
	CU_ASSERT_TRUE(rep.ok);
	CU_ASSERT_EQUAL(get_int(rep.data, "readers_restarting"), 2);
	frame_reply_free(&rep);
	CU_ASSERT_TRUE(
	    fixture_wait_log(&f, false, WORDS("reload: done, 2 readers restarted"), 1, 60000));
	CU_ASSERT_EQUAL(fixture_log_count(&f, false, WORDS("reload: restarting reader ")), 2);
	CU_ASSERT_EQUAL(fixture_put(&f, 50, 50), 0);
	CU_ASSERT_TRUE(wait_lines(&f, "out2", "rec-", 50, 60000));
	n = fixture_leases(&f, &leases);
	CU_ASSERT_EQUAL(n, 2);
	for (int i = 0; i < n; i++)
		CU_ASSERT_STRING_EQUAL(leases[i].owner, f.worker);
	if (n > 0)
		free(leases);
	CU_ASSERT_EQUAL(fixture_log_count(&f, false, WORDS(" lost: ")), 0);

	/* A change that needs a restart: refused, naming the key; nothing changes. */
	{
		char stream[sizeof(f.stream)];
		memcpy(stream, f.stream, sizeof(stream));
		snprintf(f.stream, sizeof(f.stream), "%.50s-other", stream);
		CU_ASSERT_EQUAL(fixture_write_config(&f, extra), 0);
		memcpy(f.stream, stream, sizeof(stream));
	}
	CU_ASSERT_EQUAL(ctl(out, sizeof(out), WORDS("kls-ctl", "reload", "-S", f.sock)), 1);
	CU_ASSERT_TRUE_FATAL(call(&f, "reload", NULL, &rep));
	CU_ASSERT_FALSE(rep.ok);
	CU_ASSERT_PTR_NOT_NULL(strstr(rep.error, "kls.stream"));
	frame_reply_free(&rep);
	CU_ASSERT_TRUE_FATAL(call(&f, "status", NULL, &rep));
	CU_ASSERT_STRING_EQUAL(get_str(rep.data, "stream", s, sizeof(s)), f.stream);
	CU_ASSERT_EQUAL(get_int(get(rep.data, "counters"), "reloads_refused"), 2);
	CU_ASSERT_EQUAL(get_int(get(rep.data, "counters"), "reloads"), 1);
	frame_reply_free(&rep);

	/* drain: everything handed off, then klsd exits 0. */
	CU_ASSERT_TRUE_FATAL(call(&f, "drain", NULL, &rep));
	CU_ASSERT_TRUE(rep.ok);
	CU_ASSERT_EQUAL(get_int(rep.data, "leases"), 2);
	frame_reply_free(&rep);
	CU_ASSERT_TRUE(wait_exit(&f, 30000, &st));
	CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CU_ASSERT_EQUAL(fixture_owned(&f, NULL), 0);
	CU_ASSERT_EQUAL(access(f.sock, F_OK), -1);
out:
	fixture_done(&f);
}

/* ---------------------------------------------------------------- metrics, watch */

/* Sum of a metric's series whose labels contain `label` (`op="renew"`; NULL: every
 * series) in a /metrics scrape; -1 when the scrape failed. */
static double
scrape_sum_label(int port, const char *metric, const char *label)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static char body[1 << 20];
	size_t len = 0, mlen = strlen(metric);
	double sum = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	const char *req = "GET /metrics HTTP/1.0\r\n\r\n";
	ssize_t r;

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (len + 1 < sizeof(body) && (r = read(fd, body + len, sizeof(body) - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	body[len] = '\0';
	if (!strstr(body, " 200 "))
		return -1;
	for (char *l = strtok(body, "\n"); l; l = strtok(NULL, "\n"))
		if (strncmp(l, metric, mlen) == 0 && (l[mlen] == '{' || l[mlen] == ' ') &&
		    (!label || (l[mlen] == '{' && strstr(l, label))))
			sum += strtod(strrchr(l, ' ') + 1, NULL);
	return sum;
}

static double
scrape_sum(int port, const char *metric)
{
	return scrape_sum_label(port, metric, NULL);
}

static void
test_klsd_service_metrics_and_watch(void)
{
	struct klsd_fixture f;
	char extra[1024], out[65536], shm[96];
	int port = free_port(), lines, frames = 0, batches;
	double records = -1, bytes = -1, handled = -1, getrecords;
	kls_mono end;
	pid_t child;

	snprintf(extra, sizeof(extra), "[metrics]\nlisten = 127.0.0.1:%d\n", port);
	if (!filelog_setup(&f, "svc-metrics", extra, 0) || !fixture_start_owning(&f, NULL, 2))
		goto out;
	CU_ASSERT_TRUE(fixture_wait_log(&f, false, WORDS("metrics: serving /metrics"), 1, 10000));

	/* kls-ctl status --watch in a child while records arrive. */
	snprintf(shm, sizeof(shm), "%s", f.shm);
	fflush(NULL);
	child = fork();
	if (child == 0) {
		FILE *o = fopen("/dev/null", "w");
		int rc;
		snprintf(out, sizeof(out), "%s/watch.txt", f.dir);
		if (!freopen(out, "w", stdout))
			_exit(3);
		rc = ctl_main(6,
		    (char *[]){ "kls-ctl", "status", "--shm", shm, "--watch=1", "--count=3", NULL },
		    stdout, o);
		fflush(stdout);
		_exit(rc);
	}
	CU_ASSERT_EQUAL(fixture_put(&f, 0, 600), 0);
	CU_ASSERT_TRUE(wait_lines(&f, "out", "rec-", 600, 90000));
	lines = fixture_handler_lines(&f, "out", "rec-");
	/* Processed-record counters equal what the file handler wrote (nothing crashed, so
	 * every record once); bytes are "rec-NNNNN", 9 each. */
	end = mono_add_ms(mono_now(), 10000);
	do {
		records = scrape_sum(port, "kls_records_processed_total");
		bytes = scrape_sum(port, "kls_bytes_processed_total");
		if (records == lines)
			break;
		sleep_ms(300);
	} while (mono_before(mono_now(), end));
	CU_ASSERT_EQUAL(lines, 600);
	CU_ASSERT_EQUAL(records, (double)lines);
	CU_ASSERT_EQUAL(bytes, 9.0 * lines);
	CU_ASSERT_EQUAL(scrape_sum(port, "kls_leases_held"), 2);
	/* One handler observation per process() call, as the file handler saw them; each
	 * batch came from a GetRecords call of its own (and idle calls add more). */
	batches = fixture_handler_batches(&f, "out");
	end = mono_add_ms(mono_now(), 10000);
	do {
		handled = scrape_sum(port, "kls_handler_seconds_count");
		if (handled == batches)
			break;
		sleep_ms(300);
	} while (mono_before(mono_now(), end));
	CU_ASSERT_TRUE(batches >= 2);
	CU_ASSERT_EQUAL(handled, (double)batches);
	getrecords = scrape_sum(port, "kls_getrecords_seconds_count");
	CU_ASSERT_TRUE(getrecords > 0);
	CU_ASSERT_TRUE(getrecords >= batches);
	CU_ASSERT_TRUE(scrape_sum(port, "kls_getrecords_seconds_sum") > 0);
	/* Two polling shards; no fan-out series. */
	CU_ASSERT_EQUAL(scrape_sum(port, "kls_read_mode"), 2);
	CU_ASSERT_EQUAL(scrape_sum(port, "kls_fanout_resubscribes_total"), 0);
	CU_ASSERT_EQUAL(scrape_sum(port, "kls_lease_takes_total"), 2);
	/* While checkpoints flow they renew the lease; once the shards are idle, plain
	 * renewals follow within a renew interval (3.3 s by default). */
	end = mono_add_ms(mono_now(), 20000);
	while (scrape_sum(port, "kls_lease_renewals_total") <= 0 && mono_before(mono_now(), end))
		sleep_ms(300);
	CU_ASSERT_TRUE(scrape_sum(port, "kls_lease_renewals_total") > 0);
	CU_ASSERT_EQUAL(scrape_sum(port, "kls_leases_lost_total"), 0);
	/* Every lease table write klsd made has its time: the two takes, checkpoints of
	 * the batches (automatic, at most a second apart here), renewals; each took some
	 * time, well under the 10 s top bucket on loopback. A batch's checkpoint is written
	 * with the next renewal: give it a few. */
	end = mono_add_ms(mono_now(), 20000);
	while (scrape_sum_label(port, "kls_lease_write_seconds_count", "op=\"checkpoint\"") <= 0 &&
	       mono_before(mono_now(), end))
		sleep_ms(300);
	{
		static const char *const ops[] = { "take", "checkpoint", "renew" };
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			char op[64], le10[64];
			double n, sum, under10;
			snprintf(op, sizeof(op), "op=\"%s\"", ops[i]);
			snprintf(le10, sizeof(le10), "op=\"%s\",le=\"10\"", ops[i]);
			n = scrape_sum_label(port, "kls_lease_write_seconds_count", op);
			sum = scrape_sum_label(port, "kls_lease_write_seconds_sum", op);
			under10 = scrape_sum_label(port, "kls_lease_write_seconds_bucket", le10);
			CU_ASSERT_TRUE(n > 0);
			CU_ASSERT_TRUE(sum > 0);
			CU_ASSERT_EQUAL(under10, n);
			if (!(n > 0 && sum > 0 && under10 == n))
				fprintf(stderr,
				    "\n  kls_lease_write_seconds{%s}: count %g, sum %g, le=10 %g\n",
				    op, n, sum, under10);
		}
		CU_ASSERT_TRUE(
		    scrape_sum_label(port, "kls_lease_write_seconds_count", "op=\"take\"") >= 2);
		/* One worker: nobody else writes its leases. */
		CU_ASSERT_EQUAL(scrape_sum_label(port, "kls_lease_write_failures_total",
		                    "reason=\"conditional\""),
		    0);
		CU_ASSERT_EQUAL(scrape_sum(port, "kls_workers"), 1);
	}

	{
		int st = 0;
		char path[256];
		FILE *fp;
		size_t n;
		CU_ASSERT_EQUAL(waitpid(child, &st, 0), child);
		CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		snprintf(path, sizeof(path), "%s/watch.txt", f.dir);
		fp = fopen(path, "r");
		CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
		n = fread(out, 1, sizeof(out) - 1, fp);
		out[n] = '\0';
		fclose(fp);
		for (const char *p = out; (p = strstr(p, "REC/S")); p++)
			frames++;
		CU_ASSERT_EQUAL(frames, 3);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "shardId-000000000000"));
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "shardId-000000000001"));
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "LAG_MS"));
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "total "));
	}
	CU_ASSERT_EQUAL(fixture_clean_exit(&f), 0);
out:
	fixture_done(&f);
}

/* ---------------------------------------------------------------- poison records */

#define POISON "rec-00150"

/* One shard, 300 records, a handler that dies of SIGSEGV at rec-00150: batches of 100,
 * so every run after the first checkpoint (rec-00099) dies in the batch 100-199. */
static bool
poison_start(struct klsd_fixture *f, const char *prefix, const char *policy_keys)
{
	char extra[1024];

	if (fixture_init(f, prefix, 1) < 0)
		return false;
	fixture_example(f, "fault");
	snprintf(extra, sizeof(extra),
	    "max_records = 100\nidle_backoff_ms = 100\npoison_retries = 2\n"
	    "restart_backoff_min_ms = 100\nrestart_backoff_max_ms = 400\n%s"
	    "[lease]\nfailover_ms = 6000\nrenew_interval_ms = 1000\ntake_interval_ms = 1000\n"
	    "[handler]\nmode = segv\nat_data = " POISON "\npath = %s/out-%%s.log\n",
	    policy_keys, f->dir);
	if (fixture_write_config(f, extra) < 0 || fixture_put(f, 0, 300) < 0) {
		CU_FAIL("poison setup");
		return false;
	}
	return fixture_start_owning(f, NULL, 1);
}

static int64_t
status_counter(struct klsd_fixture *f, const char *name)
{
	struct frame_reply rep;
	int64_t v;

	if (!call(f, "status", NULL, &rep))
		return -1;
	v = get_int(get(rep.data, "counters"), name);
	frame_reply_free(&rep);
	return v;
}

static void
test_klsd_service_poison_dead_letter(void)
{
	struct klsd_fixture f;
	static char text[1 << 16];
	char dir[256], keys[512], cmd[600];
	FILE *p;
	size_t n;

	memset(&f, 0, sizeof(f));
	/* The configuration names it before the fixture's directory exists. */
	snprintf(dir, sizeof(dir), "/tmp/kls-dead-%d-XXXXXX", (int)getpid());
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(keys, sizeof(keys), "poison_policy = dead-letter\ndead_letter_dir = %s\n", dir);
	if (!poison_start(&f, "svc-poison-dl", keys))
		goto out;
	/* The batch with the poison record set aside, the rest processed. */
	CU_ASSERT_TRUE(wait_lines(&f, "out", "rec-00299", 1, 90000));
	CU_ASSERT_EQUAL(fixture_handler_lines(&f, "out", POISON), 0);
	for (int i = 200; i < 300; i += 33) {
		char rec[16];
		snprintf(rec, sizeof(rec), "rec-%05d", i);
		CU_ASSERT_TRUE(fixture_handler_lines(&f, "out", rec) >= 1);
	}
	snprintf(cmd, sizeof(cmd), "cat %s/*.dead", dir);
	text[0] = '\0';
	if ((p = popen(cmd, "r"))) {
		n = fread(text, 1, sizeof(text) - 1, p);
		text[n] = '\0';
		pclose(p);
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "kls-dead-letter 1 stream "));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, " shard shardId-000000000000 "));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, POISON));
	CU_ASSERT_EQUAL(fixture_log_count(&f, false, WORDS("poison_policy = dead-letter")), 1);
	CU_ASSERT_EQUAL(status_counter(&f, "poison_records"), 1);
	CU_ASSERT_TRUE(fixture_wait_log(&f, false, WORDS("checkpoint moved past the poison record"),
	    1, 10000));
	CU_ASSERT_EQUAL(fixture_owned(&f, f.worker), 1);
	CU_ASSERT_EQUAL(fixture_clean_exit(&f), 0);
out:
	fixture_done(&f);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (strncmp(dir, "/tmp/kls-dead-", 14) == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static void
test_klsd_service_poison_release(void)
{
	struct klsd_fixture f;
	struct frame_reply rep;
	const msgpack_object *v;
	char s[256];

	if (!poison_start(&f, "svc-poison-rel", "poison_policy = release\n"))
		goto out;
	CU_ASSERT_TRUE_FATAL(fixture_wait_owned(&f, f.worker, 0, 60000));
	CU_ASSERT_EQUAL(fixture_log_count(&f, false, WORDS("poison_policy = release")), 1);
	/* Reported, and left alone (ten take cycles of one second). */
	CU_ASSERT_TRUE_FATAL(call(&f, "status", NULL, &rep));
	CU_ASSERT_EQUAL(get_int(get(rep.data, "counters"), "poison_records"), 1);
	v = get(rep.data, "avoiding");
	CU_ASSERT_TRUE(v && v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size == 1);
	if (v && v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size == 1) {
		CU_ASSERT_STRING_EQUAL(get_str(&v->via.array.ptr[0], "shard", s, sizeof(s)),
		    "shardId-000000000000");
		CU_ASSERT_PTR_NOT_NULL(
		    strstr(get_str(&v->via.array.ptr[0], "why", s, sizeof(s)), "poison record"));
	}
	frame_reply_free(&rep);
	sleep_ms(3000);
	CU_ASSERT_EQUAL(fixture_owned(&f, NULL), 0);
	CU_ASSERT_EQUAL(fixture_handler_lines(&f, "out", "rec-00200"), 0);
	CU_ASSERT_EQUAL(fixture_clean_exit(&f), 0);
out:
	fixture_done(&f);
}

static void
test_klsd_service_poison_retry(void)
{
	struct klsd_fixture f;
	struct lease *v;
	char line[2048];
	int64_t delays[16];
	int nd = 0, n;
	FILE *fp;

	if (!poison_start(&f, "svc-poison-retry", "poison_policy = retry\n"))
		goto out;
	CU_ASSERT_TRUE(
	    fixture_wait_log(&f, false, WORDS("killed by signal 11 (SIGSEGV"), 5, 90000));
	CU_ASSERT_EQUAL(fixture_log_count(&f, false, WORDS("poison_policy = retry")), 1);
	CU_ASSERT_EQUAL(status_counter(&f, "poison_records"), 1);
	/* The lease stays with us, never taken again. */
	n = fixture_leases(&f, &v);
	CU_ASSERT_EQUAL(n, 1);
	if (n == 1) {
		CU_ASSERT_STRING_EQUAL(v[0].owner, f.worker);
		/* Taken once (1), reset by a checkpoint (0): never a second take. */
		CU_ASSERT_TRUE(v[0].owner_switches <= 1);
	}
	if (n > 0)
		free(v);
	/* Backing off: at once, then 100, 200, 400, 400, ... ms. */
	if ((fp = fopen(f.log, "r"))) {
		while (nd < 16 && fgets(line, sizeof(line), fp)) {
			const char *p = strstr(line, "; restart ");
			long long ms;
			unsigned k;
			if (p && sscanf(p, "; restart %u in %lld ms", &k, &ms) == 2)
				delays[nd++] = ms;
		}
		fclose(fp);
	}
	CU_ASSERT_TRUE(nd >= 4);
	for (int i = 1; i < nd; i++)
		CU_ASSERT_TRUE(delays[i] >= delays[i - 1] && delays[i] <= 400);
	CU_ASSERT_TRUE(nd >= 4 && delays[0] == 0 && delays[1] == 100 && delays[3] == 400);
	CU_ASSERT_EQUAL(fixture_handler_lines(&f, "out", "rec-00200"), 0);
	CU_ASSERT_EQUAL(fixture_clean_exit(&f), 0);
out:
	fixture_done(&f);
}

static CU_TestInfo klsd_service_tests[] = {
	{ "READY, WATCHDOG, RELOADING, STOPPING in order", test_klsd_service_notify_order },
	{ "control commands on a running klsd", test_klsd_service_control_commands },
	{ "/metrics counts what the handler saw; status --watch",
	    test_klsd_service_metrics_and_watch },
	{ "poison record: dead-letter", test_klsd_service_poison_dead_letter },
	{ "poison record: release", test_klsd_service_poison_release },
	{ "poison record: retry", test_klsd_service_poison_retry },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "klsd_service", NULL, NULL, NULL, NULL, klsd_service_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
