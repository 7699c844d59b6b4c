/*
 * Tests of common/frame: round trips over a socketpair, byte-by-byte partial reads, frames
 * that end early, lie about their length or their contents, and the message each gets.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/frame.h"
#include "tests/harness.h"

/* Raw bytes with their length (literals may contain NUL). */
#define B(s) s, sizeof(s) - 1

static void
pair(int sv[2])
{
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
}

static void
write_all(int fd, const void *p, size_t n)
{
	CU_ASSERT_FATAL(write(fd, p, n) == (ssize_t)n);
}

static void
test_frame_request_round_trip(void)
{
	struct frame_arg args[] = {{"shard", "shardId-000000000007"}, {"why", "test"}};
	struct frame_reader r;
	struct frame_request req;
	struct kls_buf b;
	char err[FRAME_ERRLEN], shard[64];
	const char *p;
	size_t n;
	int sv[2];

	pair(sv);
	buf_init(&b, 0);
	CU_ASSERT_FATAL(frame_encode_request(&b, "release", args, 2) == 0);
	CU_ASSERT_FATAL(frame_encode_request(&b, "status", NULL, 0) == 0);
	write_all(sv[0], b.data, b.len);
	frame_reader_init(&r, FRAME_MAX);

	CU_ASSERT_EQUAL_FATAL(frame_reader_read(&r, sv[1], err, sizeof(err)), FRAME_READY);
	p = frame_reader_data(&r, &n);
	CU_ASSERT_FATAL(frame_request_decode(&req, p, n, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(req.cmd, "release");
	CU_ASSERT_EQUAL(frame_arg_str(&req, "shard", shard, sizeof(shard), err, sizeof(err)), 1);
	CU_ASSERT_STRING_EQUAL(shard, "shardId-000000000007");
	CU_ASSERT_EQUAL(frame_arg_str(&req, "absent", shard, sizeof(shard), err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(frame_arg_str(&req, "shard", shard, 8, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"shard\" must be under 8 bytes"));
	frame_request_free(&req);

	/* The second frame stayed in the socket and reads on its own. */
	CU_ASSERT_EQUAL_FATAL(frame_reader_read(&r, sv[1], err, sizeof(err)), FRAME_READY);
	p = frame_reader_data(&r, &n);
	CU_ASSERT_FATAL(frame_request_decode(&req, p, n, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(req.cmd, "status");
	CU_ASSERT_PTR_NULL(req.args);
	CU_ASSERT_EQUAL(frame_arg_str(&req, "shard", shard, sizeof(shard), err, sizeof(err)), 0);
	frame_request_free(&req);

	CU_ASSERT_EQUAL(frame_reader_read(&r, sv[1], err, sizeof(err)), FRAME_AGAIN);
	close(sv[0]);
	CU_ASSERT_EQUAL(frame_reader_read(&r, sv[1], err, sizeof(err)), FRAME_EOF);
	frame_reader_free(&r);
	buf_free(&b);
	close(sv[1]);
}

static void
test_frame_reply_round_trip(void)
{
	struct kls_buf data, b, json;
	struct frame_reply rep;
	msgpack_packer pk;
	char err[FRAME_ERRLEN];

	buf_init(&data, FRAME_MAX);
	frame_packer_init(&pk, &data);
	msgpack_pack_map(&pk, 2);
	frame_pack_cstr(&pk, "leases");
	msgpack_pack_array(&pk, 2);
	frame_pack_cstr(&pk, "shardId-0");
	frame_pack_cstr(&pk, "q\"\n");
	frame_pack_cstr(&pk, "held");
	msgpack_pack_int(&pk, -3);

	buf_init(&b, 0);
	CU_ASSERT_FATAL(frame_encode_reply_ok(&b, data.data, data.len) == 0);
	CU_ASSERT_FATAL(frame_reply_decode(
	                    &rep, b.data + FRAME_HEAD, b.len - FRAME_HEAD, err, sizeof(err)) == 0);
	CU_ASSERT(rep.ok);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rep.data);
	/* The decoded reply owns its bytes: the frame's buffer can be reused at once. */
	memset(b.data, 0, b.len);
	buf_init(&json, 0);
	CU_ASSERT_EQUAL(frame_object_json(&json, rep.data, 0), 0);
	CU_ASSERT_STRING_EQUAL(json.data, "{\"leases\": [\"shardId-0\", \"q\\\"\\u000a\"], "
	                                  "\"held\": -3}");
	buf_reset(&json);
	CU_ASSERT_EQUAL(frame_object_json(&json, rep.data, 2), 0);
	CU_ASSERT_STRING_EQUAL(json.data, "{\n  \"leases\": [\n    \"shardId-0\",\n"
	                                  "    \"q\\\"\\u000a\"\n  ],\n  \"held\": -3\n}");
	frame_reply_free(&rep);

	buf_reset(&b);
	CU_ASSERT_FATAL(frame_encode_reply_ok(&b, NULL, 0) == 0);
	CU_ASSERT_FATAL(frame_reply_decode(
	                    &rep, b.data + FRAME_HEAD, b.len - FRAME_HEAD, err, sizeof(err)) == 0);
	CU_ASSERT(rep.ok);
	CU_ASSERT_PTR_NULL(rep.data);
	frame_reply_free(&rep);

	buf_reset(&b);
	CU_ASSERT_FATAL(frame_encode_reply_error(&b, "no lease for shardId-9") == 0);
	CU_ASSERT_FATAL(frame_reply_decode(
	                    &rep, b.data + FRAME_HEAD, b.len - FRAME_HEAD, err, sizeof(err)) == 0);
	CU_ASSERT_FALSE(rep.ok);
	CU_ASSERT_STRING_EQUAL(rep.error, "no lease for shardId-9");
	frame_reply_free(&rep);
	buf_free(&json);
	buf_free(&b);
	buf_free(&data);
}

/* One byte at a time: AGAIN until the last byte, then the whole frame. */
static void
test_frame_partial_reads(void)
{
	struct frame_reader r;
	struct frame_request req;
	struct kls_buf b;
	char err[FRAME_ERRLEN];
	const char *p;
	size_t n;
	int sv[2];

	pair(sv);
	buf_init(&b, 0);
	CU_ASSERT_FATAL(frame_encode_request(&b, "workers", NULL, 0) == 0);
	frame_reader_init(&r, FRAME_MAX);
	for (size_t i = 0; i < b.len; i++) {
		CU_ASSERT_EQUAL_FATAL(frame_reader_read(&r, sv[1], err, sizeof(err)), FRAME_AGAIN);
		write_all(sv[0], b.data + i, 1);
	}
	CU_ASSERT_EQUAL_FATAL(frame_reader_read(&r, sv[1], err, sizeof(err)), FRAME_READY);
	p = frame_reader_data(&r, &n);
	CU_ASSERT_EQUAL(n, b.len - FRAME_HEAD);
	CU_ASSERT_FATAL(frame_request_decode(&req, p, n, err, sizeof(err)) == 0);
	CU_ASSERT_STRING_EQUAL(req.cmd, "workers");
	frame_request_free(&req);
	frame_reader_free(&r);
	buf_free(&b);
	close(sv[0]);
	close(sv[1]);
}

/* Streams that end early or announce impossible lengths. */
static void
test_frame_bad_streams(void)
{
	static const struct {
		const char *bytes;
		size_t len;
		bool close_after;
		const char *err;
	} cases[] = {
	    {B("\0\0"), true, "truncated frame: the stream ended after 2 of 4 length bytes"},
	    {B("\0\0\0\x0a\x81\xa3"), true,
	        "truncated frame: the stream ended after 2 of 10 payload bytes"},
	    {B("\0\0\0\0"), false, "empty frame: the length prefix is 0"},
	    {B("\0\x01\0\x01"), false, "frame of 65537 bytes exceeds the 65536-byte limit"},
	    {B("\xff\xff\xff\xff"), false,
	        "frame of 4294967295 bytes exceeds the 65536-byte limit"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct frame_reader r;
		char err[FRAME_ERRLEN] = "";
		int sv[2];

		pair(sv);
		write_all(sv[0], cases[i].bytes, cases[i].len);
		if (cases[i].close_after)
			close(sv[0]);
		frame_reader_init(&r, FRAME_MAX);
		CU_ASSERT_EQUAL(frame_reader_read(&r, sv[1], err, sizeof(err)), FRAME_ERROR);
		CU_ASSERT_STRING_EQUAL(err, cases[i].err);
		frame_reader_free(&r);
		if (!cases[i].close_after)
			close(sv[0]);
		close(sv[1]);
	}
}

/* Payloads that are not a well-formed request, and what the peer is told. */
static void
test_frame_bad_requests(void)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *err;
	} cases[] = {
	    {B("\x91\x01"), "the request is an array, not a map"},
	    {B("\xa6status"), "the request is a string, not a map"},
	    {B("\x81\xa3"
	       "cmd"
	       "\x05"),
	        "\"cmd\" is an integer, not a string"},
	    {B("\x81\xa3"
	       "cmd"
	       "\xc3"),
	        "\"cmd\" is a boolean, not a string"},
	    {B("\x81\xa3"
	       "cmd"
	       "\xa0"),
	        "\"cmd\" must be 1 to 32 bytes without NUL, not 0 bytes"},
	    {B("\x81\xa3"
	       "cmd"
	       "\xd9\x21"
	       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
	        "\"cmd\" must be 1 to 32 bytes without NUL, not 33 bytes"},
	    {B("\x81\xa3"
	       "cmd"
	       "\xa2s\0"),
	        "\"cmd\" must be 1 to 32 bytes without NUL, not 2 bytes"},
	    {B("\x80"), "the request has no \"cmd\""},
	    {B("\x82\xa3"
	       "cmd"
	       "\xa6status\xa4"
	       "args"
	       "\x90"),
	        "\"args\" is an array, not a map"},
	    {B("\x82\xa3"
	       "cmd"
	       "\xa6status\xa4"
	       "args"
	       "\x81\x01\x02"),
	        "key 1 of \"args\" is an integer, not a string"},
	    {B("\x82\xa3"
	       "cmd"
	       "\xa6status\xa1x\x01"),
	        "unknown key \"x\" in the request (expected \"cmd\", \"args\")"},
	    {B("\x82\xa3"
	       "cmd"
	       "\xa6status\xa3"
	       "cmd"
	       "\xa4"
	       "sync"),
	        "key \"cmd\" appears twice in the request"},
	    {B("\x81\x01\x02"), "key 1 of the request is an integer, not a string"},
	    {B("\x80\xc0"), "1 bytes after the msgpack object (one map per frame)"},
	    {B("\x81\xa3"
	       "cm"),
	        "truncated msgpack: the string at offset 1 needs 3 bytes, 2 follow"},
	    {B("\x81\xa3"
	       "cmd"),
	        "truncated msgpack: an object is missing at offset 5"},
	    {B("\xdd\xff\xff\xff\xff"),
	        "truncated msgpack: the array at offset 0 declares 4294967295 elements, 0 bytes "
	        "follow"},
	    {B("\xdf\x7f\xff\xff\xff\x01\x02"),
	        "truncated msgpack: the map at offset 0 declares 2147483647 elements, 2 bytes "
	        "follow"},
	    {B("\xdb\0\0"), "truncated msgpack: the string at offset 0 ends inside its length"},
	    {B("\xc7\x05\x01"
	       "abc"),
	        "truncated msgpack: the extension at offset 0 needs 6 bytes, 4 follow"},
	    {B("\xcb\0\0"), "truncated msgpack: the number at offset 0 needs 8 bytes, 2 follow"},
	    {B("\x81\xc1\x01"), "malformed msgpack: byte 0xc1 (never used) at offset 1"},
	    {B("\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x01"),
	        "msgpack nested deeper than 16 levels at offset 16"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct frame_request req;
		char err[FRAME_ERRLEN] = "";
		CU_ASSERT_EQUAL(
		    frame_request_decode(&req, cases[i].bytes, cases[i].len, err, sizeof(err)), -1);
		CU_ASSERT_STRING_EQUAL(err, cases[i].err);
		if (strcmp(err, cases[i].err))
			fprintf(stderr, "case %zu: got \"%s\"\n", i, err);
	}
}

static void
test_frame_bad_replies(void)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *err;
	} cases[] = {
	    {B("\x80"), "the reply has no \"ok\""},
	    {B("\x81\xa2ok\x01"), "\"ok\" is an integer, not a boolean"},
	    {B("\x81\xa2ok\xc2"), "a failed reply without \"error\""},
	    {B("\x82\xa2ok\xc2\xa5"
	       "error"
	       "\xc0"),
	        "\"error\" is nil, not a string"},
	    {B("\x90"), "the reply is an array, not a map"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct frame_reply rep;
		char err[FRAME_ERRLEN] = "";
		CU_ASSERT_EQUAL(
		    frame_reply_decode(&rep, cases[i].bytes, cases[i].len, err, sizeof(err)), -1);
		CU_ASSERT_STRING_EQUAL(err, cases[i].err);
	}
}

/* Every msgpack type passes the structural check and renders as JSON. */
static void
test_frame_all_types(void)
{
	struct kls_buf b, json;
	struct frame_reply rep;
	msgpack_packer pk;
	char err[FRAME_ERRLEN];

	buf_init(&b, FRAME_MAX);
	frame_packer_init(&pk, &b);
	msgpack_pack_array(&pk, 12);
	msgpack_pack_nil(&pk);
	msgpack_pack_true(&pk);
	msgpack_pack_uint64(&pk, UINT64_MAX);
	msgpack_pack_int64(&pk, INT64_MIN);
	msgpack_pack_double(&pk, 0.5);
	msgpack_pack_float(&pk, 2.0f);
	msgpack_pack_bin_with_body(&pk, "\0\1\2", 3);
	msgpack_pack_ext_with_body(&pk, "abcd", 4, 7);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_int(&pk, 5);
	msgpack_pack_false(&pk);
	msgpack_pack_array(&pk, 0);
	msgpack_pack_map(&pk, 0);
	msgpack_pack_uint16(&pk, 300);
	CU_ASSERT_EQUAL(frame_check(b.data, b.len, err, sizeof(err)), 0);

	/* As a reply's data, through the encoder's own check. */
	{
		struct kls_buf r;
		buf_init(&r, 0);
		CU_ASSERT_FATAL(frame_encode_reply_ok(&r, b.data, b.len) == 0);
		CU_ASSERT_FATAL(frame_reply_decode(&rep, r.data + FRAME_HEAD, r.len - FRAME_HEAD,
		                    err, sizeof(err)) == 0);
		buf_init(&json, 0);
		CU_ASSERT_EQUAL(frame_object_json(&json, rep.data, 0), 0);
		CU_ASSERT_STRING_EQUAL(json.data,
		    "[null, true, 18446744073709551615, -9223372036854775808, 0.5, 2, "
		    "\"<3 bytes>\", \"<4 bytes>\", {\"5\": false}, [], {}, 300]");
		frame_reply_free(&rep);
		buf_free(&json);
		buf_free(&r);
	}
	buf_free(&b);
}

/* Encoders keep the limits the readers enforce, and undo a frame they cannot finish. */
static void
test_frame_encoder_limits(void)
{
	static char big[FRAME_MAX + 16], longerr[FRAME_ERROR_MAX + 100];
	struct kls_buf b, data;
	struct frame_reply rep;
	msgpack_packer pk;
	char err[FRAME_ERRLEN];

	buf_init(&b, 0);
	CU_ASSERT_FATAL(frame_encode_request(&b, "status", NULL, 0) == 0);
	size_t before = b.len;

	/* A string that fills the whole limit cannot also fit the reply's map. */
	memset(big, 'x', FRAME_MAX);
	buf_init(&data, 0);
	frame_packer_init(&pk, &data);
	msgpack_pack_str_with_body(&pk, big, FRAME_MAX - 8);
	errno = 0;
	CU_ASSERT_EQUAL(frame_encode_reply_ok(&b, data.data, data.len), -1);
	CU_ASSERT_EQUAL(errno, EMSGSIZE);
	CU_ASSERT_EQUAL(b.len, before);

	errno = 0;
	CU_ASSERT_EQUAL(frame_encode_reply_ok(&b, "\x92\x01", 2), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(frame_encode_request(&b, "", NULL, 0), -1);
	CU_ASSERT_EQUAL(
	    frame_encode_request(&b, "0123456789012345678901234567890123", NULL, 0), -1);
	CU_ASSERT_EQUAL(b.len, before);

	/* A long error is cut, never split inside a UTF-8 sequence. */
	memset(longerr, 'e', sizeof(longerr) - 1);
	memcpy(longerr + FRAME_ERROR_MAX - 1, "\xc3\xa9", 2);
	buf_reset(&b);
	CU_ASSERT_FATAL(frame_encode_reply_error(&b, longerr) == 0);
	CU_ASSERT_FATAL(frame_reply_decode(
	                    &rep, b.data + FRAME_HEAD, b.len - FRAME_HEAD, err, sizeof(err)) == 0);
	CU_ASSERT_EQUAL(strlen(rep.error), FRAME_ERROR_MAX - 1);
	frame_reply_free(&rep);
	buf_free(&data);
	buf_free(&b);
}

/* frame_flush writes what a non-blocking socket takes and resumes where it stopped. */
static void
test_frame_flush_resumes(void)
{
	static char sink[FRAME_MAX * 8];
	struct kls_buf b;
	size_t off = 0, got = 0;
	int sv[2], rc;

	pair(sv);
	buf_init(&b, 0);
	for (int i = 0; i < 64; i++) {
		struct frame_arg a = {"pad", "0123456789abcdef0123456789abcdef0123456789abcdef"};
		CU_ASSERT_FATAL(frame_encode_request(&b, "status", &a, 1) == 0);
	}
	{
		char *one = malloc(b.len); /* appending b to itself would alias */
		size_t n = b.len;
		memcpy(one, b.data, n);
		while (b.len < 400000)
			CU_ASSERT_FATAL(buf_append(&b, one, n) == 0);
		free(one);
	}
	size_t total = b.len;
	rc = frame_flush(sv[0], &b, &off);
	CU_ASSERT_EQUAL(rc, 0); /* a socketpair's buffer is far smaller than 400 kB */
	CU_ASSERT(off > 0 && off < total);
	while (rc == 0) {
		ssize_t r = read(sv[1], sink, sizeof(sink));
		if (r > 0)
			got += (size_t)r;
		rc = frame_flush(sv[0], &b, &off);
	}
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT_EQUAL(b.len, 0);
	CU_ASSERT_EQUAL(off, 0);
	for (ssize_t r; (r = read(sv[1], sink, sizeof(sink))) > 0;)
		got += (size_t)r;
	CU_ASSERT_EQUAL(got, total);
	close(sv[1]);
	CU_ASSERT_FATAL(buf_append(&b, "x", 1) == 0);
	CU_ASSERT_EQUAL(frame_flush(sv[0], &b, &off), -1);
	CU_ASSERT_EQUAL(errno, EPIPE);
	close(sv[0]);
	buf_free(&b);
}

/*
 * Oracle: mutated and truncated payloads that frame_check accepts must decode in msgpack-c
 * to exactly one object spanning the payload; those it refuses are never passed on.
 */
static void
test_frame_check_agrees_with_msgpack(void)
{
	struct frame_arg a[] = {{"shard", "shardId-000000000001"}, {"k", "v"}};
	struct kls_buf b;
	unsigned seed = 12345, accepted = 0, refused = 0;
	char err[FRAME_ERRLEN];

	buf_init(&b, 0);
	CU_ASSERT_FATAL(frame_encode_request(&b, "release", a, 2) == 0);
	const size_t n = b.len - FRAME_HEAD;
	for (int round = 0; round < 20000; round++) {
		char m[256];
		size_t len = n, off = 0;
		memcpy(m, b.data + FRAME_HEAD, n);
		seed = seed * 1103515245 + 12345;
		if (round % 3 == 0)
			len = seed % (n + 1);
		for (int k = 0; k < 1 + (int)(seed >> 28) % 3; k++) {
			seed = seed * 1103515245 + 12345;
			m[(seed >> 8) % n] = (char)(seed >> 20);
		}
		if (frame_check(m, len, err, sizeof(err)) < 0) {
			refused++;
			continue;
		}
		accepted++;
		msgpack_unpacked u;
		msgpack_unpacked_init(&u);
		CU_ASSERT_EQUAL(msgpack_unpack_next(&u, m, len, &off), MSGPACK_UNPACK_SUCCESS);
		CU_ASSERT_EQUAL(off, len);
		msgpack_unpacked_destroy(&u);
	}
	CU_ASSERT(accepted > 100 && refused > 100);
	buf_free(&b);
}

static CU_TestInfo frame_tests[] = {
    {"check agrees with msgpack-c", test_frame_check_agrees_with_msgpack},
    {"request round trip", test_frame_request_round_trip},
    {"reply round trip", test_frame_reply_round_trip},
    {"partial reads", test_frame_partial_reads},
    {"bad streams", test_frame_bad_streams},
    {"bad requests", test_frame_bad_requests},
    {"bad replies", test_frame_bad_replies},
    {"all types", test_frame_all_types},
    {"encoder limits", test_frame_encoder_limits},
    {"flush resumes", test_frame_flush_resumes},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"frame", NULL, NULL, NULL, NULL, frame_tests},
    CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
