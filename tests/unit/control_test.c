/*
 * Tests of supervisor/control (klsd's control-socket server) and kls-ctl's client and
 * action commands: a server with fake command callbacks runs its poll loop in a thread;
 * kls-ctl's real commands, raw sockets sending bad frames, and a child running as
 * another uid talk to it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl/control_client.h"
#include "ctl/ctl.h"
#include "supervisor/control.h"
#include "tests/harness.h"

#define CALL_MS 10000

/* ---- fake klsd commands ---- */

static int
fake_status(
    void *ctx, const struct frame_request *req, msgpack_packer *pk, char *err, size_t errlen)
{
	msgpack_pack_map(pk, 2);
	frame_pack_cstr(pk, "leases");
	msgpack_pack_int(pk, 3);
	frame_pack_cstr(pk, "worker");
	frame_pack_cstr(pk, "host-a:1234");
	return 0;
}

static int
fake_workers(
    void *ctx, const struct frame_request *req, msgpack_packer *pk, char *err, size_t errlen)
{
	msgpack_pack_array(pk, 2);
	for (int i = 0; i < 2; i++) {
		msgpack_pack_map(pk, 2);
		frame_pack_cstr(pk, "worker");
		frame_pack_cstr(pk, i ? "host-b:9" : "host-a:1234");
		frame_pack_cstr(pk, "leases");
		msgpack_pack_int(pk, 2 + i);
	}
	return 0;
}

static int
fake_release(
    void *ctx, const struct frame_request *req, msgpack_packer *pk, char *err, size_t errlen)
{
	char shard[129];
	int rc = frame_arg_str(req, "shard", shard, sizeof(shard), err, errlen);

	if (rc < 0)
		return -1;
	if (rc == 0) {
		snprintf(err, errlen, "release needs a shard");
		return -1;
	}
	if (!strcmp(shard, "shardId-unknown")) {
		snprintf(err, errlen, "no lease held for %s", shard);
		return -1;
	}
	msgpack_pack_map(pk, 1);
	frame_pack_cstr(pk, "released");
	frame_pack_cstr(pk, shard);
	return 0;
}

static int
fake_drain(void *ctx, const struct frame_request *req, msgpack_packer *pk, char *err, size_t errlen)
{
	*(int *)ctx += 1;
	frame_pack_cstr(pk, "draining");
	return 0;
}

static int
fake_reload(
    void *ctx, const struct frame_request *req, msgpack_packer *pk, char *err, size_t errlen)
{
	return 0; /* no data: kls-ctl prints "ok" */
}

/* Data past the frame limit must become an error reply, not a cut frame. */
static int
fake_huge(void *ctx, const struct frame_request *req, msgpack_packer *pk, char *err, size_t errlen)
{
	static char big[FRAME_MAX];
	memset(big, 'x', sizeof(big));
	msgpack_pack_str_with_body(pk, big, sizeof(big));
	return 0;
}

static const struct control_command fake_commands[] = {
    {"status", fake_status},
    {"workers", fake_workers},
    {"release", fake_release},
    {"drain", fake_drain},
    {"reload", fake_reload},
    {"huge", fake_huge},
};

/* ---- a server in a thread ---- */

struct server {
	char dir[64];
	char path[128];
	struct control_server *s;
	pthread_t th;
	int stop[2];
	int drains;
};

