#!/bin/sh
# Mount fds against a real daemon and the real kernel: `strata mount` of an
# active snapshot with parents (an overlay: every layer's files, writes land
# in the upperdir), of a view (read-only), of a snapshot without parents (a
# bind), refusals (committed, missing, no privilege, busy path), `strata
# umount`; a 200-layer chain (its lowerdir list is longer than one mount
# option page); tests/tools/mountfd, a client that drops every privilege
# after it got the fd and then reads, writes (active) or fails (view) through
# it; idmapped mounts (ownership shifted through the mount, unchanged on
# disk); holds (Remove refused while mounted or while a client holds the fd,
# released by umount and by the death of the client); the mount worker's
# confinement seen from outside (a probe confined as the mount role, and a
# real mount worker caught mid-job under strace when strace is installed).
# lib.sh stops the daemon by pid, unmounts everything under $T and removes
# it on exit.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname "$0")/../cli-lib.sh"
lib_init mount
need_tools strace python3
ensure_user
umask 022 # layer files readable by the unprivileged client
STRATA=${STRATA:-$B/strata}
MOUNTFD=${MOUNTFD:-$B/tests/mountfd}
ADDR=$T/s.sock
ROOT=$T/root
M=$T/mnt
mkdir -p "$M"
start_stratad "$ROOT" "$ADDR" --enable-probe || { fail "daemon starts"; summary; exit 1; }
st help mount >/dev/null 2>&1 || { fail "strata has a mount command"; summary; exit 1; }
[ -x "$MOUNTFD" ] || { fail "the test tool is built" "make $MOUNTFD"; summary; exit 1; }

# Every call is bounded (cli-lib.sh): a wedged daemon fails the test
# instead of hanging make check.
CALL_TIMEOUT=60
mfd() { timeout $CALL_TIMEOUT "$MOUNTFD" --address "$ADDR" "$@"; }
field() { awk -v k="$2:" '$1 == k { print $2; exit }' "/proc/$1/status"; }
# The nearest parent's fs of active snapshot KEY (first lowerdir= entry).
lower_of() {
	st mounts "$1" | awk '$1 == "overlay" { n = split($3, o, ","); for (i = 1; i <= n; i++)
		if (o[i] ~ /^lowerdir=/) { split(substr(o[i], 10), l, ":"); print l[1]; exit } }'
}
not_mounted() { ! mountpoint -q "$1"; }
# traced_in NR: the pids traced by $tracer that are stopped in syscall NR.
traced_in() {
	awk -v t="$tracer" '$1 == "TracerPid:" && $2 == t { f = FILENAME; sub("/status$", "", f); print f }' \
		/proc/[0-9]*/status 2>/dev/null | while read -r d; do
		[ "$(cut -d' ' -f1 "$d/syscall" 2>/dev/null)" = "$1" ] && echo "${d#/proc/}"
	done
}
owner() { stat -c %u:%g "$1"; }
# rm_soon KEY: Remove, retried for up to 5 s (a closed connection reaches
# the broker's loop asynchronously).
rm_soon() {
	_i=0
	while [ $_i -lt 50 ]; do
		st rm "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	st rm "$1"
}

# ---- layers: l1 (etc/l1 0:0, data/ owned by 65534), l2 (etc/l2), and on top
# of them the active snapshot `work` (own) and the view `view1` ----
st prepare l1-a >/dev/null
up=$(upper_of l1-a)
mkdir -p "$up/etc" "$up/data"
echo "layer one" >"$up/etc/l1"
chown 65534:65534 "$up/data"
st commit l1 l1-a
st prepare l2-a l1 >/dev/null
up=$(upper_of l2-a)
mkdir -p "$up/etc"
echo "layer two" >"$up/etc/l2"
st commit l2 l2-a
st prepare work l2 >/dev/null
W=$(upper_of work)
echo "own" >"$W/own"
L2=$(lower_of work)
st view view1 l2 >/dev/null
[ -d "$W" ] && [ -f "$L2/etc/l2" ] || { fail "layers set up" "upper $W, lower $L2"; summary; exit 1; }

