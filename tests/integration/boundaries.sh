#!/bin/sh
# strata's trust boundaries, attacked from outside as an attacker would
# (SECURITY.md names each check here):
#   - a mount fd's holder, an ordinary user with a user and mount namespace of
#     its own, cannot clear the fd's read-only, nodev or nosuid flags
#     (mount_setattr on the fd or a clone, or a bind remount once attached),
#     so a view stays read-only (EROFS) and a layer's device nodes stay
#     unopenable.
# lib.sh stops the daemon by pid, unmounts everything under $T and removes
# it on exit.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname "$0")/../cli-lib.sh"
lib_init boundaries
ensure_user
umask 022 # layer files readable by the unprivileged client
STRATA=${STRATA:-$B/strata}
MOUNTFD=${MOUNTFD:-$B/tests/mountfd}
ADDR=$T/s.sock
ROOT=$T/root
start_stratad "$ROOT" "$ADDR" || { fail "daemon starts"; summary; exit 1; }
[ -x "$MOUNTFD" ] || { fail "the test tool is built" "make $MOUNTFD"; summary; exit 1; }
mfd() { timeout 60 "$MOUNTFD" --address "$ADDR" "$@"; }
upper_of() { st mounts "$1" | awk '$1 == "bind" { print $2; exit }'; }

# ---- mount fds: flags the holder cannot clear ----
# A one-layer image (a view of it is a clone of the committed directory) with
# a file and a world-writable block device: the disk this test runs on.
st prepare base-a >/dev/null
up=$(upper_of base-a)
echo "committed" >"$up/file"
chmod 0666 "$up/file" # anyone could write it, were the view writable
disk=$(stat -c '%t %T' "$(df --output=source "$T" | tail -1)" 2>/dev/null)
set -- $disk
mknod -m 0666 "$up/disk" b "$((0x${1:-8}))" "$((0x${2:-0}))"
st commit base base-a
st view v1 base >/dev/null
st prepare w1 base >/dev/null

run mfd v1 unlock write file "changed"
out_is "a view's fd: its holder cannot clear its flags from a user namespace of its own" "refused: EPERM"
err_has "... and a write through it still gives EROFS" "write file: EROFS"
same "... the committed layer is unchanged" "$(cat "$up/file")" "committed"
run mfd v1 unlock open disk
out_is "... nor on a second try" "refused: EPERM"
err_has "... and a device node of the layer stays unopenable (nodev)" "open disk: EACCES"
run mfd w1 unlock open disk
out_is "an active snapshot's fd: nodev and nosuid cannot be cleared either" "refused: EPERM"
err_has "... the device node stays unopenable" "open disk: EACCES"

summary
