# ctl/: kls-ctl. The commands build as libklsctl.a so tests run them in-process.
noinst_LIBRARIES += ctl/libklsctl.a
ctl_libklsctl_a_CFLAGS = $(AM_CFLAGS) $(KLS_AWS_CFLAGS)
ctl_libklsctl_a_SOURCES = \
	ctl/ctl.c ctl/ctl.h \
	ctl/pick.c \
	ctl/status.c \
	ctl/watch.c \
	ctl/control_client.c ctl/control_client.h \
	ctl/actions.c \
	ctl/import_gokini.c

bin_PROGRAMS += ctl/kls-ctl
ctl_kls_ctl_SOURCES = ctl/main.c
# import talks to DynamoDB: the AWS libraries too.
ctl_kls_ctl_LDADD = ctl/libklsctl.a shm/libklsshm.a common/libklscommon.a $(KLS_AWS_LIBS)
