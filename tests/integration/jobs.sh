#!/bin/sh
# Bounds on jobs (a worker per apply, diff, mount, usage...), attacked as a
# client would: layers that never end, clients that leave mid-job, floods of
# queued jobs.
#   - an apply from a FIFO nobody writes gets DeadlineExceeded once
#     job_idle_timeout passes, and its worker and feeder are gone;
#   - an apply that moves slowly but never stops gets DeadlineExceeded at
#     job_timeout;
#   - a client killed mid-apply frees its worker slot at once (with
#     max_jobs 1, the next client's apply is served at once) and its
#     worker and feeder are killed;
#   - another client's apply is served while one waits on a stalled layer;
#   - past max_queued_jobs a job is refused with ResourceExhausted naming
#     the setting, and the queued jobs of clients that left are dropped with
#     their fds (the broker's fd count comes back).
# lib.sh stops the daemons by pid and removes $T.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname -- "$0")/../cli-lib.sh"
lib_init jobs
ensure_user
STRATA=${STRATA:-$B/strata}
CALL_TIMEOUT=60
field() { awk -v k="$2:" '$1 == k { print $2; exit }' "/proc/$1/status"; }
# Background clients run the CLI itself (not st, whose timeout wrapper would
# take the kill), so that killing one is a client going away.
# The spawner's children: workers and feeders.
spawner_children() { pgrep -P "$(pgrep -P "$STRATAD_PID" -f -- spawner | head -n 1)" 2>/dev/null; }
broker_fds() { ls "/proc/$(pgrep -P "$STRATAD_PID" -f -- broker | head -n 1)/fd" | wc -l; }
# now_ms: a monotonic enough clock for these waits.
now_ms() { date +%s%3N; }
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds
	_w=$(($1 * 10))
	shift
	while [ $_w -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		_w=$((_w - 1))
	done
	return 1
}
no_children() { [ -z "$(spawner_children)" ]; }

mkdir -p "$T/layer/etc" && echo hi >"$T/layer/etc/hello"
tar -C "$T/layer" -cf "$T/layer.tar" .

# ---- idle and overall timeouts ----
ADDR=$T/a.sock
start_stratad "$T/root-a" "$ADDR" --job-idle-timeout 2 --job-timeout 6 || { fail "daemon starts"; summary; exit 1; }
mkfifo "$T/never"
exec 8<>"$T/never" # a writer that never writes (and a reader, so the open does not wait)
st prepare never >/dev/null
t0=$(now_ms)
run st apply never "$T/never"
took=$(($(now_ms) - t0))
expect_rc "an apply from a FIFO nobody writes fails" 1
err_has "... with DeadlineExceeded" DeadlineExceeded
err_has "... naming job_idle_timeout" job_idle_timeout
if [ "$took" -ge 1500 ] && [ "$took" -lt 8000 ]; then pass "... after the idle timeout ($took ms for 2 s)"; else
	fail "... after the idle timeout" "$took ms for 2 s"; fi
check "... and its worker and feeder are gone" wait_for 5 no_children
exec 8>&-

# A layer that trickles: a byte a second keeps it from idling, but not past
# job_timeout.
mkfifo "$T/slow"
st prepare slow >/dev/null
(exec 9>"$T/slow"; while :; do printf x >&9 || exit; sleep 1; done) &
trickle=$!
at_exit "kill $trickle 2>/dev/null"
t0=$(now_ms)
run st apply slow "$T/slow"
took=$(($(now_ms) - t0))
kill "$trickle" 2>/dev/null
expect_rc "an apply that trickles forever fails" 1
err_has "... with DeadlineExceeded naming job_timeout" job_timeout
if [ "$took" -ge 5000 ] && [ "$took" -lt 12000 ]; then pass "... at job_timeout ($took ms for 6 s)"; else
	fail "... at job_timeout" "$took ms for 6 s"; fi
check "the daemon still serves" st stat never
stop_stratad >/dev/null