static void *
serve(void *arg)
{
	struct server *sv = arg;

	for (;;) {
		struct pollfd p[2] = {{control_fd(sv->s), POLLIN, 0}, {sv->stop[0], POLLIN, 0}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (p[0].revents)
			control_handle(sv->s);
	}
	return NULL;
}

/* Opens a server (uid: the one allowed besides root) on <tmp>/run/ctl.sock, serving. */
static void
server_start(struct server *sv, uid_t uid, unsigned max_clients, unsigned idle_ms)
{
	char err[256] = "";
	struct control_config cfg = {
	    .uid = uid,
	    .commands = fake_commands,
	    .ncommands = sizeof(fake_commands) / sizeof(fake_commands[0]),
	    .ctx = &sv->drains,
	    .max_clients = max_clients,
	    .idle_timeout_ms = idle_ms,
	};

	memset(sv, 0, sizeof(*sv));
	snprintf(sv->dir, sizeof(sv->dir), "/tmp/kls-control-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(sv->dir));
	snprintf(sv->path, sizeof(sv->path), "%s/run/ctl.sock", sv->dir);
	cfg.path = sv->path;
	cfg.ctx = &sv->drains;
	if (control_open(&sv->s, &cfg, err, sizeof(err)) < 0)
		fprintf(stderr, "control_open: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sv->s);
	CU_ASSERT_FATAL(pipe(sv->stop) == 0);
	CU_ASSERT_FATAL(pthread_create(&sv->th, NULL, serve, sv) == 0);
}

static void
server_stop(struct server *sv)
{
	char run[160];

	CU_ASSERT(write(sv->stop[1], "x", 1) == 1);
	pthread_join(sv->th, NULL);
	close(sv->stop[0]);
	close(sv->stop[1]);
	control_close(sv->s);
	/* control_close removed the socket, so the directories are empty. */
	CU_ASSERT_EQUAL(access(sv->path, F_OK), -1);
	snprintf(run, sizeof(run), "%s/run", sv->dir);
	CU_ASSERT_EQUAL(rmdir(run), 0);
	CU_ASSERT_EQUAL(rmdir(sv->dir), 0);
}

/* ---- kls-ctl in-process ---- */

struct ctl_run {
	int rc;
	char *out, *err;
};

static void
run_ctl(struct ctl_run *r, const char *path, const char *cmd, const char *operand)
{
	char *argv[] = {"kls-ctl", (char *)cmd, "-S", (char *)path, (char *)operand, NULL};
	size_t no, ne;
	FILE *out = open_memstream(&r->out, &no), *err = open_memstream(&r->err, &ne);

	r->rc = ctl_main(operand ? 5 : 4, argv, out, err);
	fclose(out);
	fclose(err);
}

static void
ctl_run_free(struct ctl_run *r)
{
	free(r->out);
	free(r->err);
}

static void
test_control_every_command(void)
{
	static const struct {
		const char *cmd, *operand;
		int rc;
		const char *out, *err;
	} cases[] = {
	    {"workers", NULL, 0,
	        "[\n  {\n    \"worker\": \"host-a:1234\",\n    \"leases\": 2\n  },\n"
	        "  {\n    \"worker\": \"host-b:9\",\n    \"leases\": 3\n  }\n]\n",
	        ""},
	    {"release", "shardId-000000000004", 0,
	        "{\n  \"released\": \"shardId-000000000004\"\n}\n", ""},
	    {"release", "shardId-unknown", 1, "",
	        "kls-ctl release: klsd: no lease held for shardId-unknown\n"},
	    {"drain", NULL, 0, "\"draining\"\n", ""},
	    {"reload", NULL, 0, "ok\n", ""},
	};
	struct server sv;

	server_start(&sv, geteuid(), 0, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ctl_run r;
		run_ctl(&r, sv.path, cases[i].cmd, cases[i].operand);
		CU_ASSERT_EQUAL(r.rc, cases[i].rc);
		CU_ASSERT_STRING_EQUAL(r.out, cases[i].out);
		CU_ASSERT_STRING_EQUAL(r.err, cases[i].err);
		if (strcmp(r.out, cases[i].out) || strcmp(r.err, cases[i].err))
			fprintf(stderr, "case %zu: out \"%s\" err \"%s\"\n", i, r.out, r.err);
		ctl_run_free(&r);
	}
	CU_ASSERT_EQUAL(sv.drains, 1);

	/* status (klsd's own view) and commands klsd does not know, through the client. */
	struct frame_reply rep;
	char msg[512];
	CU_ASSERT_FATAL(
	    ctl_control_call(sv.path, "status", NULL, 0, CALL_MS, &rep, msg, sizeof(msg)) == 0);
	CU_ASSERT(rep.ok);
	CU_ASSERT_EQUAL_FATAL(rep.data->type, MSGPACK_OBJECT_MAP);
	CU_ASSERT_EQUAL(rep.data->via.map.ptr[0].val.via.u64, 3);
	frame_reply_free(&rep);
	CU_ASSERT_FATAL(
	    ctl_control_call(sv.path, "sync", NULL, 0, CALL_MS, &rep, msg, sizeof(msg)) == 0);
	CU_ASSERT_FALSE(rep.ok);
	CU_ASSERT_STRING_EQUAL(rep.error,
	    "unknown command \"sync\" (known: status workers release drain reload huge)");
	frame_reply_free(&rep);
	CU_ASSERT_FATAL(
	    ctl_control_call(sv.path, "huge", NULL, 0, CALL_MS, &rep, msg, sizeof(msg)) == 0);
	CU_ASSERT_FALSE(rep.ok);
	CU_ASSERT_STRING_EQUAL(
	    rep.error, "the reply to \"huge\" exceeds the 65536-byte frame limit");
	frame_reply_free(&rep);
	server_stop(&sv);
}

/* kls-ctl's own checks, before anything is sent. */
static void
test_control_ctl_usage_errors(void)
{
	static const struct {
		int argc;
		char *argv[6];
		const char *err;
	} cases[] = {
	    {2, {"kls-ctl", "release"}, "kls-ctl release: missing SHARD\n"},
	    {4, {"kls-ctl", "drain", "-t", "0"}, "kls-ctl drain: -t wants 1 to 3600 seconds"},
	    {3, {"kls-ctl", "reload", "extra"}, "kls-ctl reload: unexpected argument \"extra\""},
	    {6, {"kls-ctl", "workers", "-a", "x", "-S", "/y"}, "give -a or -S, not both"},
	    {4, {"kls-ctl", "workers", "-a", "../etc"}, "bad application name \"../etc\""},
	    {4, {"kls-ctl", "workers", "-S", "/nonexistent/kls.sock"},
	        "kls-ctl workers: no control socket at /nonexistent/kls.sock (is klsd running?)"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *o, *e;
		size_t no, ne;
		FILE *out = open_memstream(&o, &no), *err = open_memstream(&e, &ne);
		CU_ASSERT_EQUAL(ctl_main(cases[i].argc, (char **)cases[i].argv, out, err), 1);
		fclose(out);
		fclose(err);
		CU_ASSERT_PTR_NOT_NULL(strstr(e, cases[i].err));
		if (!strstr(e, cases[i].err))
			fprintf(stderr, "case %zu: %s\n", i, e);
		free(o);
		free(e);
	}
}

/* ---- raw peers ---- */

static int
raw_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(a.sun_path, path, strlen(path) + 1);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads one reply frame from a blocking socket (with a poll deadline). 0 or -1. */
static int
raw_reply(int fd, struct frame_reply *rep)
{
	struct frame_reader rd;
	char err[FRAME_ERRLEN];
	const char *p;
	size_t n;
	int rc = -1;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	frame_reader_init(&rd, FRAME_MAX);
	for (int i = 0; i < 100; i++) {
		struct pollfd pf = {fd, POLLIN, 0};
		enum frame_status st = frame_reader_read(&rd, fd, err, sizeof(err));
		if (st == FRAME_READY) {
			p = frame_reader_data(&rd, &n);
			rc = frame_reply_decode(rep, p, n, err, sizeof(err));
			break;
		}
		if (st != FRAME_AGAIN)
			break;
		poll(&pf, 1, 100);
	}
	frame_reader_free(&rd);
	return rc;
}

/* True when the server closes fd (EOF) within a few seconds. */
static bool
raw_closed_by_server(int fd)
{
	char c;
	for (int i = 0; i < 100; i++) {
		struct pollfd pf = {fd, POLLIN, 0};
		ssize_t r = read(fd, &c, 1);
		if (r == 0)
			return true;
		if (r > 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return false;
		poll(&pf, 1, 100);
	}
	return false;
}

/* The server still answers a well-behaved client after whatever came before. */
static void
assert_serving(const char *path, const char *cmd)
{
	struct frame_reply rep;
	char msg[512];

	CU_ASSERT_FATAL(ctl_control_call(path, cmd, NULL, 0, CALL_MS, &rep, msg, sizeof(msg)) == 0);
	CU_ASSERT(rep.ok);
	frame_reply_free(&rep);
}

/* Frames that are truncated, mistyped or oversized: an error reply, the connection
 * closed, and the server still answering the next client. */
static void
test_control_bad_frames(void)
{
#define F(s) s, sizeof(s) - 1
	static const struct {
		const char *bytes;
		size_t len;
		bool shut; /* end the stream after the bytes */
		const char *err;
	} cases[] = {
	    {F("\0\0"), true, "truncated frame: the stream ended after 2 of 4 length bytes"},
	    {F("\0\0\0\x10\x81\xa3"
	       "cm"),
	        true, "truncated frame: the stream ended after 4 of 16 payload bytes"},
	    {F("\0\x10\0\0"), false, "frame of 1048576 bytes exceeds the 65536-byte limit"},
	    {F("\0\0\0\0"), false, "empty frame: the length prefix is 0"},
	    {F("\0\0\0\x06\x81\xa3"
	       "cmd"
	       "\x05"),
	        false, "\"cmd\" is an integer, not a string"},
	    {F("\0\0\0\x02\x91\x01"), false, "the request is an array, not a map"},
	    {F("\0\0\0\x05\xdd\xff\xff\xff\xff"), false,
	        "truncated msgpack: the array at offset 0 declares 4294967295 elements, 0 bytes "
	        "follow"},
	    {F("\0\0\0\x0e\x82\xa3"
	       "cmd"
	       "\xa6status\xc0\xc0"),
	        false, "key 2 of the request is nil, not a string"},
	};
#undef F
	struct server sv;

	server_start(&sv, geteuid(), 0, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct frame_reply rep;
		int fd = raw_connect(sv.path);

		CU_ASSERT_FATAL(fd >= 0);
		CU_ASSERT_FATAL(write(fd, cases[i].bytes, cases[i].len) == (ssize_t)cases[i].len);
		if (cases[i].shut)
			shutdown(fd, SHUT_WR);
		CU_ASSERT_EQUAL_FATAL(raw_reply(fd, &rep), 0);
		CU_ASSERT_FALSE(rep.ok);
		CU_ASSERT_STRING_EQUAL(rep.error, cases[i].err);
		if (strcmp(rep.error, cases[i].err))
			fprintf(stderr, "case %zu: %s\n", i, rep.error);
		frame_reply_free(&rep);
		CU_ASSERT(raw_closed_by_server(fd));
		close(fd);
		assert_serving(sv.path, "status");
	}
	server_stop(&sv);
}

/* Several requests on one connection, sent at once, answered in order; an unknown
 * command is an error reply but not a protocol error, so the connection stays. */
static void
test_control_pipelined_requests(void)
{
	struct frame_arg a = {"shard", "shardId-7"};
	struct frame_reply rep;
	struct server sv;
	struct kls_buf b;
	int fd;

	server_start(&sv, geteuid(), 0, 0);
	buf_init(&b, 0);
	CU_ASSERT_FATAL(frame_encode_request(&b, "bogus", NULL, 0) == 0);
	CU_ASSERT_FATAL(frame_encode_request(&b, "release", &a, 1) == 0);
	CU_ASSERT_FATAL(frame_encode_request(&b, "drain", NULL, 0) == 0);
	fd = raw_connect(sv.path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, b.data, b.len) == (ssize_t)b.len);
	CU_ASSERT_EQUAL_FATAL(raw_reply(fd, &rep), 0);
	CU_ASSERT_FALSE(rep.ok);
	frame_reply_free(&rep);
	CU_ASSERT_EQUAL_FATAL(raw_reply(fd, &rep), 0);
	CU_ASSERT(rep.ok);
	CU_ASSERT_EQUAL(rep.data->via.map.ptr[0].val.via.str.size, 9);
	frame_reply_free(&rep);
	CU_ASSERT_EQUAL_FATAL(raw_reply(fd, &rep), 0);
	CU_ASSERT(rep.ok);
	frame_reply_free(&rep);
	close(fd);
	buf_free(&b);
	server_stop(&sv);
	CU_ASSERT_EQUAL(sv.drains, 1);
}

/*
 * A peer with another uid is refused with an error reply. As root: a child becomes
 * nobody and connects (the directory and socket are opened up for it so the server's
 * own check is what refuses it). Otherwise the server allows a uid that is not ours.
 */
static void
test_control_other_uid_refused(void)
{
	struct frame_reply rep;
	struct server sv;
	char msg[512], run[160], buf[FRAME_MAX];

	if (geteuid() != 0) {
		server_start(&sv, geteuid() + 1, 0, 0);
		CU_ASSERT_FATAL(ctl_control_call(sv.path, "drain", NULL, 0, CALL_MS, &rep, msg,
		                    sizeof(msg)) == 0);
		CU_ASSERT_FALSE(rep.ok);
		CU_ASSERT_PTR_NOT_NULL(strstr(rep.error, "permission denied: uid"));
		frame_reply_free(&rep);
		server_stop(&sv);
		CU_ASSERT_EQUAL(sv.drains, 0);
		return;
	}
	struct passwd *pw = getpwnam("nobody");
	int p[2], status;
	ssize_t got = 0, r;
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pw);
	server_start(&sv, 0, 0, 0);
	snprintf(run, sizeof(run), "%s/run", sv.dir);
	CU_ASSERT_FATAL(
	    chmod(sv.dir, 0755) == 0 && chmod(run, 0755) == 0 && chmod(sv.path, 0666) == 0);
	CU_ASSERT_FATAL(pipe(p) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		/* Only system calls here: the parent has threads. */
		static const char req[] = "\0\0\0\x0b\x81\xa3"
		                          "cmd"
		                          "\xa5"
		                          "drain";
		int fd;
		ssize_t n;
		close(p[0]);
		if (setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0 || getuid() == 0)
			_exit(2);
		fd = raw_connect(sv.path);
		if (fd < 0)
			_exit(3);
		/* The refusal may come (and the server close) before this write:
		 * EPIPE is fine, the reply is still there to read. */
		if (write(fd, req, sizeof(req) - 1) < 0 && errno != EPIPE)
			_exit(4);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (write(p[1], buf, (size_t)n) != n)
				_exit(5);
		_exit(0);
	}
	close(p[1]);
	while ((r = read(p[0], buf + got, sizeof(buf) - (size_t)got)) > 0)
		got += r;
	close(p[0]);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT_FATAL(got > FRAME_HEAD);
	CU_ASSERT_FATAL(frame_reply_decode(&rep, buf + FRAME_HEAD, (size_t)got - FRAME_HEAD, msg,
	                    sizeof(msg)) == 0);
	CU_ASSERT_FALSE(rep.ok);
	snprintf(msg, sizeof(msg),
	    "permission denied: uid %lu may not use klsd's control socket (uid 0 and root may)",
	    (unsigned long)pw->pw_uid);
	CU_ASSERT_STRING_EQUAL(rep.error, msg);
	frame_reply_free(&rep);
	/* The refused drain did not run; root still gets served. */
	assert_serving(sv.path, "reload");
	server_stop(&sv);
	CU_ASSERT_EQUAL(sv.drains, 0);
}

/* Socket file and directory modes; stale sockets replaced, live ones and others not. */
static void
test_control_socket_file(void)
{
	struct control_config cfg = {.commands = fake_commands, .ncommands = 1};
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct control_server *s2;
	struct server sv;
	struct stat st;
	char err[256], run[160], other[200];
	int fd;

	server_start(&sv, geteuid(), 0, 0);
	snprintf(run, sizeof(run), "%s/run", sv.dir);
	CU_ASSERT_FATAL(stat(run, &st) == 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0700);
	CU_ASSERT_FATAL(stat(sv.path, &st) == 0);
	CU_ASSERT(S_ISSOCK(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);

	/* Something answers: refused, and the live socket is left alone. */
	cfg.path = sv.path;
	CU_ASSERT_EQUAL(control_open(&s2, &cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "another process answers on"));
	CU_ASSERT_EQUAL(access(sv.path, F_OK), 0);

	/* A socket file nobody listens on (a klsd that was killed): replaced. */
	snprintf(other, sizeof(other), "%s/stale.sock", run);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(a.sun_path, other, strlen(other) + 1);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	close(fd);
	cfg.path = other;
	CU_ASSERT_EQUAL_FATAL(control_open(&s2, &cfg, err, sizeof(err)), 0);
	control_close(s2);
	CU_ASSERT_EQUAL(access(other, F_OK), -1);

	/* Not a socket: never removed. */
	fd = open(other, O_CREAT | O_WRONLY, 0600);
	close(fd);
	CU_ASSERT_EQUAL(control_open(&s2, &cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "exists and is not a socket; not replacing it"));
	CU_ASSERT_EQUAL(unlink(other), 0);

	cfg.path = "relative.sock";
	CU_ASSERT_EQUAL(control_open(&s2, &cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "must be absolute"));
	snprintf(other, sizeof(other), "%s/missing/deeper/x.sock", sv.dir);
	cfg.path = other;
	CU_ASSERT_EQUAL(control_open(&s2, &cfg, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "mkdir"));
	server_stop(&sv);
}

/* Silent clients are closed after the idle time; past max_clients, "busy". */
static void
test_control_idle_and_busy(void)
{
	struct frame_reply rep;
	struct server sv;
	int a, b, c;

	server_start(&sv, geteuid(), 2, 1000);
	a = raw_connect(sv.path);
	b = raw_connect(sv.path);
	CU_ASSERT_FATAL(a >= 0 && b >= 0);
	/* The server accepts in its own time: a third connection is refused once both
	 * earlier ones hold their slots. */
	c = raw_connect(sv.path);
	CU_ASSERT_FATAL(c >= 0);
	CU_ASSERT_EQUAL_FATAL(raw_reply(c, &rep), 0);
	CU_ASSERT_FALSE(rep.ok);
	CU_ASSERT_STRING_EQUAL(rep.error, "klsd is busy: too many control connections");
	frame_reply_free(&rep);
	close(c);
	fcntl(a, F_SETFL, O_NONBLOCK);
	fcntl(b, F_SETFL, O_NONBLOCK);
	CU_ASSERT(raw_closed_by_server(a));
	CU_ASSERT(raw_closed_by_server(b));
	close(a);
	close(b);
	assert_serving(sv.path, "status");
	server_stop(&sv);
}

static CU_TestInfo control_tests[] = {
    {"every command", test_control_every_command},
    {"kls-ctl usage errors", test_control_ctl_usage_errors},
    {"bad frames", test_control_bad_frames},
    {"pipelined requests", test_control_pipelined_requests},
    {"other uid refused", test_control_other_uid_refused},
    {"socket file", test_control_socket_file},
    {"idle and busy", test_control_idle_and_busy},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"control", NULL, NULL, NULL, NULL, control_tests},
    CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
