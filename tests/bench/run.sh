#!/bin/sh
# `make bench`: snapshot operations, strata against containerd's own code.
#
# Peer: containerd 1.6's overlayfs snapshotter behind containerd's snapshot
# service wrapper, served by grpc-go on a unix socket (ctrd-overlay-server).
# Load: snapbench, containerd's proxy snapshotter client (what containerd uses
# for a proxy plugin), C clients on their own connections, each doing
# prepare → mounts → commit → stat → remove against a committed base.  Four
# loads: C=1 (sequential) and C=16, each with empty snapshots and with FILES
# files written into each snapshot's upperdir before its commit (so that a
# Remove deletes a tree, as after a container or a build step).
#
# Both daemons run side by side on roots in the same temp dir. Runs alternate
# strata, containerd, strata, containerd ... (absolute speed drifts on these
# shared machines; a ratio of interleaved medians does not).  Then memory:
# stratad's long-lived processes (parent, broker, spawner) against the Go
# server (workers, and the stratad-worker images the spawner execs, live one
# job each and are not counted), resident (RSS) and proportional (Pss: pages
# shared with other processes, such as libc's, count for their share; so a
# process that maps a library nothing else maps pays all of it, and another
# program running beside the bench lowers the figures).  The goal: the
# three's Pss at most a third of the Go server's.
#
# Environment: B (build dir, default build), STRATAD (default $B/stratad),
# STRATA_USER, ROUNDS (default 5, at least 3), N1 (cycles for C=1, default
# 300), N16 (cycles per client for C=16, default 40), WARMUP (untimed cycles
# per client and run, default 5), FILES (files per snapshot in the loads with
# content, default 4), BENCH_ONLY=containerd (peer only, to check
# the harness while the daemon is not serving yet), KEEP=1 (keep the temp dir).
set -u
_bench_stratad=${STRATAD:-}
. "$(dirname -- "$0")/../lib.sh"

