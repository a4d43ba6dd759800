#!/bin/sh
# `make bench`, second part: layer apply, strata against GNU tar and containerd.
#
# Data: ../shared/bench/make-layers.sh builds three layers (distro: a Debian
# minbase root filesystem, npm: a node_modules tree, big: four 200 MiB files),
# each as .tar, .tar.gz and .tar.zst, into $BENCH_DATA (default
# /var/tmp/strata-bench-data, outside the repository), once: it needs Debian's
# mirror and the npm registry and takes minutes.
#
# For each of the nine layer files, interleaved rounds (strata, tar,
# containerd, strata, tar, containerd ...; absolute speed drifts on these
# shared machines, a ratio within a round does not), each into a fresh target:
#   strata      `strata apply KEY FILE` into a freshly prepared active snapshot:
#               the full daemon path (CLI, native socket, broker, extract worker).
#               The diff ID it prints is checked against sha256 of the plain tar.
#   tar         GNU tar with its own decompressor flag: `tar -xzf`,
#               `tar --zstd -xf`, `tar -xf` (as root: owners and modes kept).
#   containerd  ctrdapply -mode bind (tests/go/src/strata-tests/ctrdapply):
#               containerd 1.6's DecompressStream (unpigz on the PATH) +
#               archive.Apply + the diff ID over the uncompressed stream, as
#               its differ applies a layer to a snapshot without parents.
# and two reference points, what any extractor that reports the diff ID
# spends on this machine (tests/tools/createfloor.c, each timing itself):
#   create      this round's tar tree recreated from memory by one thread:
#               only the kernel's work (creating, writing, owners, modes,
#               times), no parsing, decompression or hashing; wall and CPU.
#   stream      the layer file read, decompressed and hashed (the diff ID,
#               and the blob's digest when compressed) on one core with the
#               worker's libraries; the CPU time of each part.
# From them, each round's floor: the least wall time an extractor could
# take here, all of that work shared perfectly over the CPUs but no stage
# of the stream split (one SHA-256 cannot be):
#   floor = max(read, decode, sha-tar, sha-blob,
#               (create + read + decode + sha-tar + sha-blob) / CPUs)
# where create is the cheapest creation of the tree the round saw: create's
# CPU time, or GNU tar's whole run when that was less (tar creates the same
# tree, and more).  A cell whose floor/tar (floor/ctrd) is above the goal
# cannot meet it on this machine; the summary counts them.
# Only the apply command is timed (wall clock); preparing the target is not.
# Every run starts after bench_settle: no run pays for an earlier run's
# writeback, and the trees of the runs before are out of the page cache
# (lib-bench.sh says why).  Every tree, and the daemons' state, is on an
# ext4 file system without a journal made for this run (bench_fresh_fs):
# on the machine's own disk, ext4 looks up every inode freed in the last
# minutes before it reuses one, and after the deletes of a `make check` or
# of an earlier bench, creating npm's files there took two to three times
# as long, by amounts that changed from run to run.  Trees are never deleted between
# timed runs; the file system goes with the temp dir at the end.  stratad
# runs with --log-level debug: its spawner logs each extract worker's peak
# resident memory and CPU time.
#
# Last, the fixed cost: a one-file layer applied FIXED_RUNS times,
# interleaved with tar -xf of it (the summary's last line).
#
# Environment: B (build dir, default build), STRATAD, STRATA (default
# $B/strata), CREATEFLOOR (default $B/tests/createfloor), STRATA_USER,
# BENCH_DATA, ROUNDS (timed rounds, default 3, at least 3), WARMUP (untimed
# rounds first, default 1), FIXED_RUNS (default 20), LAYERS (default
# "distro npm big"), FORMATS (default "tar.gz tar.zst tar"), KEEP=1, BASE_B
# (another build directory: its daemon runs as a side of its own, `base`,
# and the summary adds strata/base).
# shellcheck disable=SC2317 # the run_SIDE functions are called as "run_$s"
set -u
. "$(dirname -- "$0")/lib-bench.sh"
BENCH_WORKER_ROLE=extract
LAYERS=${LAYERS:-distro npm big}
FORMATS=${FORMATS:-tar.gz tar.zst tar}
FIXED_RUNS=${FIXED_RUNS:-20}
MAKE_LAYERS=${MAKE_LAYERS:-$REPO/../shared/bench/make-layers.sh}
[ -f "$MAKE_LAYERS" ] || MAKE_LAYERS=/work/shared/bench/make-layers.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: must run as root (stratad, debootstrap, tar keeping owners)" >&2
	exit 1
