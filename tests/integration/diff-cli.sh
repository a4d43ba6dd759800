#!/bin/sh
# `strata diff` against a real daemon: a base layer (files, a symlink, a
# hardlink, a subdirectory) and a child layer that adds, changes, removes
# (whiteouts) and replaces a directory (opaque), applied with `strata apply`;
# then the child's layer written as tar, gzip and zstd: its digest is
# sha256sum of the file, its diff ID that of the decompressed tar, applying it
# onto a fresh snapshot of the base reproduces the child's upperdir, the same
# diff twice gives the same bytes, an unchanged snapshot gives an empty tar,
# --parent (the general path, trees walked side by side, one or two layers
# either way) reproduces the merged tree, --source-date-epoch clamps times, standard output, --json,
# and the errors.  lib.sh stops the daemon by pid, unmounts and removes the
# temp dir on exit.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname "$0")/../cli-lib.sh"
lib_init diff-cli
need_tools python3 zstd
ensure_user
STRATA=${STRATA:-$B/strata}
ADDR=$T/s.sock
ROOT=$T/root
go_build strata-tests/treemanifest || { fail "build treemanifest"; summary; exit 1; }
start_stratad "$ROOT" "$ADDR" || { fail "daemon starts"; summary; exit 1; }

sha_in() { echo "sha256:$(sha256sum | cut -d' ' -f1)"; }
# json_get FILE KEY...: a (nested) field of a JSON document ("" when absent).
json_get() {
	python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v.get(k, "") if isinstance(v, dict) else ""
print(v)' "$@"
}
decompress() { # decompress FILE TYPE: the tar on stdout
	case $2 in
	tar) cat "$1" ;;
	gzip) gzip -dc "$1" ;;
	zstd) zstd -qdc "$1" ;;
	esac
}
# ---- the base and the child ----
b=$T/base
mkdir -p "$b/etc/app/conf.d" "$b/bin" "$b/var/lib/gone" "$b/opq/old"
echo "greeting" >"$b/etc/app/greeting"
echo "to be changed" >"$b/etc/app/changed"
echo "to be removed" >"$b/etc/app/removed"
echo "mode only" >"$b/etc/app/modeonly"
echo "conf" >"$b/etc/app/conf.d/a.conf"
printf '#!/bin/sh\necho hi\n' >"$b/bin/hi"
chmod 0755 "$b/bin/hi"
ln "$b/bin/hi" "$b/bin/hi-hard"
ln -s ../etc/app/greeting "$b/bin/link"
echo "inside a removed dir" >"$b/var/lib/gone/f"
echo "old" >"$b/opq/old/f"
echo "kept" >"$b/opq/kept"
dd if=/dev/urandom of="$b/etc/app/blob" bs=1k count=200 2>/dev/null
chown -R 123:456 "$b/etc/app/conf.d"
# A directory of 300 entries: sorting it is past the size where glibc's
# qsort would ask the kernel for the machine's memory (common/sort.h).
mkdir "$b/many"
i=0
while [ $i -lt 300 ]; do : >"$b/many/f$i"; i=$((i + 1)); done
tar -C "$b" --numeric-owner -cf "$T/base.tar" etc bin var opq many

c=$T/child
mkdir -p "$c/etc/app" "$c/bin" "$c/var/lib" "$c/opq" "$c/new/deep"
echo "changed now" >"$c/etc/app/changed"
: >"$c/etc/app/.wh.removed"
: >"$c/var/lib/.wh.gone"
: >"$c/opq/.wh..wh..opq"
echo "fresh" >"$c/opq/fresh"
echo "added" >"$c/new/deep/added"
ln "$c/new/deep/added" "$c/new/added-hard"
ln -s deep/added "$c/new/link"
dd if=/dev/urandom of="$c/bin/big" bs=1k count=300 2>/dev/null
tar -C "$c" --numeric-owner -cf "$T/child.tar" etc bin var opq new

run st prepare base-a
expect_rc "prepare base-a" 0
run st apply base-a "$T/base.tar"
expect_rc "apply the base layer" 0
run st commit base base-a
expect_rc "commit base" 0
run st prepare child base
expect_rc "prepare child on base" 0
run st apply child "$T/child.tar"
expect_rc "apply the child layer" 0
# A metadata-only change, made directly in the upperdir (copied up as overlay would).
cu=$(upper_of child)
cp -a "$b/etc/app/modeonly" "$cu/etc/app/modeonly" && chmod 0600 "$cu/etc/app/modeonly" &&
	chown 7:8 "$cu/etc/app/modeonly"
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.strata", b"layer xattr")' "$cu/new/deep/added"
if [ -c "$cu/etc/app/removed" ] && [ -c "$cu/var/lib/gone" ] && [ -f "$cu/opq/fresh" ]; then
	pass "the child's upperdir holds whiteouts"
