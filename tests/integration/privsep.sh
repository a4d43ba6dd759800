#!/bin/sh
# Privilege separation, proved from outside: /proc/PID/status of the broker
# and of workers caught mid-job, their roots and namespaces, and a worker that
# makes a forbidden syscall killed by its seccomp policy while the daemon
# keeps serving.
set -u
. "$(dirname "$0")/../lib.sh"
# no_process_of ROOT: no process runs with --root=ROOT (pgrep skips itself;
# a `sh -c` wrapper would match its own command line).
no_process_of() { ! pgrep -f -- "--root=$1" >/dev/null; }
lib_init privsep
ensure_user
STRATA="$B/strata"
ADDR=$T/s.sock
start_stratad "$T/root" "$ADDR" --enable-probe || { fail "daemon starts"; summary; exit 1; }
st() { "$STRATA" --address "$ADDR" "$@"; }
field() { awk -v k="$2:" '$1 == k { print $2; exit }' "/proc/$1/status"; }

# ---- the broker ----
broker=$(pgrep -P "$STRATAD_PID" -f -- '--role=broker' | head -n 1)
uid=$(id -u "$STRATA_USER")
if [ -n "$broker" ]; then
	check "broker runs as $STRATA_USER" test "$(field "$broker" Uid)" = "$uid"
	check "broker has no effective capability" test "$(field "$broker" CapEff)" = 0000000000000000
	check "broker has no permitted capability" test "$(field "$broker" CapPrm)" = 0000000000000000
	check "broker has an empty bounding set" test "$(field "$broker" CapBnd)" = 0000000000000000
	check "broker has no_new_privs" test "$(field "$broker" NoNewPrivs)" = 1
	check "broker runs under a seccomp filter" test "$(field "$broker" Seccomp)" = 2
	# Its metadata committer thread too: the same account, no capability,
	# the same filter (the policy allows no thread creation).
	nthreads=0 confined=0
	for task in /proc/"$broker"/task/*; do
		t=${task##*/}
		nthreads=$((nthreads + 1))
		st=$task/status
		if [ "$(awk '$1 == "Uid:" { print $2 }' "$st")" = "$uid" ] &&
			[ "$(awk '$1 == "CapEff:" { print $2 }' "$st")" = 0000000000000000 ] &&
			[ "$(awk '$1 == "NoNewPrivs:" { print $2 }' "$st")" = 1 ] &&
			[ "$(awk '$1 == "Seccomp:" { print $2 }' "$st")" = 2 ]; then
			confined=$((confined + 1))
		else
			echo "     | thread $t: $(grep -E '^(Uid|CapEff|NoNewPrivs|Seccomp):' "$st" | tr '\n\t' '  ')"
		fi
	done
	check "broker has its two threads" test "$nthreads" -eq 2
	check "every broker thread is confined alike" test "$confined" -eq "$nthreads"
else
	fail "broker process found"
fi
check "parent stays root" test "$(field "$STRATAD_PID" Uid)" = 0

# ---- workers caught mid-job ----
st prepare base >/dev/null
id=$(st mounts base | awk '{ print $2 }' | sed -n 's|.*/snapshots/\([0-9]*\)/fs$|\1|p')
[ -n "$id" ] || fail "snapshot id from mounts"
fsdir=$T/root/snapshots/$id/fs

