#!/bin/sh
# A layer apply that fails leaves its target as it was.  When the target was
# empty (every unpack), it is empty again once the apply has ended, with its
# owner and mode, and takes the layer again: after a hostile entry at the
# end of a layer, a limit (extract_max_entries), a corrupt gzip stream, a
# client killed mid-stream (Ctrl-C: the CLI says so), a worker killed, a
# layer file truncated while the worker reads it, a full disk (the daemon's root on a small tmpfs), a digest that does not
# match; through the CLI and gRPC Apply (tests/go/.../snapguard).  When the
# target had content (an apply succeeded before, or a client has it
# mounted), the snapshot is marked failed: Commit refuses it, also after a
# restart of the daemon and a later apply that succeeds, and rm works.  The
# same when the broker, or the whole daemon, is killed in the middle of an
# apply: once started again, the daemon empties the target that was empty,
# marks the one that had content, and logs it.  The daemon logs why each
# apply ended.  lib.sh stops the daemon by pid, kills
# the helpers registered, unmounts everything under $T and removes it.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname "$0")/../cli-lib.sh"
lib_init apply-faults
need_tools python3 gzip env
ensure_user
umask 022
STRATA=${STRATA:-$B/strata}
ADDR=$T/s.sock
ROOT=$T/root
mkdir -p "$T/content"
go_build strata-tests/snapguard || {
	fail "build snapguard"
	summary
	exit 1
}
# At most 100 entries a layer: the limit case has more, the others fewer.
DAEMON_ARGS="--content-root $T/content --log-level debug --extract-max-entries 100"
# shellcheck disable=SC2086 # a list of flags
start_stratad "$ROOT" "$ADDR" $DAEMON_ARGS || {
	fail "daemon starts"
	summary
	exit 1
}
CALL_TIMEOUT=60
grpc() { timeout $CALL_TIMEOUT "$T/bin/snapguard" -address "$ADDR" -content "$T/content" "$@"; }

# ---- layers (python's tarfile: any entry at any place) ----
python3 - "$T" <<'EOF'
import io, os, sys, tarfile
t = sys.argv[1]
def add(tf, name, data=b"", mode=0o644, kind=tarfile.REGTYPE):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.size = kind, mode, len(data) if kind == tarfile.REGTYPE else 0
    tf.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
def layer(path, n, size, tail=None, root_mode=None, rand=False):
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        if root_mode is not None:
            add(tf, ".", mode=root_mode, kind=tarfile.DIRTYPE)
        add(tf, "d", mode=0o755, kind=tarfile.DIRTYPE)
        for i in range(n):
            add(tf, "d/f%03d" % i, os.urandom(size) if rand else bytes([i % 256]) * size)
        if tail:
            tail(tf)
# 50 good entries, then a whiteout of `.` (invalid); the layer's first
# entry also makes the target's root 0700.
layer(t + "/hostile.tar", 50, 4096, root_mode=0o700,
      tail=lambda tf: add(tf, "d/.wh..", kind=tarfile.REGTYPE))
layer(t + "/many.tar", 150, 100)          # past extract_max_entries 100
layer(t + "/good.tar", 20, 1000)
layer(t + "/other.tar", 5, 10)
layer(t + "/slow.tar", 90, 4000)          # fed through a FIFO
layer(t + "/random.tar", 60, 8192, rand=True)
layer(t + "/big.tar", 40, 256 * 1024, rand=True)  # bigger than the small disk
EOF
gzip -c "$T/random.tar" >"$T/corrupt.tar.gz"
# Garbage two thirds in: inflate fails after many entries were written.
sz=$(wc -c <"$T/corrupt.tar.gz")
printf 'strata-corrupt-strata-corrupt-strata-corrupt' |
	dd of="$T/corrupt.tar.gz" bs=1 seek=$((sz * 2 / 3)) conv=notrunc 2>/dev/null

