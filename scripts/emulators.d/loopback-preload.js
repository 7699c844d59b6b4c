/*
 * Preloaded (node --require) into kinesis-local, which binds 0.0.0.0 and has no option to
 * change that: every net.Server listen call (plain, TLS and HTTP/2 servers all go through
 * it) is rewritten to bind 127.0.0.1. It also publishes the pid and, once each listener is
 * up, its port in KLS_EMULATOR_STATE_DIR, like serve.js does for our other emulators.
 */
'use strict'

const net = require('net')
const path = require('path')
const { writeAtomic } = require('./serve.js')

const LOOPBACK = '127.0.0.1'
const stateDir = process.env.KLS_EMULATOR_STATE_DIR
const name = process.env.KLS_EMULATOR_NAME || 'kinesis-local'

/* Which port file a listening port belongs to: the plain or the TLS listener. */
const portFiles = {}
portFiles[process.env.KINESIS_MOCK_PLAIN_PORT] = name + '.port'
portFiles[process.env.KINESIS_MOCK_TLS_PORT] = name + '.tls-port'

if (stateDir)
	writeAtomic(path.join(stateDir, name + '.pid'), process.pid + '\n')

const listen = net.Server.prototype.listen

/* listen(options[, cb]), listen(port[, host][, backlog][, cb]), listen(path|handle[, ...]). */
function loopbackArgs(args) {
	const a = Array.prototype.slice.call(args)
	const first = a[0]
	if (first !== null && typeof first === 'object') {
		if ('port' in first || !('path' in first || '_handle' in first || 'fd' in first))
			a[0] = Object.assign({}, first, { host: LOOPBACK })
		return a
	}
	const isPort = typeof first === 'number' ||
	    (typeof first === 'string' && /^[0-9]+$/.test(first)) || first === undefined
	if (!isPort)
		return a /* a Unix socket path: nothing to rewrite */
	if (typeof a[1] === 'string')
		a[1] = LOOPBACK
	else
		a.splice(1, 0, LOOPBACK)
	return a
}

net.Server.prototype.listen = function () {
	this.once('listening', () => {
		const addr = this.address()
		if (!stateDir || !addr || typeof addr !== 'object')
			return
		const file = portFiles[String(addr.port)]
		if (file)
			writeAtomic(path.join(stateDir, file), addr.port + '\n')
	})
	return listen.apply(this, loopbackArgs(arguments))
}

for (const sig of ['SIGTERM', 'SIGINT'])
	process.on(sig, () => process.exit(0))