# ---- an active snapshot with parents: an overlay ----
mkdir -p "$M/work"
run st mount work "$M/work"
expect_rc "mount an active snapshot with parents" 0
out_has "it is an overlay of its 3 layers, read-write" "overlay, 3 layers, read-write"
same "files of every layer are visible" "$(cat "$M/work/etc/l1" "$M/work/etc/l2" "$M/work/own" 2>&1)" \
	"layer one
layer two
own"
check "the mount is nosuid and nodev" sh -c "findmnt -n -o OPTIONS --mountpoint '$M/work' | grep -q nosuid &&
	findmnt -n -o OPTIONS --mountpoint '$M/work' | grep -q nodev"
echo "written" >"$M/work/new"
same "a new file lands in the upperdir on disk" "$(cat "$W/new" 2>&1)" "written"
echo "changed" >"$M/work/etc/l2"
same "a changed lower file is copied up" "$(cat "$W/etc/l2" 2>&1)" "changed"
same "the lower layer on disk is unchanged" "$(cat "$L2/etc/l2")" "layer two"
run st rm work
expect_rc "rm of a mounted snapshot fails" 1
err_has "... with FailedPrecondition" FailedPrecondition
run st mount view1 "$M/work"
expect_rc "a second mount at a held path is refused" 1
err_has "... with AlreadyExists" AlreadyExists
same "... and the first mount stays" "$(cat "$M/work/own" 2>&1)" "own"
run st umount "$M/work"
expect_rc "umount" 0
out_has "umount names the snapshot" "(work)"
check "the directory is no longer a mount point" not_mounted "$M/work"
run st umount "$M/work"
expect_rc "umount of a directory that is not mounted fails" 1
err_has "... saying it is not a mount point" "not a mount point"

# ---- --json, and a mount point given through a symlink ----
# A symlink in a leading component is followed; the target is the real path.
ln -s "$M" "$T/mlink"
run st --json mount work "$T/mlink/work"
expect_rc "mount --json through a symlinked leading component" 0
same "mount --json: the fields" "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));
print(d["key"], d["target"], d["type"], d["read_only"], d["layers"], d["idmapped"])' "$T/out" 2>&1)" \
	"work $M/work overlay False 3 False"
run st --json umount "$M/work"
expect_rc "umount --json by the real path" 0
same "umount --json: the fields" "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));
print(d["target"], d["key"], d["unmounted"])' "$T/out" 2>&1)" "$M/work work True"
# A symlink as DIR itself is never followed, with or without a trailing
# slash: one planted in a directory another user can write must not send
# root's mount elsewhere.
ln -s "$M/work" "$T/worklink"
for d in "$T/worklink" "$T/worklink/"; do
	run st mount work "$d"
	expect_rc "mount at a symlink ($d) is refused" 1
	err_has "... saying it is a symbolic link" "is a symbolic link"
	check "... nothing is mounted at its target" not_mounted "$M/work"
done

# ---- a view: read-only ----
mkdir -p "$M/view"
run st mount view1 "$M/view"
expect_rc "mount a view" 0
out_has "a view is read-only" "read-only"
same "a view shows its parents' files" "$(cat "$M/view/etc/l1" "$M/view/etc/l2" 2>&1)" "layer one
layer two"
check "writing to a view fails with EROFS" sh -c "! touch '$M/view/x' 2>'$T/touch.err' &&
	grep -q 'Read-only file system' '$T/touch.err'"
check "umount the view" st umount "$M/view"

# ---- an active snapshot mounted --read-only ----
mkdir -p "$M/ro"
run st mount --read-only work "$M/ro"
expect_rc "mount --read-only of an active snapshot" 0
out_has "... its own layer on top: 3 layers, read-only" "3 layers, read-only"
same "... shows its own files" "$(cat "$M/ro/own" 2>&1)" "own"
check "... writing fails with EROFS" sh -c "! touch '$M/ro/x' 2>'$T/touch.err' &&
	grep -q 'Read-only file system' '$T/touch.err'"
