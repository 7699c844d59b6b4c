#!/bin/sh
# shellcheck disable=SC2154 # the directories are set by eval of `make kls-install-vars`
# A handler built outside the tree, the way a handler author builds one: `make install
# DESTDIR=...`, then tests/handlers/outside.c copied to a directory of its own and
# compiled with `cc -shared -fPIC $(pkg-config --cflags kls)` against the installed
# kls.pc and <kls/handler.h> only. The INSTALLED klsd and kls-reader (KLS_READER names
# the installed reader; klsd would otherwise look in the real $pkglibexecdir) then run it
# against the emulators until it has written every record that the installed kls-produce
# put into a 2-shard stream; klsd exits 0 on SIGTERM.
#
# Needs the emulators (KINESIS_ENDPOINT and DYNAMODB_ENDPOINT, as scripts/test exports
# them), cc and pkg-config: without them the test fails and says what is missing.
set -u
srcdir=${srcdir:-.}
records=200
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
die() { echo "FAIL: $*"; exit 1; }

for v in KINESIS_ENDPOINT DYNAMODB_ENDPOINT; do
	eval "val=\${$v:-}"
	[ -n "$val" ] || die "missing environment variable $v: run ./scripts/test, or" \
		"eval \"\$(scripts/emulators env)\" after scripts/emulators start"
done
for p in cc pkg-config; do
	command -v "$p" > /dev/null || die "$p not found: a handler author needs it (scripts/setup installs it)"
done

# Handler paths must pass kls-reader's hygiene checks: /tmp is root-owned and sticky,
# mktemp's directory is ours and 0700, and umask 022 keeps what we make unwritable by
# others.
umask 022
tmp=$(mktemp -d /tmp/kls-outside-XXXXXX) || exit 1
name=kls-outside-$$
shm=/kls.outside-$$
klsd_pid=
cleanup() {
	# Only the klsd this test started (its readers die with it: PR_SET_PDEATHSIG).
	[ -n "$klsd_pid" ] && kill -KILL "$klsd_pid" 2>/dev/null
	rm -f "/dev/shm${shm}"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# A make of our own, not a job of the make running the tests.
unset MAKEFLAGS MFLAGS MAKELEVEL
dest=$tmp/dest
make -s install DESTDIR="$dest" > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; die "make install"; }
eval "$(make -s kls-install-vars)"
klsd=$dest$sbindir/klsd
reader=$dest$pkglibexecdir/kls-reader
produce=$dest$bindir/kls-produce
for f in "$klsd" "$reader" "$produce"; do
	[ -x "$f" ] || die "not installed: $f"
done

# pkg-config sees only the installed kls.pc, and the sysroot puts its paths under DESTDIR.
PKG_CONFIG_LIBDIR=$dest$libdir/pkgconfig
PKG_CONFIG_PATH=
PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_LIBDIR PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
cflags=$(pkg-config --cflags kls) || die "pkg-config --cflags kls (kls.pc in $PKG_CONFIG_LIBDIR)"
libs=$(pkg-config --libs kls) || die "pkg-config --libs kls"
echo "pkg-config kls: cflags '$cflags', libs '$libs'"
case " $cflags " in
*" -I$dest$includedir "*) ;;
*) fail "kls.pc's Cflags do not name the installed include directory $includedir: $cflags" ;;
esac

# pkglibdir: where the example handlers are installed, for authors to start from.
pkglib=$(pkg-config --variable=pkglibdir kls) || fail "pkg-config --variable=pkglibdir kls"
case $pkglib in
"$libdir/kls" | "$dest$libdir/kls") ;;
*) fail "kls.pc's pkglibdir is $pkglib, want $libdir/kls" ;;
esac
[ -s "$dest$libdir/kls/counting.so" ] || fail "no counting.so in the installed pkglibdir $libdir/kls"

