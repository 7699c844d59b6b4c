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
check_PROGRAMS += tests/unit/getrecords_test tests/unit/base64_test
tests_unit_getrecords_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_getrecords_test_LDADD = $(TEST_COMMON_LIBS)
tests_unit_base64_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_base64_test_LDADD = $(TEST_COMMON_LIBS)
EXTRA_DIST += tests/bench/scan_bench.c tests/fuzz/getrecords_fuzz.c tests/fuzz/getrecords.dict \
	tests/fuzz/seeds/records.json tests/fuzz/seeds/closed.json tests/fuzz/seeds/spellings.json
CLEANFILES += tests/bench/scan_bench$(EXEEXT) tests/fuzz/getrecords_fuzz

# `make bench-scan`: CPU time per record, kls's scanner against json-c. Quote numbers
# only from a build configured without --enable-sanitizers (e.g. CFLAGS=-O2).
bench-scan: tests/bench/scan_bench$(EXEEXT)
	tests/bench/scan_bench$(EXEEXT)
tests/bench/scan_bench$(EXEEXT): $(srcdir)/tests/bench/scan_bench.c common/libklscommon.a
	@$(MKDIR_P) tests/bench
	$(CC) $(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) $(CPPFLAGS) $(KLS_AWS_CFLAGS) \
		$(AM_CFLAGS) $(CFLAGS) $(AM_LDFLAGS) $(LDFLAGS) -o $@ \
		$(srcdir)/tests/bench/scan_bench.c common/libklscommon.a $(KLS_AWS_LIBS) $(LIBS)

# `make fuzz`: the libFuzzer target for the scanner (needs clang; common/buf.c uses SIZE_MAX
# without <stdint.h>, which clang's headers do not bring in, hence -include). Run it with e.g.
# tests/fuzz/getrecords_fuzz -max_total_time=180 -dict=$(srcdir)/tests/fuzz/getrecords.dict \
#     CORPUS_DIR $(srcdir)/tests/fuzz/seeds
FUZZ_CC = clang
fuzz: tests/fuzz/getrecords_fuzz
tests/fuzz/getrecords_fuzz: $(srcdir)/tests/fuzz/getrecords_fuzz.c $(srcdir)/common/getrecords.c \
    $(srcdir)/common/base64.c $(srcdir)/common/buf.c
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -include stdint.h \
		-I$(top_builddir) $(AM_CPPFLAGS) $(JSONC_CFLAGS) \
		-o $@ $(srcdir)/tests/fuzz/getrecords_fuzz.c $(srcdir)/common/getrecords.c \
		$(srcdir)/common/base64.c $(srcdir)/common/buf.c $(JSONC_LIBS)
.PHONY: bench-scan fuzz

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
check_PROGRAMS += tests/unit/config_test
tests_unit_config_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_config_test_LDADD = $(TEST_COMMON_LIBS)

# == shm and kls-ctl tests ==
check_PROGRAMS += tests/unit/shm_test
tests_unit_shm_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_shm_test_LDADD = ctl/libklsctl.a shm/libklsshm.a $(TEST_COMMON_LIBS)

# == handler ABI, examples and reader loader tests ==
# Test handler modules: one source, one defect each (tests/handlers/bad.c). -rpath
# makes libtool build real shared objects although they are never installed;
# -Wno-override-init lets a variant override one field of KLS_HANDLER_V1_HEADER.
KLS_TEST_HANDLER_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared -rpath $(abs_builddir)
KLS_TEST_HANDLER_CFLAGS = $(AM_CFLAGS) -Wno-override-init
check_LTLIBRARIES += tests/handlers/minimal.la tests/handlers/no_symbol.la \
	tests/handlers/function_symbol.la tests/handlers/bad_magic.la \
	tests/handlers/bad_major.la tests/handlers/bad_minor.la tests/handlers/bad_size.la \
	tests/handlers/no_process.la
