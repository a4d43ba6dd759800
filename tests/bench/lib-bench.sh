# Sourced by the layer benchmarks (apply.sh, diff.sh): the settings they
# share, timing, the spawner's worker lines and the paired-ratio summary.
# Sets B, STRATAD, STRATA, BENCH_DATA, ROUNDS, WARMUP (checked) and sources
# tests/lib.sh; the caller sets BENCH_WORKER_ROLE (the worker role whose
# exits worker_line reads) and R (the results directory) before use.
_bench_stratad=${STRATAD:-}
. "$(dirname -- "$0")/../lib.sh"

B=${B:-$REPO/build}
case $B in /*) ;; *) B=$REPO/$B ;; esac
STRATAD=${_bench_stratad:-$B/stratad}
STRATA=${STRATA:-$B/strata}
BENCH_DATA=${BENCH_DATA:-/var/tmp/strata-bench-data}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-1}
[ "$ROUNDS" -ge 3 ] 2>/dev/null || { echo "bench: ROUNDS must be a number >= 3" >&2; exit 2; }
[ "$WARMUP" -ge 0 ] 2>/dev/null || { echo "bench: WARMUP must be a number >= 0" >&2; exit 2; }

now_ns() { date +%s%N; }
ms_since() { echo "$1 $(now_ns)" | awk '{ printf "%.1f\n", ($2 - $1) / 1e6 }'; }
worker_exits() { grep -c "($BENCH_WORKER_ROLE) exited:" "$T/stratad.log"; }

# worker_line N: the spawner reaps a worker asynchronously; waits (untimed)
# for the (N+1)th exit line of BENCH_WORKER_ROLE and sets RSS_KB and CPU_MS
# from it.
worker_line()
{
	_i=0
	while [ "$(worker_exits)" -le "$1" ] && [ "$_i" -lt 100 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	_line=$(grep "($BENCH_WORKER_ROLE) exited:" "$T/stratad.log" | tail -n 1)
	RSS_KB=$(printf '%s\n' "$_line" | sed -n 's/.*peak resident \([0-9]*\) KiB.*/\1/p')
	CPU_MS=$(printf '%s\n' "$_line" | sed -n 's/.*cpu \([0-9]*\) ms.*/\1/p')
	[ -n "$RSS_KB" ] || { echo "bench: no $BENCH_WORKER_ROLE worker exit in the log" >&2; exit 1; }
}

