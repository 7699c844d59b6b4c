#!/bin/sh
# The SysV init script (scripts/kls.init, as built into scripts/init.d/kls) with the real
# klsd of this build: start, status, reload, stop, restart of two applications with
# pidfiles in a temporary directory, a stale pidfile after a crash, a second klsd refused
# by the pidfile's lock, a bad configuration, and bad invocations.
#
# klsd needs no AWS for this: with the emulators' variables set (scripts/test) it talks
# to them, otherwise its endpoints are a closed local port and it keeps retrying, which
# is all the life cycle needs. Detached, it logs to syslog; what it did is checked through
# its pidfile, /proc, and its control socket (kls-ctl status --klsd).
set -u
srcdir=${srcdir:-.}
script=scripts/init.d/kls
tmp=$(mktemp -d /tmp/kls-init-XXXXXX) || exit 1
fails=0

KLSD="$(pwd)/supervisor/klsd"
CTL="$(pwd)/ctl/kls-ctl"
export KLSD CONFDIR="$tmp/etc" RUNDIR="$tmp/run"
export KLS_USER='' KLS_DEFAULTS=/dev/null START_TIMEOUT=30 STOP_TIMEOUT=30
# Credentials from the environment, so that nobody asks instance metadata.
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-AKIDKLSINITTEST} \
	AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-kls-init-test-secret}

