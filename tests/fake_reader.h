/*
 * A stand-in kls-reader for klsd's integration tests: it follows common/reader_proto.h
 * and the shm protocol (attach, activate the slot, heartbeat, obey DRAIN/STOP and its
 * lease deadline, checkpoint through the handshake) but reads no records, and it
 * misbehaves on request, so klsd's supervision is tested apart from the real reader.
 *
 * The integration test program is its own fake reader: main() hands over when argv[1]
 * is "--config-fd", and the test points klsd at it with KLS_READER.
 *
 * Environment (inherited from klsd, which inherits it from the test):
 *   FAKE_READER_DIR   directory for the per-shard run counts and the log
 *   FAKE_READER       what to do, by run number of the shard (1 = first run):
 *     run                 behave (the default)
 *     crash:N             runs 1..N die of SIGSEGV after 300 ms
 *     exit:CODE:SHARD     every run of SHARD sets last_error and exits with CODE
 *     hang:SHARD          run 1 of SHARD stops its heartbeat (and hangs)
 *     torn:SHARD          run 1 of SHARD dies by SIGKILL in the middle of a progress publish
 *     slowdrain:MS        finishes a drain MS after klsd asked for it (the deadline
 *                         still stops it)
 *     checkpoint          asks for a checkpoint at a delivered record, then for one
 *                         beyond it, and logs klsd's answers
 * Log lines (FAKE_READER_DIR/log):
 *   start SHARD pid=PID run=N config=ok|bad fds=ok|leaked deadline=ok|none
 *   ckpt SHARD SEQ result=OK|FAILED|BEYOND|LEASE_LOST|TIMEOUT
 *   exit SHARD pid=PID code=N
 */
#ifndef KLS_TEST_FAKE_READER_H
#define KLS_TEST_FAKE_READER_H

#include "tests/harness.h"

int fake_reader_main(int argc, char **argv);
/* main() of a test program that is its own fake reader: fake_reader_main() when klsd
 * started it as a reader (argv[1] is "--config-fd"), test_main() with suites otherwise. */
int fake_reader_test_main(int argc, char **argv, CU_SuiteInfo *suites);

#endif
