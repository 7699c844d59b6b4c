#!/bin/sh
# shellcheck disable=SC2154 # the directories are set by eval of `make kls-install-vars`
# `make install DESTDIR=...` installs the programs, the handler header, kls.pc, the manual
# pages, the systemd unit, the init script and the example configuration with build-time
# paths filled in; `systemd-analyze verify` accepts the unit; `make uninstall` removes it
# all again. Needs man (groff) and systemd-analyze: the checks are not skipped without.
set -u
tmp=$(mktemp -d /tmp/kls-install-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# A make of our own, not a job of the make running the tests.
unset MAKEFLAGS MFLAGS MAKELEVEL
make -s install DESTDIR="$dest" > "$tmp/log" 2>&1 || { cat "$tmp/log"; echo "FAIL: make install"; exit 1; }
# Sets prefix, bindir, ..., systemdsystemunitdir and the program lists.
eval "$(make -s kls-install-vars)"

for f in "$mandir/man8/klsd.8" "$mandir/man8/kls-ctl.8" "$mandir/man5/kls.conf.5" \
    "$mandir/man3/kls-handler.3" "$systemdsystemunitdir/kls@.service" \
    "$sysconfdir/kls/kls.conf.example" "$includedir/kls/handler.h" \
    "$libdir/pkgconfig/kls.pc"; do
	[ -s "$dest$f" ] || fail "not installed: $f"
done
[ -x "$dest$initddir/kls" ] || fail "init script not installed executable: $initddir/kls"
for p in $bin_programs; do [ -x "$dest$bindir/${p##*/}" ] || fail "missing $bindir/${p##*/}"; done
for p in $sbin_programs; do [ -x "$dest$sbindir/${p##*/}" ] || fail "missing $sbindir/${p##*/}"; done
for p in $pkglibexec_programs; do
	[ -x "$dest$pkglibexecdir/${p##*/}" ] || fail "missing $pkglibexecdir/${p##*/}"
done

unit=$dest$systemdsystemunitdir/kls@.service
init=$dest$initddir/kls
grep -q '@[a-z]*@' "$unit" "$init" && fail "unsubstituted @...@ left: $(grep -h '@[a-z]*@' "$unit" "$init")"
grep -q "^ExecStart=$sbindir/klsd -d -c $sysconfdir/kls/%i.conf" "$unit" || fail "unit's ExecStart"
grep -q "KLSD:=$sbindir/klsd" "$init" || fail "init script's klsd path"
grep -q '^### BEGIN INIT INFO' "$init" || fail "init script has no LSB header"
sh -n "$init" || fail "init script syntax"

# Manual pages: groff finds nothing to warn about; kls.conf.5 documents every key of
# kls.conf.md (run docs/mkman.py after editing it).
for m in "$mandir/man8/klsd.8" "$mandir/man8/kls-ctl.8" "$mandir/man5/kls.conf.5" \
    "$mandir/man3/kls-handler.3"; do
	w=$(groff -man -ww -z "$dest$m" 2>&1)
	[ -z "$w" ] || fail "groff warnings in $m: $w"
done
keys=$(sed -n 's/^| `\([a-z_]*\)` |.*/\1/p' "${srcdir:-.}/docs/kls.conf.md")
[ -n "$keys" ] || fail "no keys found in kls.conf.md"
for k in $keys; do
	grep -q "^\\\\fB$(printf %s "$k" | sed 's/-/\\\\-/g')\\\\fR\$" "$dest$mandir/man5/kls.conf.5" ||
		fail "kls.conf.5 does not document $k (run docs/mkman.py)"
done

# systemd-analyze verify, on an instance of the installed unit. It insists that ExecStart
# names an executable: the installed klsd when this tree builds one, else an empty
# executable file standing in for it (the unit's own text is what is verified).
vdir=$tmp/verify
mkdir -p "$vdir"
if [ -x "$dest$sbindir/klsd" ]; then
	klsd=$dest$sbindir/klsd
else
	klsd=$vdir/klsd
	printf '#!/bin/sh\n' > "$klsd" && chmod +x "$klsd"
	echo "note: no klsd built in this tree yet; verifying the unit with $klsd"
fi
sed "s|$sbindir/klsd|$klsd|g" "$unit" > "$vdir/kls@.service"
ln -s "kls@.service" "$vdir/kls@orders.service"
out=$(MANPATH="$dest$mandir" SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$vdir/kls@orders.service" 2>&1)
rc=$?
[ $rc = 0 ] && [ -z "$out" ] || fail "systemd-analyze verify (exit $rc): $out"

make -s uninstall DESTDIR="$dest" > "$tmp/log" 2>&1 || { cat "$tmp/log"; fail "make uninstall"; }
left=$(find "$dest" -type f)
[ -z "$left" ] || fail "left after make uninstall: $left"

[ $fails = 0 ] && echo "install: all checks passed"
exit $((fails > 0))
