#!/bin/sh
# Parallel unpack: `strata import --jobs N` applies the layers of an image at
# the same time, each into a snapshot of its own prepared without its parent
# (labelled with its parent's chain ID), and commits them in order onto their
# parents (CommitSnapshotRequest.parent), a rebase worker first giving each
# what its lowers would have given it (broker/rebase.c).  The trees must be
# the very trees of a sequential import (--jobs 1), layer by layer, compared
# by treemanifest: for every pair of layers tests/go/.../mklayers writes (the
# differential cases of apply-vs-containerd.sh) and for one image stacking
# seven of those layers, whose parents come from several lowers.
#
# The same through gRPC as containerd 2.2's unpacker drives it (rebaseunpack:
# Prepare without a parent, Apply through the diff service, all at once, then
# Commit with CommitSnapshotRequest.parent in order).
#
# Also: the rebase workers ran (the spawner's debug log), no layer keeps a
# mark, a layer applied ahead but committed without a parent keeps its
# converted whiteouts and no mark, Commit refuses a parent that is missing,
# not committed, or not the one a snapshot was prepared on, and
# max_parallel_applies bounds the applies ahead of their lowers (only).
#
# Environment: STRATA (CLI, default $B/strata), REAL_LOWER / REAL_UPPER (pair
# `real`, as in apply-vs-containerd.sh; REAL_LOWER= skips it).
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cli-lib.sh"
lib_init parallel-import
need_tools zstd
umask 022
STRATA=${STRATA:-$B/strata}
REAL_LOWER=${REAL_LOWER-/usr/share/doc}
REAL_UPPER=${REAL_UPPER-/usr/lib/x86_64-linux-gnu/perl-base}
bin=$T/bin L=$T/layers
if ! go_build strata-tests/treemanifest strata-tests/mklayers strata-tests/rebaseunpack ||
	! "$bin/mklayers" -o "$L" -real-lower "$REAL_LOWER" -real-upper "$REAL_UPPER" >"$T/mk.out" 2>&1; then
	fail "the Go tools build and mklayers writes the layers" "$(cat "$T/mk.out" 2>/dev/null)"
	summary
	exit 1
fi

# The images: each pair's lower and upper; and a stack of seven layers.
I=$T/images
mkdir -p "$I"
images=''
while read -r name lower upper _ref _what; do
	sh "$REPO/tests/fixtures/make-oci.sh" "$I/$name.tar" "$L/$lower" "$L/$upper" || fail "image $name"
	images="$images $name"
done <"$L/pairs"
sh "$REPO/tests/fixtures/make-oci.sh" "$I/stack.tar" "$L/whiteout.lower.tar" "$L/whiteout.upper.tar" \
	"$L/parents.lower.tar" "$L/parents.upper.tar" "$L/lowerdirs.lower.tar" "$L/lowerdirs.upper.tar" \
	"$L/opaque.upper.tar" || fail "image stack"
images="$images stack"

ensure_user