# role caps as hex masks: usage = CAP_DAC_READ_SEARCH (2);
# remove = CAP_DAC_OVERRIDE (1), CAP_DAC_READ_SEARCH (2), CAP_FOWNER (3)
for spec in usage:0000000000000004 remove:000000000000000e; do
	role=${spec%%:*}
	want=${spec#*:}
	out=$T/probe-$role.out
	st debug probe "$role" close base --hold 4000 >"$out" 2>&1 &
	cli=$!
	i=0
	while ! grep -q '^pid ' "$out" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	w=$(awk '$1 == "pid" { print $2; exit }' "$out")
	if [ -z "$w" ] || [ ! -d "/proc/$w" ]; then
		fail "$role worker caught mid-job" "$(cat "$out")"
		wait "$cli"
		continue
	fi
	check "$role worker runs as uid 0" test "$(field "$w" Uid)" = 0
	check "$role worker has only its role's capabilities" test "$(field "$w" CapEff)" = "$want"
	check "$role worker bounding set is its role's" test "$(field "$w" CapBnd)" = "$want"
	check "$role worker has no_new_privs" test "$(field "$w" NoNewPrivs)" = 1
	check "$role worker runs under a seccomp filter" test "$(field "$w" Seccomp)" = 2
	check "$role worker's root is its snapshot directory" \
		test "$(stat -L -c %d:%i "/proc/$w/root/")" = "$(stat -c %d:%i "$fsdir")"
	check "$role worker has a private mount namespace" \
		test "$(readlink "/proc/$w/ns/mnt")" != "$(readlink /proc/self/ns/mnt)"
	check "$role worker has a private network namespace" \
		test "$(readlink "/proc/$w/ns/net")" != "$(readlink /proc/self/ns/net)"
	check "$role worker sees no other file" test ! -e "/proc/$w/root/etc/passwd"
	wait "$cli"
	# close(0) is allowed; fd 0 is not open in a worker, so it answers EBADF
	check "$role probe of an allowed syscall returns" grep -q '^ret -1 errno 9' "$out"
done

# ---- an extract worker, caught mid-job: its layer comes from a FIFO the
# test holds open, so it waits, confined, for the rest of the layer.  A
# FIFO is a file on disk: a feeder copies it into the pipe the worker reads
# (parent/feed.h) ----
st prepare target >/dev/null
tid=$(st mounts target | awk '{ print $2 }' | sed -n 's|.*/snapshots/\([0-9]*\)/fs$|\1|p')
mkfifo "$T/layer.pipe"
st apply target - <"$T/layer.pipe" >"$T/apply.out" 2>&1 &
cli=$!
exec 9>"$T/layer.pipe" # the writer end: the worker blocks reading it
i=0
w=''
feeder=''
while [ -z "$w" ] && [ $i -lt 50 ]; do
	for p in $(pgrep -P "$(pgrep -P "$STRATAD_PID" | tr '\n' ',' | sed 's/,$//')" 2>/dev/null); do
		[ "$(readlink "/proc/$p/fd/3" 2>/dev/null)" = "$(readlink "/proc/$cli/fd/0")" ] && feeder=$p
	done
	# The worker reads the pipe the feeder writes.
	for p in $(pgrep -P "$(pgrep -P "$STRATAD_PID" | tr '\n' ',' | sed 's/,$//')" 2>/dev/null); do
		[ -n "$feeder" ] && [ "$p" != "$feeder" ] &&
			[ "$(readlink "/proc/$p/fd/4" 2>/dev/null)" = "$(readlink "/proc/$feeder/fd/4" 2>/dev/null)" ] && w=$p
	done
	sleep 0.1
	i=$((i + 1))
done
if [ -n "$feeder" ]; then
	check "the layer's feeder has no capability" test "$(field "$feeder" CapEff)" = 0000000000000000
	check "... and an empty bounding set" test "$(field "$feeder" CapBnd)" = 0000000000000000
	check "... no_new_privs" test "$(field "$feeder" NoNewPrivs)" = 1
	check "... runs under a seccomp filter" test "$(field "$feeder" Seccomp)" = 2
else
	fail "the layer's feeder caught mid-job" "$(cat "$T/apply.out")"
fi
# extract = CAP_CHOWN (0), CAP_DAC_OVERRIDE (1), CAP_FOWNER (3), CAP_FSETID (4),
# CAP_MKNOD (27), CAP_SYS_ADMIN (21), CAP_SETFCAP (31)
if [ -n "$w" ]; then
	check "extract worker runs as uid 0" test "$(field "$w" Uid)" = 0
	check "extract worker has only its role's capabilities" test "$(field "$w" CapEff)" = 000000008820001b
	check "extract worker has no_new_privs" test "$(field "$w" NoNewPrivs)" = 1
	check "extract worker runs under a seccomp filter" test "$(field "$w" Seccomp)" = 2
	check "extract worker reads a pipe, not the layer's file" \
		sh -c "readlink /proc/$w/fd/4 | grep -q '^pipe:' && [ \"\$(readlink /proc/$w/fd/4)\" != \"\$(readlink /proc/$cli/fd/0)\" ]"
	check "extract worker sees its target at /target" \
		test "$(stat -L -c %d:%i "/proc/$w/root/target")" = "$(stat -c %d:%i "$T/root/snapshots/$tid/fs")"
	check "extract worker's root is not the host's" test ! -e "/proc/$w/root/etc/passwd"
	check "extract worker's root is read-only" sh -c "! touch /proc/$w/root/x 2>/dev/null"
	# Not a copy of the spawner: its child exec'ed stratad-worker, the one
	# binary with the layer code (parent/spawner.h).
	check "extract worker runs the stratad-worker image" grep -q 'stratad-worker' "/proc/$w/maps"
	# It holds libarchive's tar reader, linked statically (Makefile:
	# ARCHIVE_STATIC): a message of that reader is in its image, and
	# libarchive.so is not mapped.
	wimg=$(awk '$6 ~ /stratad-worker$/ { print $6; exit }' "/proc/$w/maps")
	check "... which holds libarchive's tar reader" grep -q 'Damaged tar archive' "$wimg"
	check "... and maps the codecs, not libarchive.so" \
		sh -c "grep -q 'libzstd\.so' /proc/$w/maps && ! grep -q 'libarchive\.so' /proc/$w/maps"
	spawner=$(pgrep -P "$STRATAD_PID" -f -- '--role=spawner' | head -n 1)
	simg=$(awk '$6 ~ /stratad-spawner$/ { print $6; exit }' "/proc/$spawner/maps" 2>/dev/null)
	check "the spawner maps none of the layer code" \
		sh -c "[ -n '$spawner' ] && [ -n '$simg' ] && ! grep -qE 'lib(archive|crypto|zstd|isal|deflate)\.so' /proc/$spawner/maps && ! grep -q 'Damaged tar archive' '$simg'"
else
	fail "extract worker caught mid-job" "$(cat "$T/apply.out")"
fi
mkdir -p "$T/layer/etc" && echo hi >"$T/layer/etc/hello"
tar -C "$T/layer" -cf - . >&9
exec 9>&-
wait "$cli"
check "the held apply completes" grep -q '^sha256:' "$T/apply.out"
check "its file is in the snapshot" test -f "$T/root/snapshots/$tid/fs/etc/hello"

# ---- a diff worker, caught mid-job: it writes the layer into a pipe the
# test opens but does not read, so it blocks, confined, once the pipe is full
head -c 2000000 /dev/urandom >"$T/root/snapshots/$tid/fs/noise"
mkfifo "$T/diff.pipe"
exec 8<>"$T/diff.pipe" # held open, never read: the worker's writes block
# drain_fd8_and_wait PID: reads the pipe held on fd 8 until the CLI (PID)
# that waits for the held worker ends, then closes it.
drain_fd8_and_wait() {
	cat <&8 >/dev/null &
	_drain=$!
	wait "$1"
	exec 8>&-
	kill "$_drain" 2>/dev/null
	wait "$_drain" 2>/dev/null
}
# worker_on_fd4 PATTERN: the pid of the worker whose fd 4 matches (waits up
# to 5 s), or nothing.
worker_on_fd4() {
	_i=0
	_w=''
	while [ -z "$_w" ] && [ $_i -lt 50 ]; do
		for p in $(pgrep -P "$(pgrep -P "$STRATAD_PID" | tr '\n' ',' | sed 's/,$//')" 2>/dev/null); do
			case "$(readlink "/proc/$p/fd/4" 2>/dev/null)" in *$1*) _w=$p ;; esac
		done
		[ -n "$_w" ] || sleep 0.1
		_i=$((_i + 1))
	done
	echo "$_w"
}
st diff target -o "$T/diff.pipe" --media-type tar >"$T/diff.out" 2>&1 &
cli=$!
w=$(worker_on_fd4 diff.pipe)
# diff = CAP_DAC_READ_SEARCH (2), CAP_SYS_ADMIN (21)
if [ -n "$w" ]; then
	check "diff worker has only its role's capabilities" test "$(field "$w" CapEff)" = 0000000000200004
	check "diff worker has no_new_privs" test "$(field "$w" NoNewPrivs)" = 1
	check "diff worker runs under a seccomp filter" test "$(field "$w" Seccomp)" = 2
	check "diff worker's root is the snapshot's directory" \
		test "$(stat -L -c %d:%i "/proc/$w/root/")" = "$(stat -c %d:%i "$T/root/snapshots/$tid/fs")"
	check "diff worker's view is read-only" sh -c "! touch /proc/$w/root/x 2>/dev/null"
