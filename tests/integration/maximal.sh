#!/bin/sh
# Every client-reachable path at its limits, as an attacker would drive it,
# against a real daemon under its real policies: a library call that makes a
# system call its policy lacks kills the process (SIGSYS), so each section
# ends by checking that the broker is the one started first (never
# restarted) and that the log names no SIGSYS, seccomp violation or killed
# process, and each call's answer is checked.
#   - labels: Prepare and Update with 1024 labels (the most allowed) through
#     the CLI, and at 4096 bytes each through gRPC (tests/go/.../maxcalls);
#     one label or one byte more is InvalidArgument; an Update whose mask
#     names 400000 labels that none of the 1023 it carries has;
#   - keys of 4096 bytes (the longest), two sharing all but their last byte;
#   - 2000 snapshots, then List and Walk with thousands of filters, a
#     conjunction of thousands of selectors, regular expressions at each
#     limit of broker/ere.h (and one past each), a pattern exponential for
#     glibc's regex, Lists that would match too long (by expressions, by
#     20001 plain selectors), and a field path of 5000 components;
#   - a layer at every extract limit (one directory of 20000 entries, a
#     file with 1000 xattrs, an xattr of 64 KiB, 256 path components, a path
#     and a link target of 4095 bytes, from a file and from a pipe), and one
#     past each limit, and from a pipe to a worker stopped and continued
#     mid-layer; Usage of it; its diff as tar, gzip and zstd (names
#     and xattrs sorted), the general diff of two trees, a gRPC Diff that the
#     publisher puts in content_root;
#   - a chain of 500 layers (overlay's most), mounted and applied onto;
#   - `strata import` of an archive with UTF-8 pax names, and Remove of
#     everything at once.
# The daemon starts with GCONV_PATH, MALLOC_ARENA_TEST and GLIBC_TUNABLES
# (huge pages) set, each of which would make glibc call what some policy
# lacks; the CLI runs the import with two of them.  The root is a tmpfs
# (xattrs of 64 KiB, and fast).  lib.sh stops the daemon by pid, unmounts
# everything under $T and removes it on exit.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname "$0")/../cli-lib.sh"
lib_init maximal
ensure_user
STRATA=${STRATA:-$B/strata}
ADDR=$T/s.sock
CALL_TIMEOUT=60
for tool in python3 go; do
	command -v $tool >/dev/null || { fail "$tool is installed" "make deps"; summary; exit 1; }
done
export GO111MODULE=off GOFLAGS='' GOPATH="$REPO/tests/go:/usr/share/gocode" GOCACHE="$B/gocache"
mkdir -p "$GOCACHE"
if ! go build -o "$T/maxcalls" strata-tests/maxcalls >"$T/go-build.log" 2>&1; then
	cat "$T/go-build.log"
	fail "build maxcalls"
	summary
	exit 1
fi
grpc() { timeout $CALL_TIMEOUT "$T/maxcalls" -address "$ADDR" "$@"; }
# grpc_is NAME WANT OP ARGS...: the gRPC tool's answer is WANT.
grpc_is() {
	_g_name=$1 _g_want=$2
	shift 2
	_g_out=$(grpc "$@" 2>&1)
	same "$_g_name" "$_g_out" "$_g_want"
}

mkdir -p "$T/root" "$T/content" "$T/mnt"
mount -t tmpfs -o size=4g,mode=0711 strata-maximal "$T/root" || { fail "tmpfs root"; summary; exit 1; }
export GCONV_PATH=$T/gconv MALLOC_ARENA_TEST=1 GLIBC_TUNABLES=glibc.malloc.hugetlb=1
start_stratad "$T/root" "$ADDR" --content-root "$T/content" || { fail "daemon starts"; summary; exit 1; }
unset GCONV_PATH MALLOC_ARENA_TEST GLIBC_TUNABLES
broker_pid() { pgrep -P "$STRATAD_PID" -f -- '--role=broker' | head -n 1; }
broker=$(broker_pid)
# steady WHAT: the first broker still serves, and nothing was killed.
steady() {
	same "$1: the broker was never restarted" "$(broker_pid)" "$broker"
	if grep -nE 'SIGSYS|seccomp|killed by signal|(broker|spawner) \(pid [0-9]+\) exited' "$T/stratad.log" >"$T/killed"; then
		fail "$1: no process was killed" "$(head -n 3 "$T/killed")"
	else
		pass "$1: no process was killed"
	fi
}
# json_labels FILE: how many labels the Info (stat --json) in FILE has.
json_labels() {
	python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1])).get("labels", {})))' "$1"
}

