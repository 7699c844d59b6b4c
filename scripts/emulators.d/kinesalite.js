/*
 * kinesalite (Kinesis emulator) in memory on 127.0.0.1. Its own command-line tool cannot
 * choose the listen address, so scripts/emulators starts it through this module API.
 * Streams become ACTIVE at once (the *StreamMs delays are 0) and the shard limit is raised
 * from 10 so resharding and many-shard tests fit.
 */
'use strict'

require('./serve.js').main('kinesalite', {
	createStreamMs: 0,
	deleteStreamMs: 0,
	updateStreamMs: 0,
	shardLimit: 1000,
})
