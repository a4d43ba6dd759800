#!/bin/sh
# `make bench`, image import: strata's parallel unpack against its sequential
# one and against containerd's.
#
# The image: the distro, npm and big layers of $BENCH_DATA (built by
# ../shared/bench/make-layers.sh, see apply.sh), gzip, bottom first, in one
# OCI archive (tests/fixtures/make-oci.sh).  Interleaved rounds, each side
# into a keyspace of its own (so no layer is reused and no tree is deleted
# while timing: they go with the temp dir at the end):
#   parallel    `strata --tenant pN import ARCHIVE` (--jobs: one per core):
#               the layers applied at once, committed in order onto their
#               parents after a rebase worker each.
#   sequential  `strata --tenant sN import --jobs 1 ARCHIVE`.
#   containerd  `ctr -n cN images import ARCHIVE` into containerd 1.6 (a
#               private daemon, its overlayfs snapshotter and walking
#               differ): it stores the blobs in its content store, then
#               unpacks the layers one after the other.
# Every run starts after bench_settle (lib-bench.sh): what earlier runs
# wrote is on disk and out of the page cache.  Both daemons keep their
# state on a file system made for the run (lib-bench.sh, bench_fresh_fs).
# Prints the median wall time of each side and the paired ratios.
#
# Environment: as apply.sh (B, STRATAD, STRATA, BENCH_DATA, ROUNDS >= 3,
# WARMUP, KEEP=1); FORMAT (default tar.gz), JOBS (parallel side's --jobs,
# default: one per core).
set -u
. "$(dirname -- "$0")/lib-bench.sh"
FORMAT=${FORMAT:-tar.gz}
JOBS=${JOBS:-$(nproc)}

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: must run as root (stratad, containerd)" >&2
	exit 1
fi
for _b in "$STRATAD" "$STRATA"; do
	[ -x "$_b" ] || { echo "bench: no $_b (make all, or set STRATAD/STRATA)" >&2; exit 1; }
done
[ -f "$BENCH_DATA/STATS" ] || { echo "bench: no layer data in $BENCH_DATA (run tests/bench/apply.sh first)" >&2; exit 1; }
lib_init bench-import
need_tools containerd ctr
command -v vmtouch >/dev/null 2>&1 || bench_install vmtouch

# ---- the image ----------------------------------------------------------------------
sh "$REPO/tests/fixtures/make-oci.sh" "$T/image.tar" "$BENCH_DATA/distro.$FORMAT" "$BENCH_DATA/npm.$FORMAT" \
	"$BENCH_DATA/big.$FORMAT" || exit 1
cat "$T/image.tar" >/dev/null
kb=$(for l in distro npm big; do du -sk "$BENCH_DATA/src/$l" | cut -f1; done | awk '{ s += $1 } END { print s }')
need_kb=$((kb * 3 * (ROUNDS + WARMUP) + kb + $(du -sk "$T/image.tar" | cut -f1)))
bench_need_space "$need_kb" "lower ROUNDS or WARMUP"
# Both daemons' state, and so every tree, on a file system made for the run
# (bench_fresh_fs says why).
ni=$(find "$BENCH_DATA/src/distro" "$BENCH_DATA/src/npm" "$BENCH_DATA/src/big" | wc -l)
bench_fresh_fs "$T/fs" "$need_kb" $((ni * 3 * (ROUNDS + WARMUP) * 6 / 5 + 10000))

# ---- the daemons ---------------------------------------------------------------------
# strata: a tenant per side and round (root acts as any with --tenant).
n=0
while [ "$n" -lt $((ROUNDS + WARMUP)) ]; do
	printf '[tenant p%d]\n[tenant s%d]\n' "$n" "$n"
	n=$((n + 1))
done >"$T/stratad.conf"
ensure_user
mkdir -p "$T/fs/strata"
start_stratad "$T/fs/strata/root" "$T/fs/strata/s.sock" --log-level debug --config "$T/stratad.conf" || exit 1

