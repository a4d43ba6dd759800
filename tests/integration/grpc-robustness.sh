#!/bin/sh
# The gRPC front door under load and abuse: tests/go/.../grpcstress runs many
# connections x streams of Prepare/Stat/List/Remove with grpc-go and
# containerd's generated client, checking every answer, while other clients
# send garbage, hang up mid-request, send an oversized, compressed or
# undecodable message and call an unknown method.  Afterwards the same
# daemon (same broker process) must still serve.  tests/go/.../connattack nul
# puts a NUL byte or invalid UTF-8 into every string field of every method,
# through both doors: each is InvalidArgument, and nothing changes.
#
# Needs root (stratad's parent runs as root).
set -u
. "$(dirname -- "$0")/../lib.sh"

B=${B:-$REPO/build}
case $B in /*) ;; *) B=$REPO/$B ;; esac
MAX_MESSAGE=65536

if [ "$(id -u)" -ne 0 ]; then
	echo "grpc-robustness.sh: must run as root" >&2
	exit 1
fi
if [ ! -x "$STRATAD" ]; then
	echo "grpc-robustness.sh: no stratad at $STRATAD (make all, or set STRATAD)" >&2
	exit 1
fi
ensure_user
lib_init grpc-robustness

go_build strata-tests/grpcstress strata-tests/connattack || {
	fail "build grpcstress and connattack"
	summary
	exit 1
}

ADDR=$T/s.sock
start_stratad "$T/root" "$ADDR" --max-message "$MAX_MESSAGE" || {
	fail "daemon starts"
	summary
	exit 1
}
broker_pid() { pgrep -P "$STRATAD_PID" -f -- '--role=broker' | head -n 1; }
broker=$(broker_pid)

check "grpcstress: load with misbehaving clients alongside" \
	"$T/bin/grpcstress" -address "$ADDR" -max-message "$MAX_MESSAGE" -conns 4 -streams 8 -ops 5 -timeout 300s
tail -n 1 "$T/.check.out"
check "grpcstress again on the same daemon" \
	"$T/bin/grpcstress" -address "$ADDR" -max-message "$MAX_MESSAGE" -conns 2 -streams 4 -ops 2 -timeout 120s
check "NUL and invalid UTF-8 in every string field: InvalidArgument, nothing changed" \
	"$T/bin/connattack" nul -address "$ADDR"
tail -n 1 "$T/.check.out"
check "stratad is still running" kill -0 "$STRATAD_PID"
check "the broker was never restarted" test -n "$broker" -a "$(broker_pid)" = "$broker"
# Remove answers once the metadata is durable; the directory is renamed and
# deleted by a worker right after, so give the last removals a moment.
no_snapshot_dirs()
{
	i=0
	while ls "$T/root/snapshots" 2>/dev/null | grep -q -e '^[0-9]' -e '^rm-'; do
		[ $i -lt 100 ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
}
check "no snapshot left behind" no_snapshot_dirs
check "stratad stops cleanly" stop_stratad
summary