fi
CREATEFLOOR=${CREATEFLOOR:-$B/tests/createfloor}
for _b in "$STRATAD" "$STRATA" "$CREATEFLOOR"; do
	[ -x "$_b" ] || { echo "bench: no $_b (make all, or set STRATAD/STRATA)" >&2; exit 1; }
done

lib_init bench-apply

# ---- tools -----------------------------------------------------------------------
# Debian packages for what is missing (npm only when there is none: a nodejs
# from elsewhere may carry its own and conflict with Debian's).
missing=''
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
command -v zstd >/dev/null 2>&1 || missing="$missing zstd"
command -v unpigz >/dev/null 2>&1 || missing="$missing pigz"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
command -v vmtouch >/dev/null 2>&1 || missing="$missing vmtouch"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
# shellcheck disable=SC2086 # a list of package names
bench_install $missing

# ---- data ------------------------------------------------------------------------
# make-layers.sh writes STATS last; without it the data is incomplete. It is
# built next to the final place and renamed on success, so an interrupted
# build never looks complete; a failed one is removed (after unmounting
# whatever debootstrap left mounted in it).
PARTIAL=''
# shellcheck disable=SC2317 # called from the at_exit list
drop_partial()
{
	[ -n "$PARTIAL" ] && [ -d "$PARTIAL" ] || return 0
	umount_under "$PARTIAL"
	rm -rf --one-file-system "$PARTIAL"
}
at_exit drop_partial

data_complete()
{
	[ -f "$BENCH_DATA/STATS" ] || return 1
	for _l in distro npm big; do
		for _f in tar tar.gz tar.zst; do
			[ -s "$BENCH_DATA/$_l.$_f" ] || return 1
		done
	done
}

if ! data_complete; then
	if [ -e "$BENCH_DATA" ]; then
		echo "bench: $BENCH_DATA exists but is incomplete (no STATS or a layer file missing);" >&2
		echo "       remove it or set BENCH_DATA to a new directory" >&2
		exit 1
	fi
	PARTIAL=$BENCH_DATA.partial
	drop_partial
	echo "bench: building layer data in $BENCH_DATA (debootstrap + npm install; takes minutes)"
	if ! bash "$MAKE_LAYERS" "$PARTIAL" >"$T/make-layers.log" 2>&1; then
		echo "bench: building the layer data failed (it needs Debian's mirror and the npm" >&2
		echo "       registry; no network here?); the end of its output ($MAKE_LAYERS):" >&2
		tail -n 15 "$T/make-layers.log" >&2
		exit 1
	fi
	mv "$PARTIAL" "$BENCH_DATA" || exit 1
	PARTIAL=''
fi

# ---- containerd's side ---------------------------------------------------------------
go_build strata-tests/ctrdapply || exit 1
CTRDAPPLY=$T/bin/ctrdapply
# containerd decompresses gzip with unpigz when it finds it on the PATH.
UNPIGZ=$(command -v unpigz) || { echo "bench: no unpigz on the PATH" >&2; exit 1; }

# ---- disk space --------------------------------------------------------------------
# Every run leaves its tree until the end: check that they fit (a tree per
# side: strata, tar, containerd, create, and base with BASE_B).
nsides=4
[ -z "${BASE_B:-}" ] || nsides=5
need_kb=0
need_inodes=$((FIXED_RUNS * nsides + 1000))
for l in $LAYERS; do
	[ -d "$BENCH_DATA/src/$l" ] || { echo "bench: no layer $l in $BENCH_DATA" >&2; exit 2; }
	kb=$(du -sk "$BENCH_DATA/src/$l" | cut -f1)
	ni=$(find "$BENCH_DATA/src/$l" | wc -l)
	nf=0
	for _f in $FORMATS; do nf=$((nf + 1)); done
	need_kb=$((need_kb + kb * nf * nsides * (ROUNDS + WARMUP)))
	need_inodes=$((need_inodes + ni * nf * nsides * (ROUNDS + WARMUP)))
done
bench_need_space "$need_kb" "lower ROUNDS or WARMUP, or choose fewer LAYERS"