containerd_config "$T/containerd.toml"
sed -i "s|^root = .*|root = \"$T/fs/containerd-root\"|" "$T/containerd.toml"
containerd --config "$T/containerd.toml" >"$T/containerd.log" 2>&1 &
CPID=$!
at_exit "kill $CPID 2>/dev/null; wait $CPID 2>/dev/null"
CTR="ctr --address $T/containerd.sock"
wait_socket "$T/containerd.sock" 20 "$CPID" && $CTR version >/dev/null 2>&1 ||
	{ echo "bench: containerd did not start: $(tail -n 5 "$T/containerd.log")" >&2; exit 1; }

# ---- one run of each side --------------------------------------------------------------
# run_SIDE ROUND: sets MS, the wall time; exits on failure.
run_parallel()
{
	_t=$(now_ns)
	"$STRATA" --address "$T/fs/strata/s.sock" --tenant "p$1" import --jobs "$JOBS" "$T/image.tar" >"$T/out" 2>"$T/err" ||
		{ echo "bench: parallel import failed: $(cat "$T/err")" >&2; exit 1; }
	MS=$(ms_since "$_t")
}
run_sequential()
{
	_t=$(now_ns)
	"$STRATA" --address "$T/fs/strata/s.sock" --tenant "s$1" import --jobs 1 "$T/image.tar" >"$T/out" 2>"$T/err" ||
		{ echo "bench: sequential import failed: $(cat "$T/err")" >&2; exit 1; }
	MS=$(ms_since "$_t")
}
run_containerd()
{
	_t=$(now_ns)
	$CTR -n "c$1" images import "$T/image.tar" >"$T/out" 2>"$T/err" ||
		{ echo "bench: ctr images import failed: $(cat "$T/err")" >&2; exit 1; }
	MS=$(ms_since "$_t")
}

# What the daemons hold: their snapshots and containerd's blobs, an entry a
# line.  A run's new entries are what it wrote, for bench_settle to drop
# from the page cache (the earlier runs' are out already).
state_entries()
{
	for _d in "$T/fs/strata/root/snapshots" "$T/fs/containerd-root/io.containerd.content.v1.content/blobs/sha256" \
		"$T/fs/containerd-root/io.containerd.snapshotter.v1.overlayfs/snapshots"; do
		[ ! -d "$_d" ] || find "$_d" -mindepth 1 -maxdepth 1
	done | sort
}
: >"$T/entries"
wrote_trees()
{
	state_entries >"$T/entries.now"
	# shellcheck disable=SC2046 # the bench's own paths, without blanks
	bench_wrote $(comm -13 "$T/entries" "$T/entries.now")
	mv "$T/entries.now" "$T/entries"
}

# ---- timed rounds ----------------------------------------------------------------------
SIDES='parallel sequential containerd'
R=$T/res
mkdir -p "$R"
echo "== image import: distro + npm + big ($FORMAT), $(nproc) cpus, $(uname -r), --jobs $JOBS"
echo "   command: make bench (ROUNDS=$ROUNDS WARMUP=$WARMUP), tests/bench/import.sh"
round=0
while [ "$round" -lt $((ROUNDS + WARMUP)) ]; do
	line=''
	for s in $SIDES; do
		bench_settle
		"run_$s" "$round"
		wrote_trees
		[ "$round" -lt "$WARMUP" ] || echo "$MS" >>"$R/image.$s"
		line="$line $s=${MS}ms"
	done
	[ "$round" -lt "$WARMUP" ] && echo "   warm-up:$line" || echo "   round $((round - WARMUP + 1)):$line"
	round=$((round + 1))
done
echo "   median seconds: parallel $(secs image.parallel), sequential $(secs image.sequential)," \
	"containerd $(secs image.containerd)"
echo "   paired ratios: parallel/sequential $(paired parallel sequential image)," \
	"parallel/containerd $(paired parallel containerd image), sequential/containerd $(paired sequential containerd image)"
stop_stratad >/dev/null
