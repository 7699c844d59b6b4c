# common/: code every process role uses. Library code: returns errors, never exits.
# Each block below belongs to one module group; add sources in your own block.
noinst_LIBRARIES += common/libklscommon.a
common_libklscommon_a_CFLAGS = $(AM_CFLAGS) $(KLS_AWS_CFLAGS)
common_libklscommon_a_SOURCES = \
	common/log.c common/log.h \
	common/clock.c common/clock.h \
	common/buf.c common/buf.h \
	common/aws.h common/creds.h

# == request layer: http, sigv4, retry, aws (calls) ==

# == credentials chain ==

# == GetRecords scanner, base64 ==
common_libklscommon_a_SOURCES += \
	common/getrecords.c common/getrecords.h \
	common/base64.c common/base64.h

# == Kinesis and DynamoDB clients ==

# == configuration ==

# == end of module blocks ==
