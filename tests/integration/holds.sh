#!/bin/sh
# Holds of attached mounts (`strata mount`, a raw Mount with attach_path):
# whose they are and when they end without their owner.
#   - mounted, unmounted by hand and the directory removed: Cleanup, or a
#     restart of the daemon, ends the hold; `strata umount DIR` releases it
#     even though DIR is gone (by its absolute path, relative or not);
#   - an overlay unmounted from above another mount at the same path ends
#     too (the hold knows the overlay's own device);
#   - a raw Mount with attach_path by a client that exits without attaching
#     ends at Cleanup;
#   - still mounted: Cleanup and a restart keep the hold;
#   - a mount in another mount namespace the daemon cannot see is never
#     taken for gone; root releases it;
#   - a daemon in a namespace of its own that receives the host's mounts
#     (as under systemd's PrivateMounts=) ends a hold once the unmount has
#     propagated to it, and keeps it until then;
#   - a hold belongs to the uid that took it: another unprivileged user
#     cannot release it, its owner and root can.
# lib.sh stops the daemon by pid, kills the helpers it registered, unmounts
# everything under $T and removes it on exit.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname "$0")/../cli-lib.sh"
lib_init holds
ensure_user
umask 022
STRATA=${STRATA:-$B/strata}
MOUNTFD=${MOUNTFD:-$B/tests/mountfd}
ADDR=$T/s.sock
ROOT=$T/root
M=$T/mnt
mkdir -p "$M"
[ -x "$MOUNTFD" ] || { fail "the test tool is built" "make $MOUNTFD"; summary; exit 1; }
# The unprivileged holders below act in containerd's keyspace, as members
# of its tenant.
printf '[tenant containerd]\nuids = 65533, 65534\n' >"$T/stratad.conf"
STRATAD_ARGS="--config $T/stratad.conf"
start_stratad "$ROOT" "$ADDR" || { fail "daemon starts"; summary; exit 1; }

CALL_TIMEOUT=60 # every call bounded (cli-lib.sh)
mfd() { timeout $CALL_TIMEOUT "$MOUNTFD" --address "$ADDR" "$@"; }
# as UID CMD...: CMD as an unprivileged user with no groups.
as() {
	_as_uid=$1
	shift
	setpriv --reuid="$_as_uid" --regid="$_as_uid" --clear-groups "$@"
}
restart() {
	stop_stratad
	start_stratad "$ROOT" "$ADDR" || { fail "daemon restarts"; summary; exit 1; }
}
refused() { ! st rm "$1" >/dev/null 2>&1; }
# mounted_then_gone KEY DIR: `strata mount KEY DIR`, then unmounted and
# removed behind strata's back.
mounted_then_gone() {
	mkdir "$2"
	st mount "$1" "$2" >/dev/null
	umount "$2"
	rmdir "$2"
}

st prepare base-a >/dev/null
echo base >"$(st mounts base-a | awk '{ print $2 }')/f"
st commit base base-a

# ---- mount, plain umount, rmdir: Cleanup ends the hold ----
st prepare hv base >/dev/null
mounted_then_gone hv "$M/m"
run st rm hv
expect_rc "before Cleanup, the hold of a plainly unmounted overlay stays" 1
err_has "... rm says it is mounted there" "at \`$M/m\`"
check "Cleanup succeeds" st cleanup
check "after Cleanup, rm of the snapshot succeeds" st rm hv
check "... and the daemon said why" grep -q "nothing is mounted at \`$M/m\` any more" "$T/stratad.log"

# ---- the same with a bind (a snapshot without parents), and a restart ----
st prepare hb >/dev/null
mounted_then_gone hb "$M/b"
check "the bind's hold stays before a restart" refused hb
restart
check "after a restart, rm of the unmounted bind's snapshot succeeds" st rm hb

# ---- strata umount of a directory that is gone releases the hold ----
st prepare hg base >/dev/null
mounted_then_gone hg "$M/g"
run st umount "$M/g"
expect_rc "strata umount of a removed mount point releases its hold" 0
out_has "... saying nothing was mounted there" "nothing was mounted at $M/g"
out_has "... and naming the snapshot" "hg"
check "... then rm succeeds without Cleanup" st rm hg
st prepare hr base >/dev/null
mounted_then_gone hr "$M/rel"
run sh -c "cd '$M' && '$STRATA' --address '$ADDR' umount ./x/../rel"
expect_rc "... also named relative to the current directory" 0
check "... then rm succeeds" st rm hr
run st umount "$M/never"
expect_rc "strata umount of a path that never held anything fails" 1
err_has "... saying no strata mount holds it" "no strata mount holds it"

# ---- an overlay unmounted from above another mount at the same path ----
st prepare hs base >/dev/null
mkdir "$M/s"
mount -t tmpfs below "$M/s"
st mount hs "$M/s" >/dev/null
umount "$M/s" # the overlay on top; the tmpfs stays
check "the path is still a mount point (the tmpfs below)" mountpoint -q "$M/s"
st cleanup
check "Cleanup ends the overlay's hold: the tmpfs is not its mount" st rm hs
umount "$M/s"

