/*
 * Prints N free TCP ports on 127.0.0.1, one a line, for servers (kinesis-local) that take
 * their ports from the environment and cannot be told to pick one themselves. All N are
 * held open together so they are distinct; there is a short window before the server
 * binds them in which another program could take one (start then fails, and says so).
 */
'use strict'

const net = require('net')

const n = Number(process.argv[2] || 1)
if (!Number.isInteger(n) || n < 1 || n > 16) {
	console.error('usage: node free-ports.js N (1..16)')
	process.exit(2)
}
const servers = []
let ready = 0
for (let i = 0; i < n; i++) {
	const s = net.createServer()
	servers.push(s)
	s.on('error', (err) => {
		console.error('free-ports: ' + err.message)
		process.exit(1)
	})
	s.listen(0, '127.0.0.1', () => {
		if (++ready < n)
			return
		const ports = servers.map((srv) => srv.address().port)
		for (const srv of servers)
			srv.close()
		process.stdout.write(ports.join('\n') + '\n')
	})
}
