/*
 * The contract between klsd and the kls-reader processes it starts: how a reader is
 * executed, what it inherits, and what its exit status means. Both sides include this
 * header; nothing else about their conversation goes outside the shm table.
 *
 * klsd fork+execs (never just forks: no libcurl/OpenSSL state crosses fork) from its
 * main thread (PR_SET_PDEATHSIG follows the thread that forked):
 *
 *   kls-reader --config-fd FD --shm NAME --slot N --wake-fd FD
 *
 *   --config-fd  a sealed memfd holding the effective configuration klsd validated
 *                (config_write output): the reader never re-reads a file that may
 *                have changed since klsd started.
 *   --shm        the shm table name ("/kls.<app>"); the slot's lease group already
 *                holds the shard id, lease counter, deadline and persisted checkpoint.
 *   --slot       the slot index the reader owns (its progress group).
 *   --wake-fd    write end of a per-reader pipe (O_NONBLOCK): the reader writes one
 *                byte after it publishes a checkpoint request or a state change, so
 *                klsd's poll loop wakes; klsd answers through the lease group and a
 *                futex wake on the persisted generation.
 *
 * Every other descriptor is closed (close_range) before exec.
 */
#ifndef KLS_READER_PROTO_H
#define KLS_READER_PROTO_H

/* kls-reader exit statuses. Death by signal is a crash: respawn with backoff. */
enum reader_exit {
	READER_EXIT_DRAINED = 0,    /* drained on DRAIN/STOP or handed off: do not respawn */
	READER_EXIT_TRANSIENT = 1,  /* transient failure: respawn with backoff */
	READER_EXIT_PERMANENT = 2,  /* bad handler, ABI mismatch, bad config: never respawn,
				     * mark the slot failed and keep its error for kls-ctl */
	READER_EXIT_LEASE_LOST = 3, /* lease deadline passed or lease gone */
	READER_EXIT_SHARD_END = 4,  /* reached the end of a closed shard; SHARD_END persisted */
};

#define READER_EXIT_NAME(s)                                   \
	((s) == READER_EXIT_DRAINED      ? "drained"            \
	    : (s) == READER_EXIT_TRANSIENT ? "transient failure"  \
	    : (s) == READER_EXIT_PERMANENT ? "permanent failure"  \
	    : (s) == READER_EXIT_LEASE_LOST ? "lease lost"        \
	    : (s) == READER_EXIT_SHARD_END ? "shard end"          \
					   : "unknown status")

#endif