# ---- a raw Mount with attach_path by a client that exits ----
st prepare hc base >/dev/null
run mfd --attach "$M/raw" hc info
expect_rc "a client asks for a mount to attach at a path, then exits" 0
check "... its hold outlives it" refused hc
check "Cleanup succeeds" st cleanup
check "after Cleanup, rm of its snapshot succeeds" st rm hc
st prepare hn base >/dev/null
run mfd --attach "$M/a//b" hn info
expect_rc "an attach path that is not canonical is refused" 3
err_has "... with InvalidArgument" InvalidArgument

# ---- still mounted: Cleanup and a restart keep the hold ----
st prepare hk base >/dev/null
mkdir "$M/k"
st mount hk "$M/k" >/dev/null
st cleanup
check "Cleanup keeps the hold of a mount still attached" refused hk
restart
check "... and so does a restart" refused hk
check "strata umount releases it" st umount "$M/k"
check "... then rm succeeds" st rm hk

# ---- a mount the daemon cannot see (another mount namespace) ----
st prepare hp base >/dev/null
mkdir "$M/p"
unshare -m --propagation private sh -c \
	"'$STRATA' --address '$ADDR' mount hp '$M/p' >'$T/ns.out' 2>&1 && exec sleep 600" &
nspid=$!
at_exit "kill $nspid 2>/dev/null; wait $nspid 2>/dev/null"
i=0
while ! grep -q "mounted at" "$T/ns.out" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "a client mounts in a private mount namespace" grep -q "mounted at" "$T/ns.out"
check "... which the daemon's namespace does not see" sh -c "! mountpoint -q '$M/p'"
st cleanup
check "Cleanup keeps a hold whose mount it cannot see" refused hp
restart
check "... and so does a restart" refused hp
kill "$nspid"
wait "$nspid" 2>/dev/null
st cleanup
check "... even once that namespace is gone: it cannot know" refused hp
check "root releases it (strata umount of the unmounted path)" st umount "$M/p"
check "... then rm succeeds" st rm hp

# ---- a daemon in its own namespace that receives the host's mounts ----
# As under systemd's PrivateMounts=: $T is made shared here, and the daemon
# runs in a namespace whose copy of it is a slave.  It cannot read our
# namespace's mount of $T by id (a copy has another), so only seeing the
# mount propagate proves that it would see it go.
restart_in_slave_ns() {
	stop_stratad
	cat >"$T/stratad-slave" <<EOF
#!/bin/sh
exec unshare -m --propagation slave '$STRATAD' "\$@"
EOF
	chmod 0755 "$T/stratad-slave"
	STRATAD=$T/stratad-slave start_stratad "$ROOT" "$ADDR" || { fail "daemon starts in a slave namespace"; summary; exit 1; }
}
mount --bind "$T" "$T"
mount --make-shared "$T"
restart_in_slave_ns
check "the daemon runs in a mount namespace of its own" \
	test "$(readlink "/proc/$STRATAD_PID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)"
st prepare hd base >/dev/null
mkdir "$M/d"
st mount hd "$M/d" >/dev/null
check "a mount made here shows in the daemon's namespace" grep -q " $M/d " "/proc/$STRATAD_PID/mountinfo"
st cleanup
check "Cleanup keeps the hold while it is mounted" refused hd
umount "$M/d"
rmdir "$M/d"
st cleanup
check "once the unmount propagated, Cleanup ends the hold" st rm hd
stop_stratad
umount "$T"
start_stratad "$ROOT" "$ADDR" || { fail "daemon restarts"; summary; exit 1; }

# ---- a hold belongs to the uid that took it ----
chmod 0666 "$ADDR.fd" # the unprivileged users' door to this test's daemon
st prepare hu base >/dev/null
# exec: $! is then the holder itself (setpriv execs it), which the kill below
# must reach, not a shell around it.
(exec setpriv --reuid=65534 --regid=65534 --clear-groups "$MOUNTFD" --address "$ADDR" --attach "$M/u" hu hold \
	>"$T/u.out" 2>"$T/u.err") &
holder=$!
at_exit "kill $holder 2>/dev/null; wait $holder 2>/dev/null"
i=0
while ! grep -q holding "$T/u.out" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "user 65534 takes a hold at $M/u" grep -q holding "$T/u.out"
kill "$holder"
wait "$holder" 2>/dev/null
run as 65533 "$MOUNTFD" --address "$ADDR" --user 65533 - release "$M/u"
expect_rc "another user cannot release it" 1
err_has "... PermissionDenied" PermissionDenied
check "... and the hold stays" refused hu
run as 65534 "$MOUNTFD" --address "$ADDR" - release "$M/u"
expect_rc "its owner releases it" 0
out_is "... and is told which snapshot" hu
check "... then rm succeeds" st rm hu
st prepare hw base >/dev/null
run as 65534 "$MOUNTFD" --address "$ADDR" --attach "$M/w" hw info
check "root releases another user's hold" st umount "$M/w"
check "... then rm succeeds" st rm hw
st prepare hx base >/dev/null
run as 65534 "$MOUNTFD" --address "$ADDR" --attach "$M/x" hx info
st cleanup
check "an unprivileged client's hold that was never attached ends at Cleanup" st rm hx

check "the daemon still serves" st stat base
summary