median()
{
	sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# paired_exact A B LAYER: the median over rounds of A/B within a round;
# paired: the same to two decimals.
paired_exact() { paste "$R/$3.$1" "$R/$3.$2" | awk '{ printf "%.4f\n", $1 / $2 }' | median; }
paired() { paired_exact "$@" | awk '{ printf "%.2f", $1 }'; }
secs() { median <"$R/$1" | awk '{ printf "%.2f", $1 / 1000 }'; }

# bench_install PACKAGE...: installs the Debian packages named (none: nothing).
bench_install()
{
	[ $# -gt 0 ] || return 0
	echo "bench: installing $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"$T/apt.log" 2>&1 || {
		echo "bench: apt-get install $* failed:" >&2
		tail -n 15 "$T/apt.log" >&2
		exit 1
	}
}

# bench_need_space KB HINT: exits unless $T has KB (and a tenth more) free.
bench_need_space()
{
	_free=$(df -Pk "$T" | awk 'NR == 2 { print $4 }')
	if [ "$_free" -lt $(($1 + $1 / 10)) ]; then
		echo "bench: the trees need about $(($1 / 1048576)) GiB, $T has $((_free / 1048576)) GiB free;" >&2
		echo "       $2" >&2
		exit 1
	fi
}

# bench_fresh_fs DIR KB INODES [IMAGE]: a new ext4 file system without a
# journal (as this project's machines format their disks), of KB and at
# least INODES inodes, mounted at DIR (made) from the sparse file IMAGE
# (default $T/fresh.img; the caller removes one outside $T) through a loop
# device that reads and writes the file directly (no second copy in the
# page cache) and goes away when DIR is unmounted (at exit, with $T).
# ext4 without a journal does not reuse an inode freed in the last minutes:
# it looks each free one up, and on a disk where many were freed, creating a
# file then costs several times more (tar -xf npm.tar took 0.9-1.8 s on
# the root file system half an hour after large deletes, 0.58 s on a fresh
# one; ext4's recently_deleted in a profile).  On a fresh file system every
# side of a benchmark creates its files at the speed the disk gives any new
# tree.  With KEEP=1 the file stays in $T (mount -o loop it to look).
bench_fresh_fs()
{
	_bench_img=${4:-$T/fresh.img}
	truncate -s "$(($2 + $2 / 10 + 1048576))K" "$_bench_img" &&
		mkfs.ext4 -q -F -O ^has_journal -N "$3" -E lazy_itable_init=0 "$_bench_img" ||
		{ echo "bench: cannot make a file system in $_bench_img" >&2; exit 1; }
	_bench_loop=$(losetup -f --show --direct-io=on "$_bench_img") ||
		{ echo "bench: no loop device for $_bench_img" >&2; exit 1; }
	mkdir -p "$1"
	if ! mount "$_bench_loop" "$1"; then
		losetup -d "$_bench_loop"
		echo "bench: cannot mount $_bench_loop on $1" >&2
		exit 1
	fi
	losetup -d "$_bench_loop" # detached once unmounted
	chmod 0711 "$1"
}

# bench_wrote DIR...: trees a run has just written; bench_settle, before
# every timed run, writes back what is dirty (sync) and drops those trees
# from the page cache (vmtouch -e).  On these virtual machines, once the
# page cache holds about 10 GiB, every page it adds costs several times
# more: one `tar -xf big.tar` after another, each into a new tree on a
# fresh file system, took 0.65-0.89 s for the first eight or nine and
# 1.6-3.1 s from there on; with each tree dropped after its run, twelve
# took 0.67-0.95 s.  A full apply bench writes over 40 GiB of trees, so
# without this the later cells (npm, big) ran on the dear memory, which
# added the same seconds to every side and pulled their ratios towards 1.
# The daemons' metadata stays cached: only trees are dropped.
# bench_wrote_snapshot PREPARED: the tree of a snapshot, from what
# `strata prepare` printed (bench_snapshot_tree).
_bench_written=''
bench_wrote()
{
	for _bench_w in "$@"; do
		[ -z "$_bench_w" ] || _bench_written="$_bench_written $_bench_w"
	done
}
bench_wrote_snapshot() { bench_wrote "$(bench_snapshot_tree "$1")"; }
# bench_snapshot_tree MOUNTS: the tree of a snapshot without parent, the
# source of the bind mount in what `strata prepare` or `strata mounts`
# printed.
bench_snapshot_tree() { echo "$1" | awk '$1 == "bind" { print $2; exit }'; }
bench_settle()
{
	sync
	[ -n "$_bench_written" ] || return 0
	# shellcheck disable=SC2086 # a list of the bench's own paths, without blanks
	vmtouch -qe $_bench_written 2>/dev/null || { echo "bench: vmtouch -e$_bench_written failed" >&2; exit 1; }
	_bench_written=''
}

# Where the daemons keep their state: $T, or a fresh file system's mount
# point (BENCH_STATE, set before bench_start_stratad).
BENCH_STATE=${BENCH_STATE:-}

# bench_start_stratad: the daemon under $BENCH_STATE/strata (debug log: the
# spawner's worker lines), and st() to talk to it.
bench_start_stratad()
{
	ensure_user
	mkdir -p "${BENCH_STATE:-$T}/strata"
	start_stratad "${BENCH_STATE:-$T}/strata/root" "${BENCH_STATE:-$T}/strata/s.sock" --log-level debug ||
		exit 1
}
st() { "$STRATA" --address "${BENCH_STATE:-$T}/strata/s.sock" "$@"; }

# BASE_B, when set, is another build directory (say, of the commit before a
# change): bench_start_base starts its daemon beside this one, and the
# benchmarks run it as a side of their own, `base`, so that a change is
# measured against what it changes in one interleaved run.
BASE_B=${BASE_B:-}
bench_start_base()
{
	[ -n "$BASE_B" ] || return 0
	[ -x "$BASE_B/stratad" ] && [ -x "$BASE_B/strata" ] ||
		{ echo "bench: BASE_B=$BASE_B has no stratad and strata" >&2; exit 1; }
	_bench_base=${BENCH_STATE:-$T}/base
	mkdir -p "$_bench_base"
	(umask 0077 && exec "$BASE_B/stratad" --root "$_bench_base/root" --address "$_bench_base/s.sock" \
		--user "$STRATA_USER") >>"$T/base.log" 2>&1 &
	_bench_base_pid=$!
	at_exit "kill $_bench_base_pid 2>/dev/null; wait $_bench_base_pid 2>/dev/null"
	wait_socket "$_bench_base/s.sock.fd" 20 "$_bench_base_pid" && sleep 0.5 ||
		{ echo "bench: the base daemon did not start: $(tail -n 5 "$T/base.log")" >&2; exit 1; }
}
st_base() { "$BASE_B/strata" --address "${BENCH_STATE:-$T}/base/s.sock" "$@"; }
