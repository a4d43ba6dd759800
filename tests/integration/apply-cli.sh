#!/bin/sh
# `strata apply` and `strata import` against a real daemon: layers made with
# tar (plain, gzip, zstd) applied from files and from a stdin pipe, their
# files in the snapshot's directory, the diff ID equal to sha256sum of the
# uncompressed tar, --json and --digest; OCI archives imported into
# chain-ID snapshots (busybox fixture, and a two-layer image behind a nested
# index), reused on a second import; bad archives fail cleanly and leave no
# temporary snapshot.  lib.sh stops the daemon by pid, unmounts and removes
# the temp dir on exit.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../cli-lib.sh"
lib_init apply-cli
need_tools python3 zstd
ensure_user
STRATA=${STRATA:-$B/strata}
ADDR=$T/s.sock
ROOT=$T/root
start_stratad "$ROOT" "$ADDR" || { fail "daemon starts"; summary; exit 1; }

# The directory of snapshot KEY (active) from its bind mount.
fs_of() { st mounts "$1" | awk '$1 == "bind" { print $2; exit }'; }
no_temp_snapshots() {
	if st ls | grep -q '^import-'; then fail "$1" "$(st ls)"; else pass "$1"; fi
}
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" <"$T/out"; }

# ---- layers ----
src=$T/src
mkdir -p "$src/etc/app" "$src/bin"
echo "hello layer" >"$src/etc/app/greeting"
printf '#!/bin/sh\necho hi\n' >"$src/bin/hi"
chmod 0755 "$src/bin/hi"
ln -s greeting "$src/etc/app/link"
dd if=/dev/urandom of="$src/etc/app/blob" bs=1k count=300 2>/dev/null
tar -C "$src" --numeric-owner -cf "$T/l.tar" etc bin
gzip -c "$T/l.tar" >"$T/l.tar.gz"
zstd -q -c "$T/l.tar" >"$T/l.tar.zst"
diff_id=$(sha "$T/l.tar")
entries=$(tar -tf "$T/l.tar" | wc -l)

for f in l.tar l.tar.gz l.tar.zst; do
	k=apply-$f
	run st prepare "$k"
	expect_rc "prepare $k" 0
	run st apply "$k" "$T/$f"
	expect_rc "apply $f" 0
	out_is "apply $f prints the diff ID (sha256 of the plain tar)" "$diff_id"
	fs=$(fs_of "$k")
	if [ -n "$fs" ] && cmp -s "$fs/etc/app/blob" "$src/etc/app/blob" &&
		[ "$(cat "$fs/etc/app/greeting")" = "hello layer" ] && [ -x "$fs/bin/hi" ] &&
		[ "$(readlink "$fs/etc/app/link")" = greeting ]; then
		pass "$f: files are in the snapshot's directory"
	else
		fail "$f: files are in the snapshot's directory" "fs=$fs: $(ls -lR "$fs" 2>&1 | head -20)"
	fi
done

# ---- stdin pipe, --json, --digest ----
st prepare piped >/dev/null
run sh -c "cat '$T/l.tar.gz' | '$STRATA' --address '$ADDR' apply piped -"
expect_rc "apply - from a pipe" 0
out_is "apply - prints the diff ID" "$diff_id"
[ -f "$(fs_of piped)/etc/app/greeting" ] && pass "apply -: files arrive" || fail "apply -: files arrive"

st prepare js >/dev/null
run st --json apply js "$T/l.tar.gz"
expect_rc "apply --json" 0
if [ "$(json_field diff_id)" = "$diff_id" ] && [ "$(json_field digest)" = "$(sha "$T/l.tar.gz")" ] &&
	[ "$(json_field compressed_size)" = "$(wc -c <"$T/l.tar.gz")" ] &&
	[ "$(json_field uncompressed_size)" = "$(wc -c <"$T/l.tar")" ] &&
	[ "$(json_field entries)" = "$entries" ]; then
	pass "apply --json: diff_id, digest, sizes and entries"
else
	fail "apply --json: diff_id, digest, sizes and entries" "$(show); want $entries entries"
fi

st prepare dg >/dev/null
run st apply dg "$T/l.tar.zst" --digest "$(sha "$T/l.tar.gz")"
expect_rc "apply --digest with the wrong digest fails" 1
err_has "wrong digest: error names the digest" "digest"
st rm dg >/dev/null
st prepare dg >/dev/null
run st apply --digest "$(sha "$T/l.tar.zst")" dg "$T/l.tar.zst"
expect_rc "apply --digest with the right digest" 0
out_is "apply --digest prints the diff ID" "$diff_id"