# ---- a client that leaves frees its slot at once ----
ADDR=$T/b.sock
: >"$T/stratad.log"
start_stratad "$T/root-b" "$ADDR" --max-jobs 1 --job-idle-timeout 600 ||
	{ fail "daemon starts"; summary; exit 1; }
mkfifo "$T/held"
exec 8<>"$T/held"
st prepare held >/dev/null
"$STRATA" --address "$ADDR" apply held "$T/held" >/dev/null 2>&1 &
leaver=$!
check "a client's apply waits on its layer (its worker runs)" wait_for 10 sh -c "[ -n \"\$(pgrep -P \$(pgrep -P $STRATAD_PID -f -- spawner | head -n 1))\" ]"
kill -9 "$leaver"
wait "$leaver" 2>/dev/null
st prepare next >/dev/null
t0=$(now_ms)
run st apply next "$T/layer.tar"
took=$(($(now_ms) - t0))
expect_rc "with max_jobs 1, the next client's apply is served once the first client is gone" 0
if [ "$took" -lt 10000 ]; then pass "... at once ($took ms; the idle timeout is 600 s)"; else
	fail "... at once" "$took ms"; fi
check "... and the gone client's worker and feeder were killed" wait_for 5 no_children
grep -q "the client went away" "$T/stratad.log" && pass "... the daemon says why" ||
	fail "... the daemon says why" "$(tail -n 5 "$T/stratad.log")"
exec 8>&-
stop_stratad >/dev/null

# ---- another client is served meanwhile; the queue is bounded ----
ADDR=$T/c.sock
: >"$T/stratad.log"
start_stratad "$T/root-c" "$ADDR" --max-jobs 2 --max-queued-jobs 3 --job-idle-timeout 600 ||
	{ fail "daemon starts"; summary; exit 1; }
exec 8<>"$T/held"
st prepare q0 >/dev/null
"$STRATA" --address "$ADDR" apply q0 "$T/held" >/dev/null 2>&1 &
q0=$!
st prepare other >/dev/null
run st apply other "$T/layer.tar"
expect_rc "another client's apply is served while one waits on a stalled layer" 0
# Fill the running slots and the queue: 1 more running, 3 queued.
pids=''
for i in 1 2 3 4; do
	st prepare "q$i" >/dev/null
	"$STRATA" --address "$ADDR" apply "q$i" "$T/held" >/dev/null 2>&1 &
	pids="$pids $!"
done
sleep 1
st prepare q5 >/dev/null
run st apply q5 "$T/layer.tar"
expect_rc "past max_queued_jobs an apply is refused" 1
err_has "... with ResourceExhausted" ResourceExhausted
err_has "... naming the setting" max_queued_jobs
# The clients that queued leave: their jobs and fds go with them.
fds0=$(broker_fds)
# shellcheck disable=SC2086 # a list of pids
kill -9 $pids 2>/dev/null
# shellcheck disable=SC2086
wait $pids 2>/dev/null
run st apply q5 "$T/layer.tar"
expect_rc "once those clients left, there is room again" 0
# Many clients that queue and leave: the broker's fds come back.
for round in 1 2 3; do
	pids=''
	for i in 1 2 3; do
		"$STRATA" --address "$ADDR" apply q5 "$T/held" >/dev/null 2>&1 &
		pids="$pids $!"
	done
	sleep 0.3
	# shellcheck disable=SC2086
	kill -9 $pids 2>/dev/null
	# shellcheck disable=SC2086
	wait $pids 2>/dev/null
done
check "... and the broker holds no more fds than before (queued jobs dropped with their fds)" \
	wait_for 5 sh -c "[ \$(ls /proc/$(pgrep -P "$STRATAD_PID" -f -- broker | head -n 1)/fd | wc -l) -le $fds0 ]"
kill -9 "$q0" 2>/dev/null
wait "$q0" 2>/dev/null
exec 8>&-
check "the daemon still serves" st stat q5

summary
