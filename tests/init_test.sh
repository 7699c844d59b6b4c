#!/bin/sh
# The SysV init script (scripts/kls.init, as built into scripts/init.d/kls): start, status,
# reload, stop, restart of two applications with pidfiles in a temporary directory, a
# stale pidfile after a crash, and bad invocations. klsd is played by tests/init/klsd,
# which logs what it was asked to do.
set -u
srcdir=${srcdir:-.}
script=scripts/init.d/kls
tmp=$(mktemp -d /tmp/kls-init-XXXXXX) || exit 1
fails=0

KLSD="$(cd "$srcdir/tests/init" && pwd)/klsd"
export KLSD CONFDIR="$tmp/etc" RUNDIR="$tmp/run"
export KLS_USER='' KLS_DEFAULTS=/dev/null START_TIMEOUT=20 STOP_TIMEOUT=20

cleanup() {
	# Only the daemons this test started: their pids are in its pidfiles.
	for pf in "$RUNDIR"/*.pid; do
		[ -r "$pf" ] && kill -KILL "$(cat "$pf")" 2>/dev/null
	done
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
# Waits (a few seconds at most) for a line in an application's log.
wait_log() {
	i=0
	while [ $i -lt 50 ]; do
		grep -q "^$2" "$CONFDIR/$1.conf.log" 2>/dev/null && return 0
		sleep 0.2; i=$((i + 1))
	done
	fail "no \"$2\" in $1's log"
}

mkdir -p "$CONFDIR"
touch "$CONFDIR/alpha.conf" "$CONFDIR/beta.conf"
[ -x "$script" ] || { echo "FAIL: $script not built"; exit 1; }
sh -n "$script" || fail "syntax"

expect 3 status
expect 0 start
a=$(pid_of alpha); b=$(pid_of beta)
alive "$a" || fail "alpha not running after start"
alive "$b" || fail "beta not running after start"
[ "$(stat -c %a "$RUNDIR")" = 700 ] || fail "run directory not 0700"
expect 0 start                      # already running: nothing new started
[ "$(pid_of alpha)" = "$a" ] || fail "second start replaced alpha"
[ "$(grep -c '^start' "$CONFDIR/alpha.conf.log")" = 1 ] || fail "alpha started twice"
expect 0 status

expect 0 reload alpha
wait_log alpha "reload $a"
grep -q '^reload' "$CONFDIR/beta.conf.log" && fail "beta reloaded too"
expect 0 force-reload
wait_log beta "reload $b"

expect 0 stop alpha
wait_log alpha "stop $a"
alive "$a" && fail "alpha still running after stop"
[ -e "$RUNDIR/alpha.pid" ] && fail "alpha's pidfile left"
expect 3 status alpha
expect 0 status beta
expect 3 status                     # the worst of the two
expect 7 reload alpha

# A crash leaves a pidfile behind: status says so, start replaces it.
kill -KILL "$b"
i=0; while alive "$b" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
expect 1 status beta
expect 0 start beta
nb=$(pid_of beta)
[ "$nb" != "$b" ] && alive "$nb" || fail "beta not restarted"
# A pidfile naming a live process that is not klsd is not klsd.
echo $$ > "$RUNDIR/alpha.pid"
expect 1 status alpha
rm -f "$RUNDIR/alpha.pid"

expect 0 restart beta
wait_log beta "stop $nb"
[ "$(pid_of beta)" != "$nb" ] || fail "restart kept the old beta"
expect 0 stop
expect 3 status
[ -z "$(ls "$RUNDIR")" ] || fail "pidfiles left: $(ls "$RUNDIR")"

expect 2 frobnicate
expect 2 start '../etc'
expect 6 start gamma                # no gamma.conf

[ $fails = 0 ] && echo "init script: all checks passed"
exit $((fails > 0))
