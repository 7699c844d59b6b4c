# supervisor/: klsd, the per-host supervisor. Built as a convenience library so
# tests link exactly the parts they exercise; supervisor/klsd links it with main.c.
noinst_LIBRARIES += supervisor/libklsd.a
supervisor_libklsd_a_CFLAGS = $(AM_CFLAGS) $(KLS_AWS_CFLAGS)
supervisor_libklsd_a_SOURCES = \
	supervisor/lease.c supervisor/lease.h

# == control socket and metrics ==
# klsd links these with $(MSGPACK_LIBS) (KLS_AWS_LIBS has msgpack); libmicrohttpd is
# loaded with dlopen when /metrics starts (metrics_http.c says why).
supervisor_libklsd_a_CFLAGS += $(MHD_CFLAGS)
supervisor_libklsd_a_SOURCES += \
	supervisor/control.c supervisor/control.h \
	supervisor/metrics.c supervisor/metrics.h supervisor/metrics_http.c

# == klsd ==
supervisor_libklsd_a_SOURCES += \
	supervisor/lease_item.c supervisor/lease_item.h \
	supervisor/lease_store.c supervisor/lease_store.h \
	supervisor/pool.c supervisor/pool.h \
	supervisor/readers.c supervisor/readers.h \
	supervisor/checkpoints.c supervisor/checkpoints.h \
	supervisor/shard_sync.c supervisor/shard_sync.h \
	supervisor/worker_id.c supervisor/worker_id.h \
	supervisor/klsd.c supervisor/klsd.h supervisor/klsd_int.h \
	supervisor/held.c supervisor/sync.c supervisor/supervise.c

sbin_PROGRAMS += supervisor/klsd
supervisor_klsd_SOURCES = supervisor/main.c
supervisor_klsd_CFLAGS = $(AM_CFLAGS) $(KLS_AWS_CFLAGS)
supervisor_klsd_LDADD = supervisor/libklsd.a shm/libklsshm.a common/libklscommon.a \
	$(KLS_AWS_LIBS)

# == klsd service: notify, daemon, control commands, metrics, reload, poison records ==
supervisor_libklsd_a_SOURCES += supervisor/service.c supervisor/service.h \
	supervisor/commands.c supervisor/observe.c supervisor/reload.c supervisor/poison.c

# == CloudWatch metrics: KCL names, statistic sets, publisher thread ==
supervisor_libklsd_a_SOURCES += supervisor/cloudwatch.c supervisor/cloudwatch.h

# == end of module blocks ==