# entries DIR: how many names DIR has.
entries() { find "$1" -mindepth 1 | wc -l; }
# empty_soon DIR: DIR has no entry (within 10 s: a client that went away
# does not wait for the outcome).
empty_soon() {
	i=0
	while [ "$(entries "$1")" -ne 0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ "$(entries "$1")" -eq 0 ]
}
# no_leftovers: no rm-* directory waits under the snapshots directory (the
# old tree is deleted, its space back).
no_leftovers() {
	i=0
	while ls "$1/snapshots" | grep -q '^rm-' && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	! ls "$1/snapshots" | grep -q '^rm-'
}
# emptied NAME KEY: KEY's upperdir is empty again, owned and moded as
# Prepare made it (OWNER:MODE in $want), no old tree is left, and a good
# layer then applies and commits.
emptied() {
	_u=$(upper_of "$2")
	if empty_soon "$_u"; then pass "$1: the target is empty again"; else
		fail "$1: the target is empty again" "$(entries "$_u") entries: $(ls "$_u" | head -5)"
	fi
	same "$1: ... with its owner and mode" "$(stat -c %u:%g:%a "$_u")" "$want"
	check "$1: ... and the old tree is deleted" no_leftovers "$ROOT"
	check "$1: ... and a good layer then applies" st apply "$2" "$T/good.tar"
	check "$1: ... and commits" st commit "c-$2" "$2"
	same "$1: ... with that layer alone" "$(entries "$_u")" 21
}
# logged TEXT: the daemon's log has a line with TEXT.
logged() { grep -qF -- "$1" "$T/stratad.log"; }
# feed_start KEY: `strata apply KEY -` of $T/slow.tar from a FIFO (this
# shell's fd 9), the first 150 kB written and 20 files in the target.
feed_start() {
	rm -f "$T/$1.pipe"
	mkfifo "$T/$1.pipe"
	env --default-signal=INT "$STRATA" --address "$ADDR" apply "$1" - <"$T/$1.pipe" >"$T/$1.out" 2>"$T/$1.err" &
	applier=$!
	exec 9>"$T/$1.pipe"
	at_exit "exec 9>&-; kill $applier 2>/dev/null; wait $applier 2>/dev/null"
	head -c 150000 "$T/slow.tar" >&9
	_u=$(upper_of "$1")
	i=0
	while [ "$(find "$_u" -type f | wc -l)" -lt 20 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	check "$1: the apply is under way" test "$(find "$_u" -type f | wc -l)" -ge 20
}

# A base whose fs belongs to uid 1234: a child's fs takes that owner.
st prepare base-a >/dev/null
chown 1234:1234 "$(upper_of base-a)"
st commit base base-a

# ---- an empty target is empty again ----
st prepare hostile base >/dev/null
want=1234:1234:755
run st apply hostile "$T/hostile.tar"
expect_rc "a layer with an invalid whiteout after 50 files fails" 1
err_has "... naming it" "invalid whiteout"
err_has "... and saying the snapshot is empty again" "the snapshot is empty again"
emptied "hostile entry at the end" hostile
check "the daemon logs why the apply ended" logged "apply to \`hostile\` (snapshot"

want=0:0:755
st prepare limit >/dev/null
run st apply limit "$T/many.tar"
expect_rc "a layer past extract_max_entries fails" 1
err_has "... naming the limit" "max_entries 100"
emptied "limit" limit

st prepare corrupt >/dev/null
run st apply corrupt "$T/corrupt.tar.gz"
expect_rc "a corrupt gzip layer fails" 1
emptied "corrupt gzip" corrupt

st prepare digest >/dev/null
run st apply digest "$T/good.tar" --digest "sha256:$(printf '%064d' 0)"
expect_rc "a layer with another digest fails" 1
emptied "digest mismatch" digest

# Ctrl-C of the CLI mid-stream: the daemon cancels the job.
st prepare ctrlc >/dev/null
feed_start ctrlc
kill -INT "$applier"
wait "$applier"
rc=$?
exec 9>&-
same "Ctrl-C ends strata apply (130)" "$rc" 130
check "... and it says what is left behind and what to do" grep -q "apply interrupted: active snapshot \`ctrlc\` is left behind.*strata rm ctrlc" "$T/ctrlc.err"
emptied "client killed mid-stream" ctrlc
check "... and the daemon logs that the client went away" logged "apply to \`ctrlc\` (snapshot"

# SIGKILL of the extract worker (the spawner logs its pid at debug level).
st prepare killed >/dev/null
feed_start killed
wpid=$(grep -o 'worker [0-9]*: job [0-9]*, role extract' "$T/stratad.log" | tail -n 1 | cut -d' ' -f2 | tr -d :)
if [ -n "$wpid" ] && kill -KILL "$wpid"; then pass "the extract worker ($wpid) is killed"; else
	fail "the extract worker is killed" "no pid in the log"
fi
exec 9>&-
wait "$applier"
check "... the apply fails saying so" grep -q "killed by signal SIGKILL" "$T/killed.err"
emptied "worker killed" killed

# A layer file that shrinks while the worker reads it (worker/extract.c):
# the worker is stopped once it has read part of the file, the file is
# truncated, and the worker, going on, finds its end before the size it had.
head -c $((128 << 20)) /dev/zero >"$T/zeros"
tar -C "$T" -cf "$T/shrink.tar" zeros
rm -f "$T/zeros"
st prepare shrink >/dev/null
# The catcher follows the daemon's log from its end: the next extract
# worker the spawner logs is caught before it has read all of the layer.
timeout 60 python3 - "$T/shrink.tar" "$T/stratad.log" "$T/catcher.ready" >"$T/out" 2>&1 <<'EOF' &
import os, re, signal, sys, time
layer, log, ready = sys.argv[1:4]
ino, end, pid, text = os.stat(layer).st_ino, time.time() + 30, None, ""
with open(log) as f:
    f.seek(0, os.SEEK_END)
    open(ready, "w").close()
    while pid is None and time.time() < end:
        text += f.read()
        found = re.search(r"worker (\d+): job \d+, role extract", text)
        pid = int(found.group(1)) if found else None
def offset(pid):
    """The worker's read offset in the layer file, or None."""
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.stat("/proc/%d/fd/%s" % (pid, fd)).st_ino == ino:
                return int(open("/proc/%d/fdinfo/%s" % (pid, fd)).readline().split()[1])
        except OSError:
            pass
    return None
while pid and time.time() < end:
    try:
        at = offset(pid)
    except OSError:
        sys.exit("the worker %d ended before it was seen reading the layer" % pid)
    if at:
        os.kill(pid, signal.SIGSTOP)
        # Every thread stopped first: one still running would fault at once.
        tasks = "/proc/%d/task" % pid
        while time.time() < end and not all(
                open("%s/%s/stat" % (tasks, t)).read().rsplit(")", 1)[1].split()[0] in "Tt"
                for t in os.listdir(tasks)):
            time.sleep(0.001)
        at = offset(pid)
        if at is None or at >= os.stat(layer).st_size:
            sys.exit("the worker %d had read all of the layer when it was stopped" % pid)
        os.truncate(layer, at)
        os.kill(pid, signal.SIGCONT)
        print("truncated under worker", pid)
        sys.exit(0)
sys.exit("no extract worker reading the layer was seen")
EOF
catcher=$!
i=0
while [ ! -e "$T/catcher.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
st apply shrink "$T/shrink.tar" >"$T/shrink.out" 2>"$T/shrink.err"
rc=$?
wait "$catcher"
out_match "an extract worker is seen reading the layer, and the file truncated under it" "^truncated under worker"
same "... the apply fails" "$rc" 1
if grep -q "the layer file shrank while it was read" "$T/shrink.err"; then
	pass "... saying the layer file shrank while it was read"
else
	fail "... saying the layer file shrank while it was read" "$(cat "$T/shrink.err")"
fi
emptied "layer file truncated" shrink

# gRPC Apply (the diff v1 service), by containerd's own client.
st prepare grpc-hostile >/dev/null
out=$(grpc apply grpc-hostile "$T/hostile.tar" 2>&1)
case $out in InvalidArgument*"empty again"*) pass "gRPC Apply of the hostile layer fails" ;;
*) fail "gRPC Apply of the hostile layer fails" "$out" ;; esac
emptied "gRPC Apply" grpc-hostile

