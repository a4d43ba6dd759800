#!/bin/sh
# The extract engine alone, one build against another: two xapply binaries
# (tests/tools/xapply.c, the engine without the daemon) apply the same
# layer in alternating order (A B, B A, A B ...), each into a new
# directory of an ext4 file system without a journal made for the run in
# memory (bench_fresh_fs over a file in /dev/shm), so that neither the disk
# nor inodes freed before (bench_fresh_fs says why) move the result.  Prints every pair's wall and CPU seconds, then the medians
# of the paired ratios B/A.
#
# For a change to worker/extract*.c: the apply bench's cells move by more
# than such a change from one run to the next; A against A here gave 0.975
# of the wall time and 1.016 of the CPU (6 pairs of distro.tar).  Nothing is
# deleted while it runs; the file system goes at the end.
#
#   sh tests/bench/engine-ab.sh A B LAYER [PAIRS]
#
# A and B: xapply binaries (copy the one of the build before a change away
# before rebuilding); LAYER: a layer file, any compression; PAIRS: default 8.
# FS_MB (default: 1.25 times the layer's tar per run, and 1 GiB; an inode
# per 8 KiB) sizes the file system, which takes as much memory as the trees
# and its inode tables fill.
set -u
if [ $# -lt 3 ] || [ $# -gt 4 ]; then
	echo "usage: engine-ab.sh A_XAPPLY B_XAPPLY LAYER [PAIRS]" >&2
	exit 2
fi
A=$1 B=$2 L=$3 PAIRS=${4:-8}
[ "$(id -u)" -eq 0 ] || { echo "engine-ab: must run as root (mount, owners)" >&2; exit 1; }
for _x in "$A" "$B"; do
	[ -x "$_x" ] || { echo "engine-ab: no xapply at $_x" >&2; exit 1; }
done
[ -r "$L" ] || { echo "engine-ab: cannot read $L" >&2; exit 1; }
[ "$PAIRS" -ge 1 ] 2>/dev/null || { echo "engine-ab: PAIRS must be a number >= 1" >&2; exit 2; }

. "$(dirname -- "$0")/lib-bench.sh"
lib_init engine-ab
[ -x /usr/bin/time ] || bench_install time # GNU time: CPU seconds of a child

# The tar's size: the layer's, decompressed by the tools tar would use.
case $(od -An -tx1 -N4 "$L" | tr -d ' ') in
1f8b*) tar_bytes=$(gzip -dc "$L" | wc -c) ;;
28b52ffd) tar_bytes=$(zstd -dcq "$L" | wc -c) ;;
*) tar_bytes=$(wc -c <"$L") ;;
esac
FS_MB=${FS_MB:-$((tar_bytes * 5 * PAIRS / 2 / 1048576 + 1024))}
shm_mb=$(df -Pm /dev/shm | awk 'NR == 2 { print $4 }')
if [ "$shm_mb" -lt "$FS_MB" ]; then
	echo "engine-ab: the trees need about $FS_MB MiB of /dev/shm, which has $shm_mb free;" >&2
	echo "           fewer PAIRS, or FS_MB" >&2
	exit 1
fi

IMG=/dev/shm/strata-engine-ab.$$.img
at_exit "rm -f $IMG"
bench_fresh_fs "$T/fs" $((FS_MB * 1024)) $((FS_MB * 128)) "$IMG"

# run SIDE BIN: applies once; appends its wall and CPU seconds to
# $R/wall.SIDE and $R/cpu.SIDE.
R=$T/res
mkdir "$R"
k=0
run()
{
	k=$((k + 1))
	mkdir "$T/fs/$k"
	/usr/bin/time -f "%e %U %S" -o "$T/time" "$2" --apply "$T/fs/$k" "$L" >"$T/out" 2>"$T/err" ||
		{ echo "engine-ab: $2 --apply $L failed: $(cat "$T/err")" >&2; exit 1; }
	awk '{ print $1 }' "$T/time" >>"$R/wall.$1"
	awk '{ print $2 + $3 }' "$T/time" >>"$R/cpu.$1"
	cp "$T/out" "$T/id.$1"
}

i=0
while [ "$i" -lt "$PAIRS" ]; do
	if [ $((i % 2)) -eq 0 ]; then
		run a "$A"
		run b "$B"
	else
		run b "$B"
		run a "$A"
	fi
	i=$((i + 1))
done
cmp -s "$T/id.a" "$T/id.b" || { echo "engine-ab: A and B print different diff IDs" >&2; exit 1; }

echo "engine-ab: $(basename -- "$L"), $PAIRS pairs; wall and CPU seconds, A then B:"
paste "$R/wall.a" "$R/cpu.a" "$R/wall.b" "$R/cpu.b" | awk '{ printf "  %6.2f %6.2f   %6.2f %6.2f\n", $1, $2, $3, $4 }'
echo "medians: A wall $(median <"$R/wall.a") cpu $(median <"$R/cpu.a"), B wall $(median <"$R/wall.b")" \
	"cpu $(median <"$R/cpu.b"); B/A paired: wall $(paired_exact b a wall), cpu $(paired_exact b a cpu)"