B=${B:-$REPO/build}
case $B in /*) ;; *) B=$REPO/$B ;; esac
STRATAD=${_bench_stratad:-$B/stratad}
ROUNDS=${ROUNDS:-5}
N1=${N1:-300}
N16=${N16:-40}
WARMUP=${WARMUP:-5}
FILES=${FILES:-4}
BENCH_ONLY=${BENCH_ONLY:-}
[ "$ROUNDS" -ge 3 ] 2>/dev/null || { echo "bench: ROUNDS must be a number >= 3" >&2; exit 2; }

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: must run as root (stratad and overlayfs)" >&2
	exit 1
fi
if [ "$BENCH_ONLY" != containerd ] && [ ! -x "$STRATAD" ]; then
	echo "bench: no stratad at $STRATAD (make all, or set STRATAD)" >&2
	exit 1
fi

lib_init bench

# ---- build the Go side -----------------------------------------------------------
go_build strata-bench/ctrd-overlay-server strata-bench/snapbench || exit 1
SNAPBENCH=$T/bin/snapbench

# ---- start both daemons --------------------------------------------------------
CTRD_PID=''
# shellcheck disable=SC2317 # called from the at_exit list
stop_ctrd()
{
	[ -n "$CTRD_PID" ] || return 0
	kill -TERM "$CTRD_PID" 2>/dev/null
	wait "$CTRD_PID" 2>/dev/null
	CTRD_PID=''
}
at_exit stop_ctrd

mkdir -p "$T/ctrd" "$T/strata"
"$T/bin/ctrd-overlay-server" -root "$T/ctrd/root" -address "$T/ctrd/snap.sock" >"$T/ctrd.log" 2>&1 &
CTRD_PID=$!
if ! wait_socket "$T/ctrd/snap.sock" 10 "$CTRD_PID"; then
	echo "bench: ctrd-overlay-server did not serve; log:" >&2
	cat "$T/ctrd.log" >&2
	exit 1
fi

if [ "$BENCH_ONLY" != containerd ]; then
	ensure_user
	start_stratad "$T/strata/root" "$T/strata/snap.sock" || exit 1
fi

# ---- timed runs ----------------------------------------------------------------
# field NAME LINE: the value of NAME=... in snapbench's output line.
field()
{
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

median()
{
	sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# one SIDE C N F: one snapbench run with F files per snapshot, result line
# appended to $T/res.SIDE.C-F.
one()
{
	_out=$("$SNAPBENCH" -address "$T/$1/snap.sock" -c "$2" -n "$3" -warmup "$WARMUP" -files "$4") || {
		echo "bench: snapbench against $1 (c=$2 files=$4) failed: $_out" >&2
		[ "$1" = strata ] && tail -n 20 "$T/stratad.log" >&2
		exit 1
	}
	printf '%s\n' "$_out" >>"$T/res.$1.$2-$4"
	printf '  %-7s c=%-2s files=%-2s %s ops/s  %s cycles/s\n' "$1" "$2" "$4" \
		"$(field ops_per_sec "$_out")" "$(field cycles_per_sec "$_out")"
}

LOADS="1-0 16-0 1-$FILES 16-$FILES"

SIDES="strata ctrd"
[ "$BENCH_ONLY" = containerd ] && SIDES=ctrd

echo "== snapshot cycles: prepare, mounts, commit, stat, remove; $(nproc) cpus, $(uname -r)"
echo "   command: make bench (ROUNDS=$ROUNDS N1=$N1 N16=$N16 WARMUP=$WARMUP FILES=$FILES)"
for s in $SIDES; do
	# Untimed warm-up: page cache, metadata files, the Go runtime's heap.
	"$SNAPBENCH" -address "$T/$s/snap.sock" -c 4 -n 10 -warmup 0 >/dev/null ||
		{ echo "bench: warm-up against $s failed" >&2; exit 1; }
done
for load in $LOADS; do
	c=${load%-*} f=${load#*-}
	n=$N1
	[ "$c" -eq 16 ] && n=$N16
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		echo " round $r, c=$c, files=$f"
		for s in $SIDES; do
			one "$s" "$c" "$n" "$f"
		done
		r=$((r + 1))
	done
done

# ---- summary -------------------------------------------------------------------
med()
{
	while IFS= read -r _l; do field "$2" "$_l"; done <"$T/res.$1.$3" | median
}

# paired_ratio LOAD: the median over rounds of strata/containerd ops/s within a round.
paired_ratio()
{
	for _s in strata ctrd; do
		while IFS= read -r _l; do field ops_per_sec "$_l"; done <"$T/res.$_s.$1" >"$T/ops.$_s.$1"
	done
	paste "$T/ops.strata.$1" "$T/ops.ctrd.$1" | awk '{ printf "%.3f\n", $1 / $2 }' | median |
		awk '{ printf "%.2f", $1 }'
}

echo
echo "== medians of $ROUNDS interleaved rounds (ops/s: each RPC is one op)"
printf '%-9s %10s %10s %8s %14s\n' C-FILES strata containerd ratio 'paired ratio'
for c in $LOADS; do
	ct=$(med ctrd ops_per_sec "$c")
	st=- ratio=- paired=-
	if [ -z "$BENCH_ONLY" ]; then
		st=$(med strata ops_per_sec "$c")
		ratio=$(awk -v a="$st" -v b="$ct" 'BEGIN { printf "%.2f", a / b }')
		paired=$(paired_ratio "$c")
	fi
	printf '%-9s %10s %10s %8s %14s\n' "$c" "$st" "$ct" "$ratio" "$paired"
done
echo "(ratio: of the medians; paired ratio: median of each round's strata/containerd)"
echo
echo "== per-RPC latency, median over rounds of each run's p50 (us), strata/containerd"
printf '%-9s' C-FILES
for op in prepare mounts commit stat remove; do printf ' %15s' "$op"; done
echo
for c in $LOADS; do
	printf '%-9s' "$c"
	for op in prepare mounts commit stat remove; do
		sl=-
		[ -z "$BENCH_ONLY" ] && sl=$(med strata "${op}_p50_us" "$c")
		printf ' %15s' "$sl/$(med ctrd "${op}_p50_us" "$c")"
	done
	echo
done

# ---- resident memory, after the runs -------------------------------------------
# kb PID FIELD: VmRSS or VmHWM of PID in kB.
kb()
{
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# A child of stratad by role: find_child PID broker|spawner.
find_child()
{
	for _d in /proc/[0-9]*; do
		_ppid=$(awk '$1 == "PPid:" { print $2 }' "$_d/status" 2>/dev/null)
		[ "$_ppid" = "$1" ] || continue
		if tr '\0' ' ' <"$_d/cmdline" 2>/dev/null | grep -q -- "--role=$2"; then
			echo "${_d#/proc/}"
			return 0
		fi
	done
	return 1
}

# pss PID: proportional set size of PID in kB.
pss()
{
	awk '$1 == "Pss:" { print $2 }' "/proc/$1/smaps_rollup"
}

# row NAME RSS HWM PSS: one process's line, with its Pss over containerd's.
row()
{
	printf '%-28s %9s %9s %9s %9s\n' "$1" "$2" "$3" "$4" \
		"$(awk -v p="$4" -v c="$cpss" 'BEGIN { printf "%.2f", p / c }')"
}

echo
echo "== memory after the runs (kB; Pss/ctrd: the process's Pss over containerd's)"
printf '%-28s %9s %9s %9s %9s\n' process VmRSS VmHWM Pss Pss/ctrd
crss=$(kb "$CTRD_PID" VmRSS) chwm=$(kb "$CTRD_PID" VmHWM) cpss=$(pss "$CTRD_PID")
row "containerd overlay (Go)" "$crss" "$chwm" "$cpss"
if [ -z "$BENCH_ONLY" ]; then
	broker=$(find_child "$STRATAD_PID" broker) || { echo "bench: no broker child of stratad $STRATAD_PID" >&2; exit 1; }
	spawner=$(find_child "$STRATAD_PID" spawner) || { echo "bench: no spawner child of stratad" >&2; exit 1; }
	prss=$(kb "$STRATAD_PID" VmRSS) phwm=$(kb "$STRATAD_PID" VmHWM) ppss=$(pss "$STRATAD_PID")
	brss=$(kb "$broker" VmRSS) bhwm=$(kb "$broker" VmHWM) bpss=$(pss "$broker")
	srss=$(kb "$spawner" VmRSS) shwm=$(kb "$spawner" VmHWM) spss=$(pss "$spawner")
	row "stratad parent" "$prss" "$phwm" "$ppss"
	row "stratad broker" "$brss" "$bhwm" "$bpss"
	row "stratad spawner" "$srss" "$shwm" "$spss"
	tpss=$((ppss + bpss + spss))
	row "stratad, all three" "$((prss + brss + srss))" "$((phwm + bhwm + shwm))" "$tpss"
	awk -v t="$tpss" -v c="$cpss" 'BEGIN { printf "goal: all three together, Pss/ctrd <= 0.33: %.2f, %s\n",
		t / c, 3 * t <= c ? "met" : "NOT met" }'
fi
exit 0