cleanup() {
	# Only the daemons this test started: their pids are in its pidfiles.
	for pf in "$RUNDIR"/*.pid; do
		[ -r "$pf" ] && kill -KILL "$(cat "$pf")" 2>/dev/null
	done
	rm -f /dev/shm/kls.init-$$-*
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# expect STATUS COMMAND...: runs the init script, compares its exit status.
expect() {
	want=$1; shift
	out=$(sh "$script" "$@" 2>&1); got=$?
	[ "$got" = "$want" ] || fail "kls $*: exit $got, want $want ($out)"
	echo "kls $* -> $got: $out"
}
pid_of() { cat "$RUNDIR/$1.pid" 2>/dev/null; }
# Running, and not a zombie waiting for its (re)parent to reap it.
alive() {
	[ -n "$1" ] || return 1
	st=$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}
# Detached: klsd leads a session of its own.
detached() {
	[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f4)" = "$1" ]
}
wait_gone() {
	i=0; while alive "$1" && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
	! alive "$1"
}
# klsd's own status over its control socket.
klsd_status() { "$CTL" status --klsd -S "$tmp/sock/$1.sock" 2>&1; }
# Waits for a reload count in klsd's status (a SIGHUP is handled asynchronously).
wait_reloads() {
	i=0
	while [ $i -lt 50 ]; do
		klsd_status "$1" | grep -q "\"reloads\": $2," && return 0
		sleep 0.2; i=$((i + 1))
	done
	fail "$1: no \"reloads\": $2 in klsd's status: $(klsd_status "$1")"
}

write_conf() {
	cat > "$CONFDIR/$1.conf" <<EOF
[kls]
application = init-$$-$1
stream = init-$$-$1
region = us-east-1
state_dir = $tmp/state/$1
shm_name = /kls.init-$$-$1
control_socket = $tmp/sock/$1.sock
worker_id = init-$1
[reader]
handler = $(pwd)/examples/.libs/filelog.so
[handler]
path = $tmp/out-%s.log
EOF
	if [ -z "${KINESIS_ENDPOINT:-}" ] || [ -z "${DYNAMODB_ENDPOINT:-}" ]; then
		printf '[aws]\nkinesis_endpoint = http://127.0.0.1:9\ndynamodb_endpoint = http://127.0.0.1:9\n' \
			>> "$CONFDIR/$1.conf"
	fi
}

mkdir -p "$CONFDIR" "$tmp/sock"
write_conf alpha
write_conf beta
[ -x "$script" ] || { echo "FAIL: $script not built"; exit 1; }
[ -x "$KLSD" ] || { echo "FAIL: $KLSD not built"; exit 1; }
sh -n "$script" || fail "syntax"

expect 3 status
expect 0 start
a=$(pid_of alpha); b=$(pid_of beta)
alive "$a" || fail "alpha not running after start"
alive "$b" || fail "beta not running after start"
detached "$a" || fail "alpha did not detach (no session of its own)"
[ "$(cat "/proc/$a/comm")" = klsd ] || fail "alpha's pidfile names $(cat "/proc/$a/comm")"
[ "$(stat -c %a "$RUNDIR")" = 700 ] || fail "run directory not 0700"
klsd_status alpha | grep -q "\"pid\": $a," || fail "alpha's control socket: $(klsd_status alpha)"
expect 0 start                      # already running: nothing new started
[ "$(pid_of alpha)" = "$a" ] || fail "second start replaced alpha"
expect 0 status
# A second klsd on the same pidfile: refused by its lock, with a message.
out=$("$KLSD" -p "$RUNDIR/alpha.pid" -c "$CONFDIR/alpha.conf" 2>&1) &&
	fail "a second klsd with alpha's pidfile started"
echo "$out" | grep -q "klsd pid $a is running" || fail "second klsd said: $out"
[ "$(pid_of alpha)" = "$a" ] || fail "the refused klsd touched alpha's pidfile"

expect 0 reload alpha
wait_reloads alpha 1
klsd_status beta | grep -q '"reloads": 0,' || fail "beta reloaded too"
expect 0 force-reload
wait_reloads beta 1
wait_reloads alpha 2
alive "$a" && alive "$b" || fail "a reload stopped klsd"

expect 0 stop alpha
alive "$a" && fail "alpha still running after stop"
[ -e "$RUNDIR/alpha.pid" ] && fail "alpha's pidfile left"
[ -e "$tmp/sock/alpha.sock" ] && fail "alpha's control socket left"
expect 3 status alpha
expect 0 status beta
expect 3 status                     # the worst of the two
expect 7 reload alpha

# klsd removes its own pidfile when it stops (here without the script).
expect 0 start alpha
a=$(pid_of alpha)
kill -TERM "$a"
wait_gone "$a" || fail "alpha did not stop on SIGTERM"
[ -e "$RUNDIR/alpha.pid" ] && fail "klsd did not remove its pidfile"

# A crash leaves a pidfile behind: status says so, start replaces it.
kill -KILL "$b"
wait_gone "$b"
expect 1 status beta
expect 0 start beta
nb=$(pid_of beta)
[ "$nb" != "$b" ] && alive "$nb" || fail "beta not restarted"
klsd_status beta | grep -q "\"pid\": $nb," || fail "restarted beta's control socket"
# A pidfile naming a live process that is not klsd is not klsd.
echo $$ > "$RUNDIR/alpha.pid"
expect 1 status alpha
rm -f "$RUNDIR/alpha.pid"

expect 0 restart beta
wait_gone "$nb" || fail "restart left the old beta running"
[ "$(pid_of beta)" != "$nb" ] && alive "$(pid_of beta)" || fail "restart did not start beta"

# A bad configuration: klsd says so before detaching and nothing is left running.
printf '[kls]\napplication = init-%s-gamma\nbogus = 1\n' $$ > "$CONFDIR/gamma.conf"
expect 1 start gamma
[ -e "$RUNDIR/gamma.pid" ] && fail "a pidfile for the bad gamma"
rm -f "$CONFDIR/gamma.conf"

expect 0 stop
expect 3 status
[ -z "$(ls "$RUNDIR")" ] || fail "pidfiles left: $(ls "$RUNDIR")"

expect 2 frobnicate
expect 2 start '../etc'
expect 6 start delta                # no delta.conf

[ $fails = 0 ] && echo "init script: all checks passed"
exit $((fails > 0))
