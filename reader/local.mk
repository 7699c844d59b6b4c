# reader: kls-reader, one process per owned shard. Its code builds as the
# convenience library reader/libklsreader.a so tests link exactly what they use.
noinst_LIBRARIES += reader/libklsreader.a
reader_libklsreader_a_SOURCES =

# == handler loader and checkpoint ctx ==
reader_libklsreader_a_SOURCES += \
	reader/handler_load.c reader/handler_load.h \
	reader/checkpoint_ctx.c reader/checkpoint_ctx.h

# == end of module blocks ==
