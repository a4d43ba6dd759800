#!/bin/sh
# How stratad is deployed. The binaries `make install` installs map only
# their own role's libraries (tests/structure.sh). The systemd unit as it
# installs it: `systemd-analyze verify` finds nothing to say,
# `systemd-analyze security` rates it no worse than the bound below.
# stratad under an emulation of that unit (tests/fixtures/stratad-as-unit.sh,
# with the installed unit) does each thing the unit must leave open: `strata
# mount` (plain and idmapped: user namespaces), the diff service's Apply and
# Diff (a writable content_root), a layer's device nodes (mknod under the
# unit's device list). And what stratad does at start to the directory its
# socket lives in: an existing one (as /tmp, 1777) keeps its mode and owner,
# a missing one is created 0711 root. lib.sh stops the daemons by pid,
# unmounts and removes $T.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname -- "$0")/../cli-lib.sh"
lib_init unit
need_tools systemd-analyze
ensure_user
umask 022 # layer files readable by the unprivileged users below
STRATA=${STRATA:-$B/strata}
PLAIN_STRATAD=$STRATAD
# The most `systemd-analyze security` may rate the installed unit, in tenths.
# Without user namespaces it was 2.8; `user` in RestrictNamespaces= adds 0.3
# (the heaviest namespace type); what strata does not need takes it back:
# the device list, ProcSubset=, CAP_KILL (the parent signals the broker as
# the broker's uid), CAP_SYS_CHROOT (nothing chroots), ipc and uts
# namespaces (the service's own serve the workers).
EXPOSURE_MAX=28
mode_owner() { stat -c '%a %u:%g' "$1"; }
status_field() { awk -v k="$2:" '$1 == k { print $2; exit }' "/proc/$1/status"; }

# ---- the installed binaries and unit ----
DEST=$T/dest
if ! make -s -C "$REPO" install DESTDIR="$DEST" PREFIX=/usr/local B="$B" >"$T/install.log" 2>&1; then
	fail "make install DESTDIR=..." "$(tail -n 5 "$T/install.log")"
	summary
	exit 1
fi
check "the installed daemon binaries map only their own role's libraries" \
	sh "$REPO/tests/structure.sh" "$B" "$DEST/usr/local/sbin"
UNIT=$DEST/usr/local/lib/systemd/system/strata.service
check "the installed unit starts the installed stratad" grep -q '^ExecStart=/usr/local/sbin/stratad ' "$UNIT"
# verify wants ExecStart's binary where the unit says: a copy pointing into DEST.
mkdir -p "$T/verify"
sed "s|^ExecStart=/usr/local/sbin/|ExecStart=$DEST/usr/local/sbin/|" "$UNIT" >"$T/verify/strata.service"
cp "$DEST/usr/local/lib/systemd/system/strata.socket" "$T/verify/"
run systemd-analyze verify "$T/verify/strata.service"
if [ "$rc" -eq 0 ] && [ ! -s "$T/out" ] && [ ! -s "$T/err" ]; then
	pass "systemd-analyze verify: no warning"
else
	fail "systemd-analyze verify: no warning" "$(show)"
fi
max=$((EXPOSURE_MAX / 10)).$((EXPOSURE_MAX % 10))
run systemd-analyze security --offline=true --threshold=$EXPOSURE_MAX "$UNIT"
exposure=$(sed -n 's/.*Overall exposure level for strata.service: \([0-9.]*\).*/\1/p' "$T/out")
if [ "$rc" -eq 0 ] && [ -n "$exposure" ]; then
	pass "systemd-analyze security: exposure $exposure, at most $max"
else
	fail "systemd-analyze security: exposure ${exposure:-?}, at most $max" \
		"$(grep '✗' "$T/out" | sed 's/  */ /g' | tr '\n' ';')"
fi

