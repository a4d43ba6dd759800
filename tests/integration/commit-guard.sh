#!/bin/sh
# A committed snapshot never changes: Commit waits (FailedPrecondition,
# naming what is in the way) while the snapshot is mounted read-write or a
# layer is being applied to it, and while an apply writes, a second apply, a
# diff and a Remove of the snapshot are refused the same way; label updates
# go on.  Each through the CLI (native socket) and through gRPC (containerd's
# proxy snapshotter, the diff v1 client: tests/go/.../snapguard).
#   - `strata mount` read-write, then commit: refused until `strata umount`;
#     a read-only mount does not stand in the way;
#   - a client holding a read-write mount fd: refused until it is gone;
#   - an apply fed through a FIFO this test writes part of a layer into:
#     everything above refused mid-layer, then the layer completes whole and
#     the commit has every file;
#   - a gRPC Apply queued behind it (the daemon runs one job at a time): the
#     snapshot counts as written from the moment the Apply is accepted.
# lib.sh stops the daemon by pid, kills the helpers it registered, unmounts
# everything under $T and removes it on exit.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname "$0")/../cli-lib.sh"
lib_init commit-guard
ensure_user
umask 022
STRATA=${STRATA:-$B/strata}
MOUNTFD=${MOUNTFD:-$B/tests/mountfd}
ADDR=$T/s.sock
M=$T/mnt
mkdir -p "$M" "$T/content"
[ -x "$MOUNTFD" ] || { fail "the test tool is built" "make $MOUNTFD"; summary; exit 1; }
go_build strata-tests/snapguard || {
	fail "build snapguard"
	summary
	exit 1
}
# One job at a time: a queued gRPC Apply stays queued behind the held one.
start_stratad "$T/root" "$ADDR" --content-root "$T/content" --max-jobs 1 || {
	fail "daemon starts"
	summary
	exit 1
}

