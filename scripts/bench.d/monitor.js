/*
 * scripts/bench's watcher: one process that polls `kls-ctl status --json` and /proc
 * while klsd consumes, so the bench does not start a process per sample.
 *
 *   node monitor.js consume KLS_CTL APP KLSD_PID TOTAL TIMEOUT_S [FIXTURE_URL]
 *       Waits until the readers have counted TOTAL records (and, with a fixture, until
 *       every shard's persisted checkpoint is its last sequence number), sampling every
 *       100 ms: klsd's VmHWM, each reader's VmHWM and Pss (smaps_rollup), and, when done,
 *       the CPU time of klsd and its readers from /proc/<pid>/stat. Also the steady state:
 *       CPU and records from the first sample with at least 5% of TOTAL counted (start-up
 *       behind us) to the last one. Prints one JSON object.
 *   node monitor.js restart KLS_CTL APP FIXTURE_URL KILLS TIMEOUT_S [BASE_STATS_FILE]
 *       Once every shard has a reader that has fetched (since BASE_STATS_FILE, the
 *       fixture's /stats taken before klsd started: readers that start quickly may have
 *       fetched before this watcher is up), SIGKILLs the reader of KILLS
 *       different shards one after another and times each until its replacement's first
 *       GetRecords reached the fixture (CLOCK_MONOTONIC on both sides). Prints a JSON array
 *       of milliseconds.
 * Exit status 1 on a timeout (with what was seen on stderr).
 */
'use strict'

const fs = require('fs')
const http = require('http')
const { execFileSync } = require('child_process')

const CLK_TCK = 100 // USER_HZ, the unit of /proc/<pid>/stat times on Linux

function status(ctl, app) {
	try {
		const out = execFileSync(ctl, ['status', '-a', app, '--json'], {
			encoding: 'utf8',
			stdio: ['ignore', 'pipe', 'ignore'],
		})
		return JSON.parse(out)
	} catch (e) {
		return null // klsd not up yet, or a torn read: the next sample will do
	}
}

function procKb(pid, file, key) {
	try {
		const m = fs.readFileSync(`/proc/${pid}/${file}`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))
		return m ? Number(m[1]) : 0
	} catch (e) {
		return 0
	}
}

// CPU seconds of klsd, the readers it reaped and the live readers of st: [all, klsd alone].
function treeCpu(klsdPid, st) {
	const [own, reaped] = procCpu(klsdPid)
	let readers = 0
	for (const s of st.shards) if (s.reader_pid) readers += procCpu(s.reader_pid)[0]
	return [own + reaped + readers, own]
}

// [utime + stime, cutime + cstime] of pid in seconds.
function procCpu(pid) {
	try {
		const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
		const f = s.slice(s.lastIndexOf(')') + 2).split(' ') // fields from 3 (state) on
		const n = (i) => Number(f[i - 3])
		return [(n(14) + n(15)) / CLK_TCK, (n(16) + n(17)) / CLK_TCK]
	} catch (e) {
		return [0, 0]
	}
}