# ---- labels ----
# 1024 labels of 128 bytes: the most a snapshot may have, in number and in
# bytes (META_LABELS_MAX, META_LABELS_BYTES_MAX), so that its Info fits one
# native record (192 KiB).  (No argument holds a space.)
# shellcheck disable=SC2046
set -- $(awk 'BEGIN { for (i = 0; i < 1024; i++) printf "--label strata.test/%04d=%0112d\n", i, i }')
run st prepare lc "$@"
expect_rc "Prepare with 1024 labels (CLI)" 0
run st --json stat lc
same "... Stat has the 1024 labels" "$(json_labels "$T/out")" 1024
out_has "... with their values" "\"strata.test/1023\":\"$(printf "%0112d" 1023)\""
# shellcheck disable=SC2046
set -- $(awk 'BEGIN { for (i = 0; i < 1024; i++) printf "strata.test/%04d=new%0109d\n", i, i }')
run st --json label lc "$@"
expect_rc "Update of 1024 labels (CLI)" 0
same "... answers with the 1024 labels" "$(json_labels "$T/out")" 1024
out_has "... with their new values" "\"strata.test/0007\":\"new$(printf "%0109d" 7)\""
set --
grpc_is "Prepare, Stat, Update, Stat with 32 labels of 4096 bytes (gRPC)" "OK 32 labels" labels lg 32 4096
grpc_is "... and with 1024 labels of 128 bytes" "OK 1024 labels" labels lg1 1024 128
grpc_is "33 labels of 4096 bytes are InvalidArgument" \
	"InvalidArgument: info.Labels: 135168 bytes of keys and values, more than 131072" prepare lg4 33 4096
grpc_is "1025 labels are InvalidArgument" "InvalidArgument: info.Labels: 1025 labels, more than 1024" \
	prepare lg2 1025 64
grpc_is "a label of 4097 bytes is InvalidArgument" \
	"InvalidArgument: info.Labels: label key and value greater than maximum size (4096 bytes), key: strata.tes" \
	prepare lg3 1 4097
st prepare lw >/dev/null
grpc_is "an Update masking 400000 labels absent from its 1023 sets just the one named" \
	"OK 1 labels" wideupdate lw 400000
run st ls
expect_rc "List with every snapshot at the label limits" 0
out_has "... lists them" "lg1"
steady "labels"
st rm lg lg1 lw

# ---- the longest keys ----
k4096=$(printf "%04096d" 0)
k4096b=$(printf "%04095d1" 0)
run st prepare "$k4096" --label which=a
expect_rc "Prepare with a key of 4096 bytes" 0
run st prepare "$k4096b" --label which=b
expect_rc "... and one that differs in its last byte only" 0
run st --json stat "$k4096b"
out_has "... each its own snapshot" '"which":"b"'
run st prepare "${k4096}x"
expect_rc "a key of 4097 bytes is refused" 1
err_has "... with InvalidArgument" "InvalidArgument"
run st commit "c$(printf "%04095d" 0)" "$k4096"
expect_rc "Commit under a name of 4096 bytes" 0
run st view "v$(printf "%04095d" 0)" "c$(printf "%04095d" 0)"
expect_rc "a view of it (a parent of 4096 bytes)" 0
run st ls "name==$k4096b"
out_has "List by a name of 4096 bytes" "$k4096b"
check "Remove of them" st rm "v$(printf "%04095d" 0)" "c$(printf "%04095d" 0)" "$k4096b"
steady "the longest keys"