tests_handlers_minimal_la_SOURCES = tests/handlers/bad.c
tests_handlers_minimal_la_CFLAGS = $(KLS_TEST_HANDLER_CFLAGS)
tests_handlers_minimal_la_LDFLAGS = $(KLS_TEST_HANDLER_LDFLAGS)
tests_handlers_no_symbol_la_SOURCES = tests/handlers/bad.c
tests_handlers_no_symbol_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_NO_SYMBOL
tests_handlers_no_symbol_la_CFLAGS = $(KLS_TEST_HANDLER_CFLAGS)
tests_handlers_no_symbol_la_LDFLAGS = $(KLS_TEST_HANDLER_LDFLAGS)
tests_handlers_function_symbol_la_SOURCES = tests/handlers/bad.c
tests_handlers_function_symbol_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_FUNCTION
tests_handlers_function_symbol_la_CFLAGS = $(KLS_TEST_HANDLER_CFLAGS)
tests_handlers_function_symbol_la_LDFLAGS = $(KLS_TEST_HANDLER_LDFLAGS)
tests_handlers_bad_magic_la_SOURCES = tests/handlers/bad.c
tests_handlers_bad_magic_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_MAGIC
tests_handlers_bad_magic_la_CFLAGS = $(KLS_TEST_HANDLER_CFLAGS)
tests_handlers_bad_magic_la_LDFLAGS = $(KLS_TEST_HANDLER_LDFLAGS)
tests_handlers_bad_major_la_SOURCES = tests/handlers/bad.c
tests_handlers_bad_major_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_MAJOR
tests_handlers_bad_major_la_CFLAGS = $(KLS_TEST_HANDLER_CFLAGS)
tests_handlers_bad_major_la_LDFLAGS = $(KLS_TEST_HANDLER_LDFLAGS)
tests_handlers_bad_minor_la_SOURCES = tests/handlers/bad.c
tests_handlers_bad_minor_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_MINOR
tests_handlers_bad_minor_la_CFLAGS = $(KLS_TEST_HANDLER_CFLAGS)
tests_handlers_bad_minor_la_LDFLAGS = $(KLS_TEST_HANDLER_LDFLAGS)
tests_handlers_bad_size_la_SOURCES = tests/handlers/bad.c
tests_handlers_bad_size_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_SIZE
tests_handlers_bad_size_la_CFLAGS = $(KLS_TEST_HANDLER_CFLAGS)
tests_handlers_bad_size_la_LDFLAGS = $(KLS_TEST_HANDLER_LDFLAGS)
tests_handlers_no_process_la_SOURCES = tests/handlers/bad.c
tests_handlers_no_process_la_CPPFLAGS = $(AM_CPPFLAGS) -DBAD_NO_PROCESS
tests_handlers_no_process_la_CFLAGS = $(KLS_TEST_HANDLER_CFLAGS)
tests_handlers_no_process_la_LDFLAGS = $(KLS_TEST_HANDLER_LDFLAGS)

check_PROGRAMS += tests/unit/handler_load_test
tests_unit_handler_load_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_handler_load_test_LDADD = reader/libklsreader.a $(TEST_COMMON_LIBS)

check_PROGRAMS += tests/unit/checkpoint_ctx_test
tests_unit_checkpoint_ctx_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_checkpoint_ctx_test_LDADD = reader/libklsreader.a $(TEST_COMMON_LIBS)

# == supervisor tests ==
check_PROGRAMS += tests/unit/lease_test
tests_unit_lease_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_lease_test_LDADD = supervisor/libklsd.a $(TEST_COMMON_LIBS)

# == KPL tests ==
check_PROGRAMS += tests/unit/kpl_test
tests_unit_kpl_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_kpl_test_LDADD = $(TEST_COMMON_LIBS)
EXTRA_DIST += tests/kpl_invariants.h tests/bench/kpl_bench.c tests/fuzz/kpl_fuzz.c \
	tests/bench/bench.h tests/fuzz/fuzz.h
CLEANFILES += tests/bench/kpl_bench$(EXEEXT) tests/fuzz/kpl_fuzz

# `make bench-kpl`: CPU time per user record of de-aggregation. Quote numbers only from a
# build configured without --enable-sanitizers (e.g. CFLAGS=-O2).
bench-kpl: tests/bench/kpl_bench$(EXEEXT)
	tests/bench/kpl_bench$(EXEEXT)
tests/bench/kpl_bench$(EXEEXT): $(srcdir)/tests/bench/kpl_bench.c $(srcdir)/tests/bench/bench.h \
    common/libklscommon.a
	@$(MKDIR_P) tests/bench
	$(CC) $(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) $(CPPFLAGS) $(KLS_AWS_CFLAGS) \
		$(AM_CFLAGS) $(CFLAGS) $(AM_LDFLAGS) $(LDFLAGS) -o $@ \
		$(srcdir)/tests/bench/kpl_bench.c common/libklscommon.a $(KLS_AWS_LIBS) $(LIBS)