# manifests SIDE NAME CHAIN...: SIDE/NAME.m, the manifests of the layers
# CHAIN..., bottom first (each layer's tree, read through a view of it, its
# root's mtime masked).
manifests() {
	m=$T/$1/$2.m side=$1
	: >"$m"
	shift 2
	for chain in "$@"; do
		# A view of one layer is a bind of it; of several, an overlay whose
		# first lowerdir is the layer.
		src=$(st view "v-$chain" "$chain" | awk '$1 == "bind" { print $2; exit }
			$1 == "overlay" { sub(/.*lowerdir=/, ""); sub(/[:,].*/, ""); print; exit }')
		if [ -n "$src" ]; then
			echo "== $chain" >>"$m"
			"$bin/treemanifest" -recent-after "$T0" "$src" | sed '1s/ mtime=[^ ]*$/ mtime=(root)/' >>"$m"
		else
			fail "$side: a view of $chain"
		fi
		st rm "v-$chain" >/dev/null
	done
}

# import_all SIDE JOBS: `strata import --jobs JOBS` of every image, and
# their manifests.
import_all() {
	mkdir -p "$T/$1"
	T0=$(date +%s%N)
	for name in $images; do
		if ! st --json import --jobs "$2" "$I/$name.tar" >"$T/$1/$name.json" 2>"$T/err"; then
			fail "$1: import $name (--jobs $2)" "$(cat "$T/err")"
			continue
		fi
		# shellcheck disable=SC2046 # the chain IDs, one word each
		manifests "$1" "$name" $(tr ',' '\n' <"$T/$1/$name.json" |
			sed -n 's/.*"chain_id":"\(sha256:[0-9a-f]*\)".*/\1/p' | tail -n +2)
	done
}

# same SIDE: each image's layers on SIDE equal the sequential import's.
same() {
	for name in $images; do
		[ -s "$T/seq/$name.m" ] || continue
		if cmp -s "$T/seq/$name.m" "$T/$1/$name.m"; then
			pass "$1: $name: every layer equals the sequential import's"
		else
			fail "$1: $name: every layer equals the sequential import's" \
				"$(diff "$T/seq/$name.m" "$T/$1/$name.m" | head -n 20)"
		fi
	done
	if grep -q "trusted.strata" "$T/$1"/*.m; then
		fail "$1: no layer keeps a mark" "$(grep -l trusted.strata "$T/$1"/*.m)"
	else
		pass "$1: no layer keeps a mark"
	fi
}

# rebased: how many rebase workers the daemon started (its debug log).
rebased() { grep -c "role rebase" "$T/stratad.log"; }

# ---- sequential ----
ADDR=$T/seq.sock
start_stratad "$T/root-seq" "$ADDR" || { fail "daemon starts"; summary; exit 1; }
import_all seq 1
stop_stratad >/dev/null

# ---- parallel ----
ADDR=$T/par.sock
: >"$T/stratad.log"
start_stratad "$T/root-par" "$ADDR" --log-level debug --max-parallel-applies 3 || {
	fail "daemon starts"
	summary
	exit 1
}
import_all par 4
same par
n=$(rebased)
if [ "$n" -ge 10 ]; then pass "par: the layers applied ahead of their lowers were rebased ($n workers)"; else
	fail "par: the layers applied ahead of their lowers were rebased" "$n rebase workers in the log"; fi

# ---- Commit's parent, as containerd's storage checks it ----
base=$(tr ',' '\n' <"$T/par/parents.json" | sed -n 's/.*"chain_id":"\(sha256:[0-9a-f]*\)".*/\1/p' | sed -n 2p)
st prepare ahead >/dev/null && st prepare onbase "$base" >/dev/null && st prepare active >/dev/null ||
	fail "prepare the snapshots for commit checks"
"$bin/rebaseunpack" commit -address "$ADDR" ahead c1 missing >"$T/out" 2>&1
grep -q NotFound "$T/out" && pass "commit onto a missing parent: NotFound" || fail "commit onto a missing parent" "$(cat "$T/out")"
"$bin/rebaseunpack" commit -address "$ADDR" ahead c1 active >"$T/out" 2>&1
grep -q FailedPrecondition "$T/out" && pass "commit onto an active snapshot: FailedPrecondition" ||
	fail "commit onto an active snapshot" "$(cat "$T/out")"
"$bin/rebaseunpack" commit -address "$ADDR" onbase c2 ahead >"$T/out" 2>&1
grep -q InvalidArgument "$T/out" && pass "commit of a snapshot prepared on another parent: InvalidArgument" ||
	fail "commit of a snapshot prepared on another parent" "$(cat "$T/out")"
if "$bin/rebaseunpack" commit -address "$ADDR" ahead c3 "$base" >"$T/out" 2>&1 &&
	st stat c3 | grep -q "parent: *$base"; then
	pass "a snapshot prepared without a parent is committed onto one"
else
	fail "a snapshot prepared without a parent is committed onto one" "$(cat "$T/out"; st stat c3)"
fi
# A layer applied ahead of its lowers but committed without a parent: its
# whiteouts are devices, as over lowers, and its marks are gone.
st prepare alone >/dev/null && st label alone containerd.io/snapshot/parent-chain-id=sha256:0 >/dev/null &&
	st apply alone "$L/whiteout.upper.tar" >/dev/null && st commit alone-c alone ||
	fail "apply to a snapshot labelled with a parent chain, commit without a parent"
T0=$(date +%s%N)
mkdir -p "$T/alone"
manifests alone m alone-c
if grep -q '"/d/f1" type=char' "$T/alone/m.m" && grep -q '"/e" type=dir' "$T/alone/m.m" &&
	! grep -q trusted.strata "$T/alone/m.m"; then
	pass "committed without a parent: whiteouts converted, parents made, no mark left"
else
	fail "committed without a parent: whiteouts converted, parents made, no mark left" "$(cat "$T/alone/m.m")"
fi
stop_stratad >/dev/null

# ---- containerd 2.2's parallel unpack, over gRPC ----
ADDR=$T/grpc.sock
: >"$T/stratad.log"
start_stratad "$T/root-grpc" "$ADDR" --log-level debug --content-root "$T/content" || {
	fail "daemon starts"
	summary
	exit 1
}
mkdir -p "$T/grpc" "$T/content"
T0=$(date +%s%N)
while read -r name lower upper _ref _what; do
	if "$bin/rebaseunpack" unpack -address "$ADDR" -content "$T/content" "$L/$lower" "$L/$upper" \
		>"$T/grpc/$name.chains" 2>"$T/err"; then
		# shellcheck disable=SC2046
		manifests grpc "$name" $(cat "$T/grpc/$name.chains")
	else
		fail "grpc: unpack $name" "$(cat "$T/err")"
	fi
done <"$L/pairs"
name=stack
"$bin/rebaseunpack" unpack -address "$ADDR" -content "$T/content" "$L/whiteout.lower.tar" "$L/whiteout.upper.tar" \
	"$L/parents.lower.tar" "$L/parents.upper.tar" "$L/lowerdirs.lower.tar" "$L/lowerdirs.upper.tar" \
	"$L/opaque.upper.tar" >"$T/grpc/stack.chains" 2>"$T/err" || fail "grpc: unpack stack" "$(cat "$T/err")"
# shellcheck disable=SC2046
manifests grpc stack $(cat "$T/grpc/stack.chains")
same grpc
n=$(rebased)
if [ "$n" -ge 10 ]; then pass "grpc: the layers applied ahead of their lowers were rebased ($n workers)"; else
	fail "grpc: the layers applied ahead of their lowers were rebased" "$n rebase workers in the log"; fi
stop_stratad >/dev/null

# ---- max_parallel_applies ----
# With 1: of two applies ahead of their lowers whose layers never come (a
# FIFO held open), one runs and one waits; an apply of a bottom layer runs
# beside them all the same.
ADDR=$T/cap.sock
: >"$T/stratad.log"
start_stratad "$T/root-cap" "$ADDR" --log-level debug --max-parallel-applies 1 --job-idle-timeout 600 || {
	fail "daemon starts"
	summary
	exit 1
}
mkfifo "$T/held"
exec 8<>"$T/held"
holders=''
for k in a1 a2; do
	st prepare "$k" >/dev/null && st label "$k" containerd.io/snapshot/parent-chain-id=sha256:0 >/dev/null ||
		fail "prepare $k"
	"$STRATA" --address "$ADDR" apply "$k" "$T/held" >/dev/null 2>&1 &
	holders="$holders $!"
done
# shellcheck disable=SC2086 # a list of pids
at_exit "kill $holders 2>/dev/null"
i=0
while ! grep -q "role extract" "$T/stratad.log" && [ "$i" -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
sleep 1
n=$(grep -c "role extract" "$T/stratad.log")
if [ "$n" -eq 1 ]; then pass "of two applies ahead of their lowers, one runs, one waits (max_parallel_applies 1)"; else
	fail "of two applies ahead of their lowers, one runs, one waits (max_parallel_applies 1)" "$n extract workers"; fi
st prepare bottom >/dev/null
run st apply bottom "$L/parents.lower.tar"
expect_rc "an apply of a bottom layer runs beside them" 0
# shellcheck disable=SC2086
kill $holders 2>/dev/null
exec 8>&-
stop_stratad >/dev/null
summary