check "umount the read-only mount" st umount "$M/ro"

# ---- a snapshot without parents: a bind ----
st prepare solo >/dev/null
S=$(upper_of solo)
echo "solo" >"$S/solo"
mkdir -p "$M/solo"
run st mount solo "$M/solo"
expect_rc "mount a snapshot without parents" 0
# An overlay over an empty layer, not a bind: an overlay marks its upperdir
# in use, and Commit asks the kernel about that mark.
out_has "it is an overlay of its one layer, read-write" "overlay, 1 layer, read-write"
same "... showing its files" "$(cat "$M/solo/solo" 2>&1)" "solo"
echo "via overlay" >"$M/solo/w"
same "... and writes land in its directory" "$(cat "$S/w" 2>&1)" "via overlay"
check "umount it" st umount "$M/solo"
check "the unmounted bind's snapshot can be removed" st rm solo

# ---- refusals ----
mkdir -p "$M/no"
run st mount l1 "$M/no"
expect_rc "mount of a committed snapshot fails" 1
err_has "... with FailedPrecondition" FailedPrecondition
run st mount missing "$M/no"
expect_rc "mount of a missing snapshot fails" 3
err_has "... with NotFound" NotFound
check "nothing was mounted" not_mounted "$M/no"
run st mount work "$T/nonexistent"
expect_rc "mount at a missing directory fails" 3

# ---- DIR renamed and replaced by a symlink while strata mount runs ----
# strace stops the CLI at the entry of move_mount (429, the same on every
# architecture) for 3 s: the window between resolving DIR and attaching.
# Meanwhile DIR's parent is renamed and a symlink to another directory takes
# its name.  The mount must not follow the new name; it goes to the
# directory that was opened, and since that is no longer where the hold
# says, it is detached again and the command fails, leaving nothing mounted.
R=$T/race
mkdir -p "$R/x/sub/dir" "$R/victim/dir"
st prepare race l2 >/dev/null
strace -f -qq -o "$T/race.trace" -e trace=move_mount -e inject=move_mount:delay_enter=3s \
	"$STRATA" --address "$ADDR" mount race "$R/x/sub/dir" >"$T/out" 2>"$T/err" &
tracer=$!
at_exit "kill $tracer 2>/dev/null; wait $tracer 2>/dev/null"
i=0
while [ -z "$(traced_in 429)" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ -n "$(traced_in 429)" ]; then
	mv "$R/x/sub" "$R/moved"
	ln -s "$R/victim" "$R/x/sub"
	wait "$tracer"
	rc=$?
	expect_rc "a mount point moved during strata mount fails" 1
	err_has "... saying it was moved" "was moved to \`$R/moved/dir\`"
	check "... the symlink's target is not mounted" not_mounted "$R/victim/dir"
	check "... the moved directory is not mounted either" not_mounted "$R/moved/dir"
	check "... move_mount took both ends as fds" \
		grep -q 'move_mount(.*MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH' "$T/race.trace"
	check "... and the hold was released (rm succeeds)" st rm race
else
	fail "strata mount stopped at move_mount" "$(cat "$T/err")"
	kill "$tracer"
	wait "$tracer"
fi
umount "$R/victim/dir" "$R/moved/dir" 2>/dev/null

# ---- without the privilege to mount: a clear error, and no hold left ----
st prepare noperm l2 >/dev/null
run setpriv --bounding-set=-sys_admin "$STRATA" --address "$ADDR" mount noperm "$M/no"
expect_rc "mount without CAP_SYS_ADMIN fails" 5
err_has "... saying that mounting needs privilege" "mounting needs privilege"
check "... nothing is mounted" not_mounted "$M/no"
check "... and the hold was released (rm succeeds)" st rm noperm