# ---- a fresh file system --------------------------------------------------------------
# Every tree, and the daemons' state with their snapshots, on a file system
# made for this run (lib-bench.sh, bench_fresh_fs, says why).
bench_fresh_fs "$T/fs" "$need_kb" $((need_inodes + need_inodes / 5))
BENCH_STATE=$T/fs
TREES=$T/fs/trees

# ---- the daemon --------------------------------------------------------------------
mkdir -p "$TREES"
bench_start_stratad
bench_start_base

# ---- one run of each side ------------------------------------------------------------

# run_SIDE NAME FILE FMT: prints the wall time in ms; exits on failure.
run_strata()
{
	_k=$1
	_tree=$(st prepare "$_k") || { echo "bench: strata prepare $_k failed" >&2; exit 1; }
	bench_wrote_snapshot "$_tree"
	_n=$(worker_exits)
	_t=$(now_ns)
	st apply "$_k" "$2" >"$T/out" 2>"$T/err" || {
		echo "bench: strata apply $_k $2 failed: $(cat "$T/err")" >&2
		tail -n 20 "$T/stratad.log" >&2
		exit 1
	}
	MS=$(ms_since "$_t")
	[ "$(cat "$T/out")" = "$WANT" ] ||
		{ echo "bench: strata apply $2 printed $(cat "$T/out"), want $WANT" >&2; exit 1; }
	worker_line "$_n"
}

# The same through the base build's daemon (BASE_B), without worker stats.
run_base()
{
	_tree=$(st_base prepare "$1") || { echo "bench: base prepare $1 failed" >&2; exit 1; }
	bench_wrote_snapshot "$_tree"
	_t=$(now_ns)
	st_base apply "$1" "$2" >"$T/out" 2>"$T/err" ||
		{ echo "bench: base apply $1 $2 failed: $(cat "$T/err")" >&2; exit 1; }
	MS=$(ms_since "$_t")
	[ "$(cat "$T/out")" = "$WANT" ] ||
		{ echo "bench: base apply $2 printed $(cat "$T/out"), want $WANT" >&2; exit 1; }
}

run_tar()
{
	mkdir "$TREES/$1" # dropped after create, which reads it
	case $3 in
	tar.gz) set -- -xzf "$2" -C "$TREES/$1" ;;
	tar.zst) set -- --zstd -xf "$2" -C "$TREES/$1" ;;
	*) set -- -xf "$2" -C "$TREES/$1" ;;
	esac
	_t=$(now_ns)
	tar "$@" 2>"$T/err" || { echo "bench: tar $* failed: $(cat "$T/err")" >&2; exit 1; }
	MS=$(ms_since "$_t")
}

run_ctrd()
{
	mkdir "$TREES/$1"
	bench_wrote "$TREES/$1"
	_t=$(now_ns)
	"$CTRDAPPLY" -mode bind "$TREES/$1" "$2" >"$T/out" 2>"$T/err" ||
		{ echo "bench: ctrdapply $2 failed: $(cat "$T/err")" >&2; exit 1; }
	MS=$(ms_since "$_t")
	[ "$(cat "$T/out")" = "$WANT" ] ||
		{ echo "bench: ctrdapply $2 printed $(cat "$T/out"), want $WANT" >&2; exit 1; }
}

