# common/: code every process role uses. Library code: returns errors, never exits.
# Each block below belongs to one module group; add sources in your own block.
noinst_LIBRARIES += common/libklscommon.a
common_libklscommon_a_CFLAGS = $(AM_CFLAGS) $(KLS_AWS_CFLAGS)
common_libklscommon_a_SOURCES = \
	common/log.c common/log.h \
	common/clock.c common/clock.h \
	common/buf.c common/buf.h \
	common/aws.h common/creds.h common/reader_proto.h

# == request layer: http, sigv4, retry, aws (calls) ==
common_libklscommon_a_SOURCES += common/sigv4.c common/sigv4.h common/http.h \
	common/retry.c common/retry.h common/http.c common/aws.c

# == credentials chain ==
common_libklscommon_a_SOURCES += common/creds.c common/creds_int.h \
	common/creds_files.c common/creds_http.c

# == GetRecords scanner, base64 ==
common_libklscommon_a_SOURCES += \
	common/getrecords.c common/getrecords.h \
	common/base64.c common/base64.h

# == Kinesis and DynamoDB clients ==
common_libklscommon_a_SOURCES += \
	common/awsjson.c common/awsjson.h \
	common/kinesis.c common/kinesis.h common/kinesis_int.h common/kinesis_admin.c \
	common/dynamodb.c common/dynamodb.h common/dynamodb_int.h \
	common/dynamodb_value.c common/dynamodb_write.c

# == configuration ==
common_libklscommon_a_SOURCES += \
	common/conf.c common/conf.h common/conf_keys.c common/conf_keys.h
EXTRA_DIST += docs/kls.conf.md scripts/kls.conf.example

# == KPL de-aggregation ==
common_libklscommon_a_SOURCES += common/kpl.c common/kpl.h \
	common/kpl_encode.c common/kpl_encode.h

# == event stream (enhanced fan-out) ==
common_libklscommon_a_SOURCES += \
	common/eventstream.c common/eventstream.h \
	common/subscribe_event.c common/subscribe_event.h
# zlib's crc32 for the framing's two CRCs (see common/eventstream.c for why not our own).
KLS_AWS_LIBS += $(ZLIB_LIBS)
KLS_AWS_CFLAGS += $(ZLIB_CFLAGS)

# == service: sd_notify, control-socket frames ==
common_libklscommon_a_SOURCES += \
	common/sdnotify.c common/sdnotify.h \
	common/frame.c common/frame.h

# == enhanced fan-out: stream consumers, SubscribeToShard ==
common_libklscommon_a_SOURCES += common/kinesis_consumer.c common/kinesis_consumer.h

# == CloudWatch PutMetricData bodies ==
common_libklscommon_a_SOURCES += common/cloudwatch.c common/cloudwatch.h

# == timestamps: RFC 3339, epoch seconds ==
common_libklscommon_a_SOURCES += common/timestamp.c common/timestamp.h

# == end of module blocks ==