# ---- unmounted by other means: strata umount still releases the hold ----
st prepare tmp1 l2 >/dev/null
mkdir -p "$M/t1"
st mount tmp1 "$M/t1" >/dev/null
umount "$M/t1"
run st rm tmp1
expect_rc "the hold outlives a plain umount" 1
run st umount "$M/t1"
expect_rc "strata umount of a plainly unmounted directory releases the hold" 0
out_has "... and says nothing was mounted" "nothing was mounted"
check "... then rm succeeds" st rm tmp1

# ---- an attached mount's hold outlives a daemon restart ----
st prepare kept l2 >/dev/null
mkdir -p "$M/kept"
st mount kept "$M/kept" >/dev/null
stop_stratad
start_stratad "$ROOT" "$ADDR" --enable-probe || { fail "daemon restarts"; summary; exit 1; }
check "... the mount is still attached" mountpoint -q "$M/kept"
run st rm kept
expect_rc "after a restart, rm of the mounted snapshot still fails" 1
err_has "... with FailedPrecondition" FailedPrecondition
run st umount "$M/kept"
expect_rc "after a restart, strata umount releases it" 0
check "... then rm succeeds" st rm kept

# ---- a 200-layer chain ----
parent=""
i=1
while [ $i -le 200 ]; do
	# shellcheck disable=SC2086 # no parent for the first layer
	st prepare "c$i-a" $parent >/dev/null || break
	up=$(upper_of "c$i-a")
	echo "layer $i" >"$up/f$i" || break
	st commit "c$i" "c$i-a" || break
	parent=c$i
	i=$((i + 1))
done
check "200 layers committed" test $i -eq 201
st prepare deep c200 >/dev/null
echo "top" >"$(upper_of deep)/top"
optlen=$(st mounts deep | awk '{ print length($3); exit }')
check "its overlay options ($optlen bytes) exceed one page" test "${optlen:-0}" -gt 4096
mkdir -p "$M/deep"
run st mount deep "$M/deep"
expect_rc "mount a snapshot on a 200-layer chain" 0
out_has "... an overlay of 201 layers" "overlay, 201 layers"
same "... the bottom layer's file is visible" "$(cat "$M/deep/f1" 2>&1)" "layer 1"
same "... the top parent's file is visible" "$(cat "$M/deep/f200" 2>&1)" "layer 200"
same "... its own file is visible" "$(cat "$M/deep/top" 2>&1)" "top"
same "... every layer's file is there" "$(find "$M/deep" -maxdepth 1 -name 'f[0-9]*' | wc -l)" 200
check "umount the deep mount" st umount "$M/deep"
st view deepview c200 >/dev/null
run mfd deepview read f1
expect_rc "the unprivileged client reads a 200-layer view" 0
out_is "... the bottom layer's file" "layer 1"

# ---- the unprivileged client: reads, writes (active), fails (view) ----
run mfd work read etc/l1
expect_rc "unprivileged client reads through the fd" 0
out_is "... the bottom layer's file" "layer one"
err_has "... after dropping every privilege" "running as 65534:65534, CapEff 0000000000000000"
run mfd work write data/byuser hello
expect_rc "unprivileged client writes into a directory it owns" 0
same "... the file is in the upperdir on disk" "$(cat "$W/data/byuser" 2>&1)" "hello"
same "... owned by the client" "$(owner "$W/data/byuser")" "65534:65534"
run mfd work write etc/l1 nope
expect_rc "unprivileged client cannot write root's file" 1
err_has "... EACCES: it has no privilege left" EACCES
run mfd work info
out_is "the client is told what it got" "overlay 3 rw plain"
run mfd view1 read etc/l2
expect_rc "unprivileged client reads a view" 0
out_is "... its parent's file" "layer two"
run mfd view1 write data/x y
expect_rc "unprivileged client cannot write a view" 1
err_has "... EROFS" EROFS
run mfd --read-only work write data/y z
expect_rc "unprivileged client cannot write an active snapshot mounted read-only" 1
err_has "... EROFS" EROFS
check "... and nothing was written" test ! -e "$W/data/y"
run mfd l1 read etc/l1
expect_rc "the client gets no fd for a committed snapshot" 3
err_has "... FailedPrecondition" FailedPrecondition