# Outside the source and build trees: only what kls.pc says can find the header.
mkdir -p "$tmp/src" "$tmp/handlers" "$tmp/out" "$tmp/etc" "$tmp/state"
cp "$srcdir/tests/handlers/outside.c" "$tmp/src/" || die "copy $srcdir/tests/handlers/outside.c"
so=$tmp/handlers/outside.so
# shellcheck disable=SC2086 # pkg-config's output is a list of words
(cd "$tmp/src" && cc -Wall -Wextra -Werror -shared -fPIC $cflags -o "$so" outside.c $libs) ||
	die "building the handler: cc -shared -fPIC $cflags -o $so outside.c $libs"

# Credentials from the environment, so that nobody asks instance metadata; the emulators
# check only that a signature is there.
AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-AKIDKLSOUTSIDE}
AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-kls-outside-test-secret}
AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
"$produce" --stream "$name" --create 2 --count $records --bytes 40 --partition-keys 16 --quiet \
	> "$tmp/produce.log" 2>&1 || { cat "$tmp/produce.log"; die "kls-produce: putting $records records"; }

conf=$tmp/etc/$name.conf
cat > "$conf" << EOF
[kls]
application = $name
stream = $name
region = us-east-1
state_dir = $tmp/state
shm_name = $shm
worker_id = outside-test-$$
control_socket = $tmp/ctl.sock
[reader]
handler = $so
[handler]
path = $tmp/out/%s.log
EOF

KLS_READER=$reader "$klsd" -d -c "$conf" > "$tmp/klsd.log" 2>&1 &
klsd_pid=$!
echo "klsd pid $klsd_pid: $klsd -d -c $conf"

# Until every record is written (each shard's file), klsd dies, or 120 s pass.
i=0
lines=0
while [ $i -lt 240 ]; do
	lines=$(cat "$tmp/out"/*.log 2> /dev/null | wc -l)
	[ "$lines" -ge $records ] && break
	kill -0 "$klsd_pid" 2> /dev/null || break
	sleep 0.5
	i=$((i + 1))
done
[ "$lines" -ge $records ] || fail "$lines of $records records written in $((i / 2)) s"
echo "records written: $lines of $records after about $((i / 2)) s"

if kill -TERM "$klsd_pid" 2> /dev/null; then
	wait "$klsd_pid"
	rc=$?
	[ $rc = 0 ] || fail "klsd exit status $rc after SIGTERM, want 0"
else
	fail "klsd was no longer running"
fi
klsd_pid=

# Every record once; per shard in put order (kls-produce numbers records "seq=<n> ...").
cat "$tmp/out"/*.log 2> /dev/null | awk -v n=$records '
	{ split($5, a, "="); k = a[2] + 0; seen[k]++ }
	END {
		for (k = 0; k < n; k++) {
			if (!(k in seen)) { printf "record seq=%d not written\n", k; bad = 1 }
			else if (seen[k] > 1) { printf "record seq=%d written %d times\n", k, seen[k]; bad = 1 }
		}
		exit bad
	}' || fail "records missing or repeated"
for f in "$tmp/out"/*.log; do
	[ -s "$f" ] || continue
	awk '{ split($5, a, "="); k = a[2] + 0 }
		NR > 1 && k <= last { printf "%s: seq=%d after seq=%d\n", FILENAME, k, last; bad = 1 }
		{ last = k }
		END { exit bad }' "$f" || fail "records out of order in $f"
done
shards=$(find "$tmp/out" -name "*.log" | wc -l)
[ "$shards" = 2 ] || fail "$shards shard files written, want 2"
# The installed reader ran it.
others=$(awk -v exe="$reader" '$4 != exe { print $4 }' "$tmp/out"/*.log | sort -u)
[ -z "$others" ] || fail "records processed by $others, not the installed $reader"
grep -q "handler outside 1 loaded from $so" "$tmp/klsd.log" ||
	fail "no 'handler outside 1 loaded from $so' in klsd's log"

if [ $fails != 0 ]; then
	echo "---- klsd's log (last 40 lines) ----"
	tail -n 40 "$tmp/klsd.log"
	exit 1
fi
echo "outside handler: all checks passed"