# ---- stratad under the installed unit's confinement ----
STRATAD=$REPO/tests/fixtures/stratad-as-unit.sh
STRATA_UNIT=$UNIT
export STRATA_UNIT
CG=''
# The daemon's devices cgroup goes after the daemon (a cgroup with members
# cannot be removed): its workers may take a moment to be reaped.
drop_cgroup()
{
	stop_stratad >/dev/null 2>&1
	_i=0
	while [ -n "$CG" ] && [ -d "$CG" ] && ! rmdir "$CG" 2>/dev/null && [ $_i -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	[ -z "$CG" ] || [ ! -d "$CG" ] || echo "unit.sh: cannot remove $CG" >&2
}
if [ -f /sys/fs/cgroup/devices/devices.deny ]; then
	CG=/sys/fs/cgroup/devices/strata-unit.$$
	STRATA_UNIT_CGROUP=$CG
	export STRATA_UNIT_CGROUP
	at_exit drop_cgroup
else
	echo "skip the unit's device list: no cgroup v1 devices controller to emulate it with"
fi
# The socket in a directory of its own: it stands for /run/strata.
ADDR=$T/run/u.sock
CONTENT=$T/content
mkdir -p "$CONTENT"
start_stratad "$T/root" "$ADDR" --content-root "$CONTENT" || {
	fail "stratad starts under the unit"
	summary
	exit 1
}
pass "stratad starts under the unit"
# The emulation is in force (so that nothing below passes for lack of it).
check "... with no_new_privs" test "$(status_field "$STRATAD_PID" NoNewPrivs)" = 1
check "... under a seccomp filter (RestrictNamespaces=)" test "$(status_field "$STRATAD_PID" Seccomp)" = 2
check "... seeing / read-only (ProtectSystem=strict)" \
	sh -c "findmnt -N '$STRATAD_PID' -n -o OPTIONS / | grep -q '^ro'"
check "... and a /proc of processes only (ProcSubset=pid)" \
	sh -c "findmnt -N '$STRATAD_PID' -n -o OPTIONS /proc | grep -q 'subset=pid'"
[ -z "$CG" ] || check "... in the unit's devices cgroup" grep -q ":devices:/${CG##*/}\$" "/proc/$STRATAD_PID/cgroup"

# strata mount, plain and idmapped.
st prepare m >/dev/null
UP=$(st mounts m | awk '$1 == "bind" { print $2; exit }')
echo "mine" >"$UP/f"
mkdir -p "$T/m" "$T/idm"
run st mount m "$T/m"
expect_rc "strata mount under the unit" 0
same "... shows the snapshot" "$(cat "$T/m/f" 2>&1)" mine
st umount "$T/m" >/dev/null 2>&1
run st mount --idmap uids=0:100000:65536,gids=0:100000:65536 m "$T/idm"
expect_rc "strata mount --idmap under the unit (RestrictNamespaces= has user)" 0
same "... shows 0:0 on disk as 100000:100000" "$(stat -c %u:%g "$T/idm/f" 2>&1)" 100000:100000
st umount "$T/idm" >/dev/null 2>&1

# A layer's device nodes: created as containerd creates them, whatever their
# major (4:1 a tty, 7:0 a loop device; neither among the pseudo devices).
mkdir -p "$T/layer/dev"
mknod "$T/layer/dev/tty1" c 4 1
mknod "$T/layer/dev/loop0" b 7 0
tar -C "$T/layer" -cf "$T/devices.tar" dev
st prepare dev >/dev/null
run st apply dev "$T/devices.tar"
expect_rc "a layer with device nodes applies under the unit (DeviceAllow= m)" 0
DUP=$(st mounts dev | awk '$1 == "bind" { print $2; exit }')
same "... a character device 4:1" "$(stat -c '%F %Hr:%Lr' "$DUP/dev/tty1" 2>&1)" "character special file 4:1"
same "... a block device 7:0" "$(stat -c '%F %Hr:%Lr' "$DUP/dev/loop0" 2>&1)" "block special file 7:0"

# containerd's diff service: Apply reads blobs from content_root, Diff writes
# the layers it creates there.
if go_build strata-tests/diffapply; then
	run "$T/bin/diffapply" -address "$ADDR" -content "$CONTENT" -root "$T/root"
	expect_rc "the diff service under the unit: Apply, and Diff into content_root" 0
	[ "$rc" -eq 0 ] || grep '^FAIL' "$T/out" | head -n 10 | sed 's/^/     | /'
else
	fail "build diffapply"
fi
# Without CAP_KILL the parent still stops the broker (it signals it as the
# broker's uid), and the workers share the service's ipc and uts namespaces.
check "stratad stops on SIGTERM under the unit (no CAP_KILL)" stop_stratad
check "... and says the workers share its ipc and uts namespaces" \
	sh -c "grep -q 'share the daemon.s ipc namespace' '$T/stratad.log' &&
		grep -q 'share the daemon.s uts namespace' '$T/stratad.log'"
drop_cgroup
STRATAD=$PLAIN_STRATAD

# ---- the directory of the socket ----
# An existing one (here a stand-in for /tmp: another owner, 1777) is used as
# it is.
SHARED=$T/shared
mkdir "$SHARED"
chown 65534:65534 "$SHARED"
chmod 1777 "$SHARED"
: >"$T/stratad.log"
ADDR=$SHARED/strata.sock
if start_stratad "$T/root-shared" "$ADDR"; then
	check "a socket in an existing 1777 directory serves" st ls
	same "... the directory keeps its mode and owner" "$(mode_owner "$SHARED")" "1777 65534:65534"
	stop_stratad >/dev/null 2>&1
	same "... after stratad stopped too" "$(mode_owner "$SHARED")" "1777 65534:65534"
else
	fail "stratad starts with its socket in an existing 1777 directory"
fi
# A missing one, and its missing parent, are strata's: 0711 root. Under a
# setgid directory too (which would give them its group and bit).
mkdir "$T/sgid"
chown 0:65534 "$T/sgid"
chmod 2775 "$T/sgid"
: >"$T/stratad.log"
ADDR=$T/sgid/made/run/strata.sock
if start_stratad "$T/root-made" "$ADDR"; then
	check "a socket in a missing directory serves" st ls
	same "... the directory is created 0711 root" "$(mode_owner "$T/sgid/made/run")" "711 0:0"
	same "... and its missing parent too" "$(mode_owner "$T/sgid/made")" "711 0:0"
	stop_stratad >/dev/null 2>&1
else
	fail "stratad starts with its socket in a missing directory"
fi

summary
