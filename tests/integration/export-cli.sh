#!/bin/sh
# `strata export` against real daemons: a two-layer chain (the second layer
# adds, changes and removes files) built with `strata apply` + commit is
# exported as an OCI image archive; the archive holds oci-layout, index.json
# and the manifest, config and layer blobs under their digests, the printed
# manifest digest is the one index.json names; exporting twice gives the same
# bytes; an active or unknown snapshot fails (exit 1, no archive left) and
# bad arguments exit 2.  Then the merged tree of a view on the chain is
# recorded, the first daemon stopped, and the archive imported with
# `strata import` into a second daemon on a fresh root: the top chain ID's
# snapshot is committed and the merged tree of a view on it is the same.
# lib.sh stops the daemon by pid, unmounts and removes the temp dir on exit.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname "$0")/../cli-lib.sh"
lib_init export-cli
need_tools python3
ensure_user
STRATA=${STRATA:-$B/strata}
ADDR=$T/s.sock
go_build strata-tests/treemanifest || { fail "build treemanifest"; summary; exit 1; }
start_stratad "$T/root" "$ADDR" || { fail "daemon starts"; summary; exit 1; }

# ---- a two-layer chain ----
s1=$T/src1 s2=$T/src2
mkdir -p "$s1/etc/app" "$s1/bin" "$s2/etc/app" "$s2/usr/share"
echo "base" >"$s1/etc/app/conf"
echo "gone soon" >"$s1/etc/app/old"
printf '#!/bin/sh\necho hi\n' >"$s1/bin/hi"
chmod 0755 "$s1/bin/hi"
ln -s conf "$s1/etc/app/link"
dd if=/dev/urandom of="$s1/etc/app/blob" bs=1k count=200 2>/dev/null
echo "changed" >"$s2/etc/app/conf"
: >"$s2/etc/app/.wh.old"
echo "new file" >"$s2/usr/share/readme"
touch -d @1600000000 "$s1/etc/app/conf" "$s1/etc/app/old" "$s2/etc/app/conf" "$s2/usr/share/readme"
tar -C "$s1" --numeric-owner -czf "$T/l1.tar.gz" etc bin
tar -C "$s2" --numeric-owner -czf "$T/l2.tar.gz" etc usr

build_ok=1
{ st prepare a1 && st apply a1 "$T/l1.tar.gz" && st commit c1 a1 &&
	st prepare a2 c1 && st apply a2 "$T/l2.tar.gz" && st commit c2 a2; } >"$T/build.log" 2>&1 || build_ok=0
if [ "$build_ok" = 1 ]; then pass "chain c1 <- c2 built with apply + commit"; else fail "chain built" "$(cat "$T/build.log")"; fi

# ---- export ----
run st export c2 "$T/img.tar"
expect_rc "export c2" 0
mdigest=$(cat "$T/out")
case $mdigest in
sha256:????????????????????????????????????????????????????????????????) pass "export prints a sha256 digest" ;;
*) fail "export prints a sha256 digest" "$(show)" ;;
esac
tar -tf "$T/img.tar" >"$T/list" 2>&1
nblobs=$(grep -c '^blobs/sha256/[0-9a-f]\{64\}$' "$T/list")
if grep -qx oci-layout "$T/list" && grep -qx index.json "$T/list" && [ "$nblobs" -eq 4 ]; then
	pass "archive lists oci-layout, index.json and 4 blobs (manifest, config, 2 layers)"
else
	fail "archive listing" "$(cat "$T/list")"
fi
x=$T/x
mkdir -p "$x"
tar -C "$x" -xf "$T/img.tar"
same "oci-layout" "$(cat "$x/oci-layout")" '{"imageLayoutVersion":"1.0.0"}'
bad=0
for b in "$x"/blobs/sha256/*; do
	[ "sha256:${b##*/}" = "$(sha "$b")" ] || bad=1
