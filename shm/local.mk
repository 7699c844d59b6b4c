# shm/: the shared-memory table (layout, create/attach/validate/repair, seqcounts, futex
# handshake) that klsd, kls-reader and kls-ctl share. See shm/README.md.
noinst_LIBRARIES += shm/libklsshm.a
shm_libklsshm_a_SOURCES = \
	shm/table.c shm/table.h \
	shm/latency.c shm/latency.h \
	shm/seqcount.c shm/seqcount.h \
	shm/futex.c shm/futex.h \
	shm/proc.c
EXTRA_DIST += shm/README.md
