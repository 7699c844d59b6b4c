/*
 * dynalite (DynamoDB emulator) in memory on 127.0.0.1, started through its module API like
 * kinesalite.js. Table state changes are immediate (the *TableMs delays are 0), though a new
 * table still reports CREATING for a few tens of milliseconds: callers wait for ACTIVE.
 */
'use strict'

require('./serve.js').main('dynalite', {
	createTableMs: 0,
	deleteTableMs: 0,
	updateTableMs: 0,
})
