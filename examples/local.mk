# examples: the public handler ABI header and the example handlers, built as
# dlopen-able modules (examples/.libs/<name>.so, installed in $(pkglibdir)).
kls_include_HEADERS += include/kls/handler.h

# A handler module exports its kls_handler descriptor and nothing else, so the
# helpers compiled into it can never interpose on kls-reader's own symbols.
KLS_HANDLER_MODULE_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared \
	-export-symbols-regex '^kls_handler$$'

pkglib_LTLIBRARIES += examples/counting.la examples/filelog.la examples/fault.la
examples_counting_la_SOURCES = examples/counting.c examples/support.c examples/support.h
examples_counting_la_LDFLAGS = $(KLS_HANDLER_MODULE_LDFLAGS)
examples_filelog_la_SOURCES = examples/filelog.c examples/support.c examples/support.h
examples_filelog_la_LDFLAGS = $(KLS_HANDLER_MODULE_LDFLAGS)
examples_fault_la_SOURCES = examples/fault.c examples/support.c examples/support.h
examples_fault_la_LDFLAGS = $(KLS_HANDLER_MODULE_LDFLAGS)

# multilang: runs handlers written for KCL's MultiLangDaemon (see examples/multilang.c).
pkglib_LTLIBRARIES += examples/multilang.la
examples_multilang_la_SOURCES = examples/multilang.c examples/multilang_child.c \
	examples/multilang.h examples/support.c examples/support.h
examples_multilang_la_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
examples_multilang_la_LDFLAGS = $(KLS_HANDLER_MODULE_LDFLAGS)
examples_multilang_la_LIBADD = $(JSONC_LIBS)
EXTRA_DIST += docs/migrating.md
