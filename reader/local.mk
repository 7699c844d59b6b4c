# reader: kls-reader, one process per owned shard. Its code builds as the
# convenience library reader/libklsreader.a so tests link exactly what they use.
noinst_LIBRARIES += reader/libklsreader.a
reader_libklsreader_a_SOURCES =

# == handler loader and checkpoint ctx ==
reader_libklsreader_a_SOURCES += \
	reader/handler_load.c reader/handler_load.h \
	reader/checkpoint_ctx.c reader/checkpoint_ctx.h

# == kls-reader: setup, GetRecords loop, handler calls, handshake, fence ==
reader_libklsreader_a_SOURCES += reader/reader.h \
	reader/pace.c reader/pace.h \
	reader/fence.c reader/fence.h \
	reader/handshake.c \
	reader/deliver.c \
	reader/dead_letter.c \
	reader/fetch.c
pkglibexec_PROGRAMS += reader/kls-reader
reader_kls_reader_SOURCES = reader/main.c
# libbsd's overlay headers give <unistd.h> setproctitle.
reader_kls_reader_CPPFLAGS = $(AM_CPPFLAGS) $(LIBBSD_CFLAGS)
reader_kls_reader_LDADD = reader/libklsreader.a shm/libklsshm.a common/libklscommon.a \
	$(KLS_AWS_LIBS)

# == KPL de-aggregation in the reader ==
reader_libklsreader_a_SOURCES += reader/deagg.c reader/deagg.h

# == enhanced fan-out: the SubscribeToShard loop ==
reader_libklsreader_a_SOURCES += reader/subscribe.c reader/subscribe.h

# == process title (with [draining]) ==
reader_libklsreader_a_SOURCES += reader/title.c

# == end of module blocks ==
