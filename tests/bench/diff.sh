#!/bin/sh
# `make bench`, third part: layer creation, strata against containerd, GNU tar
# and bsdtar.
#
# Data: the trees of apply.sh's three layers (distro, npm, big) in $BENCH_DATA
# (built by ../shared/bench/make-layers.sh; apply.sh, which `make bench` runs
# first, builds them when they are missing).
#
# Untimed setup: stratad starts (--log-level debug, so its spawner logs each
# diff worker's peak resident memory and CPU time), and for every layer a
# snapshot without parent is prepared and `strata apply LAYER.tar` fills it:
# its upperdir (ROOT/snapshots/ID/fs, the bind source `strata mounts` prints)
# then holds the tree. Every side reads that same directory, so all read the
# same inodes from the same page cache.
#
# Timed, for each layer and format (gzip, zstd), interleaved rounds (strata,
# containerd, tar, bsdtar, strata, ...; absolute speed drifts on these shared
# machines, a ratio within a round does not), each writing a new file:
#   strata      `strata diff KEY -o OUT --media-type gzip|zstd`: the full
#               daemon path (CLI, native socket, broker, sandboxed diff worker).
#   containerd  ctrddiff (tests/go/src/strata-tests/ctrddiff): what
#               containerd 1.6's walking differ does, archive.WriteDiff of the
#               tree against an empty directory through CompressStream (Go
#               gzip; klauspost zstd, what 1.6 offers for zstd), uncompressed
#               and compressed SHA-256 on the fly; no fsync (nor has any other
#               side).
#   tar         `tar -czf OUT -C TREE .` / `tar --zstd -cf ...` (GNU tar piping
#               through gzip -6 / zstd -3, one thread each).
#   bsdtar      `bsdtar -czf ...` / `bsdtar --zstd -cf ...` (libarchive's zlib
#               and libzstd, in process).
# Only the command is timed (wall clock); each run starts after `sync`, and
# its output is removed afterwards (untimed). The first round of each layer
# and format (a warm-up one when WARMUP > 0) also checks the outputs: strata's
# and containerd's printed digests against sha256 of the file and of its
# decompressed stream, the same entry names in both layers, and that tar's and
# bsdtar's outputs decompress.
#
# Environment: B (build dir, default build), STRATAD, STRATA (default
# $B/strata), STRATA_USER, BENCH_DATA, ROUNDS (timed rounds, default 3, at
# least 3), WARMUP (untimed rounds first, default 1), LAYERS (default
# "distro npm big"), FORMATS (default "gzip zstd"; tar.gz and tar.zst are
# accepted too), KEEP=1.
# shellcheck disable=SC2317 # the run_SIDE functions are called as "run_$s"
set -u
. "$(dirname -- "$0")/lib-bench.sh"
BENCH_WORKER_ROLE=diff
LAYERS=${LAYERS:-distro npm big}
FORMATS=${FORMATS:-gzip zstd}
fmts=''
for f in $FORMATS; do
	case $f in
	gzip | tar.gz | gz) fmts="$fmts gzip" ;;
	zstd | tar.zst | zst) fmts="$fmts zstd" ;;
	*) echo "bench: FORMATS: unknown format $f (gzip or zstd)" >&2; exit 2 ;;
	esac
done
FORMATS=${fmts# }

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: must run as root (stratad; tar reading every file of the trees)" >&2
	exit 1
fi
for _b in "$STRATAD" "$STRATA"; do
	[ -x "$_b" ] || { echo "bench: no $_b (make all, or set STRATAD/STRATA)" >&2; exit 1; }
done
for l in $LAYERS; do
	[ -s "$BENCH_DATA/$l.tar" ] || {
		echo "bench: no $BENCH_DATA/$l.tar: tests/bench/apply.sh builds the layer data" >&2
		exit 2
	}
done

lib_init bench-diff

# ---- tools -----------------------------------------------------------------------
missing=''
command -v bsdtar >/dev/null 2>&1 || missing="$missing libarchive-tools"
command -v zstd >/dev/null 2>&1 || missing="$missing zstd"
# shellcheck disable=SC2086 # a list of package names
bench_install $missing

# ---- containerd's side ---------------------------------------------------------------
go_build strata-tests/ctrddiff || exit 1
CTRDDIFF=$T/bin/ctrddiff
# The tree against an empty directory, as the differ diffs a snapshot
# without parent.
mkdir -p "$T/empty"

# ---- disk space --------------------------------------------------------------------
# The trees stay until the end; one output at a time (at most the tar's size).
need_kb=0
max_kb=0
for l in $LAYERS; do
	kb=$(du -sk "$BENCH_DATA/$l.tar" | cut -f1)
	need_kb=$((need_kb + kb))
	[ "$kb" -gt "$max_kb" ] && max_kb=$kb
done
need_kb=$((need_kb + max_kb))
bench_need_space "$need_kb" "choose fewer LAYERS"

# ---- the daemon and the trees (untimed) --------------------------------------------------
mkdir -p "$T/out" "$T/check"
bench_start_stratad

# tree_of LAYER: prepares snapshot bench-LAYER, applies LAYER.tar into it and
# prints its upperdir (the source of its bind mount: no parent).
tree_of()
{
	_k=bench-$1
	st prepare "$_k" >/dev/null || { echo "bench: strata prepare $_k failed" >&2; return 1; }
	st apply "$_k" "$BENCH_DATA/$1.tar" >/dev/null || { echo "bench: strata apply $1.tar failed" >&2; return 1; }
	_d=$(bench_snapshot_tree "$(st mounts "$_k")")
	case $_d in
	"$T/strata/root/snapshots/"*/fs) ;;
	*) echo "bench: strata mounts $_k: no bind of ROOT/snapshots/ID/fs ($_d)" >&2; return 1 ;;
	esac
	[ -d "$_d" ] || { echo "bench: $_d is not a directory" >&2; return 1; }
	echo "$_d"
}