# ---- a target with content is marked failed ----
st prepare mixed >/dev/null
check "apply A succeeds" st apply mixed "$T/other.tar"
run st apply mixed "$T/hostile.tar"
expect_rc "a failing apply B on top fails" 1
err_has "... saying the snapshot is marked failed" "marked failed"
check "... leaving A's files in place" test -f "$(upper_of mixed)/d/f000" -a "$(entries "$(upper_of mixed)")" -gt 6
run st commit c-mixed mixed
expect_rc "commit of it is refused" 1
err_has "... with FailedPrecondition" "FailedPrecondition"
err_has "... saying why" "a layer apply failed on it; remove it"
out=$(grpc commit c-mixed mixed 2>&1)
case $out in FailedPrecondition*"apply failed"*) pass "... also through gRPC" ;; *) fail "... also through gRPC" "$out" ;; esac
check "a later apply succeeds" st apply mixed "$T/good.tar"
run st commit c-mixed mixed
expect_rc "... and commit is still refused" 1
check "the daemon logs the mark" logged "it had content before: marked failed"

# Through gRPC: an apply succeeded, the next one fails.
st prepare grpc-mixed >/dev/null
same "a gRPC Apply succeeds" "$(grpc apply grpc-mixed "$T/other.tar" 2>&1)" OK
out=$(grpc apply grpc-mixed "$T/many.tar" 2>&1)
case $out in ResourceExhausted*"marked failed"*) pass "a failing gRPC Apply on top marks it" ;;
*) fail "a failing gRPC Apply on top marks it" "$out" ;; esac
out=$(grpc commit c-grpc-mixed grpc-mixed 2>&1)
case $out in FailedPrecondition*) pass "... and gRPC Commit is refused" ;; *) fail "... and gRPC Commit is refused" "$out" ;; esac