# ---- errors ----
for args in "apply" "apply k" "apply k f g" "apply k f --digest" "apply k f --digest sha256:abc" \
	"apply k f --bogus" "import" "import a b" "import a --platform linux" "import a --platform a/b/c/d"; do
	# shellcheck disable=SC2086 # word splitting of the argument list is the point
	run st $args
	expect_rc "'strata $args' is a usage error" 2
done
run st apply js "$T/missing.tar"
expect_rc "apply of a missing file fails" 3
err_has "missing file: NotFound naming it" "NotFound: open layer \`$T/missing.tar\`"
run st apply js "$T"
expect_rc "apply of a directory fails" 1
err_has "directory: InvalidArgument" "InvalidArgument"
run st apply no-such-key "$T/l.tar"
expect_rc "apply to a missing snapshot fails" 3
err_has "missing snapshot: error names the key" "strata: apply no-such-key: "
printf 'not a tar archive at all, just some words\n' >"$T/junk"
st prepare junk >/dev/null
run st apply junk "$T/junk"
expect_rc "apply of garbage fails" 1
run st rm junk
expect_rc "the snapshot of a failed apply can be removed" 0
run st --help
out_has "strata --help lists apply" "apply"
out_has "strata --help lists import" "import"
run st help import
out_has "help import shows its usage" "Usage: strata [--address PATH] [--json] import ARCHIVE"

# ---- import: the busybox fixture ----
if sh "$REPO/tests/fixtures/make-busybox-oci.sh" "$T/bb.tar" >/dev/null; then
	run st import "$T/bb.tar"
	expect_rc "import busybox" 0
	chain=$(cat "$T/out")
	# One layer: the chain ID is the diff ID, which sha256sum of the gunzipped blob gives.
	layer=$(tar -tf "$T/bb.tar" | while read -r n; do
		case $n in blobs/sha256/?*) tar -xOf "$T/bb.tar" "$n" | gzip -t 2>/dev/null && echo "$n" ;; esac
	done)
	want=sha256:$(tar -xOf "$T/bb.tar" "$layer" | gzip -dc | sha256sum | cut -d' ' -f1)
	[ "$chain" = "$want" ] && pass "import prints the chain ID" || fail "import prints the chain ID" "$chain != $want"
	run st stat "$chain"
	out_has "the chain ID is a committed snapshot" "kind:    committed"
	st view bbview "$chain" >/dev/null
	bbfs=$(st mounts bbview | awk '{ print $2; exit }')
	[ -x "$bbfs/bin/busybox" ] && [ "$(readlink "$bbfs/bin/sh")" = busybox ] &&
		pass "busybox files are in the snapshot" || fail "busybox files are in the snapshot" "$bbfs"
	st rm bbview >/dev/null
	n_before=$(st ls | wc -l)
	run st --json import "$T/bb.tar"
	expect_rc "second import" 0
	out_has "second import reuses the layer" '"reused":true'
	[ "$(st ls | wc -l)" = "$n_before" ] && pass "second import creates no snapshot" ||
		fail "second import creates no snapshot"
	no_temp_snapshots "import leaves no temporary snapshot"
	run st import "$T/bb.tar" --platform linux/s390x
	expect_rc "import for an absent platform fails" 3
	err_has "absent platform: NotFound" "NotFound: image archive"
else
	fail "make-busybox-oci.sh builds the fixture"
fi

