# supervisor/: klsd, the per-host supervisor. Built as a convenience library so
# tests link exactly the parts they exercise; supervisor/klsd links it with main.c.
noinst_LIBRARIES += supervisor/libklsd.a
supervisor_libklsd_a_CFLAGS = $(AM_CFLAGS) $(KLS_AWS_CFLAGS)
supervisor_libklsd_a_SOURCES = \
	supervisor/lease.c supervisor/lease.h

# == control socket and metrics ==
# klsd links these with $(MHD_LIBS) $(MSGPACK_LIBS) (KLS_AWS_LIBS has msgpack).
supervisor_libklsd_a_CFLAGS += $(MHD_CFLAGS)
supervisor_libklsd_a_SOURCES += \
	supervisor/control.c supervisor/control.h \
	supervisor/metrics.c supervisor/metrics.h supervisor/metrics_http.c