else
	fail "the child's upperdir holds whiteouts" "$(find "$cu" -printf '%P %y\n' 2>&1 | head -30)"
fi

# ---- the child's layer, three ways ----
did_tar='' did_gzip='' did_zstd=''
for t in tar gzip zstd; do
	f=$T/child.$t
	run st --json diff child -o "$f" --media-type "$t"
	expect_rc "diff child as $t" 0
	cp "$T/out" "$T/desc.$t"
	case $t in
	tar) mt=application/vnd.oci.image.layer.v1.tar ;;
	*) mt=application/vnd.oci.image.layer.v1.tar+$t ;;
	esac
	same "$t: media type" "$(json_get "$T/out" media_type)" "$mt"
	same "$t: the digest is sha256sum of the file" "$(json_get "$T/out" digest)" "$(sha "$f")"
	same "$t: the size is the file's" "$(json_get "$T/out" size)" "$(wc -c <"$f" | tr -d ' ')"
	did=$(decompress "$f" "$t" | sha_in)
	if [ "$t" = tar ]; then
		same "tar: no uncompressed annotation" "$(json_get "$T/out" annotations)" ""
	else
		same "$t: containerd.io/uncompressed is the decompressed sha256" \
			"$(json_get "$T/out" annotations containerd.io/uncompressed)" "$did"
	fi
	n=$(decompress "$f" "$t" | tar -tf - | wc -l)
	same "$t: entries counts the tar's entries" "$(json_get "$T/out" entries)" "$n"
	case $t in tar) did_tar=$did ;; gzip) did_gzip=$did ;; zstd) did_zstd=$did ;; esac
	k=redo-$t
	st prepare "$k" base >/dev/null
	run st apply "$k" "$f"
	expect_rc "$t: strata apply of the diff" 0
	same "$t: apply's diff ID is the diff's" "$(cat "$T/out")" "$did"
	same_tree "$t: applied onto base, the upperdir equals the child's" "$cu" "$(upper_of "$k")"
done
same "tar, gzip and zstd hold the same tar" "$did_gzip $did_zstd" "$did_tar $did_tar"
same "the tar's digest is the diff ID" "$(json_get "$T/desc.tar" digest)" "$did_tar"

# Whiteouts and the opaque marker are tar entries.
tar -tf "$T/child.tar" >"$T/names"
for w in etc/app/.wh.removed var/lib/.wh.gone opq/.wh..wh..opq; do
	if grep -qx "$w" "$T/names"; then pass "the layer has $w"; else fail "the layer has $w" "$(cat "$T/names")"; fi
done
if tar -tvf "$T/child.tar" | grep -q '^h.* new/added-hard link to new/deep/added$\|^h.* new/deep/added link to new/added-hard$'; then
	pass "the hardlink is a hardlink entry"
else
	fail "the hardlink is a hardlink entry" "$(tar -tvf "$T/child.tar" | grep added)"
fi

run st diff child -o "$T/again.gzip"
expect_rc "the same diff again (gzip by default)" 0
same "the same diff twice: same bytes" "$(sha "$T/again.gzip")" "$(json_get "$T/desc.gzip" digest)"

# ---- the human descriptor, standard output ----
run st diff child -o "$T/h.zst" --media-type application/vnd.oci.image.layer.v1.tar+zstd
expect_rc "diff with a full OCI media type" 0
out_has "human: media type" "media type: application/vnd.oci.image.layer.v1.tar+zstd"
out_has "human: digest" "digest:     $(sha "$T/h.zst")"
out_has "human: size" "size:       $(wc -c <"$T/h.zst" | tr -d ' ')"
out_has "human: uncompressed label" "containerd.io/uncompressed: $did_tar"
run st diff child --media-type tar -o "$T/h.tar"
expect_rc "diff as tar (human)" 0
if grep -q uncompressed "$T/out"; then fail "human tar: no uncompressed label" "$(show)"; else pass "human tar: no uncompressed label"; fi

"$STRATA" --address "$ADDR" diff child >"$T/stdout.gz" 2>"$T/err"
rc=$?
: >"$T/out"
expect_rc "diff to standard output" 0
same "stdout: the same bytes as -o" "$(sha "$T/stdout.gz")" "$(json_get "$T/desc.gzip" digest)"
err_has "stdout: the descriptor goes to stderr" "digest:     $(sha "$T/stdout.gz")"
"$STRATA" --address "$ADDR" --json diff child -o - --media-type zstd >"$T/stdout.zst" 2>"$T/err"
rc=$?
same "-o - with --json: descriptor on stderr" "$(sha "$T/stdout.zst")" \
	"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["digest"])' "$T/err" 2>&1)"

