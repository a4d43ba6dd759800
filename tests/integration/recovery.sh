#!/bin/sh
# Crash safety: a daemon killed with SIGKILL at any point loses nothing that
# was committed, and the orphan directories it may leave are removed at the
# next start and by Cleanup.
set -u
. "$(dirname "$0")/../lib.sh"
# no_process_of ROOT: no process runs with --root=ROOT (pgrep skips itself;
# a `sh -c` wrapper would match its own command line).
no_process_of() { ! pgrep -f -- "--root=$1" >/dev/null; }
lib_init recovery
ensure_user
STRATA="$B/strata"
ADDR=$T/s.sock
ROOT=$T/root
st() { "$STRATA" --address "$ADDR" "$@"; }
snapdirs() { ls "$ROOT/snapshots" | sort | tr '\n' ' '; }

start_stratad "$ROOT" "$ADDR" || { fail "daemon starts"; summary; exit 1; }
check "an empty store lists nothing" test -z "$(st ls | awk 'NR > 1')"
check "an empty store cleans up without error" st cleanup
st prepare l1-a >/dev/null && st commit l1 l1-a
st prepare l2-a l1 >/dev/null && st commit l2 l2-a
st prepare work l2 >/dev/null
check "committed chain stored" test "$(st ls 'kind==committed' | awk 'NR > 1 { print $1 }' | tr '\n' ' ')" = "l1 l2 "

# A stream of changes, killed with SIGKILL (parent, broker and workers) mid-way.
(
	i=0
	while [ $i -lt 200 ]; do
		st prepare "churn-$i" l2 >/dev/null 2>&1
		st commit "churned-$i" "churn-$i" >/dev/null 2>&1
		st rm "churned-$i" >/dev/null 2>&1
		i=$((i + 1))
	done
) &
churn=$!
at_exit "kill $churn 2>/dev/null"
sleep 1.5
broker=$(pgrep -P "$STRATAD_PID" -f -- '--role=broker' | head -n 1)
kill -KILL "$STRATAD_PID" ${broker:+"$broker"}
wait "$STRATAD_PID" 2>/dev/null
STRATAD_PID=''
kill "$churn" 2>/dev/null
wait "$churn" 2>/dev/null
# The spawner and the workers die with the parent (PR_SET_PDEATHSIG).
i=0
while pgrep -f -- "--root=$ROOT" >/dev/null && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "no process of the killed daemon is left" no_process_of "$ROOT"

# Simulated leftovers of a crash between each pair of steps.
mkdir -p "$ROOT/snapshots/new-9000/fs" "$ROOT/snapshots/rm-9001/fs/d" "$ROOT/snapshots/9002/fs"
touch "$ROOT/snapshots/rm-9001/fs/d/f"

: >"$T/stratad.log" # start_stratad waits for a new "serving" line
start_stratad "$ROOT" "$ADDR" || { fail "daemon restarts after SIGKILL"; summary; exit 1; }
check "committed snapshots survive" st stat l2
check "active snapshot survives" st stat work
check "chain is intact" test "$(st stat work --json | grep -c '"parent":"l2"')" = 1
# every directory left is a snapshot the metadata knows
i=0
while [ $i -lt 50 ] && ls "$ROOT/snapshots" | grep -q -e '^new-' -e '^rm-' -e '^9002$'; do
	sleep 0.1
	i=$((i + 1))
done
check "start-up removes orphan directories" test -z "$(ls "$ROOT/snapshots" | grep -e '^new-' -e '^rm-' -e '^9002$')"
known=$(st ls | awk 'NR > 1' | wc -l)
check "one directory per snapshot" test "$(ls "$ROOT/snapshots" | wc -l)" = "$known"

# Usage of a snapshot committed a moment ago: measured when first asked
# for, and the Usage call waits for the measurement.
st prepare measured-a l2 >/dev/null
mid=$(st mounts measured-a | sed -n 's|.*upperdir=[^,]*/snapshots/\([0-9]*\)/fs.*|\1|p')
head -c 100000 /dev/zero >"$ROOT/snapshots/$mid/fs/blob"
st commit measured measured-a
usage=$(st usage measured --json | tr -d ' ')
size=$(printf '%s' "$usage" | sed -n 's/.*"size":\([0-9]*\).*/\1/p')
check "usage of a just-committed snapshot counts its inodes" \
	test "$(printf '%s' "$usage" | sed -n 's/.*"inodes":\([0-9]*\).*/\1/p')" = 2
check "usage of a just-committed snapshot counts its blocks" test "${size:-0}" -ge 100000

# Cleanup removes an orphan made while the daemon runs.
mkdir -p "$ROOT/snapshots/9100/fs/x"
check "cleanup succeeds" st cleanup
check "cleanup removed the orphan" test ! -e "$ROOT/snapshots/9100"
check "cleanup kept the snapshots" st stat l1
check "work is still usable" st mounts work
# A daemon killed while it starts (the spawner may be making its namespaces)
# leaves no process behind either.
stop_stratad
for d in 0.01 0.02 0.03 0.05 0.08 0.1 0.15 0.2 0.3 0.4; do
	"$STRATAD" --root "$T/early" --address "$T/early.sock" --user "$STRATA_USER" >>"$T/early.log" 2>&1 &
	early=$!
	sleep "$d"
	kill -KILL "$early" 2>/dev/null
	wait "$early" 2>/dev/null
done
i=0
while pgrep -f -- "--root=$T/early" >/dev/null && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "daemons killed during start-up leave no process" no_process_of "$T/early"
summary
