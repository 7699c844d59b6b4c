# common/: code every process role uses. Library code: returns errors, never exits.
noinst_LIBRARIES += common/libklscommon.a
common_libklscommon_a_CFLAGS = $(AM_CFLAGS) $(KLS_AWS_CFLAGS)
common_libklscommon_a_SOURCES = \
	common/log.c common/log.h \
	common/clock.c common/clock.h \
	common/buf.c common/buf.h
