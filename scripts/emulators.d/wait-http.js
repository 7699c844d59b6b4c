/*
 * Waits until every URL given answers HTTP (any status: the emulators reply 400 or 404 to a
 * bare GET, which proves they parse requests), or until the timeout, or until one of the
 * processes named with --pid has exited (its server will never answer then). Exit 0 when
 * all answered, 1 otherwise, naming the ones that did not.
 * usage: node wait-http.js TIMEOUT_SECONDS [--pid PID]... URL...
 */
'use strict'

const http = require('http')

const timeoutMs = Number(process.argv[2]) * 1000
const pids = []
const urls = []
for (let i = 3; i < process.argv.length; i++) {
	if (process.argv[i] === '--pid')
		pids.push(Number(process.argv[++i]))
	else
		urls.push(process.argv[i])
}
if (!(timeoutMs > 0) || urls.length === 0 || !pids.every((p) => Number.isInteger(p) && p > 0)) {
	console.error('usage: node wait-http.js TIMEOUT_SECONDS [--pid PID]... URL...')
	process.exit(2)
}
const deadline = Date.now() + timeoutMs
const pending = new Set(urls)

function probe(url) {
	const req = http.get(url, { timeout: 2000 }, (res) => {
		res.resume()
		pending.delete(url)
		if (pending.size === 0)
			process.exit(0)
	})
	const retry = () => {
		for (const pid of pids) {
			try {
				process.kill(pid, 0)
			} catch (err) {
				if (err.code === 'ESRCH') {
					console.error('process ' + pid + ' exited before ' + url + ' answered')
					process.exit(1)
				}
			}
		}
		if (Date.now() >= deadline) {
			console.error('no HTTP answer within ' + process.argv[2] + ' s from ' +
			    Array.from(pending).join(' '))
			process.exit(1)
		}
		setTimeout(() => probe(url), 100)
	}
	req.on('timeout', () => req.destroy(new Error('timeout')))
	req.on('error', retry)
}

urls.forEach(probe)