done
same "every blob's name is its sha256" "$bad" 0
python3 - "$x" "$mdigest" >"$T/py" 2>&1 <<'PY'
import json, os, sys
x, md = sys.argv[1], sys.argv[2]
blob = lambda d: os.path.join(x, "blobs/sha256", d.split(":")[1])
idx = json.load(open(os.path.join(x, "index.json")))
assert idx["schemaVersion"] == 2 and len(idx["manifests"]) == 1, idx
d = idx["manifests"][0]
assert d["digest"] == md and d["size"] == os.path.getsize(blob(md)), d
assert d["mediaType"] == "application/vnd.oci.image.manifest.v1+json", d
m = json.load(open(blob(md)))
assert m["mediaType"] == "application/vnd.oci.image.manifest.v1+json", m
assert len(m["layers"]) == 2, m
for l in m["layers"]:
    assert l["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip", l
    assert l["size"] == os.path.getsize(blob(l["digest"])), l
c = json.load(open(blob(m["config"]["digest"])))
assert c["os"] == "linux" and c["rootfs"]["type"] == "layers", c
assert len(c["rootfs"]["diff_ids"]) == 2, c
import gzip, hashlib, tarfile
for l, did in zip(m["layers"], c["rootfs"]["diff_ids"]):
    raw = gzip.open(blob(l["digest"])).read()
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == did, (l, did)
names = [tarfile.open(blob(l["digest"])).getnames() for l in m["layers"]]
assert any(n.endswith("etc/app/blob") for n in names[0]), names[0]
assert any(n.endswith("etc/app/.wh.old") for n in names[1]), names[1]
assert any(n.endswith("usr/share/readme") for n in names[1]), names[1]
print("ok")
PY
if [ "$(cat "$T/py")" = ok ]; then pass "index -> manifest -> config/layers consistent, diff IDs match, layer contents"; else fail "documents" "$(cat "$T/py")"; fi

run st export c2 "$T/img2.tar"
expect_rc "export c2 again" 0
same "second export prints the same digest" "$(cat "$T/out")" "$mdigest"
if cmp -s "$T/img.tar" "$T/img2.tar"; then pass "exporting twice gives identical bytes"; else fail "identical bytes"; fi
run st export c1 "$T/one.tar"
expect_rc "export the root snapshot alone" 0
n1=$(tar -tf "$T/one.tar" | grep -c '^blobs/sha256/.')
same "single-layer archive has 3 blobs" "$n1" 3
run st --json export c2 "$T/img3.tar"
expect_rc "export --json" 0
same "--json manifest" "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"])' <"$T/out")" "$mdigest"
run st export c2 "$T/named.tar" --name registry.example/team/app:v2
expect_rc "export --name" 0
tar -xOf "$T/named.tar" index.json | python3 -c '
import json, sys
a = json.load(sys.stdin)["manifests"][0].get("annotations", {})
print(a.get("io.containerd.image.name"), a.get("org.opencontainers.image.ref.name"))' >"$T/ann"
same "--name: both annotations in index.json" "$(cat "$T/ann")" "registry.example/team/app:v2 v2"
if tar -xOf "$T/img.tar" index.json | grep -q annotations; then fail "without --name: no annotations"; else pass "without --name: no annotations"; fi
run st export c2 "$T/bad.tar" --name ''
expect_rc "an empty --name is a usage error" 2

# ---- errors ----
st prepare act c2 >/dev/null 2>&1
run st export act "$T/bad.tar"
expect_rc "export an active snapshot fails" 1
err_has "... saying it is not committed" "not committed"
run st export nosuch "$T/bad.tar"
expect_rc "export an unknown snapshot fails" 3
if ls "$T" | grep -q '^bad\.tar'; then fail "no archive left after a failure" "$(ls "$T")"; else pass "no archive left after a failure"; fi
run st export c2
expect_rc "export without ARCHIVE is a usage error" 2
run st export c2 "$T/nodir/x.tar"
expect_rc "export into a missing directory fails" 3

# ---- the merged tree, then import into a second daemon ----
st view va c2 >/dev/null 2>&1
mount_of va "$T/ma"
tree_listing "$T/ma" >"$T/lista"
umount "$T/ma"
if grep -q '^"/etc/app/blob" ' "$T/lista" && ! grep -q '^"/etc/app/old" ' "$T/lista" &&
	grep -q '^"/usr/share/readme" ' "$T/lista"; then
	pass "merged view of c2 has the expected files"
else
	fail "merged view of c2" "$(cat "$T/lista")"
fi
stop_stratad >/dev/null 2>&1
ADDR=$T/s2.sock
start_stratad "$T/root2" "$ADDR" || { fail "second daemon starts"; summary; exit 1; }
run st import "$T/img.tar"
expect_rc "import into a second daemon" 0
chain=$(cat "$T/out")
run st stat "$chain"
expect_rc "the top chain ID's snapshot exists" 0
if grep -qi committed "$T/out"; then pass "... and is committed"; else fail "committed" "$(show)"; fi
st view vb "$chain" >/dev/null 2>&1
mount_of vb "$T/mb"
tree_listing "$T/mb" >"$T/listb"
umount "$T/mb"
same_listing "imported merged tree equals the original" "$T/lista" "$T/listb"
summary