# ---- many snapshots, List and Walk with the biggest filters ----
grpc_is "2000 snapshots, 16 Prepares at a time" "OK 2000 snapshots" many m 2000
run st ls 'name~=^m-'
same "strata ls lists them" "$(grep -c '^m-' "$T/out")" 2000
run st ls 'labels."strata.test/mod"==3'
same "... by a label" "$(grep -c '^m-' "$T/out")" 286
# filters FILE: writes FILE, one filter a line, from python on stdin.
filters() { python3 - >"$1"; }
filters "$T/f-any" <<'PY'
for i in range(2000):
    print("name==m-%05d" % i)
PY
grpc_is "List with 2000 filters (any may match)" "OK 2000" list "$T/f-any"
filters "$T/f-all" <<'PY'
print(",".join(['labels."strata.test/mod"!="9"'] * 2000 + ["name~=^m-"]))
PY
grpc_is "List with a conjunction of 2001 selectors" "OK 2000" list "$T/f-all"
filters "$T/f-re" <<'PY'
print("name~=^m-(" + "|".join("%05d" % i for i in range(0, 2000, 2)) + ")$")
print('labels."strata.test/i"~=/^(' + "|".join(str(i) for i in range(1, 2000, 2)) + ")$/")
PY
grpc_is "List with regular expressions of thousands of alternatives" "OK 2000" list "$T/f-re"
# At the limits of a regular expression (broker/ere.h): groups 1000 deep, a
# program of 16384 instructions; and a field path of 5000 components.
filters "$T/f-big" <<'PY'
print("name~=[m]-" + "(x|" * 999 + "0" + ")" * 999)
print("name~=^" + "z" * 16382)
print('labels."' + '"."'.join(["strata"] * 5000) + '"==x')
PY
grpc_is "List with a regular expression 1000 groups deep, one of 16384 instructions, a path of 5000 fields" \
	"OK 2000" list "$T/f-big"
# One past each, a back-reference, and 20 bytes that glibc's regcomp would
# expand until the host's memory ran out.
for past in "name~=^$(printf "%01001d" 0 | tr 0 '(')x$(printf "%01001d" 0 | tr 0 ')')" \
	"name~=^$(printf "%016383d" 0 | tr 0 z)" "name~=(a)\\1" "name~=/(a{0,32767}){0,32767}/"; do
	printf "%s\n" "$past" >"$T/f-past"
	run grpc list "$T/f-past"
	out_match "a regular expression past a limit is InvalidArgument (${#past} bytes)" \
		'^InvalidArgument: filters: invalid regular expression `.*`: (Regular expression (nests too deeply|too big)|Back-references are not supported)$'
done
python3 -c 'print("\n".join(["name~=a{16000}"] * 5))' >"$T/f-past"
grpc_is "regular expressions of more than 65536 instructions in all are InvalidArgument" \
	"InvalidArgument: filters: regular expressions of more than 65536 instructions in all" list "$T/f-past"
# Exponential for glibc's DFA, which keeps a state for every arrangement of
# the last 21 bytes that it meets, over every value one expression is
# matched against (minutes, gigabytes); linear here.  64 snapshots with a
# label of 4096 bytes (key and value) of a and b.
python3 - >"$T/ab-labels" <<'PY'
import random
random.seed(1)
ab = lambda n: "".join(random.choice("ab") for _ in range(n))
for i in range(64):
    print("ab-%02d strata.test/ab=%s" % (i, ab(4061) + "a" + ab(20)))
PY
made=0
while read -r key label; do
	st prepare "$key" --label "$label" >/dev/null && made=$((made + 1))
