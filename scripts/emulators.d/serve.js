/*
 * Shared start-up for our in-memory emulators (kinesalite.js, dynalite.js): listen on
 * 127.0.0.1 only, on a port the kernel picks (port 0) so parallel instances never clash,
 * then publish "<pid>" and "<port>" files in the state directory for scripts/emulators.
 * The port file is written (atomically, by rename) only once the server accepts
 * connections, so its presence means "ready to be probed".
 */
'use strict'

const fs = require('fs')
const path = require('path')

function writeAtomic(file, text) {
	const tmp = file + '.tmp'
	fs.writeFileSync(tmp, text)
	fs.renameSync(tmp, file)
}

/* name: file prefix in stateDir; server: an http.Server not yet listening. */
function serve(name, stateDir, server) {
	const pidFile = path.join(stateDir, name + '.pid')
	const portFile = path.join(stateDir, name + '.port')
	writeAtomic(pidFile, process.pid + '\n')
	server.on('error', (err) => {
		console.error(`${name}: ${err.message}`)
		process.exit(1)
	})
	server.listen(0, '127.0.0.1', () => {
		const addr = server.address()
		writeAtomic(portFile, addr.port + '\n')
		console.log(`${name}: listening on http://${addr.address}:${addr.port} (pid ${process.pid})`)
	})
	const stop = (sig) => {
		console.log(`${name}: ${sig}, exiting`)
		process.exit(0)
	}
	process.on('SIGTERM', () => stop('SIGTERM'))
	process.on('SIGINT', () => stop('SIGINT'))
}

/* The emulator packages live in the repository's own node_modules (scripts/setup). */
function requireEmulator(pkg) {
	return require(path.join(__dirname, '..', '..', 'node_modules', pkg))
}

function stateDirArg() {
	const dir = process.argv[2]
	if (!dir || !fs.statSync(dir).isDirectory()) {
		console.error('usage: node ' + path.basename(process.argv[1]) + ' STATE_DIR')
		process.exit(2)
	}
	return dir
}

/* The whole of an emulator launcher: `node <pkg>.js STATE_DIR` serves package pkg,
 * created with the given options, under the name pkg. */
function main(pkg, options) {
	const stateDir = stateDirArg()
	serve(pkg, stateDir, requireEmulator(pkg)(options))
}

module.exports = { main, writeAtomic }