else
	fail "diff worker caught mid-job" "$(cat "$T/diff.out")"
fi
drain_fd8_and_wait "$cli"
check "the held diff completes" grep -q 'sha256:' "$T/diff.out"

# ---- a general-path diff worker (target against base, two merged trees),
# caught mid-job the same way: its root is a read-only tmpfs holding only
# /left and /right, both read-only
mkfifo "$T/gen.pipe"
exec 8<>"$T/gen.pipe"
st diff target --parent base -o "$T/gen.pipe" --media-type tar >"$T/gen.out" 2>&1 &
cli=$!
w=$(worker_on_fd4 gen.pipe)
if [ -n "$w" ]; then
	check "general diff worker has only its role's capabilities" test "$(field "$w" CapEff)" = 0000000000200004
	check "general diff worker runs under a seccomp filter" test "$(field "$w" Seccomp)" = 2
	check "general diff worker's root holds only left and right" \
		test "$(ls -A "/proc/$w/root/" | tr '\n' ' ')" = "left right "
	check "general diff worker's root is a tmpfs" test "$(stat -f -L -c %T "/proc/$w/root/")" = tmpfs
	check "general diff worker sees the target's files on the right" test -f "/proc/$w/root/right/noise"
	for d in "" left right; do
		check "general diff worker's /$d is read-only" sh -c "! touch /proc/$w/root/$d/x 2>/dev/null"
	done
