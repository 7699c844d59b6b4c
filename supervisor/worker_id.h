/*
 * This worker's identity in the lease table: "<hostname>:<uuid>", made once and kept in
 * state_dir/worker-id so a restarted klsd finds its own leases and re-adopts them
 * without waiting for them to expire. [kls] worker_id overrides it.
 */
#ifndef KLS_SUPERVISOR_WORKER_ID_H
#define KLS_SUPERVISOR_WORKER_ID_H

#include <stddef.h>

#define WORKER_ID_MAX 128

/*
 * Reads state_dir/worker-id, or creates it (state_dir made 0700 with its missing
 * parents, the file written whole and linked into place, so two klsd racing agree on
 * one id and a crash never leaves a half-written one). 0, or -1 with why filled.
 */
int worker_id_load(const char *state_dir, char *out, size_t size, char *why, size_t whylen);

/* Whether s is a usable worker id: 1..WORKER_ID_MAX printable ASCII characters, no
 * blanks. */
int worker_id_valid(const char *s);

/* A random (version 4) UUID in its 36-character text form; -1 when no randomness. */
int worker_uuid(char out[37]);

#endif