# ---- an unchanged snapshot ----
st prepare same base >/dev/null
run st diff same --media-type tar -o "$T/empty.tar"
expect_rc "diff of an unchanged snapshot" 0
head -c 1024 /dev/zero >"$T/zero1024"
if cmp -s "$T/empty.tar" "$T/zero1024"; then pass "unchanged: an empty tar (1024 zero bytes)"; else
	fail "unchanged: an empty tar (1024 zero bytes)" "$(wc -c <"$T/empty.tar") bytes: $(od -c "$T/empty.tar" | head -5)"
fi
run st --json diff same -o "$T/empty.gz"
expect_rc "unchanged, gzip" 0
same "unchanged, gzip: 0 entries" "$(json_get "$T/out" entries)" 0
same "unchanged, gzip: decompresses to the empty tar" "$(gzip -dc "$T/empty.gz" | sha_in)" "$(sha "$T/zero1024")"

# ---- --source-date-epoch ----
epoch=1000000000
run st diff child --media-type tar --source-date-epoch "$epoch" -o "$T/epoch.tar"
expect_rc "diff --source-date-epoch" 0
newest=$(python3 -c '
import sys, tarfile
print(max(int(m.mtime) for m in tarfile.open(sys.argv[1])))' "$T/epoch.tar")
same "--source-date-epoch: no entry is newer than the epoch" "$newest" "$epoch"
run st diff child --media-type tar --source-date-epoch="$epoch" -o "$T/epoch2.tar"
same "--source-date-epoch twice: same bytes" "$(sha "$T/epoch2.tar")" "$(sha "$T/epoch.tar")"

# ---- --parent: the general path ----
mkdir -p "$T/m"
run st diff child --parent base --media-type tar -o "$T/gen.tar"
expect_rc "diff --parent base (its own parent: the fast path)" 0
same "--parent: the digest is sha256sum of the file" "$(sed -n 's/^digest: *//p' "$T/out")" "$(sha "$T/gen.tar")"
st prepare redo-gen base >/dev/null
run st apply redo-gen "$T/gen.tar"
expect_rc "--parent: apply its layer onto base" 0
mount_of child "$T/m/child" && mount_of redo-gen "$T/m/redo-gen"
same_tree "--parent: the merged tree equals the child's" "$T/m/child" "$T/m/redo-gen"
umount "$T/m/redo-gen"
umount "$T/m/child"

# Two layers at once: child2 on the committed child, diffed against base.
st commit child-c child >/dev/null
st prepare child2 child-c >/dev/null
c2=$(upper_of child2)
echo "third" >"$c2/third"
mount_of child2 "$T/m/child2"
rm -f "$T/m/child2/etc/app/greeting" "$T/m/child2/bin/hi-hard"
echo "changed again" >"$T/m/child2/etc/app/changed"
# Two layers at once (the general path: base and child2's chain, both
# merged by read-only overlays in the worker, walked side by side): applied
# onto base, the layer reproduces child2's merged tree.
run st diff child2 --parent base -o "$T/two.zst" --media-type zstd
expect_rc "diff --parent over two layers" 0
st prepare redo-two base >/dev/null
run st apply redo-two "$T/two.zst"
expect_rc "--parent over two layers: apply its layer onto base" 0
mount_of redo-two "$T/m/redo-two"
same_tree "--parent over two layers: the merged tree equals child2's" "$T/m/child2" "$T/m/redo-two"
umount "$T/m/redo-two"
# The other way round: base's tree against child-c's (two layers on the
# left, one on the right): applied onto child-c, it gives base back.
run st diff base --parent child-c -o "$T/back.tar" --media-type tar
expect_rc "diff of base against child-c" 0
st prepare redo-back child-c >/dev/null
run st apply redo-back "$T/back.tar"
expect_rc "diff of base against child-c: applies onto child-c" 0
mount_of redo-back "$T/m/redo-back"
st view base-view2 base >/dev/null
mount_of base-view2 "$T/m/base2"
same_tree "diff of base against child-c: reproduces base" "$T/m/base2" "$T/m/redo-back"
umount "$T/m/redo-back"
umount "$T/m/base2"
umount "$T/m/child2"
run st diff same --parent base -o "$T/empty2.tar" --media-type tar
expect_rc "--parent of an unchanged snapshot" 0
if cmp -s "$T/empty2.tar" "$T/zero1024"; then pass "--parent, unchanged: an empty tar"; else
	fail "--parent, unchanged: an empty tar" "$(wc -c <"$T/empty2.tar") bytes"
fi

# ---- progress on a terminal (script(1) gives the CLI one) ----
# 96 MiB that do not compress: the diff and the apply take long enough for
# the worker's progress records (every 100 ms) to reach the terminal.
st prepare big-child base >/dev/null
head -c 100663296 /dev/urandom >"$(upper_of big-child)/noise"
on_tty() { script -qec "$*" /dev/null; }
on_tty "$STRATA --address $ADDR diff big-child -o $T/big.gz" >"$T/tty.out" 2>&1
if grep -q '/s, [0-9]* entries' "$T/tty.out" && grep -q 'digest:' "$T/tty.out"; then
	pass "diff on a terminal shows progress (bytes, rate, entries), then the descriptor"
else
	fail "diff on a terminal shows progress" "$(tr '\r' '\n' <"$T/tty.out" | tail -n 5)"
fi
st prepare big-redo base >/dev/null
on_tty "$STRATA --address $ADDR apply big-redo $T/big.gz" >"$T/tty.out" 2>&1
# The ETA is `-:--` until a rate is known, which a fast apply may never
# show (test_client checks the ETA's figures).
if grep -q ' of .*/s, ETA [0-9-]*:[0-9-][0-9-], [0-9]* entries' "$T/tty.out" && grep -q 'sha256:' "$T/tty.out"; then
	pass "apply on a terminal shows progress (bytes of the total, ETA, entries), then the diff ID"
else
	fail "apply on a terminal shows progress" "$(tr '\r' '\n' <"$T/tty.out" | tail -n 5)"
fi
run st diff big-child -o "$T/big2.gz"
if grep -q '/s, [0-9]* entries' "$T/err"; then fail "no progress when stderr is not a terminal"; else
	pass "no progress when stderr is not a terminal"
fi
st rm big-redo big-child >/dev/null

# ---- errors ----
run st diff no-such-key -o "$T/missing.gz"
expect_rc "diff of a missing snapshot fails" 3
err_has "missing snapshot: NotFound" "strata: diff no-such-key: NotFound:"
if [ -e "$T/missing.gz" ]; then fail "a failed diff leaves no output file"; else pass "a failed diff leaves no output file"; fi
run st diff child2 --parent no-such-parent -o "$T/x.gz"
expect_rc "diff against a missing parent fails" 3
err_has "missing parent: NotFound" "NotFound:"
run st diff base -o "$T/committed.gz"
cp "$T/err" "$T/committed.err"
if [ "$rc" -eq 0 ]; then
	# Accepted: the layer of the committed snapshot against its parent
	# (none here), which must reproduce it.
	st prepare redo-base >/dev/null
	run st apply redo-base "$T/committed.gz"
	expect_rc "diff of a committed snapshot: its layer applies" 0
	st view base-view base >/dev/null
	mount_of base-view "$T/m/base" && mount_of redo-base "$T/m/redo-base"
	same_tree "diff of a committed snapshot: the layer reproduces it" "$T/m/base" "$T/m/redo-base"
	umount "$T/m/base"
	umount "$T/m/redo-base"
else
	expect_rc "diff of a committed snapshot fails" 1
	err_has "committed snapshot: the error names it" "strata: diff base: "
fi
run st diff child2 -o "$T/no/such/dir/f"
expect_rc "an output in a missing directory fails" 3
err_has "missing directory: the output is named" "open output \`$T/no/such/dir/f\`"
for args in "diff" "diff a b" "diff a --media-type" "diff a --media-type bzip2" \
	"diff a --media-type application/vnd.oci.image.layer.v1.tar+bzip2" "diff a -o" "diff a -o ''" \
	"diff a --source-date-epoch -1" "diff a --source-date-epoch x" "diff a --parent" "diff a --bogus"; do
	# shellcheck disable=SC2086 # word splitting of the argument list is the point
	eval "run st $args"
	expect_rc "'strata $args' is a usage error" 2
done
script -qec "'$STRATA' --address '$ADDR' diff child2" /dev/null >"$T/out" 2>&1 </dev/null
rc=$?
expect_rc "a layer is not written to a terminal" 2
out_has "terminal: the error says why" "terminal"
run st help diff
out_has "help diff shows its usage" "Usage: strata [--address PATH] [--json] diff KEY"
run st --help
out_has "strata --help lists diff" "diff"
run st ls
expect_rc "the daemon still serves" 0
summary