# The libFuzzer target for de-aggregation, built by `make fuzz` with the scanner's. Run:
# tests/fuzz/kpl_fuzz -max_total_time=120 CORPUS_DIR $(KLS_TESTDATA_DIR)/kpl
fuzz: tests/fuzz/kpl_fuzz
tests/fuzz/kpl_fuzz: $(srcdir)/tests/fuzz/kpl_fuzz.c $(srcdir)/tests/fuzz/fuzz.h \
    $(srcdir)/tests/kpl_invariants.h \
    $(srcdir)/common/kpl.c $(srcdir)/common/kpl_encode.c $(srcdir)/common/buf.c
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -include stdint.h \
		-I$(top_builddir) $(AM_CPPFLAGS) $(OPENSSL_CFLAGS) \
		-o $@ $(srcdir)/tests/fuzz/kpl_fuzz.c $(srcdir)/common/kpl.c \
		$(srcdir)/common/kpl_encode.c $(srcdir)/common/buf.c $(OPENSSL_LIBS)
.PHONY: bench-kpl

# == event stream tests ==
check_PROGRAMS += tests/unit/eventstream_test tests/unit/subscribe_event_test
tests_unit_eventstream_test_SOURCES = tests/unit/eventstream_test.c \
	tests/eventstream_enc.c tests/eventstream_enc.h
tests_unit_eventstream_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_eventstream_test_LDADD = $(TEST_COMMON_LIBS)
tests_unit_subscribe_event_test_SOURCES = tests/unit/subscribe_event_test.c \
	tests/eventstream_enc.c tests/eventstream_enc.h
tests_unit_subscribe_event_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_subscribe_event_test_LDADD = $(TEST_COMMON_LIBS)
EXTRA_DIST += tests/fuzz/eventstream_fuzz.c tests/fuzz/eventstream_seeds/subscription.bin \
	tests/fuzz/eventstream_seeds/exception.bin tests/fuzz/eventstream_seeds/error.bin
CLEANFILES += tests/fuzz/eventstream_fuzz

# `make fuzz` also builds the event stream target (decoder, then each message through
# subscribe_event and the scanner). Run it with e.g.
# tests/fuzz/eventstream_fuzz -max_total_time=120 CORPUS_DIR $(srcdir)/tests/fuzz/eventstream_seeds \
#     $(KLS_TESTDATA_DIR)/eventstream/encoded/positive
EVENTSTREAM_FUZZ_SRC = $(srcdir)/tests/fuzz/eventstream_fuzz.c $(srcdir)/tests/eventstream_enc.c \
	$(srcdir)/common/eventstream.c $(srcdir)/common/subscribe_event.c \
	$(srcdir)/common/getrecords.c $(srcdir)/common/base64.c $(srcdir)/common/buf.c \
	$(srcdir)/common/retry.c
fuzz: tests/fuzz/eventstream_fuzz
tests/fuzz/eventstream_fuzz: $(EVENTSTREAM_FUZZ_SRC)
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -include stdint.h \
		-I$(top_builddir) $(AM_CPPFLAGS) $(JSONC_CFLAGS) $(ZLIB_CFLAGS) \
		-o $@ $(EVENTSTREAM_FUZZ_SRC) $(JSONC_LIBS) $(ZLIB_LIBS)

# == reader tests ==
tests_libklstest_a_SOURCES += tests/fake_klsd.c tests/fake_klsd.h
check_PROGRAMS += tests/unit/pace_test tests/unit/fence_test tests/integration/reader_test
tests_unit_pace_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_pace_test_LDADD = reader/libklsreader.a $(TEST_COMMON_LIBS)
tests_unit_fence_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_fence_test_LDADD = reader/libklsreader.a shm/libklsshm.a $(TEST_COMMON_LIBS)
# Runs reader/kls-reader against kinesalite with the example handlers: build them first.
tests_integration_reader_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_reader_test_LDADD = reader/libklsreader.a shm/libklsshm.a $(TEST_COMMON_LIBS)
tests_integration_reader_test_DEPENDENCIES = reader/kls-reader examples/filelog.la \
	examples/fault.la examples/counting.la reader/libklsreader.a shm/libklsshm.a \
	tests/libklstest.a common/libklscommon.a

