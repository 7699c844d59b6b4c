# tests/: CUnit programs, one per module (unit/<module>_test.c) and per integration
# scenario (integration/<scenario>_test.c). Integration tests need the emulators:
# scripts/test starts them and exports KINESIS_ENDPOINT and DYNAMODB_ENDPOINT.
noinst_LIBRARIES += tests/libklstest.a
tests_libklstest_a_CPPFLAGS = $(AM_CPPFLAGS) $(CUNIT_CFLAGS) \
	-DKLS_TESTDATA_DIR='"$(KLS_TESTDATA_DIR)"' \
	-DKLS_TOP_SRCDIR='"$(abs_top_srcdir)"' -DKLS_TOP_BUILDDIR='"$(abs_top_builddir)"'
tests_libklstest_a_SOURCES = tests/harness.c tests/harness.h tests/stub_http.c tests/stub_http.h

TEST_CPPFLAGS = $(AM_CPPFLAGS) $(CUNIT_CFLAGS) $(KLS_AWS_CFLAGS)
TEST_COMMON_LIBS = tests/libklstest.a common/libklscommon.a $(KLS_AWS_LIBS) $(CUNIT_LIBS)

DISTCHECK_CONFIGURE_FLAGS = --with-testdata=$(KLS_TESTDATA_DIR)

check_PROGRAMS += tests/unit/buf_test
tests_unit_buf_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_buf_test_LDADD = $(TEST_COMMON_LIBS)

# == request layer tests ==
check_PROGRAMS += tests/unit/sigv4_test
tests_unit_sigv4_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_sigv4_test_LDADD = $(TEST_COMMON_LIBS)
check_PROGRAMS += tests/unit/retry_test
tests_unit_retry_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_retry_test_LDADD = $(TEST_COMMON_LIBS)
check_PROGRAMS += tests/unit/http_test
tests_unit_http_test_CPPFLAGS = $(TEST_CPPFLAGS)
# libssl only for the test's own TLS server (kls itself reaches TLS through libcurl).
tests_unit_http_test_LDADD = $(TEST_COMMON_LIBS) -lssl
check_PROGRAMS += tests/unit/aws_test
tests_unit_aws_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_aws_test_LDADD = $(TEST_COMMON_LIBS)

# == credentials tests ==
check_PROGRAMS += tests/unit/creds_test
tests_unit_creds_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_creds_test_LDADD = $(TEST_COMMON_LIBS)

# == GetRecords scanner tests ==

# == Kinesis and DynamoDB client tests ==
tests_libklstest_a_SOURCES += tests/stub_script.c tests/stub_script.h
check_PROGRAMS += tests/unit/kinesis_test tests/unit/dynamodb_test \
	tests/integration/kinesis_test tests/integration/dynamodb_test
tests_unit_kinesis_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_kinesis_test_LDADD = $(TEST_COMMON_LIBS)
tests_unit_dynamodb_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_dynamodb_test_LDADD = $(TEST_COMMON_LIBS)
tests_integration_kinesis_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_kinesis_test_LDADD = $(TEST_COMMON_LIBS)
tests_integration_dynamodb_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_dynamodb_test_LDADD = $(TEST_COMMON_LIBS)

# == configuration tests ==

# == shm and kls-ctl tests ==

# == handler ABI, examples and reader loader tests ==

# == end of test blocks ==

TESTS += $(check_PROGRAMS)