CALL_TIMEOUT=60 # every call bounded (cli-lib.sh)
grpc() { timeout $CALL_TIMEOUT "$T/bin/snapguard" -address "$ADDR" -content "$T/content" "$@"; }
# refused NAME CMD...: CMD (CLI) fails with FailedPrecondition.
refused() {
	_r_name=$1
	shift
	run "$@"
	if [ "$rc" -ne 0 ] && grep -q FailedPrecondition "$T/err"; then pass "$_r_name"; else fail "$_r_name" "$(show)"; fi
}
# grpc_is NAME WANT OP ARGS...: the gRPC call's outcome starts with WANT.
grpc_is() {
	_g_name=$1 _g_want=$2
	shift 2
	_g_out=$(grpc "$@" 2>&1)
	case $_g_out in
	"$_g_want"*) pass "$_g_name" ;;
	*) fail "$_g_name" "$_g_out" ;;
	esac
}
files_in() { find "$1" -type f | wc -l; }
# files_after DIR N: how many files DIR has once it has N (or after 10 s).
files_after() {
	i=0
	while [ "$(files_in "$1")" -lt "$2" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	files_in "$1"
}
# held_apply KEY: `strata apply KEY -` of $T/layer.tar in the background
# ($applier, output in $T/KEY.out), reading a FIFO whose write end is this
# shell's fd 9; writes the first 100 kB and checks that the worker got to
# them (so it holds a job slot).  finish_apply writes the rest and closes.
held_apply() {
	mkfifo "$T/$1.pipe"
	st apply "$1" - <"$T/$1.pipe" >"$T/$1.out" 2>&1 &
	applier=$!
	exec 9>"$T/$1.pipe"
	at_exit "exec 9>&-; kill $applier 2>/dev/null; wait $applier 2>/dev/null"
	head -c 100000 "$T/layer.tar" >&9
	_n=$(files_after "$(upper_of "$1")" 20)
	check "the apply to $1 is under way ($_n files so far)" test "$_n" -ge 20 -a "$_n" -lt 300
}
finish_apply() {
	tail -c +100001 "$T/layer.tar" >&9
	exec 9>&-
	wait "$applier"
}

st prepare base-a >/dev/null
echo base >"$(upper_of base-a)/base"
st commit base base-a
st view vbase base >/dev/null

# ---- mounted read-write ----
st prepare w1 base >/dev/null
mkdir "$M/w"
st mount w1 "$M/w" >/dev/null
refused "commit of a snapshot mounted read-write is refused" st commit c1 w1
err_has "... naming where it is mounted" "mounted read-write (1 hold: at \`$M/w\`)"
grpc_is "... and through gRPC" FailedPrecondition commit c1 w1
echo after >"$M/w/after"
check "it is still active: writes go on landing in it" test "$(cat "$(upper_of w1)/after")" = after
check "strata umount" st umount "$M/w"
check "once unmounted, commit succeeds" st commit c1 w1
st prepare w1b base >/dev/null
mkdir "$M/wb"
st mount w1b "$M/wb" >/dev/null
st umount "$M/wb" >/dev/null
grpc_is "... and through gRPC too" OK commit c1b w1b

st prepare w2 base >/dev/null
mkdir "$M/r"
st mount --read-only w2 "$M/r" >/dev/null
check "a read-only mount does not stand in the way of commit" st commit c2 w2
run st rm c2
expect_rc "... but the committed snapshot stays held" 1
check "strata umount of it" st umount "$M/r"
check "... then it can be removed" st rm c2

# ---- a client holding a read-write mount fd ----
st prepare w3 base >/dev/null
"$MOUNTFD" --address "$ADDR" w3 hold >"$T/hold.out" 2>&1 &
holder=$!
at_exit "kill $holder 2>/dev/null; wait $holder 2>/dev/null"
i=0
while ! grep -q holding "$T/hold.out" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
refused "commit while a client holds a read-write mount fd is refused" st commit c3 w3
err_has "... naming the client" "a mount fd of pid $holder"
grpc_is "... and through gRPC" FailedPrecondition commit c3 w3
kill "$holder"
wait "$holder" 2>/dev/null
# The closed connection reaches the daemon's loop asynchronously.
commit_soon() {
	i=0
	while [ $i -lt 50 ]; do
		st commit "$1" "$2" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	st commit "$1" "$2"
}
check "once the client is gone, commit succeeds" commit_soon c3 w3

# ---- a client that lets its hold go but keeps the read-write fd ----
# Its connection closes (the daemon's hold ends), the fd stays open: only
# the kernel knows the mount is still there, and Commit asks it.
st prepare w4 base >/dev/null
W4=$(upper_of w4)
chmod 0777 "$W4" # the tool writes as uid 65534
"$MOUNTFD" --address "$ADDR" w4 let-go write late "after the hold" hold >"$T/letgo.out" 2>&1 &
keeper=$!
at_exit "kill $keeper 2>/dev/null; wait $keeper 2>/dev/null"
i=0
while ! grep -q holding "$T/letgo.out" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.3 # the closed connection reaches the daemon's loop asynchronously
same "a client that let its hold go still writes through its fd" "$(cat "$W4/late" 2>&1)" "after the hold"
refused "commit while that fd is open is refused" st commit c4 w4
err_has "... saying a read-write mount of it is still open" "still open"
grpc_is "... and through gRPC" FailedPrecondition commit c4 w4
kill "$keeper"
wait "$keeper" 2>/dev/null
check "once the fd is closed, commit succeeds" commit_soon c4 w4

# ---- an apply fed slowly through a FIFO ----
mkdir -p "$T/layer/many" "$T/small"
i=1
while [ $i -le 300 ]; do
	head -c 1000 /dev/zero >"$T/layer/many/f$i"
	i=$((i + 1))
done
tar -C "$T/layer" -cf "$T/layer.tar" .
echo small >"$T/small/small"
tar -C "$T/small" -cf "$T/small.tar" .
st prepare s1 base >/dev/null
U1=$(upper_of s1)
held_apply s1
refused "commit during an apply is refused" st commit c_s1 s1
err_has "... saying a layer is being applied" "has a layer being applied to it (1 job)"
grpc_is "... and through gRPC" FailedPrecondition commit c_s1 s1
refused "a second apply into it is refused" st apply s1 "$T/small.tar"
grpc_is "... and a gRPC Apply" FailedPrecondition apply s1 "$T/small.tar"
refused "a diff of it is refused" st diff s1 -o "$T/d.tar"
grpc_is "... and a gRPC Diff" FailedPrecondition diff vbase s1
refused "rm of it is refused" st rm s1
grpc_is "... and a gRPC Remove" FailedPrecondition remove s1
check "labels can still be set" st label s1 team=a
grpc_is "... also through gRPC" OK label s1 team=b
finish_apply
check "the apply then completes" grep -q '^sha256:' "$T/s1.out"
check "... with every file" test "$(files_in "$U1")" -eq 300
check "... and the small layer never mixed in" test ! -e "$U1/small"
check "commit succeeds after it" st commit c_s1 s1
check "... and the commit has the whole layer" test "$(files_in "$U1")" -eq 300

# ---- a gRPC Apply, queued behind a held apply ----
st prepare s2 base >/dev/null
st prepare s3 base >/dev/null
U3=$(upper_of s3)
# In the one job slot before the gRPC Apply comes.
held_apply s2
# Not holding the FIFO's write end (fd 9): the held apply must see its end.
# Closed in the subshell itself: `grpc ... 9>&- &` would leave the copy of
# fd 9 that dash saves around a function's redirection open in it.
(
	exec 9>&-
	grpc apply s3 "$T/small.tar"
) >"$T/s3.out" 2>&1 &
grpc_apply=$!
at_exit "kill $grpc_apply 2>/dev/null; wait $grpc_apply 2>/dev/null"
# Until the daemon has the Apply, a diff of s3 queues behind the held job
# (and gives up here after 2 s; it only reads, whenever it runs); once it
# has it, the diff is refused at once.
i=0
while [ $i -lt 20 ]; do
	run timeout 2 "$STRATA" --address "$ADDR" diff s3 -o "$T/probe.tar" 9>&-
	grep -q FailedPrecondition "$T/err" && break
	i=$((i + 1))
done
# (Without the guard, the calls below would queue behind the held job.)
if grep -q FailedPrecondition "$T/err"; then
	pass "a queued gRPC Apply counts as writing its snapshot"
	refused "... an apply into it is refused" st apply s3 "$T/small.tar"
	refused "... and a commit" st commit c_s3 s3
	grpc_is "... also through gRPC" FailedPrecondition commit c_s3 s3
else
	fail "a queued gRPC Apply counts as writing its snapshot" "$(show)"
fi
finish_apply
wait "$grpc_apply"
check "the held apply completes" grep -q '^sha256:' "$T/s2.out"
check "the queued gRPC Apply completes" grep -qx OK "$T/s3.out"
check "commit succeeds after it" st commit c_s3 s3
check "... with the layer's file" test "$(cat "$U3/small" 2>&1)" = small

check "the daemon still serves" st stat base
summary
