#!/bin/sh
# The front doors against clients that hold connections, buffer requests or
# list a lot (tests/go/.../connattack is the attacker): another user's flood
# of idle connections, and root's own, must not keep a working client out;
# requests that never end must not grow the broker past max_request_bytes;
# idle connections close after idle_timeout; a List far larger than any
# reply queue streams to a slow reader, through containerd's proxy Walk and
# through `strata ls`.
#
# The attacker runs as uid 65534 in the sockets' group (mode 0660), or as root.
# Needs root (stratad's parent runs as root).
# shellcheck disable=SC2086 # $AS_OTHER is a command and its flags
set -u
. "$(dirname -- "$0")/../lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "conn-limits.sh: must run as root" >&2
	exit 1
fi
ensure_user
lib_init conn-limits
need_tools setpriv jq

go_build strata-tests/connattack || {
	fail "build connattack"
	summary
	exit 1
}
A=$T/bin/connattack
STRATA=$B/strata
ADDR=$T/s.sock
BUDGET=67108864 # max_request_bytes: 64 MiB, one user 32 MiB
# 1030 connections per door, and the broker's own fds (run-integration.sh
# runs the suites with bash).
# shellcheck disable=SC3045
ulimit -n 16384

start_stratad "$T/root" "$ADDR" --max-request-bytes "$BUDGET" --idle-timeout 6 || {
	fail "daemon starts"
	summary
	exit 1
}
broker=$(pgrep -P "$STRATAD_PID" -f -- '--role=broker' | head -n 1)
# The sockets' group may connect; so may this attacker.  A command, not a
# function: the attacker's pid is then setpriv's, which execs it.
AS_OTHER="setpriv --reuid=65534 --regid=0 --clear-groups --"

# attack NAME CMD...: runs an attacker in the background until it says it
# holds (at most 20 s); its pid in $attacker, stopped at exit.
attack()
{
	_name=$1
	shift
	"$@" >"$T/$_name.out" 2>&1 &
	attacker=$!
	at_exit "kill $attacker 2>/dev/null; wait $attacker 2>/dev/null"
	_i=0
	while ! grep -q '^holding' "$T/$_name.out"; do
		if [ $_i -ge 200 ] || ! kill -0 "$attacker" 2>/dev/null; then
			cat "$T/$_name.out"
			return 1
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
	head -n 3 "$T/$_name.out" | grep -v '^holding'
}
stop_attack() { kill "$attacker" 2>/dev/null; wait "$attacker" 2>/dev/null; }
fds() { find "/proc/$broker/fd" -mindepth 1 | wc -l; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$broker/status"; }
anon_kib() { awk '/^RssAnon:/ { print $2 }' "/proc/$broker/status"; }
# Runs CMD and passes when it succeeds within SECS seconds.
within() { _s=$1; shift; timeout "$_s" "$@"; }

fds0=$(fds)

# ---- idle connections ----------------------------------------------------
check "another user holds 1030 idle gRPC connections" attack idle-grpc $AS_OTHER "$A" idle -address "$ADDR" -n 1030
cat "$T/.check.out"
check "... and root's grpc-go Stat is served within 2 s" "$A" stat -address "$ADDR" -within 2s
cat "$T/.check.out"
# Past max_connections_per_user the flood's own idle connections make room.
check "... the connections it lost are logged, with the totals" \
	grep -q 'grpc: closed an idle connection of uid 65534 .* to make room for a new connection (so far: ' \
	"$T/stratad.log"
stop_attack

check "another user holds 1030 idle native connections" attack idle-native $AS_OTHER "$A" idle -native -address "$ADDR" -n 1030
check "... and root's strata ls is served within 2 s" within 2 "$STRATA" --address "$ADDR" ls
stop_attack

check "root itself holds 1030 idle gRPC connections" attack idle-root "$A" idle -address "$ADDR" -n 1030
check "... and a new root client is served within 2 s: the idlest connections make room" \
	"$A" stat -address "$ADDR" -within 2s
cat "$T/.check.out"
before_timeout=$(fds)
# idle_timeout is 6 s: whatever the attacker still holds is closed.
settled() { [ "$(fds)" -le $((fds0 + 4)) ]; }
wait_settled() { _i=0; until settled; do [ $_i -lt 100 ] || return 1; sleep 0.1; _i=$((_i + 1)); done; }
sleep 6
check "... and after idle_timeout the broker holds none of them ($before_timeout fds before)" wait_settled
check "... the log says so" grep -q 'closed an idle connection .* idle for longer than idle_timeout' "$T/stratad.log"
stop_attack

# ---- requests that never end -----------------------------------------------
rss0=$(rss_kib)
check "another user sends 16 x 32 requests that never end" \
	attack half $AS_OTHER "$A" halfsend -address "$ADDR" -conns 16 -streams 32
cat "$T/.check.out"
rss1=$(rss_kib)
echo "     broker VmRSS ${rss0} KiB before, ${rss1} KiB with the requests held"
check "... the broker grew by less than max_request_bytes ($(((rss1 - rss0) / 1024)) MiB)" \
	test $((rss1 - rss0)) -lt $((BUDGET / 1024))
check "... root is served meanwhile" "$A" stat -address "$ADDR" -within 2s
check "... the refused requests are logged" grep -q 'requests refused for buffer space' "$T/stratad.log"
stop_attack

# ---- a List larger than any reply queue ----------------------------------------
# 560 snapshots with 32 labels of 4000 bytes (near the most a snapshot may
# have): 72 MB of List, more than the native (16 MiB) and gRPC (64 MiB)
# reply queues.
check "560 snapshots with 32 labels of 4000 bytes" "$A" fill -address "$ADDR" -n 560 -labels 32 -size 4000
anon0=$(anon_kib)
peak=$T/anon.peak
echo "$anon0" >"$peak"
watch_anon() { while :; do a=$(anon_kib) || return; [ "$a" -gt "$(cat "$peak")" ] && echo "$a" >"$peak"; sleep 0.2; done; }
watch_anon &
watcher=$!
at_exit "kill $watcher 2>/dev/null"
check "containerd's Walk (grpc-go), 10 ms per snapshot, sees all 560" \
	"$A" walk -address "$ADDR" -want 560 -delay 10ms
cat "$T/.check.out"
# strata ls reads as fast as it can: stop it for 3 s mid-stream instead.
ls_paused()
{
	"$STRATA" --address "$ADDR" --json ls >"$T/ls.json" 2>"$T/ls.err" &
	_ls=$!
	sleep 0.3
	kill -STOP "$_ls"
	sleep 3
	kill -CONT "$_ls"
	wait "$_ls" || { cat "$T/ls.err"; return 1; }
}
check "strata ls, stopped for 3 s in the middle" ls_paused
check "... lists all 560 with their 32 labels" \
	test "$(jq '[.info[] | select(.labels | length == 32)] | length' "$T/ls.json")" = 560
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
echo "     broker RssAnon ${anon0} KiB before the Lists, peak $(cat "$peak") KiB during them"
check "... the broker's heap grew by less than 32 MiB while streaming 72 MB twice" \
	test $(($(cat "$peak") - anon0)) -lt 32768

check "the broker was never restarted" test "$(pgrep -P "$STRATAD_PID" -f -- '--role=broker' | head -n 1)" = "$broker"
check "stratad stops cleanly" stop_stratad
summary
