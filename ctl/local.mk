# ctl/: kls-ctl. The commands build as libklsctl.a so tests run them in-process.
noinst_LIBRARIES += ctl/libklsctl.a
ctl_libklsctl_a_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(MSGPACK_CFLAGS)
ctl_libklsctl_a_SOURCES = \
	ctl/ctl.c ctl/ctl.h \
	ctl/pick.c \
	ctl/status.c \
	ctl/control_client.c ctl/control_client.h \
	ctl/actions.c

bin_PROGRAMS += ctl/kls-ctl
ctl_kls_ctl_SOURCES = ctl/main.c
ctl_kls_ctl_LDADD = ctl/libklsctl.a shm/libklsshm.a common/libklscommon.a $(JSONC_LIBS) $(MSGPACK_LIBS)