done <"$T/ab-labels"
same "64 snapshots with a label of 4096 bytes of a and b" "$made" 64
t0=$(date +%s)
echo 'labels."strata.test/ab"~=^[ab]*a[ab]{20}$' >"$T/f-ab"
grpc_is "... List by a pattern exponential for glibc" "OK 64" list "$T/f-ab"
echo 'labels."strata.test/ab"~=^[ab]*b[ab]{20}$' >"$T/f-ab"
grpc_is "... and by one that matches none" "OK 0" list "$T/f-ab"
check "... within seconds" test $(($(date +%s) - t0)) -lt 10
# shellcheck disable=SC2046
st rm $(cut -d' ' -f1 "$T/ab-labels")
# What the matching of one List may cost, over every snapshot: regular
# expressions, or plain selectors by the ten thousand.
too_costly="ResourceExhausted: filters: matching took more than 100000000 steps over the snapshots listed; narrow them"
python3 -c 'print("name~=/" + ".*" * 4000 + "x/")' >"$T/f-slow"
grpc_is "a List whose regular expressions would run too long is ResourceExhausted" "$too_costly" \
	list "$T/f-slow"
filters "$T/f-plain" <<'PY'
print(",".join(['labels."strata.test/mod"!="9"'] * 20001))
PY
grpc_is "a List of 20001 plain selectors over 2000 snapshots is ResourceExhausted" "$too_costly" \
	list "$T/f-plain"
filters "$T/f-mod" <<'PY'
print('labels."strata.test/mod"==0')
PY
grpc_is "Walk (containerd's proxy) by a label" "OK 286" walk "$T/f-mod"
run st tree
expect_rc "strata tree of them" 0
steady "List and Walk"

# ---- a layer at every extract limit ----
# layer.py OUT [past]: the layer; with `past`, one entry past one limit
# (name, depth, xattr) per OUT.
cat >"$T/layer.py" <<'PY'
import io, sys, tarfile
out, past = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
# 4095 bytes, the longest path: components of 255 bytes and the rest
LONG = "n" * 255 + ("/" + "m" * 254) * 15 + "/" + "z" * 14
def add(t, name, data=b"", kind=tarfile.REGTYPE, pax=None, link=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.size, ti.mode, ti.linkname = kind, len(data), 0o755 if kind == tarfile.DIRTYPE else 0o644, link
    ti.pax_headers = pax or {}
    t.addfile(ti, io.BytesIO(data) if data else None)
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    if past == "name":
        add(t, LONG + "z")
    elif past == "depth":
        add(t, "/".join(["d"] * 256) + "/leaf")
    elif past == "xattr":
        add(t, "x", pax={"SCHILY.xattr.user.big": "v" * 65537})
    if past:
        sys.exit(0)
    add(t, "wide", kind=tarfile.DIRTYPE)
    for i in range(20000):
        add(t, "wide/f%05d" % (19999 - i), b"%d" % i if i % 1000 == 0 else b"")
    add(t, "xattrs", kind=tarfile.DIRTYPE)
    add(t, "xattrs/many", b"m", pax={"SCHILY.xattr.user.x%04d" % (999 - j): "v%d" % j for j in range(1000)})
    add(t, "xattrs/big", b"b", pax={"SCHILY.xattr.user.big": "V" * 65536})
    add(t, "/".join(["d"] * 255) + "/leaf", b"deep")
    # 4095 bytes: the longest path, with components of 255 bytes
    add(t, LONG, b"long")
    add(t, "links/target-link", kind=tarfile.SYMTYPE, link="t" * 4095)
    add(t, "links/hard", kind=tarfile.LNKTYPE, link="wide/f00000")
    add(t, "\u00e9t\u00e9/\u20ac \U0001f600", b"utf-8")
PY
python3 "$T/layer.py" "$T/layer.tar" || fail "the layer is built"
for past in name depth xattr; do python3 "$T/layer.py" "$T/past-$past.tar" "$past"; done
st prepare x >/dev/null
run st --json apply x "$T/layer.tar"
expect_rc "apply of the layer at every limit (from a file)" 0
diff_id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["diff_id"])' "$T/out")
same "... its diff ID is the tar's sha256" "$diff_id" "$(sha "$T/layer.tar")"
X=$(upper_of x)
same "... one directory of 20000 entries" "$(ls "$X/wide" | wc -l)" 20000
check "... a file with 1000 xattrs" python3 -c '
import os, sys
n = [a for a in os.listxattr(sys.argv[1]) if a.startswith("user.x")]
sys.exit(len(n) != 1000 or os.getxattr(sys.argv[1], "user.x0999") != b"v0")' "$X/xattrs/many"
check "... an xattr of 64 KiB" python3 -c '
import os, sys
sys.exit(os.getxattr(sys.argv[1], "user.big") != b"V" * 65536)' "$X/xattrs/big"
same "... 256 path components" "$(cat "$X/$(python3 -c 'print("/".join(["d"] * 255))')/leaf")" deep
long=$(python3 -c 'print("n" * 255 + ("/" + "m" * 254) * 15 + "/" + "z" * 14)')
same "... a path of 4095 bytes" "${#long} $(cd "$X" && cat "$long")" "4095 long"
same "... a link target of 4095 bytes" "$(readlink "$X/links/target-link" | wc -c)" 4096
st prepare y >/dev/null
run st apply y - <"$T/layer.tar"
expect_rc "the same layer from a pipe" 0
out_is "... the same diff ID" "$diff_id"
for past in name depth xattr; do
	st prepare "past-$past" >/dev/null
	run st apply "past-$past" "$T/past-$past.tar"
	expect_rc "one past the $past limit is refused" 1
	err_has "... with ResourceExhausted" "ResourceExhausted"