# `make bench-reader`: CPU time per record of one kls-reader (see tests/bench/reader_bench.c).
# Quote numbers only from a build configured without --enable-sanitizers (e.g. CFLAGS=-O2).
EXTRA_DIST += tests/bench/reader_bench.c
CLEANFILES += tests/bench/reader_bench$(EXEEXT)
bench-reader: tests/bench/reader_bench$(EXEEXT) reader/kls-reader$(EXEEXT) examples/counting.la
	tests/bench/reader_bench$(EXEEXT) $(BENCH_READER_ARGS)
tests/bench/reader_bench$(EXEEXT): $(srcdir)/tests/bench/reader_bench.c tests/libklstest.a \
    shm/libklsshm.a common/libklscommon.a
	@$(MKDIR_P) tests/bench
	$(CC) $(DEFS) $(DEFAULT_INCLUDES) $(TEST_CPPFLAGS) $(CPPFLAGS) \
		$(AM_CFLAGS) $(CFLAGS) $(AM_LDFLAGS) $(LDFLAGS) -o $@ $(srcdir)/tests/bench/reader_bench.c \
		tests/libklstest.a shm/libklsshm.a common/libklscommon.a $(KLS_AWS_LIBS) \
		$(CUNIT_LIBS) $(LIBS)
.PHONY: bench-reader

# KPL de-aggregation in the reader: the batch builder and resume filter (unit), and
# kls-reader end to end with aggregated records (integration).
check_PROGRAMS += tests/unit/deagg_test
tests_unit_deagg_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_deagg_test_LDADD = reader/libklsreader.a shm/libklsshm.a $(TEST_COMMON_LIBS)
check_PROGRAMS += tests/integration/reader_kpl_test
tests_integration_reader_kpl_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_reader_kpl_test_LDADD = shm/libklsshm.a $(TEST_COMMON_LIBS)
tests_integration_reader_kpl_test_DEPENDENCIES = reader/kls-reader examples/filelog.la \
	examples/fault.la shm/libklsshm.a tests/libklstest.a common/libklscommon.a

# == service tests: sd_notify, frames, control socket, metrics, install ==
check_PROGRAMS += tests/unit/sdnotify_test tests/unit/frame_test
tests_unit_sdnotify_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_sdnotify_test_LDADD = $(TEST_COMMON_LIBS)
tests_unit_frame_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_frame_test_LDADD = $(TEST_COMMON_LIBS)
check_PROGRAMS += tests/unit/control_test
tests_unit_control_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_control_test_LDADD = supervisor/libklsd.a ctl/libklsctl.a shm/libklsshm.a \
	$(TEST_COMMON_LIBS)
check_PROGRAMS += tests/unit/metrics_test
tests_unit_metrics_test_CPPFLAGS = $(TEST_CPPFLAGS) $(MHD_CFLAGS)
tests_unit_metrics_test_LDADD = supervisor/libklsd.a $(TEST_COMMON_LIBS) $(MHD_LIBS)
# Shell tests: the init script (built from scripts/kls.init) and make install.
TESTS += tests/init_test.sh tests/install_test.sh
EXTRA_DIST += tests/init_test.sh tests/install_test.sh
check_SCRIPTS = scripts/init.d/kls

# == klsd tests ==
KLSD_TEST_LIBS = supervisor/libklsd.a shm/libklsshm.a $(TEST_COMMON_LIBS)
KLSD_TEST_DEPS = supervisor/libklsd.a shm/libklsshm.a tests/libklstest.a common/libklscommon.a
check_PROGRAMS += tests/unit/lease_item_test tests/unit/pool_test tests/unit/readers_test \
	tests/unit/checkpoints_test tests/unit/shard_sync_test tests/unit/worker_id_test
tests_unit_lease_item_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_lease_item_test_LDADD = $(KLSD_TEST_LIBS)
tests_unit_pool_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_pool_test_LDADD = $(KLSD_TEST_LIBS)
tests_unit_readers_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_readers_test_LDADD = $(KLSD_TEST_LIBS)
tests_unit_checkpoints_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_checkpoints_test_LDADD = $(KLSD_TEST_LIBS)
tests_unit_shard_sync_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_shard_sync_test_LDADD = $(KLSD_TEST_LIBS)
tests_unit_worker_id_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_worker_id_test_LDADD = $(KLSD_TEST_LIBS)
check_PROGRAMS += tests/integration/klsd_lease_test tests/integration/klsd_config_test
tests_integration_klsd_lease_test_SOURCES = tests/integration/klsd_lease_test.c \
	tests/klsd_fixture.c tests/klsd_fixture.h tests/fake_reader.c tests/fake_reader.h