else
	fail "general diff worker caught mid-job" "$(cat "$T/gen.out")"
fi
drain_fd8_and_wait "$cli"
check "the held general diff completes" grep -q 'sha256:' "$T/gen.out"

# ---- a forbidden syscall kills the worker, the job fails, the daemon serves on ----
for spec in usage:mount usage:ptrace usage:execve remove:socket remove:kill usage:unshare; do
	role=${spec%%:*}
	sys=${spec#*:}
	if out=$(st debug probe "$role" "$sys" base 2>&1); then
		fail "$role worker calling $sys is killed" "probe succeeded: $out"
	else
		case $out in
		*"seccomp policy violation"*) pass "$role worker calling $sys is killed by its policy" ;;
		*) fail "$role worker calling $sys is killed" "$out" ;;
		esac
	fi
done
check "daemon keeps serving after killed workers" st stat base
check "the snapshot can still be removed" st rm base

# ---- probes are off unless enabled ----
stop_stratad
: >"$T/stratad.log" # start_stratad waits for a new "serving" line
start_stratad "$T/root" "$ADDR" || fail "daemon restarts"
st prepare again >/dev/null
if out=$(st debug probe usage close again 2>&1); then
	fail "probes refused without enable_probe" "$out"
else
	case $out in *PermissionDenied*) pass "probes refused without enable_probe" ;;
	*) fail "probes refused without enable_probe" "$out" ;; esac
fi

# ---- SIGTERM leaves no process, mount or socket ----
parent=$STRATAD_PID
children=$(pgrep -P "$parent" | tr '\n' ' ')
check "daemon stops cleanly on SIGTERM" stop_stratad
check "no socket file left" test ! -e "$ADDR" -a ! -e "$ADDR.fd"
left=""
for c in $children; do kill -0 "$c" 2>/dev/null && left="$left $c"; done
check "no child process left" test -z "$left"
# nor any other process of this daemon (spawner, workers, helpers they fork)
check "no process of the daemon left" no_process_of "$T/root"
check "no mount left under the root" test -z "$(findmnt -rn -o TARGET | grep -F "$T/root" || true)"
summary