# ---- idmapped: uids=0:100000:65536 shows on-disk 0 as 100000 ----
IDMAP=uids=0:100000:65536,gids=0:100000:65536
mkdir -p "$M/idm"
run st mount --idmap "$IDMAP" work "$M/idm"
expect_rc "idmapped mount" 0
out_has "... said to be idmapped" "idmapped"
same "a file 0:0 on disk is 100000:100000 through the mount" "$(owner "$M/idm/etc/l1" 2>&1)" 100000:100000
same "a directory 65534 on disk is 165534 through the mount" "$(owner "$M/idm/data" 2>&1)" 165534:165534
run setpriv --reuid=100000 --regid=100000 --clear-groups sh -c "echo mapped >'$M/idm/byidmap'"
expect_rc "uid 100000 (root of the mapping) creates a file through it" 0
same "... which is 0:0 on disk" "$(owner "$W/byidmap" 2>&1)" 0:0
check "host root (unmapped) cannot create files through it" sh -c "! touch '$M/idm/byroot' 2>/dev/null"
check "umount the idmapped mount" st umount "$M/idm"
same "on disk, the lower file is still 0:0" "$(owner "$L2/etc/l2")" 0:0
same "on disk, the layer's directory is still 65534" "$(owner "$W/data")" 65534:65534
run mfd --idmap "$IDMAP" work stat etc/l2
out_is "the unprivileged client sees the shifted owner" 100000:100000
run mfd work stat etc/l2
out_is "... and without --idmap the on-disk owner" 0:0
run mfd --idmap "$IDMAP" --user 100000 work write byidmap2 x
expect_rc "a client running as 100000 writes through an idmapped fd" 0
same "... creating a file 0:0 on disk" "$(owner "$W/byidmap2" 2>&1)" 0:0
mkdir -p "$M/idv"
run st mount --idmap "$IDMAP" view1 "$M/idv"
expect_rc "an idmapped view" 0
same "... shows shifted owners" "$(owner "$M/idv/etc/l1" 2>&1)" 100000:100000
check "umount the idmapped view" st umount "$M/idv"
run st mount --idmap "uids=0:100000:10;5:200000:10,gids=0:100000:10" work "$M/no"
expect_rc "overlapping uid ranges are refused" 1
err_has "... with InvalidArgument" InvalidArgument
check "... nothing is mounted" not_mounted "$M/no"

# ---- holds: a client that holds the fd, then dies ----
st prepare held l2 >/dev/null
# Not through mfd: `FUNCTION &` would make $! a subshell, not the client.
"$MOUNTFD" --address "$ADDR" held hold >"$T/hold.out" 2>"$T/hold.err" &
holder=$!
at_exit "kill -9 $holder 2>/dev/null; wait $holder 2>/dev/null"
i=0
while ! grep -q holding "$T/hold.out" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "the holding client runs" grep -q holding "$T/hold.out"
run st rm held
expect_rc "rm of a snapshot whose fd a client holds fails" 1
err_has "... with FailedPrecondition" FailedPrecondition
kill -9 "$holder"
wait "$holder" 2>/dev/null
check "rm succeeds once the holding client was killed" rm_soon held
st prepare brief l2 >/dev/null
mfd brief read etc/l1 >/dev/null 2>&1
check "rm succeeds after a client that held the fd exited" rm_soon brief
check "rm of the unmounted work succeeds" st rm work