tests_integration_klsd_lease_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_klsd_lease_test_LDADD = $(KLSD_TEST_LIBS)
tests_integration_klsd_config_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_klsd_config_test_LDADD = $(TEST_COMMON_LIBS)
check_PROGRAMS += tests/integration/klsd_reader_test
tests_integration_klsd_reader_test_SOURCES = tests/integration/klsd_reader_test.c \
	tests/klsd_fixture.c tests/klsd_fixture.h
tests_integration_klsd_reader_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_klsd_reader_test_LDADD = $(KLSD_TEST_LIBS)
# The integration tests run the klsd binary (and the last one kls-reader and the examples).
tests_integration_klsd_lease_test_DEPENDENCIES = supervisor/klsd$(EXEEXT) $(KLSD_TEST_DEPS)
tests_integration_klsd_config_test_DEPENDENCIES = supervisor/klsd$(EXEEXT) \
	tests/libklstest.a common/libklscommon.a
tests_integration_klsd_reader_test_DEPENDENCIES = supervisor/klsd$(EXEEXT) \
	reader/kls-reader$(EXEEXT) examples/filelog.la examples/fault.la $(KLSD_TEST_DEPS)

# == tools tests ==
# kls-fixture and kls-produce run as programs (from the build tree), so these tests
# depend on them being built first.
check_PROGRAMS += tests/integration/fixture_test tests/integration/produce_test
tests_integration_fixture_test_SOURCES = tests/integration/fixture_test.c tools/payload.c \
	tests/spawn.c tests/spawn.h
tests_integration_fixture_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_fixture_test_LDADD = $(TEST_COMMON_LIBS)
tests_integration_fixture_test_DEPENDENCIES = tools/kls-fixture$(EXEEXT) tests/libklstest.a \
	common/libklscommon.a
tests_integration_produce_test_SOURCES = tests/integration/produce_test.c tools/payload.c \
	tests/spawn.c tests/spawn.h
tests_integration_produce_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_produce_test_LDADD = $(TEST_COMMON_LIBS)
tests_integration_produce_test_DEPENDENCIES = tools/kls-produce$(EXEEXT) tests/libklstest.a \
	common/libklscommon.a

# == migration tests ==
# multilang.so driven with a fake ctx; its child is tests/multilang/sample_app.py.
check_PROGRAMS += tests/unit/multilang_test
tests_unit_multilang_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_multilang_test_LDADD = reader/libklsreader.a $(TEST_COMMON_LIBS)
tests_unit_multilang_test_DEPENDENCIES = examples/multilang.la reader/libklsreader.a \
	tests/libklstest.a common/libklscommon.a
EXTRA_DIST += tests/multilang/sample_app.py
# kls-ctl import gokini: pure parts, then the command against dynalite.
check_PROGRAMS += tests/unit/import_gokini_test tests/integration/import_gokini_test
tests_unit_import_gokini_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_import_gokini_test_LDADD = ctl/libklsctl.a shm/libklsshm.a $(TEST_COMMON_LIBS)
tests_integration_import_gokini_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_import_gokini_test_LDADD = ctl/libklsctl.a shm/libklsshm.a $(TEST_COMMON_LIBS)

# == klsd service tests ==
# klsd with the real kls-reader and the examples: notify order, control commands, /metrics,
# status --watch, poison records (fault.so).
check_PROGRAMS += tests/integration/klsd_service_test
tests_integration_klsd_service_test_SOURCES = tests/integration/klsd_service_test.c \
	tests/klsd_fixture.c tests/klsd_fixture.h
tests_integration_klsd_service_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_klsd_service_test_LDADD = ctl/libklsctl.a $(KLSD_TEST_LIBS)
tests_integration_klsd_service_test_DEPENDENCIES = supervisor/klsd$(EXEEXT) \
	reader/kls-reader$(EXEEXT) examples/filelog.la examples/fault.la ctl/libklsctl.a \
	$(KLSD_TEST_DEPS)