# ---- import: two layers (gzip, zstd) behind a nested index ----
# mk_oci OUT DIFF1 DIFF2: an archive of l1.tar.gz + l2.tar.zst whose config
# claims diff IDs DIFF1 DIFF2; index.json -> image index -> {s390x, this arch}.
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
case $arch in i386) arch=386 ;; armhf | armel) arch=arm ;; esac
mkdir -p "$T/s2/etc/app"
echo "second layer" >"$T/s2/etc/app/greeting"
echo "new" >"$T/s2/etc/app/new"
tar -C "$T/s2" --numeric-owner -cf "$T/l2.tar" etc
zstd -q -c "$T/l2.tar" >"$T/l2.tar.zst"
d1=$diff_id
d2=$(sha "$T/l2.tar")
mk_oci() {
	o=$T/oci.$$
	rm -rf "$o"
	mkdir -p "$o/blobs/sha256"
	put() { # put FILE: sets dg and sz
		dg=$(sha "$1")
		sz=$(wc -c <"$1" | tr -d ' ')
		cp "$1" "$o/blobs/sha256/${dg#sha256:}"
	}
	put "$T/l.tar.gz"
	l1="{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"$dg\",\"size\":$sz}"
	put "$T/l2.tar.zst"
	l2="{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"$dg\",\"size\":$sz}"
	man=""
	for a in s390x "$arch"; do
		printf '{"architecture":"%s","os":"linux","rootfs":{"type":"layers","diff_ids":["%s","%s"]}}' \
			"$a" "$2" "$3" >"$o/c"
		put "$o/c"
		printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s,%s]}' \
			"$dg" "$sz" "$l1" "$l2" >"$o/m"
		put "$o/m"
		man="$man${man:+,}{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$dg\",\"size\":$sz,\"platform\":{\"os\":\"linux\",\"architecture\":\"$a\"}}"
	done
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s]}' "$man" >"$o/i"
	put "$o/i"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"%s","size":%s}]}' \
		"$dg" "$sz" >"$o/index.json"
	printf '{"imageLayoutVersion":"1.0.0"}' >"$o/oci-layout"
	# Documents first, the largest layer last (the truncation test cuts it).
	big=blobs/sha256/$(sha256sum "$T/l.tar.gz" | cut -d' ' -f1)
	small=blobs/sha256/$(sha256sum "$T/l2.tar.zst" | cut -d' ' -f1)
	tar -C "$o" -cf "$1" oci-layout index.json $(cd "$o" && ls blobs/sha256/* | grep -v -e "$big" -e "$small") \
		"$small" "$big"
	rm -rf "$o"
}
mk_oci "$T/two.tar" "$d1" "$d2"
top=sha256:$(printf '%s %s' "$d1" "$d2" | sha256sum | cut -d' ' -f1)
run st import "$T/two.tar"
expect_rc "import of a two-layer image behind a nested index" 0
out_is "two layers: prints identity.ChainID of the diff IDs" "$top"
run st stat "$top"
out_has "two layers: the top snapshot's parent is the first chain ID" "parent:  $d1"
st prepare twoview "$top" >/dev/null
run st mounts twoview
out_has "two layers: an active snapshot on top mounts overlay" "overlay"
st rm twoview >/dev/null
run st --json import "$T/two.tar"
n=$(grep -o '"reused":true' "$T/out" | wc -l)
[ "$n" -eq 2 ] && pass "two layers: the second import reuses both" || fail "two layers: the second import reuses both" "$(show)"
no_temp_snapshots "two layers: no temporary snapshot left"
run st import "$T/two.tar" --platform linux/s390x
expect_rc "--platform picks the other manifest (same layers)" 0
out_is "--platform: same chain ID" "$top"

# ---- import: bad archives ----
bad2=sha256:$(printf x | sha256sum | cut -d' ' -f1)
mk_oci "$T/baddiff.tar" "$d1" "$bad2"
badtop=sha256:$(printf '%s %s' "$d1" "$bad2" | sha256sum | cut -d' ' -f1)
run st import "$T/baddiff.tar"
expect_rc "a layer whose diff ID differs from the config fails" 1
err_has "diff ID mismatch is named" "the image config says \`$bad2\`"
no_temp_snapshots "diff ID mismatch: the temporary snapshot is removed"
run st stat "$badtop"
expect_rc "diff ID mismatch: nothing committed under the claimed chain ID" 3

# Cut inside the gzip layer (the last and largest entry): a truncated tar,
# noticed while the layer streams.
size=$(wc -c <"$T/two.tar")
st rm "$top" "$d1" >/dev/null
head -c $((size / 2)) "$T/two.tar" >"$T/cut.tar"
run st import "$T/cut.tar"
expect_rc "a truncated archive fails" 1
cp "$T/err" "$T/cut.err"
err_has "truncated archive: the layer is named" 'apply layer 0 (`sha256:'
err_has "truncated archive: libarchive says truncated" "Truncated"
no_temp_snapshots "truncated archive: no temporary snapshot left"
run st import "$T/junk"
expect_rc "a file that is not a tar fails" 1
err_has "not a tar: InvalidArgument" "InvalidArgument"
run st ls
expect_rc "the daemon still serves" 0
summary