done
# An extract worker stopped and continued mid-layer (as a debugger or a
# cgroup freeze does) goes on: its waits resume as restart_syscall.
mkfifo "$T/slow.pipe"
st prepare s >/dev/null
st apply s - <"$T/slow.pipe" >"$T/s.out" 2>&1 &
applier=$!
at_exit "exec 9>&-; kill $applier 2>/dev/null; wait $applier 2>/dev/null"
exec 9>"$T/slow.pipe"
head -c 1000000 "$T/layer.tar" >&9
spawner=$(pgrep -P "$STRATAD_PID" -f -- '--role=spawner' | head -n 1)
worker=''
i=0
while [ -z "$worker" ] && [ $i -lt 100 ]; do
	for p in $(pgrep -P "${spawner:-0}"); do
		grep -q '^Seccomp:[[:space:]]*2' "/proc/$p/status" 2>/dev/null && worker=$p
	done
	[ -n "$worker" ] || sleep 0.1
	i=$((i + 1))
done
sleep 0.3 # in its waits: for the pipe, and for the next block
check "an extract worker stopped mid-layer (pid ${worker:-none})" kill -STOP "${worker:-0}"
sleep 0.3
kill -CONT "${worker:-0}" 2>/dev/null
tail -c +1000001 "$T/layer.tar" >&9
exec 9>&-
wait "$applier"
rc=$?
same "... and continued completes the layer" "$rc $(cat "$T/s.out")" "0 $diff_id"
run st usage x
expect_rc "Usage of it" 0
out_match "... counts every inode" '^inodes: +20[0-9]{3}$'
steady "extract"

# ---- its diffs ----
for t in tar gzip zstd; do
	run st --json diff x --media-type $t -o "$T/x.$t"
	expect_rc "diff of it as $t" 0
	# a plain tar is its own diff ID, and carries no annotation of it
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("annotations", {}).get("containerd.io/uncompressed", "none"))' \
		"$T/out" >"$T/x.$t.id"
done
same "... of one diff ID" "$(cat "$T/x.tar.id") $(cat "$T/x.gzip.id") $(cat "$T/x.zstd.id")" \
	"none $(sha "$T/x.tar") $(sha "$T/x.tar")"