# The reference points (see the top); create recreates this round's tar
# tree, so it runs after tar.  Each sets MS (create: wall; stream: CPU, all
# parts) and PARTS, kept for the floor (create: CPU ms; stream: read,
# decode, sha-tar and sha-blob CPU ms).
run_create()
{
	mkdir "$TREES/$1"
	bench_wrote "$TREES/$1" "$TREES/tar-${1#create-}"
	PARTS=$("$CREATEFLOOR" "$TREES/tar-${1#create-}" "$TREES/$1" 2>"$T/err") ||
		{ echo "bench: createfloor $1 failed: $(cat "$T/err")" >&2; exit 1; }
	MS=${PARTS% *}
	PARTS=${PARTS#* }
}

run_stream()
{
	PARTS=$("$CREATEFLOOR" --stream "$2" 2>"$T/err") ||
		{ echo "bench: createfloor --stream $2 failed: $(cat "$T/err")" >&2; exit 1; }
	[ "${PARTS##* }" = "$(stat -c %s "$BENCH_DATA/$l.tar")" ] ||
		{ echo "bench: createfloor --stream $2 decoded ${PARTS##* } bytes, not $l.tar's" >&2; exit 1; }
	PARTS=${PARTS% *}
	MS=$(echo "$PARTS" | awk '{ printf "%.1f", $1 + $2 + $3 + $4 }')
}

# ---- timed rounds ----------------------------------------------------------------------
SIDES='strata tar ctrd create stream'
[ -z "$BASE_B" ] || SIDES='strata base tar ctrd create stream'
R=$T/res
mkdir -p "$R"
echo "== layer apply: $(nproc) cpus, $(uname -r), data in $BENCH_DATA, unpigz at $UNPIGZ"
echo "   command: make bench (ROUNDS=$ROUNDS WARMUP=$WARMUP LAYERS='$LAYERS' FORMATS='$FORMATS')"
echo "   wall ms per run: strata (apply via daemon) / GNU tar / containerd (ctrdapply -mode bind)"
echo "   and the reference points: create (the tree from memory, one thread) / stream (read,"
echo "   decompress and hash the layer on one core; CPU ms)"
[ -z "$BASE_B" ] || echo "   base: the same apply through the daemon built in $BASE_B"
for l in $LAYERS; do
	WANT=sha256:$(awk -v f="$l.tar" '{ n = split($2, p, "/") } p[n] == f { print $1 }' "$BENCH_DATA/STATS")
	[ "$WANT" != sha256: ] || WANT=sha256:$(sha256sum "$BENCH_DATA/$l.tar" | cut -d' ' -f1)
	for f in $FORMATS; do
		F=$BENCH_DATA/$l.$f
		L=$l.$f
		cat "$F" >/dev/null # page-cache the input
		r=$((1 - WARMUP))
		while [ "$r" -le "$ROUNDS" ]; do
			tag=$r
			[ "$r" -le 0 ] && tag=w$((WARMUP + r))
			line=''
			for s in $SIDES; do
				bench_settle
				PARTS=''
				"run_$s" "$s-$L-$tag" "$F" "$f"
				line="$line $s $MS"
				[ "$r" -le 0 ] && continue
				echo "$MS" >>"$R/$L.$s"
				[ -z "$PARTS" ] || echo "$PARTS" >>"$R/$L.$s.parts"
				[ "$s" = strata ] && echo "$RSS_KB $CPU_MS" >>"$R/$L.worker"
			done
			printf '  %-14s %-3s%s%s\n' "$L" "$tag" "$line" "$([ "$r" -le 0 ] && echo ' (warm-up)')"
			r=$((r + 1))
		done
	done
done

# ---- summary --------------------------------------------------------------------------

echo
echo "== medians of $ROUNDS interleaved rounds (wall seconds); ratios are paired (median of"
echo "   each round's ratio); worker: the extract workers' max peak RSS and median CPU time;"
echo "   floor/tar and floor/ctrd: the least any extractor could take here (the top of $0)"
# Goals: strata at most GOAL_TAR of GNU tar's time and GOAL_CTRD of
# containerd's, its worker under 32 MiB; a ratio above its goal gets a `!`,
# and so does a floor above it.
GOAL_TAR=0.60
GOAL_CTRD=0.30
NCPU=$(nproc)
over=0
over_floor=0
# mark RATIO GOAL: the ratio, with `!` when above the goal (a subshell:
# the caller counts the marks).
mark()
{
	if awk -v r="$1" -v g="$2" 'BEGIN { exit !(r > g) }'; then
		printf '%s!' "$1"
	else
		printf '%s ' "$1"
	fi
}
# Each round's floor in ms (the top says how), from its create and stream
# parts and tar's time, into $R/LAYER.floor.
floors()
{
	paste "$R/$1.create.parts" "$R/$1.stream.parts" "$R/$1.tar" | awk -v n="$NCPU" '{
		c = $6 < $1 ? $6 : $1
		m = (c + $2 + $3 + $4 + $5) / n
		for (i = 2; i <= 5; i++) if ($i > m) m = $i
		printf "%.1f\n", m }' >"$R/$1.floor"
}
printf '%-14s %8s %8s %8s %11s %12s %11s %9s %10s %11s\n' layer strata tar ctrd strata/tar strata/ctrd \
	'worker MiB' 'cpu s' floor/tar floor/ctrd
