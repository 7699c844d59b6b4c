/*
 * kls-reader's enhanced fan-out loop (read_mode = fan-out): the counterpart of
 * fetch_run for a registered stream consumer. See subscribe.c.
 */
#ifndef KLS_READER_SUBSCRIBE_H
#define KLS_READER_SUBSCRIBE_H

#include "reader/reader.h"

/* A subscription that has sent no event for this many request timeouts ([aws]
 * request_timeout_ms, so 30 s by default) is taken for dead (a half-open connection, a
 * stuck peer) and replaced. A live subscription sends events even when no record
 * arrives, so this never cuts a healthy one; if it ever did, the cost would be one
 * resubscription from the last continuation, never a record. */
#define SUBSCRIBE_SILENCE_TIMEOUTS 3
/* The service accepts one SubscribeToShard per second per consumer and shard. */
#define SUBSCRIBE_PER_SECOND 1
/* Longest gap between two looks at the lease group while a subscription streams: how
 * soon a DRAIN, a STOP or the deadline is seen (libcurl ticks at least once a second). */
#define SUBSCRIBE_LOOK_MS 100

/*
 * Reads the shard through SubscribeToShard until a reason to exit, with the records of
 * every event delivered exactly as fetch_run delivers a GetRecords batch. Called after
 * fetch_position, fetch_open and deliver_init, in their place of fetch_run; returns the
 * exit status.
 */
int subscribe_run(struct reader *r);

#endif