check "... whose tar has every entry, names and xattrs in order" python3 -c '
import sys, tarfile
t = tarfile.open(sys.argv[1])
m = t.getmembers()
names = [x.name for x in m if x.name.startswith("wide/")]
assert names == sorted(names) and len(names) == 20000, len(names)
x = [x for x in m if x.name == "xattrs/many"][0].pax_headers
keys = [k for k in x if k.startswith("SCHILY.xattr.user.x")]
assert len(keys) == 1000 and keys == sorted(keys), len(keys)
b = [x for x in m if x.name == "xattrs/big"][0].pax_headers
assert b["SCHILY.xattr.user.big"] == "V" * 65536' "$T/x.tar"
st commit xc x
st prepare z xc >/dev/null
Z=$(upper_of z)
python3 - "$Z" <<'PY'
import os, sys
os.mkdir(sys.argv[1] + "/wide")
for i in range(3000):
    open(sys.argv[1] + "/wide/g%04d" % i, "w").close()
f = sys.argv[1] + "/more-xattrs"
open(f, "w").close()
for j in range(1000):
    os.setxattr(f, "user.y%04d" % (999 - j), b"w")
PY
run st --json diff z --parent y --media-type tar -o "$T/z.tar"
expect_rc "the general diff of two trees (both walked, names sorted)" 0
check "... has the 3000 new entries and the xattrs, sorted" python3 -c '
import sys, tarfile
m = tarfile.open(sys.argv[1]).getmembers()
g = [x.name for x in m if x.name.startswith("wide/g")]
assert len(g) == 3000 and g == sorted(g), len(g)
x = [x for x in m if x.name == "more-xattrs"][0].pax_headers
keys = [k for k in x if k.startswith("SCHILY.xattr.user.y")]
assert len(keys) == 1000 and keys == sorted(keys)' "$T/z.tar"
run grpc diff y z
out_match "a gRPC Diff of them, published in content_root" '^OK sha256:[0-9a-f]{64} [0-9]+$'
blob=$(awk '{ print $2 }' "$T/out")
same "... under its digest" "$(sha "$T/content/blobs/sha256/${blob#sha256:}" 2>&1)" "$blob"
run st usage z
expect_rc "Usage of the child" 0
steady "diff"

# ---- a chain of 500 layers ----
grpc_is "a chain of 500 layers (overlay's most)" "OK 500 layers" chain c 500
run st prepare top c-499
expect_rc "Prepare on top of it" 0
out_match "... an overlay of 500 lower layers" "^overlay overlay .*lowerdir=($T/root/snapshots/[0-9]+/fs:){499}$T/root/snapshots/[0-9]+/fs"
run st apply top "$T/layer.tar"
expect_rc "... the layer applied onto it" 0
run st mount top "$T/mnt"
expect_rc "strata mount of it" 0
same "... shows the layer" "$(ls "$T/mnt/wide" | wc -l)" 20000
check "strata umount" st umount "$T/mnt"
steady "the chain"

# ---- import, and everything removed ----
st commit topc top
run st --json export xc "$T/export.tar"
expect_rc "export of the layer" 0
layer_id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["layers"][0]["diff_id"])' "$T/out")
python3 "$REPO/tests/fixtures/with-pax-names.py" "$T/export.tar" "$T/import.tar"
run env GCONV_PATH="$T/gconv" GLIBC_TUNABLES=glibc.malloc.hugetlb=1 "$STRATA" --address "$ADDR" import "$T/import.tar"
expect_rc "import of it, UTF-8 pax names, GCONV_PATH and huge pages set for the CLI" 0
out_is "... its chain ID is the layer's diff ID" "$layer_id"
# One Remove call for everything, children first.
# shellcheck disable=SC2046
set -- "$layer_id" topc $(awk 'BEGIN { for (i = 499; i >= 0; i--) print "c-" i; for (i = 0; i < 2000; i++) printf "m-%05d\n", i }')
run st rm "$@" z xc y s past-name past-depth past-xattr lc
expect_rc "Remove of every snapshot (2510) in one call" 0
run st ls
same "... none is left" "$(tail -n +2 "$T/out" | wc -l)" 0
check "Cleanup" st cleanup
steady "Remove"
summary