for l in $LAYERS; do
	tree=$(tree_of "$l") || exit 1
	eval "TREE_$l=\$tree"
	# Page-cache the tree (written by the apply just now; read it once anyway).
	tar -cf - -C "$tree" . | cat >/dev/null
done
sync

# ---- one run of each side ------------------------------------------------------------

# field NAME: the value of line `NAME ...` in $T/said (what a side printed).
field() { awk -v k="$1" '$1 == k { print $2 }' "$T/said"; }

# run_SIDE KEY TREE FMT OUT: sets MS (wall ms); exits on failure.
run_strata()
{
	_n=$(worker_exits)
	_t=$(now_ns)
	st diff "$1" -o "$4" --media-type "$3" >"$T/said" 2>"$T/err" || {
		echo "bench: strata diff $1 --media-type $3 failed: $(cat "$T/err")" >&2
		tail -n 20 "$T/stratad.log" >&2
		exit 1
	}
	MS=$(ms_since "$_t")
	DIGEST=$(field digest:)
	UNCOMPRESSED=$(field containerd.io/uncompressed:)
	worker_line "$_n"
}

run_ctrd()
{
	_t=$(now_ns)
	"$CTRDDIFF" -c "$3" -o "$4" "$T/empty" "$2" >"$T/said" 2>"$T/err" ||
		{ echo "bench: ctrddiff -c $3 $2 failed: $(cat "$T/err")" >&2; exit 1; }
	MS=$(ms_since "$_t")
	# ctrddiff prints the blob's digest, then the diff ID.
	DIGEST=$(sed -n 1p "$T/said")
	UNCOMPRESSED=$(sed -n 2p "$T/said")
}

run_tar()
{
	case $3 in gzip) set -- -czf "$4" -C "$2" . ;; *) set -- --zstd -cf "$4" -C "$2" . ;; esac
	_t=$(now_ns)
	tar "$@" 2>"$T/err" || { echo "bench: tar $* failed: $(cat "$T/err")" >&2; exit 1; }
	MS=$(ms_since "$_t")
}

run_bsdtar()
{
	case $3 in gzip) set -- -czf "$4" -C "$2" . ;; *) set -- --zstd -cf "$4" -C "$2" . ;; esac
	_t=$(now_ns)
	bsdtar "$@" 2>"$T/err" || { echo "bench: bsdtar $* failed: $(cat "$T/err")" >&2; exit 1; }
	MS=$(ms_since "$_t")
}

unpack() { case $1 in gzip) gzip -dc "$2" ;; *) zstd -qdc "$2" ;; esac; }

# check_layer SIDE FMT OUT: the checks of a first round (see the top).
check_layer()
{
	case $1 in
	strata | ctrd)
		_h=sha256:$(sha256sum "$3" | cut -d' ' -f1)
		[ "$_h" = "$DIGEST" ] || { echo "bench: $1 printed digest $DIGEST, the file has $_h" >&2; exit 1; }
		_h=sha256:$(unpack "$2" "$3" | sha256sum | cut -d' ' -f1)
		[ "$_h" = "$UNCOMPRESSED" ] ||
			{ echo "bench: $1 printed diff ID $UNCOMPRESSED, the layer has $_h" >&2; exit 1; }
		# Entry names without ./ prefix or trailing /, sorted.
		unpack "$2" "$3" | tar -tf - | sed -e 's#^\./##' -e 's#/$##' -e '/^\.\{0,1\}$/d' |
			LC_ALL=C sort >"$T/check/$1.names"
		;;
	*) unpack "$2" "$3" >/dev/null 2>"$T/err" || { echo "bench: $1 $2 output does not decompress" >&2; exit 1; } ;;
	esac
	[ "$1" = ctrd ] || return 0
	cmp -s "$T/check/strata.names" "$T/check/ctrd.names" || {
		echo "bench: strata's and containerd's layers name different entries:" >&2
		diff "$T/check/strata.names" "$T/check/ctrd.names" | head -n 10 >&2
		exit 1
	}
}

