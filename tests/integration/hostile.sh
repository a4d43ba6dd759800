#!/bin/sh
# A hostile layer harms nothing outside its snapshot: every case mkhostile
# writes is applied with `strata apply` into a fresh active snapshot.  For each:
# nothing outside the target changes (a canary tree, checksummed before and
# after, is what every escape aims at; no strata-pwned-* file appears outside
# the snapshot), the outcome matches the case's class (refused: non-zero exit
# and a message; accepted-safely: exit 0; either: exit 0, or non-zero with a
# message), the daemon keeps serving (`strata stat`), and the snapshot can
# still be removed (`strata rm`).
#
# Environment: STRATA (CLI, default $B/strata), HOSTILE_STRATAD_ARGS (extra
# daemon flags, e.g. apply limits), HOSTILE_BOMB_SIZE (bytes, default 1 GiB),
# HOSTILE_FLOOD (entries, default 200000), CASES (space-separated names to run
# only those), GO.  Prints `N passed, M failed`.
set -u
. "$(dirname "$0")/../lib.sh"
lib_init hostile
umask 022
STRATA=${STRATA:-$B/strata}
ADDR=$T/s.sock

bin=$T/bin
go_build strata-tests/mkhostile strata-tests/treemanifest || {
	fail "build the Go tools"
	summary
	exit 1
}

# The canary: a file, a setuid file, a dir, a symlink; every
# escape in the layers aims at it.
CANARY=$T/canary
mkdir -p "$CANARY/dir"
echo original >"$CANARY/file"
echo setuid >"$CANARY/suid"
chmod 4755 "$CANARY/suid"
ln -s file "$CANARY/link"
"$bin/treemanifest" "$CANARY" >"$T/canary.before" || {
	fail "manifest of the canary"
	summary
	exit 1
}

H=$T/hostile
if ! "$bin/mkhostile" -o "$H" -canary "$CANARY" -bomb-size "${HOSTILE_BOMB_SIZE:-1073741824}" \
	-flood "${HOSTILE_FLOOD:-200000}" >"$T/mk.out" 2>&1; then
	fail "mkhostile writes the cases" "$(cat "$T/mk.out")"
	summary
	exit 1
fi

if ! "$STRATA" apply --help >/dev/null 2>&1; then
	echo "strata apply not available"
	summary
	exit 1
fi
ensure_user
# shellcheck disable=SC2086 # a list of flags
start_stratad "$T/root" "$ADDR" ${HOSTILE_STRATAD_ARGS:-} || {
	fail "daemon starts"
	summary
	exit 1
}
st() { "$STRATA" --address "$ADDR" "$@" </dev/null; }
selected() { [ -z "${CASES:-}" ] || case " $CASES " in *" $1 "*) ;; *) return 1 ;; esac; }

# Stray payloads anywhere under $T but inside snapshot directories, and under
# /tmp's top level (where a bare ../ or / guess would land).
strays() {
	find "$T" -path "$T/root/snapshots" -prune -o -name 'strata-pwned*' -print 2>/dev/null
	find /tmp -maxdepth 1 -name 'strata-pwned*' -print 2>/dev/null
}

while read -r name file class _what; do
	selected "$name" || continue
	key=hostile-$name
	if ! st prepare "$key" >"$T/mounts" 2>"$T/err"; then
		fail "$name: prepare" "$(cat "$T/err")"
		continue
	fi
	target=$(awk '$1 == "bind" { print $2; exit }' "$T/mounts")
	st apply "$key" "$H/$file" >"$T/out" 2>"$T/err"
	rc=$?
	msg=$(head -c 300 "$T/err" | tr '\n' ' ')
	case $class in
	refused)
		if [ "$rc" -ne 0 ] && [ -s "$T/err" ]; then
			pass "$name: refused: $msg"
		else
			fail "$name: must be refused with a message" "exit $rc, stderr: $msg"
		fi
		;;
	accepted-safely)
		if [ "$rc" -eq 0 ]; then pass "$name: accepted"; else fail "$name: must be accepted" "exit $rc: $msg"; fi
		;;
	*)
		if [ "$rc" -eq 0 ]; then
			pass "$name: accepted"
		elif [ -s "$T/err" ]; then
			pass "$name: refused: $msg"
		else
			fail "$name: failed without a message" "exit $rc"
		fi
		;;
	esac
	if "$bin/treemanifest" "$CANARY" >"$T/canary.after" 2>&1 && cmp -s "$T/canary.before" "$T/canary.after"; then
		pass "$name: canary unchanged"
	else
		fail "$name: canary changed" "$(diff "$T/canary.before" "$T/canary.after" | head -n 10)"
	fi
	s=$(strays)
	if [ -z "$s" ]; then pass "$name: no payload outside the target"; else fail "$name: payload outside the target" "$s"; fi
	# What the accepted cases must look like inside the target.
	if [ "$rc" -eq 0 ] && [ -n "$target" ]; then
		case $name in
		hardlink-to-symlink)
			if [ -L "$target/h-abs" ] && [ -L "$target/h-rel" ]; then
				pass "$name: the hardlinks are links to the symlinks"
			else
				fail "$name: the hardlinks are links to the symlinks" "$(ls -la "$target" 2>&1 | head)"
			fi
			;;
		setuid-cap)
			m=$("$bin/treemanifest" "$target" 2>&1 | grep -F '"/suid" ')
			if echo "$m" | grep -q 'mode=4755 .*security.capability=01000002'; then
				pass "$name: setuid bit and security.capability kept"
			else
				fail "$name: setuid bit and security.capability kept" "mode $m"
			fi
			;;
		devices)
			if [ -c "$target/mem" ] && [ -b "$target/sda" ]; then pass "$name: device nodes created"; else fail "$name: device nodes created"; fi
			;;
		esac
	fi
	if kill -0 "$STRATAD_PID" 2>/dev/null && st stat "$key" >/dev/null 2>"$T/err"; then
		pass "$name: daemon still serves"
	else
		fail "$name: daemon still serves" "$(cat "$T/err")"
	fi
	if st rm "$key" >/dev/null 2>"$T/err"; then
		pass "$name: snapshot removed"
	else
		fail "$name: snapshot removed" "$(cat "$T/err")"
	fi
	strays | while IFS= read -r p; do rm -rf "$p"; done
done <"$H/cases"

# Stop the daemon here: lib.sh's cleanup reuses _lib_rc in stop_stratad, which
# would turn a failed run's exit status into the daemon's (0).
stop_stratad >/dev/null 2>&1
summary