function getJson(url) {
	return new Promise((resolve) => {
		http.get(url, (res) => {
			let body = ''
			res.on('data', (d) => (body += d))
			res.on('end', () => {
				try {
					resolve(JSON.parse(body))
				} catch (e) {
					resolve(null)
				}
			})
		}).on('error', () => resolve(null))
	})
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const nowMs = () => Number(process.hrtime.bigint() / 1000000n)

async function consume([ctl, app, klsdPid, total, timeoutS, fixtureUrl]) {
	total = Number(total)
	klsdPid = Number(klsdPid)
	const t0 = nowMs()
	const deadline = t0 + Number(timeoutS) * 1000
	const last = {}
	if (fixtureUrl) {
		const st = await getJson(`${fixtureUrl}/stats`)
		for (const s of st.shards) last[s.shard_id] = s.last_sequence_number
	}
	const r = { klsd_hwm_kb: 0, reader_hwm_kb: 0, reader_pss_kb: 0, reader_pss_samples: 0, first_record_ms: null }
	let st = null
	let records = 0
	let steady0 = null // {records, cpu, klsd} at the first sample past 5% of total
	for (;;) {
		st = status(ctl, app)
		r.klsd_hwm_kb = Math.max(r.klsd_hwm_kb, procKb(klsdPid, 'status', 'VmHWM'))
		if (st) {
			records = 0
			for (const s of st.shards) {
				records += s.records || 0
				if (!s.reader_pid) continue
				r.reader_hwm_kb = Math.max(r.reader_hwm_kb, procKb(s.reader_pid, 'status', 'VmHWM'))
				const pss = procKb(s.reader_pid, 'smaps_rollup', 'Pss')
				if (pss) {
					r.reader_pss_kb = Math.max(r.reader_pss_kb, pss)
					r.reader_pss_samples++
				}
			}
			if (records > 0 && r.first_record_ms === null) r.first_record_ms = nowMs() - t0
			if (steady0 === null && records >= total * 0.05 && records < total) {
				const [cpu, klsd] = treeCpu(klsdPid, st)
				steady0 = { records, cpu, klsd }
			}
			const checkpointed = !fixtureUrl || st.shards.every((s) => !last[s.shard_id] || s.checkpoint === last[s.shard_id] || s.checkpoint === 'SHARD_END')
			if (records >= total && checkpointed && st.shards.length >= Object.keys(last).length) break
		}
		if (nowMs() > deadline) {
			console.error(`bench: timed out after ${timeoutS} s: ${records} of ${total} records counted`)
			if (st) console.error(JSON.stringify(st))
			process.exit(1)
		}
		await sleep(100)
	}
	r.done_ms = nowMs() - t0
	r.records = records
	// CPU so far: klsd itself, the readers it reaped (its cutime/cstime) and the live ones.
	const [cpu, own] = treeCpu(klsdPid, st)
	r.cpu_s_at_done = Number(cpu.toFixed(2))
	r.klsd_cpu_s_at_done = own
	// The steady state: what the records between the two samples cost, start-up and
	// shutdown left out (CPU times are in 10 ms ticks: runs of seconds make them good).
	r.steady = null
	if (steady0 !== null && records > steady0.records) {
		const n = records - steady0.records
		r.steady = {
			records: n,
			cpu_us_per_record: Number((((cpu - steady0.cpu) * 1e6) / n).toFixed(3)),
			klsd_cpu_us_per_record: Number((((own - steady0.klsd) * 1e6) / n).toFixed(3)),
		}
	}
	console.log(JSON.stringify(r))
}

async function restart([ctl, app, fixtureUrl, kills, timeoutS, baseFile]) {
	const deadline = nowMs() + Number(timeoutS) * 1000
	const readerOf = (st, id) => (st ? (st.shards.find((s) => s.shard_id === id) || {}).reader_pid : 0)
	// Every shard read by a live reader of this klsd that has fetched: a new iterator and a
	// GetRecords after it since we started watching.
	const alive = (pid) => {
		if (!(pid > 0)) return false
		try {
			process.kill(pid, 0)
			return true
		} catch (e) {
			return false
		}
	}
	const base = baseFile ? JSON.parse(fs.readFileSync(baseFile, 'utf8')) : await getJson(`${fixtureUrl}/stats`)
	const baseOf = (id) => base.shards.find((s) => s.shard_id === id)
	let fx, st
	for (;;) {
		fx = await getJson(`${fixtureUrl}/stats`)
		st = status(ctl, app)
		if (fx && st && fx.shards.every((s) => alive(readerOf(st, s.shard_id)) &&
			s.iterators > baseOf(s.shard_id).iterators && s.first_fetch_ns > baseOf(s.shard_id).first_fetch_ns))
			break
		if (nowMs() > deadline) {
			console.error('bench: readers did not all start for the restart test')
			process.exit(1)
		}
		await sleep(50)
	}
	const out = []
	for (const shard of fx.shards.slice(0, Number(kills))) {
		const id = shard.shard_id
		const before = (await getJson(`${fixtureUrl}/stats`)).shards.find((s) => s.shard_id === id)
		const pid = readerOf(status(ctl, app), id)
		const killedNs = process.hrtime.bigint()
		process.kill(pid, 'SIGKILL')
		for (;;) {
			const now = (await getJson(`${fixtureUrl}/stats`)).shards.find((s) => s.shard_id === id)
			if (now.iterators > before.iterators && BigInt(now.first_fetch_ns) > killedNs) {
				out.push(Number((BigInt(now.first_fetch_ns) - killedNs) / 1000n) / 1000)
				break
			}
			if (nowMs() > deadline) {
				console.error(`bench: the reader of ${id} (pid ${pid}) was not replaced in time`)
				process.exit(1)
			}
			await sleep(2)
		}
		await sleep(300)
	}
	console.log(JSON.stringify(out))
}

const [mode, ...args] = process.argv.slice(2)
if (mode === 'consume' && args.length >= 5) consume(args)
else if (mode === 'restart' && (args.length === 5 || args.length === 6)) restart(args)
else {
	console.error('usage: node monitor.js consume KLS_CTL APP KLSD_PID TOTAL TIMEOUT_S [FIXTURE_URL]\n' +
		'       node monitor.js restart KLS_CTL APP FIXTURE_URL KILLS TIMEOUT_S [BASE_STATS_FILE]')
	process.exit(2)
}