check_PROGRAMS += tests/unit/watch_test
tests_unit_watch_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_watch_test_LDADD = ctl/libklsctl.a shm/libklsshm.a $(TEST_COMMON_LIBS)

# == fan-out tests ==
check_PROGRAMS += tests/unit/kinesis_consumer_test
tests_unit_kinesis_consumer_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_kinesis_consumer_test_LDADD = $(TEST_COMMON_LIBS)
# kls-reader in fan-out mode against a loopback stub (the test plays klsd).
check_PROGRAMS += tests/unit/subscribe_test
tests_unit_subscribe_test_SOURCES = tests/unit/subscribe_test.c \
	tests/eventstream_enc.c tests/eventstream_enc.h
tests_unit_subscribe_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_subscribe_test_LDADD = shm/libklsshm.a $(TEST_COMMON_LIBS)
tests_unit_subscribe_test_DEPENDENCIES = reader/kls-reader examples/filelog.la \
	shm/libklsshm.a tests/libklstest.a common/libklscommon.a
# Consumers, kls-reader in fan-out mode and the latency against polling, on kinesis-local
# (KINESIS_LOCAL_ENDPOINT: scripts/test starts it).
# klsd too: it registers the consumer at start.
check_PROGRAMS += tests/integration/fanout_test
tests_integration_fanout_test_SOURCES = tests/integration/fanout_test.c \
	tests/klsd_fixture.c tests/klsd_fixture.h
tests_integration_fanout_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_fanout_test_LDADD = ctl/libklsctl.a supervisor/libklsd.a shm/libklsshm.a \
	$(TEST_COMMON_LIBS)
tests_integration_fanout_test_DEPENDENCIES = reader/kls-reader supervisor/klsd$(EXEEXT) \
	examples/filelog.la ctl/libklsctl.a supervisor/libklsd.a shm/libklsshm.a \
	tests/libklstest.a common/libklscommon.a

# == multi-worker tests ==
# Several klsd on one machine sharing a stream and a lease table (issue 4). They run
# klsd, kls-reader, the filelog example and kls-produce from the build tree.
MULTI_TEST_SOURCES = tests/fleet.c tests/fleet.h tests/overlap.c tests/overlap.h \
	tests/tcp_proxy.c tests/tcp_proxy.h tests/klsd_fixture.c tests/klsd_fixture.h \
	tests/spawn.c tests/spawn.h tools/payload.c tools/payload.h
MULTI_TEST_DEPS = supervisor/klsd$(EXEEXT) reader/kls-reader$(EXEEXT) examples/filelog.la \
	tools/kls-produce$(EXEEXT) $(KLSD_TEST_DEPS)
check_PROGRAMS += tests/unit/overlap_test
tests_unit_overlap_test_SOURCES = tests/unit/overlap_test.c tests/overlap.c tests/overlap.h \
	tools/payload.c tools/payload.h
tests_unit_overlap_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_overlap_test_LDADD = $(TEST_COMMON_LIBS)
check_PROGRAMS += tests/integration/multi_balance_test
tests_integration_multi_balance_test_SOURCES = tests/integration/multi_balance_test.c \
	$(MULTI_TEST_SOURCES)
tests_integration_multi_balance_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_multi_balance_test_LDADD = $(KLSD_TEST_LIBS)
tests_integration_multi_balance_test_DEPENDENCIES = $(MULTI_TEST_DEPS)
check_PROGRAMS += tests/integration/multi_failover_test
tests_integration_multi_failover_test_SOURCES = tests/integration/multi_failover_test.c \
	$(MULTI_TEST_SOURCES)
tests_integration_multi_failover_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_multi_failover_test_LDADD = $(KLSD_TEST_LIBS)
tests_integration_multi_failover_test_DEPENDENCIES = $(MULTI_TEST_DEPS)
check_PROGRAMS += tests/integration/multi_reshard_test
tests_integration_multi_reshard_test_SOURCES = tests/integration/multi_reshard_test.c \
	$(MULTI_TEST_SOURCES)
tests_integration_multi_reshard_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_multi_reshard_test_LDADD = $(KLSD_TEST_LIBS)
tests_integration_multi_reshard_test_DEPENDENCIES = $(MULTI_TEST_DEPS)
check_PROGRAMS += tests/integration/multi_clock_test
tests_integration_multi_clock_test_SOURCES = tests/integration/multi_clock_test.c \
	$(MULTI_TEST_SOURCES)