# ---- the mount role's confinement, from outside ----
# mount = CAP_CHOWN (0), CAP_DAC_OVERRIDE (1), CAP_DAC_READ_SEARCH (2),
# CAP_FOWNER (3), CAP_FSETID (4), CAP_SYS_ADMIN (21), CAP_MKNOD (27), CAP_SETFCAP (31)
MOUNT_CAPS=000000008820001f
# confined PID WHAT: the checks every mount worker must pass.
confined() {
	check "$2 has only the mount role's capabilities" test "$(field "$1" CapEff)" = $MOUNT_CAPS
	check "$2 bounding set is the mount role's" test "$(field "$1" CapBnd)" = $MOUNT_CAPS
	check "$2 has no_new_privs" test "$(field "$1" NoNewPrivs)" = 1
	check "$2 runs under a seccomp filter" test "$(field "$1" Seccomp)" = 2
	check "$2 has a private mount namespace" test "$(readlink "/proc/$1/ns/mnt")" != "$(readlink /proc/self/ns/mnt)"
	check "$2 has a private network namespace" test "$(readlink "/proc/$1/ns/net")" != "$(readlink /proc/self/ns/net)"
	check "$2 sees no host file" test ! -e "/proc/$1/root/etc/passwd"
	check "$2 root is read-only" sh -c "! touch /proc/$1/root/x 2>/dev/null"
}
st prepare probed l2 >/dev/null
st debug probe mount close probed --hold 4000 >"$T/probe.out" 2>&1 &
cli=$!
i=0
while ! grep -q '^pid ' "$T/probe.out" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
w=$(awk '$1 == "pid" { print $2; exit }' "$T/probe.out")
if [ -n "$w" ] && [ -d "/proc/$w" ]; then
	confined "$w" "a probe confined as the mount role"
else
	fail "a probe confined as the mount role caught" "$(cat "$T/probe.out")"
fi
wait "$cli"
for sys in mount move_mount pivot_root setns umount2 open_tree mount_setattr; do
	if out=$(st debug probe mount "$sys" probed 2>&1); then
		fail "a mount worker calling $sys is killed" "probe succeeded: $out"
	else
		case $out in
		*"seccomp policy violation"*) pass "a mount worker calling $sys is killed by its policy" ;;
		*) fail "a mount worker calling $sys is killed" "$out" ;;
		esac
	fi
done

# A real mount worker, caught mid-job: strace follows the spawner's forks and
# delays every fsopen 3 s.  A worker calls fsopen twice: for its tmpfs root
# while it sets up its view, then, confined, for the overlay; it is caught in
# the second (seccomp on, the call pending).
spawner=$(pgrep -P "$STRATAD_PID" -f -- spawner | head -n 1)
# traced_in_fsopen: the pids traced by $tracer, confined, waiting in fsopen (430).
traced_in_fsopen() {
	traced_in 430 | while read -r p; do
		[ "$(field "$p" Seccomp)" = 2 ] && echo "$p"
	done
}
if [ -z "$spawner" ]; then
	fail "the spawner process found"
else
	strace -f -qq -o /dev/null -p "$spawner" -e trace=fsopen -e inject=fsopen:delay_enter=3s &
	tracer=$!
	at_exit "kill $tracer 2>/dev/null; wait $tracer 2>/dev/null"
	i=0
	while [ "$(field "$spawner" TracerPid)" != "$tracer" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	mkdir -p "$M/caught"
	st mount probed "$M/caught" >"$T/caught.out" 2>&1 &
	cli=$!
	w=''
	i=0
	while [ -z "$w" ] && [ $i -lt 100 ]; do
		w=$(traced_in_fsopen | head -n 1)
		[ -n "$w" ] || sleep 0.1
		i=$((i + 1))
	done
	if [ -n "$w" ]; then
		confined "$w" "a mount worker caught mid-job"
		check "a mount worker's view holds only snap, lower and the empty out and empty" \
			test "$(ls -A "/proc/$w/root/" | tr '\n' ' ')" = "empty lower out snap "
	else
		fail "a mount worker caught mid-job" "$(cat "$T/caught.out")"
	fi
	wait "$cli"
	check "the held mount completes" mountpoint -q "$M/caught"
	kill "$tracer"
	wait "$tracer" 2>/dev/null
	check "umount the caught mount" st umount "$M/caught"
fi

check "the daemon still serves" st stat l1
check "no mount left under the test's mount points" test -z "$(findmnt -rn -o TARGET | grep -F "$M/" || true)"
summary
