#!/bin/sh
# strata's trust boundaries, attacked from outside as an attacker would
# (SECURITY.md names each check here):
#   - a mount fd's holder, an ordinary user with a user and mount namespace of
#     its own, cannot clear the fd's read-only, nodev or nosuid flags
#     (mount_setattr on the fd or a clone, or a bind remount once attached),
#     so a view stays read-only (EROFS) and a layer's device nodes stay
#     unopenable;
#   - an extract worker holds no host file its capabilities act on: a layer
#     given as a FIFO (owned by another user, so that the worker waits)
#     reaches it through a pipe a feeder fills, and what the worker's
#     capabilities would do to its fd 4 (chown, chmod 4755, file
#     capabilities) leaves the layer's file as it was; a regular file is
#     reopened read-only for it (probe-broker.sh attacks that fd), unless
#     the client's file is on a mount of a mount namespace of its own, which
#     a feeder then reads;
#   - the daemon takes a layer only in a regular file or a pipe it can read
#     through the client's fd: a directory, a character device (/dev/zero),
#     a socket, an eventfd, an O_PATH or a write-only fd as the layer gets
#     InvalidArgument, and the daemon serves on.
# lib.sh stops the daemon by pid, unmounts everything under $T and removes
# it on exit.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname "$0")/../cli-lib.sh"
lib_init boundaries
need_tools python3
ensure_user
umask 022 # layer files readable by the unprivileged client
STRATA=${STRATA:-$B/strata}
MOUNTFD=${MOUNTFD:-$B/tests/mountfd}
ADDR=$T/s.sock
ROOT=$T/root
start_stratad "$ROOT" "$ADDR" --log-level debug || { fail "daemon starts"; summary; exit 1; }
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

# ---- an extract worker holds no host file ----
field() { awk -v k="$2:" '$1 == k { print $2; exit }' "/proc/$1/status"; }
mkdir -p "$T/layer/etc" && echo hi >"$T/layer/etc/hello"
mkfifo -m 0644 "$T/layer.fifo"
chown 65534:65534 "$T/layer.fifo"
st prepare x1 >/dev/null
st apply x1 "$T/layer.fifo" >"$T/apply.out" 2>&1 &
cli=$!
exec 9>"$T/layer.fifo" # the writer end: the apply waits for the layer
w=''
i=0
while [ -z "$w" ] && [ $i -lt 50 ]; do
	for p in $(pgrep -P "$(pgrep -P "$STRATAD_PID" | tr '\n' ',' | sed 's/,$//')" 2>/dev/null); do
		[ "$(field "$p" Seccomp)" = 2 ] && [ -d "/proc/$p/root/target" ] && w=$p
	done
	[ -n "$w" ] || sleep 0.1
	i=$((i + 1))
done
if [ -n "$w" ]; then
	check "an extract worker's input is a pipe" sh -c "readlink /proc/$w/fd/4 | grep -q '^pipe:'"
	# What CAP_CHOWN, CAP_FOWNER, CAP_FSETID and CAP_SETFCAP let the worker
	# do to its fd 4, done to it from outside.
	chown 0:0 "/proc/$w/fd/4" 2>/dev/null
	chmod 4755 "/proc/$w/fd/4" 2>/dev/null
	python3 -c 'import os, sys; os.setxattr(sys.argv[1], "security.capability",
		bytes.fromhex("0100000200200000000000000000000000000000"))' "/proc/$w/fd/4" 2>/dev/null
	same "... so the worker's capabilities leave the layer's file as it was" \
		"$(stat -c '%u:%g %a' "$T/layer.fifo")" "65534:65534 644"
	same "... with no file capabilities" "$(python3 -c 'import os, sys; print(os.listxattr(sys.argv[1]))' \
		"$T/layer.fifo")" "[]"
else
	fail "an extract worker caught mid-job" "$(cat "$T/apply.out")"
fi
tar -C "$T/layer" -cf - . >&9
exec 9>&-
wait "$cli"
check "... and the apply completes" grep -q '^sha256:' "$T/apply.out"
tar -C "$T/layer" -cf "$T/layer.tar" .
st prepare x2 >/dev/null
run st apply x2 "$T/layer.tar"
expect_rc "a layer in a regular file applies" 0
check "... reopened read-only for the worker, with no feeder" \
	grep -q "job [0-9]*: the layer is a file, reopened read-only" "$T/stratad.log"
# A client in a mount namespace of its own, its layer on a tmpfs only it
# sees: the spawner cannot clone that mount, and a feeder reads the file.
st prepare x4 >/dev/null
run unshare -m sh -c 'mount --make-rprivate / && mkdir -p "$1/ns" && mount -t tmpfs strata-test "$1/ns" &&
	cp "$1/layer.tar" "$1/ns/" && "$2" --address "$3" apply x4 "$1/ns/layer.tar"' sh "$T" "$STRATA" "$ADDR"
expect_rc "a layer on a mount of the client's own mount namespace applies" 0
check "... read by a feeder" grep -q "feeder [0-9]*: job [0-9]*, the layer is a file (reopen the layer" \
	"$T/stratad.log"
check "... and it is the whole layer" test "$(find "$(upper_of x4)" -type f | wc -l)" = 1

# ---- a layer travels in a regular file or a pipe only ----
# Straight on the native socket, as any client could send them (the CLI
# itself refuses some kinds before it asks).
st prepare x3 >/dev/null
for kind in dir chardev socket eventfd; do
	run timeout 30 python3 "$REPO/tests/tools/rawapply.py" "$ADDR.fd" x3 $kind
	out_match "a $kind as the layer is refused with InvalidArgument (3)" "^3 .*a regular file or a pipe, not"
done
for kind in opath wronly; do
	run timeout 30 python3 "$REPO/tests/tools/rawapply.py" "$ADDR.fd" x3 $kind
	what=$([ $kind = opath ] && echo "an O_PATH" || echo "a write-only")
	out_match "$what fd of a file as the layer is refused with InvalidArgument (3)" \
		"^3 .*the layer's fd is not open for reading"
done
for kind in file pipe; do
	st rm x3 >/dev/null 2>&1
	st prepare x3 >/dev/null
	run timeout 30 python3 "$REPO/tests/tools/rawapply.py" "$ADDR.fd" x3 $kind
	out_is "a $kind as the layer applies" "0 "
done
run st diff x2 -o /
expect_rc "a directory as a diff's output is refused" 1
check "the daemon still serves" st stat x3

summary