# Empty, but mounted by a client: counts as having content.
st prepare held >/dev/null
mkdir "$T/mnt"
check "strata mount of an empty snapshot" st mount held "$T/mnt"
run st apply held "$T/hostile.tar"
expect_rc "a failing apply into it fails" 1
err_has "... and marks it failed instead of emptying it" "marked failed"
check "... its files still show through the mount" test -f "$T/mnt/d/f000"
check "strata umount" st umount "$T/mnt"
run st commit c-held held
expect_rc "... and commit of it is refused" 1

# The mark outlives the daemon.
stop_stratad
# shellcheck disable=SC2086 # a list of flags
start_stratad "$ROOT" "$ADDR" $DAEMON_ARGS || fail "daemon restarts"
run st commit c-mixed mixed
expect_rc "after a restart, commit of the marked snapshot is still refused" 1
err_has "... saying why" "a layer apply failed on it"
check "rm of a marked snapshot works" st rm mixed
check "... and of the others" st rm grpc-mixed held
check "a committed snapshot is unaffected" st stat c-limit

# ---- a crash in the middle of an apply ----
# serving KEY: the daemon answers (a stat of KEY) within 10 s.
serving() {
	i=0
	while ! "$STRATA" --address "$ADDR" stat "$1" >/dev/null 2>&1 && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	"$STRATA" --address "$ADDR" stat "$1" >/dev/null 2>&1
}
# kill_broker: SIGKILL of the broker; the parent starts another.
kill_broker() {
	_b=$(pgrep -P "$STRATAD_PID" -f -- '--role=broker' | head -n 1)
	[ -n "$_b" ] && kill -KILL "$_b"
}
# kill_daemon: SIGKILL of the parent and of its children, then a new daemon
# on the same root.
kill_daemon() {
	_kids=$(pgrep -P "$STRATAD_PID")
	# shellcheck disable=SC2086 # a list of pids
	kill -KILL "$STRATAD_PID" $_kids
	wait "$STRATAD_PID" 2>/dev/null
	STRATAD_PID=''
	i=0
	while pgrep -f -- "--root=$ROOT" >/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	cat "$T/stratad.log" >>"$T/stratad.all"
	: >"$T/stratad.log"
	# shellcheck disable=SC2086 # a list of flags
	start_stratad "$ROOT" "$ADDR" $DAEMON_ARGS
}
# crash_mid_apply HOW KEY: the apply of $T/slow.tar into KEY is under way
# when HOW (kill_broker, kill_daemon) ends it; then the daemon serves again.
crash_mid_apply() {
	feed_start "$2"
	if $1; then pass "$2: $1 mid-apply"; else fail "$2: $1 mid-apply"; fi
	exec 9>&-
	wait "$applier"
	check "$2: ... the client's apply fails" test -s "$T/$2.err"
	check "$2: ... and the daemon serves again" serving "$2"
	i=0
	while ! logged_crash "$2" "cut short by a crash: handled" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	check "$2: ... and, started again, handles the apply cut short" logged_crash "$2" "cut short by a crash: handled"
}
# logged_crash KEY TEXT: a line of the daemon's log about the apply to KEY
# has TEXT.
logged_crash() { grep -F -- "apply to \`$1\`" "$T/stratad.log" | grep -qF -- "$2"; }
want=0:0:755
for how in kill_broker kill_daemon; do
	st prepare "crash-empty-$how" >/dev/null
	crash_mid_apply $how "crash-empty-$how"
	emptied "$how mid-apply into an empty target" "crash-empty-$how"
	check "... and the daemon logs why" logged_crash "crash-empty-$how" "under way when the broker stopped"
	st prepare "crash-mixed-$how" >/dev/null
	check "crash-mixed-$how: apply A succeeds" st apply "crash-mixed-$how" "$T/other.tar"
	crash_mid_apply $how "crash-mixed-$how"
	run st commit "c-crash-mixed-$how" "crash-mixed-$how"
	expect_rc "$how mid-apply into a target with content: commit is refused" 1
	err_has "... saying why" "a layer apply failed on it"
	check "... and rm works" st rm "crash-mixed-$how"
done
stop_stratad

# ---- a full disk ----
mkdir "$T/small"
mount -t tmpfs -o size=6m,mode=0711 tmpfs "$T/small" || fail "mount a 6 MiB tmpfs"
ROOT=$T/small/root
start_stratad "$ROOT" "$ADDR" --log-level debug || {
	fail "daemon starts on the small disk"
	summary
	exit 1
}
st prepare full >/dev/null
want=0:0:755
before=$(df --output=used "$T/small" | tail -n 1)
run st apply full "$T/big.tar"
expect_rc "a layer bigger than the disk fails" 1
emptied "ENOSPC" full
after=$(df --output=used "$T/small" | tail -n 1)
check "... and its space is back (${before} KiB used before, ${after} KiB after)" test "$after" -lt $((before + 1024))

summary