tests_integration_multi_clock_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_multi_clock_test_LDADD = $(KLSD_TEST_LIBS)
tests_integration_multi_clock_test_DEPENDENCIES = $(MULTI_TEST_DEPS)
check_PROGRAMS += tests/integration/multi_handoff_test
tests_integration_multi_handoff_test_SOURCES = tests/integration/multi_handoff_test.c \
	tests/fake_reader.c tests/fake_reader.h $(MULTI_TEST_SOURCES)
tests_integration_multi_handoff_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_multi_handoff_test_LDADD = $(KLSD_TEST_LIBS)
tests_integration_multi_handoff_test_DEPENDENCIES = $(MULTI_TEST_DEPS)

# == checkpoint coalescing tests ==
# klsd with real readers, a DynamoDB counting proxy and the default lease timings.
check_PROGRAMS += tests/integration/klsd_ckpt_test
tests_integration_klsd_ckpt_test_SOURCES = tests/integration/klsd_ckpt_test.c \
	$(MULTI_TEST_SOURCES)
tests_integration_klsd_ckpt_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_klsd_ckpt_test_LDADD = $(KLSD_TEST_LIBS)
tests_integration_klsd_ckpt_test_DEPENDENCIES = $(MULTI_TEST_DEPS)

# == KCL adoption tests ==
# klsd on lease tables written in KCL's own item format (issue 7).
check_PROGRAMS += tests/integration/kcl_adopt_test
tests_integration_kcl_adopt_test_SOURCES = tests/integration/kcl_adopt_test.c \
	$(MULTI_TEST_SOURCES)
tests_integration_kcl_adopt_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_kcl_adopt_test_LDADD = $(KLSD_TEST_LIBS)
tests_integration_kcl_adopt_test_DEPENDENCIES = $(MULTI_TEST_DEPS)

# == CloudWatch tests ==
check_PROGRAMS += tests/unit/cloudwatch_test
tests_unit_cloudwatch_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_cloudwatch_test_LDADD = $(TEST_COMMON_LIBS)
check_PROGRAMS += tests/unit/cwpub_test
tests_unit_cwpub_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_cwpub_test_LDADD = supervisor/libklsd.a shm/libklsshm.a $(TEST_COMMON_LIBS)
check_PROGRAMS += tests/integration/klsd_cloudwatch_test
tests_integration_klsd_cloudwatch_test_SOURCES = tests/integration/klsd_cloudwatch_test.c \
	tests/klsd_fixture.c tests/klsd_fixture.h
tests_integration_klsd_cloudwatch_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_integration_klsd_cloudwatch_test_LDADD = $(KLSD_TEST_LIBS)
tests_integration_klsd_cloudwatch_test_DEPENDENCIES = supervisor/klsd$(EXEEXT) \
	reader/kls-reader$(EXEEXT) examples/filelog.la $(KLSD_TEST_DEPS)

# == handler built outside the tree ==
# make install DESTDIR=..., tests/handlers/outside.c built against the installed kls.pc
# out of the tree, run by the installed klsd and kls-reader against the emulators.
TESTS += tests/outside_handler_test.sh
EXTRA_DIST += tests/outside_handler_test.sh tests/handlers/outside.c

# == observe tests ==
# shm/latency: the histograms readers publish and klsd adds to its metrics.
check_PROGRAMS += tests/unit/latency_test
tests_unit_latency_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_latency_test_LDADD = shm/libklsshm.a $(TEST_COMMON_LIBS)

# == Kinesis emulator fixture: client, stream create/delete/put ==
tests_libklstest_a_SOURCES += tests/kinesis_fixture.c tests/kinesis_fixture.h

# == timestamp tests ==
check_PROGRAMS += tests/unit/timestamp_test
tests_unit_timestamp_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_timestamp_test_LDADD = $(TEST_COMMON_LIBS)

# == lease write metrics tests ==
# supervisor/lease_store: the time and failure reason the lease write metrics take.
check_PROGRAMS += tests/unit/lease_store_test
tests_unit_lease_store_test_CPPFLAGS = $(TEST_CPPFLAGS)
tests_unit_lease_store_test_LDADD = $(KLSD_TEST_LIBS)

# == end of test blocks ==

TESTS += $(check_PROGRAMS)