# ---- timed rounds ----------------------------------------------------------------------
SIDES='strata ctrd tar bsdtar'
R=$T/res
mkdir -p "$R"
echo "== layer creation: $(nproc) cpus, $(uname -r), trees of $BENCH_DATA as strata snapshots"
echo "   command: ROUNDS=$ROUNDS WARMUP=$WARMUP LAYERS='$LAYERS' FORMATS='$FORMATS' sh tests/bench/diff.sh"
echo "   wall ms per run: strata (diff via daemon) / containerd (ctrddiff) / GNU tar / bsdtar"
for l in $LAYERS; do
	eval "tree=\$TREE_$l"
	for f in $FORMATS; do
		L=$l.$f
		r=$((1 - WARMUP))
		while [ "$r" -le "$ROUNDS" ]; do
			tag=$r
			[ "$r" -le 0 ] && tag=w$((WARMUP + r))
			line=''
			for s in $SIDES; do
				out=$T/out/$s-$L-$tag
				sync
				"run_$s" "bench-$l" "$tree" "$f" "$out"
				size=$(stat -c %s "$out")
				[ "$r" -eq $((1 - WARMUP)) ] && check_layer "$s" "$f" "$out"
				rm -f "$out"
				line="$line $s $MS"
				[ "$r" -le 0 ] && continue
				echo "$MS" >>"$R/$L.$s"
				echo "$size" >>"$R/$L.$s.size"
				[ "$s" = strata ] && echo "$RSS_KB $CPU_MS" >>"$R/$L.worker"
			done
			printf '  %-12s %-3s%s%s\n' "$L" "$tag" "$line" "$([ "$r" -le 0 ] && echo ' (warm-up)')"
			r=$((r + 1))
		done
	done
done

# ---- summary --------------------------------------------------------------------------
mb() { median <"$R/$1.size" | awk '{ printf "%.1f", $1 / 1e6 }'; }

echo
echo "== medians of $ROUNDS interleaved rounds (wall seconds); ratios are paired (median of"
echo "   each round's ratio); worker: the diff workers' max peak RSS and median CPU time"
printf '%-12s %7s %7s %7s %7s %12s %10s %13s %7s %6s\n' layer strata ctrd tar bsdtar strata/ctrd \
	strata/tar strata/bsdtar 'wkr MiB' 'cpu s'
for l in $LAYERS; do
	for f in $FORMATS; do
		L=$l.$f
		rss=$(awk '$1 > m { m = $1 } END { printf "%.1f", m / 1024 }' "$R/$L.worker")
		cpu=$(awk '{ print $2 }' "$R/$L.worker" | median | awk '{ printf "%.2f", $1 / 1000 }')
		printf '%-12s %7s %7s %7s %7s %12s %10s %13s %7s %6s\n' "$L" "$(secs "$L.strata")" \
			"$(secs "$L.ctrd")" "$(secs "$L.tar")" "$(secs "$L.bsdtar")" "$(paired strata ctrd "$L")" \
			"$(paired strata tar "$L")" "$(paired strata bsdtar "$L")" "$rss" "$cpu"
	done
done
echo
echo "== output sizes (MB, 10^6 bytes); goal: strata/ctrd time <= 0.50 at size <= 1.00"
printf '%-12s %8s %8s %8s %8s %11s %6s\n' layer strata ctrd tar bsdtar 'size s/c' goal
for l in $LAYERS; do
	for f in $FORMATS; do
		L=$l.$f
		sr=$(paste "$R/$L.strata.size" "$R/$L.ctrd.size" | awk '{ printf "%.4f\n", $1 / $2 }' | median |
			awk '{ printf "%.3f", $1 }')
		goal=$(echo "$(paired strata ctrd "$L") $sr" | awk '{ print ($1 <= 0.5 && $2 <= 1.0) ? "met" : "missed" }')
		printf '%-12s %8s %8s %8s %8s %11s %6s\n' "$L" "$(mb "$L.strata")" "$(mb "$L.ctrd")" \
			"$(mb "$L.tar")" "$(mb "$L.bsdtar")" "$sr" "$goal"
	done
done
exit 0
