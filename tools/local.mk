# tools/: programs for people and scripts around kls, not part of a running consumer.
# kls-produce (installed) fills a stream; kls-fixture (not installed) is the fast
# Kinesis endpoint scripts/bench reads from; kls-rusage measures a process tree's CPU.
bin_PROGRAMS += tools/kls-produce
tools_kls_produce_SOURCES = tools/produce.c tools/payload.c tools/payload.h tools/cli.c tools/cli.h
tools_kls_produce_CFLAGS = $(AM_CFLAGS) $(KLS_AWS_CFLAGS)
tools_kls_produce_LDADD = common/libklscommon.a $(KLS_AWS_LIBS)

# Only tools/ defines noinst_PROGRAMS (built by `make`, never installed).
noinst_PROGRAMS = tools/kls-fixture tools/kls-rusage
tools_kls_fixture_SOURCES = tools/fixture.c tools/fixture_body.c tools/fixture.h \
	tools/payload.c tools/payload.h tools/cli.c tools/cli.h
tools_kls_fixture_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
tools_kls_fixture_LDADD = common/libklscommon.a $(JSONC_LIBS)
tools_kls_rusage_SOURCES = tools/rusage.c

dist_noinst_SCRIPTS += scripts/demo scripts/bench
EXTRA_DIST += scripts/bench.d/monitor.js
