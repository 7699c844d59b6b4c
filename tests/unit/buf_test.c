/* Tests of common/buf: growth, the hard cap, JSON string escaping. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "common/buf.h"
#include "tests/harness.h"

static void
test_buf_append_grows(void)
{
	struct kls_buf b;
	buf_init(&b, 0);
	for (int i = 0; i < 1000; i++)
		CU_ASSERT_EQUAL_FATAL(buf_printf(&b, "%04d", i), 0);
	CU_ASSERT_EQUAL(b.len, 4000);
	CU_ASSERT_EQUAL(memcmp(b.data + 3996, "0999", 4), 0);
	CU_ASSERT_EQUAL(b.data[b.len], '\0');
	buf_free(&b);
}

static void
test_buf_limit_refuses(void)
{
	struct kls_buf b;
	buf_init(&b, 10);
	CU_ASSERT_EQUAL(buf_append(&b, "0123456789", 10), 0);
	errno = 0;
	CU_ASSERT_EQUAL(buf_append(&b, "x", 1), -1);
	CU_ASSERT_EQUAL(errno, EMSGSIZE);
	CU_ASSERT_EQUAL(b.len, 10);
	buf_free(&b);
}

/* buf_printf formats into the room a buffer already has: text that fits, text that
 * fills it exactly, text that needs more, and text the limit refuses although the
 * allocation would hold it. The buffer stays NUL-terminated and unchanged on failure. */
static void
test_buf_printf_room(void)
{
	static const struct {
		size_t limit, reserve;
		const char *before, *arg;
		int rc;
		const char *after;
	} cases[] = {
		{ 0, 64, "ab", "cdef", 0, "abcdef" },
		{ 0, 8, "ab", "cdefgh", 0, "abcdefgh" },      /* 8 + NUL: exactly the room */
		{ 0, 8, "ab", "cdefghijk", 0, "abcdefghijk" }, /* grows */
		{ 6, 0, "ab", "cdef", 0, "abcdef" },           /* up to the limit */
		{ 6, 0, "ab", "cdefg", -1, "ab" },             /* past it, though allocated */
		{ 0, 0, "", "", 0, "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kls_buf b;
		buf_init(&b, cases[i].limit);
		CU_ASSERT_EQUAL_FATAL(buf_puts(&b, cases[i].before), 0);
		CU_ASSERT_EQUAL_FATAL(buf_reserve(&b, cases[i].reserve), 0);
		if (cases[i].limit)
			CU_ASSERT_TRUE(b.cap > cases[i].limit + 1); /* room past the limit */
		errno = 0;
		CU_ASSERT_EQUAL(buf_printf(&b, "%s", cases[i].arg), cases[i].rc);
		if (cases[i].rc < 0)
			CU_ASSERT_EQUAL(errno, EMSGSIZE);
		CU_ASSERT_EQUAL(b.len, strlen(cases[i].after));
		CU_ASSERT_STRING_EQUAL(b.data, cases[i].after);
		buf_free(&b);
	}
}

static void
test_buf_json_string_escapes(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "\"plain\"" },
		{ "q\"b\\", "\"q\\\"b\\\\\"" },
		{ "a\nb\tc\r", "\"a\\nb\\tc\\r\"" },
		{ "\x01\x1f", "\"\\u0001\\u001f\"" },
		{ "", "\"\"" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kls_buf b;
		buf_init(&b, 0);
		CU_ASSERT_EQUAL(buf_json_string(&b, cases[i].in), 0);
		CU_ASSERT_STRING_EQUAL(b.data, cases[i].out);
		buf_free(&b);
	}
}

static CU_TestInfo buf_tests[] = {
	{ "append grows", test_buf_append_grows },
	{ "limit refuses", test_buf_limit_refuses },
	{ "printf uses the room it has", test_buf_printf_room },
	{ "json string escapes", test_buf_json_string_escapes },
	CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
	{ "buf", NULL, NULL, NULL, NULL, buf_tests },
	CU_SUITE_INFO_NULL,
};

int
main(int argc, char **argv)
{
	return test_main(argc, argv, suites);
}