max_rss=0
for l in $LAYERS; do
	for f in $FORMATS; do
		L=$l.$f
		floors "$L"
		rss=$(awk '$1 > m { m = $1 } END { print m }' "$R/$L.worker")
		[ "$rss" -gt "$max_rss" ] && max_rss=$rss
		cpu=$(awk '{ print $2 }' "$R/$L.worker" | median | awk '{ printf "%.2f", $1 / 1000 }')
		rt=$(mark "$(paired strata tar "$L")" $GOAL_TAR)
		case $rt in *!) over=$((over + 1)) ;; esac
		rc=$(mark "$(paired strata ctrd "$L")" $GOAL_CTRD)
		case $rc in *!) over=$((over + 1)) ;; esac
		ft=$(mark "$(paired floor tar "$L")" $GOAL_TAR)
		case $ft in *!) over_floor=$((over_floor + 1)) ;; esac
		fc=$(mark "$(paired floor ctrd "$L")" $GOAL_CTRD)
		case $fc in *!) over_floor=$((over_floor + 1)) ;; esac
		printf '%-14s %8s %8s %8s %12s %13s %10s %9s %11s %11s\n' "$L" "$(secs "$L.strata")" \
			"$(secs "$L.tar")" "$(secs "$L.ctrd")" "$rt" "$rc" \
			"$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')" "$cpu" "$ft" "$fc"
		[ -z "$BASE_B" ] || printf '%-14s %8s strata/base %s\n' '' "$(secs "$L.base")" "$(paired strata base "$L")"
	done
done
echo "goals: strata/tar <= $GOAL_TAR, strata/ctrd <= $GOAL_CTRD, worker peak RSS < 32 MiB" \
	"(max here: $(awk -v k="$max_rss" 'BEGIN { printf "%.1f", k / 1024 }') MiB); $over ratios above (!);" \
	"$over_floor floors above, where no extractor can meet the goal on this machine"

# Where each floor comes from: medians over the rounds, in ms.
echo
echo "== the floor's parts (median ms over the rounds; create: wall, then CPU; tar: wall, for"
echo "   rounds where tar took less than create's CPU; the rest CPU):"
printf '%-14s %9s %10s %9s %9s %9s %9s %9s %9s\n' layer create create-cpu tar read decode sha-tar sha-blob floor
col() { awk -v c="$2" '{ print $c }' "$R/$1" | median | awk '{ printf "%.0f", $1 }'; }
for l in $LAYERS; do
	for f in $FORMATS; do
		L=$l.$f
		printf '%-14s %9s %10s %9s %9s %9s %9s %9s %9s\n' "$L" "$(col "$L.create" 1)" \
			"$(col "$L.create.parts" 1)" "$(col "$L.tar" 1)" "$(col "$L.stream.parts" 1)" "$(col "$L.stream.parts" 2)" \
			"$(col "$L.stream.parts" 3)" "$(col "$L.stream.parts" 4)" "$(col "$L.floor" 1)"
	done
done

# ---- the fixed cost ----------------------------------------------------------------------
# What an apply costs whatever the layer: a tar of one small file, applied
# FIXED_RUNS times, interleaved with tar -xf of it (and the base build's
# apply with BASE_B).  strata's side is the CLI's start, the request, the
# worker's exec and sandbox, and the reply.
mkdir -p "$T/one"
echo hi >"$T/one/f"
tar -C "$T/one" -cf "$T/one.tar" f
WANT=sha256:$(sha256sum "$T/one.tar" | cut -d' ' -f1)
i=1
while [ "$i" -le "$FIXED_RUNS" ]; do
	for s in strata base tar; do
		[ "$s" != base ] || [ -n "$BASE_B" ] || continue
		"run_$s" "$s-one-$i" "$T/one.tar" tar
		echo "$MS" >>"$R/one.$s"
	done
	i=$((i + 1))
done
printf '\n== fixed cost: a one-file layer, %s interleaved runs (median wall ms): strata %s, tar %s%s\n' \
	"$FIXED_RUNS" "$(median <"$R/one.strata")" "$(median <"$R/one.tar")" \
	"$([ -z "$BASE_B" ] || echo ", base $(median <"$R/one.base")")"
exit 0
