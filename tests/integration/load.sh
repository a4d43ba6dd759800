#!/bin/sh
# Load: CLIENTS concurrent clients for DURATION seconds, each looping over a
# mix of snapshot calls and jobs against one daemon with a small max_jobs:
#   prepare, apply (a job), commit, stat, view, mounts, diff (a job), usage,
#   ls, rm; and one more calling Cleanup over and over, as containerd's
#   garbage collector does.
# What must hold:
#   - no call fails but with ResourceExhausted from the job queue's bound
#     (max_queued_jobs), which is documented;
#   - the broker's resident memory and fd count do not grow across the run
#     (measured after a warm-up round and once the clients are done; both
#     printed);
#   - at no moment do more workers run than max_jobs (counted exactly from
#     the spawner's debug log: a line when each worker starts and exits);
#   - the daemon still serves, and every client's snapshots are gone.
# `make check` runs a short version; `make soak` runs it for minutes
# (DURATION=300).  lib.sh stops the daemon by pid and removes $T.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname -- "$0")/../cli-lib.sh"
lib_init load
ensure_user
need_tools awk pgrep
STRATA=${STRATA:-$B/strata}
CLIENTS=${CLIENTS:-64}
DURATION=${DURATION:-25}
MAX_JOBS=4
ADDR=$T/s.sock
CALL_TIMEOUT=120

start_stratad "$T/root" "$ADDR" --max-jobs $MAX_JOBS --log-level debug || {
	fail "daemon starts"
	summary
	exit 1
}
broker_pid() { pgrep -P "$STRATAD_PID" -f -- 'role=broker' | head -n 1; }
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$(broker_pid)/status"; }
fds() { ls "/proc/$(broker_pid)/fd" | wc -l; }
BROKER=$(broker_pid)

mkdir -p "$T/layer/d"
i=0
while [ $i -lt 40 ]; do
	echo "file $i" >"$T/layer/d/f$i"
	i=$((i + 1))
done
tar -C "$T/layer" -czf "$T/layer.tgz" .
st prepare base-a >/dev/null && st apply base-a "$T/layer.tgz" >/dev/null && st commit base base-a ||
	{
		fail "the base snapshot" "$(tail -n 5 "$T/stratad.log")"
		summary
		exit 1
	}

# client N ROUNDS_UNTIL: one client's loop; every failed call is written to
# $T/errors.N with its stderr.
client() {
	_n=$1 _until=$2 _r=0
	: >"$T/errors.$_n"
	while [ "$(date +%s)" -lt "$_until" ]; do
		_k=c$_n-$_r
		for _call in "prepare $_k base" "apply $_k $T/layer.tgz" "stat $_k" "mounts $_k" \
			"commit $_k-c $_k" "view $_k-v $_k-c" "diff $_k-c --parent base -o $T/out.$_n" \
			"usage $_k-c" "ls" "rm $_k-v" "rm $_k-c"; do
			# shellcheck disable=SC2086 # the call's words
			if ! timeout $CALL_TIMEOUT "$STRATA" --address "$ADDR" $_call >/dev/null 2>"$T/err.$_n"; then
				echo "$_call: $(head -c 300 "$T/err.$_n")" >>"$T/errors.$_n"
			fi
		done
		_r=$((_r + 1))
	done
	echo "$_r" >"$T/rounds.$_n"
}

# cleaner UNTIL: containerd's garbage collector, calling Cleanup over and
# over while the clients prepare: no snapshot being made may be taken for
# an orphan.
cleaner() {
	: >"$T/errors.cleaner"
	while [ "$(date +%s)" -lt "$1" ]; do
		timeout $CALL_TIMEOUT "$STRATA" --address "$ADDR" cleanup >/dev/null 2>"$T/err.cleaner" ||
			echo "cleanup: $(head -c 300 "$T/err.cleaner")" >>"$T/errors.cleaner"
	done
}

# A warm-up round by one client, then the baseline.
client warm $(($(date +%s) + 1))
rss0=$(rss_kib) fds0=$(fds)
until=$(($(date +%s) + DURATION))
n=0
pids=''
while [ $n -lt "$CLIENTS" ]; do
	client $n "$until" &
	pids="$pids $!"
	at_exit "kill $! 2>/dev/null"
	n=$((n + 1))
done
cleaner "$until" &
pids="$pids $!"
at_exit "kill $! 2>/dev/null"
# shellcheck disable=SC2086 # the pids
wait $pids
rss1=$(rss_kib) fds1=$(fds)

rounds=$(cat "$T"/rounds.* | awk '{ s += $1 } END { print s }')
fewest=$(cat "$T"/rounds.[0-9]* | sort -n | head -n 1)
echo "info: $CLIENTS clients, ${DURATION} s: $rounds rounds of 11 calls; broker RSS ${rss0} -> ${rss1} KiB, fds ${fds0} -> ${fds1}"
cat "$T"/errors.* >"$T/errors"
grep -v 'ResourceExhausted.*max_queued_jobs' "$T/errors" >"$T/other-errors"
check "every client finished a round (the slowest ${fewest:-none})" test "${fewest:-0}" -ge 1
if [ -s "$T/other-errors" ]; then
	fail "no call fails but on the job queue's bound" "$(wc -l <"$T/other-errors") failed; first: $(head -n 3 "$T/other-errors")"
else
	pass "no call fails but on the job queue's bound ($(wc -l <"$T/errors") refused so)"
fi
check "the broker did not restart" test "$(broker_pid)" = "$BROKER"
# Memory: LMDB's map and the allocator's arenas settle in the warm-up; what
# a leak per call would add over thousands of calls is far above this.
check "the broker's memory does not grow (${rss0} -> ${rss1} KiB)" test "$rss1" -le $((rss0 + 16384))
check "the broker's fds come back (${fds0} -> ${fds1})" test "$fds1" -le $((fds0 + 2))
# Workers at once, from the spawner's log: +1 at each start, -1 at each exit.
peak=$(awk '/stratad-spawner.*debug: worker [0-9]+: job/ { n++; if (n > m) m = n }
	/stratad-spawner.*debug: worker [0-9]+ \(.*\) exited/ { n-- }
	END { print m + 0 }' "$T/stratad.log")
check "workers at once never exceed max_jobs ($peak of $MAX_JOBS)" test "$peak" -ge 1 -a "$peak" -le $MAX_JOBS
run st ls
check "the daemon still serves" test "$rc" -eq 0
check "every client's snapshots are gone" test "$(grep -c '^c' "$T/out")" -eq 0
summary
