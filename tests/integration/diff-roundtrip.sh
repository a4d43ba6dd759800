#!/bin/sh
# The layers strata writes are correct: round trips against containerd 1.6's
# own code.  Each case is a parent tree P and a child tree C:
#
#   P is built in a plain directory, tarred by `mklayers -from` (nanosecond
#   mtimes, xattrs, hardlinks, devices), applied by `strata apply` into a
#   base snapshot and committed (the base must equal P: a prerequisite); an
#   empty layer `mid` is committed on it and the child prepared on mid.  The
#   child is mounted with the overlay options `strata prepare` printed (a
#   real overlay mount: copy-up, whiteouts, opaque directories come from the
#   kernel), the case's shell function turns P into C through it, unmounted.
#
#   (a) `strata diff child` (its own layer: the upperdir fast path) and
#   (a2) `strata diff child --parent base` (the general path: two merged
#       trees walked side by side), each applied by containerd's
#       archive.Apply (ctrdapply -mode bind) onto `cp -a P`, reproduce C;
#       containerd's diff ID is the one strata reports.
#   (b) containerd's walking differ (ctrddiff: archive.WriteDiff of the base
#       and C, compressed by compression.CompressStream), applied by `strata
#       apply --digest` onto a fresh child of the base: its merged tree
#       equals C as far as containerd's layer can express it (below), and
#       strata's diff ID is containerd's.
#   (c) an unchanged child (mounted, every file read, unmounted): its diff,
#       and its diff against base, are empty tars (the 1024 zero bytes).
#   The child's diff taken again at the end is the same bytes.
#
# The reference C is the child's merged tree itself, the overlay mounted
# again read-only: it is by definition what the layer must describe, with
# the exact times the kernel gave each entry; a C built separately the same
# way would differ in every time the transformation set to "now".
# Trees are compared by treemanifest (path, type, mode, owner, size, content
# hash, hardlink groups, nlink, symlink target, device numbers, every xattr,
# mtime in ns).  Exempted, because they are not part of a layer (each
# exemption other than the first two is printed as a `note`):
#   - the root's mtime (no layer carries the root: each tree's root time is
#     its snapshotter's or extractor's);
#   - sub-second mtimes of the entries a layer carries: containerd's
#     ChangeWriter writes whole seconds ("for compatibility") and so does
#     strata; entries a layer does not carry compare in ns;
#   - sockets in C: a tar has no form for them, both differs skip them;
#   - (a) xattrs a directory had in P and lost in C: containerd's apply
#     keeps an existing directory and only sets the entry's xattrs, so no
#     layer can remove them (strata's own apply does);
#   - (b) what containerd 1.6's differ does not carry: xattrs other than
#     security.capability on the entries it writes, and changes its
#     fs.Changes does not compare (a directory's mtime, an xattr other than
#     security.capability): those entries are expected as in P.
# With overlay's redirect_dir=on (case `redirect`, renamed directories: the
# default where the kernel has CONFIG_OVERLAY_FS_REDIRECT_DIR=y) the upperdir
# is not the whole change: the fast path gives up and the daemon compares
# the merged trees instead; both doors must get it right.
# Not covered on purpose: changing one name of a hardlink pair that is in
# the lower layer (overlay with index=off breaks the link on copy-up and its
# merged view still shows nlink=2 for the other name: no consistent
# reference); metacopy=on (a mount option strata's own mounts would have to
# share: the module parameter is global to the machine); files over 8 GiB.
#
# Environment: B (build dir), STRATA (CLI, default $B/strata), GO, PY
# (python3), CASES (space-separated names to run only those), KEEP=1.
# Prints `N passed, M failed`; lib.sh stops the daemon by pid, unmounts
# and removes $T on exit, also on failure.
set -u
. "$(dirname -- "$0")/../lib.sh"
. "$(dirname -- "$0")/../cli-lib.sh"
lib_init diff-roundtrip
need_tools python3 zstd
umask 022
STRATA=${STRATA:-$B/strata}
ADDR=$T/s.sock
st() { "$STRATA" --address "$ADDR" "$@" </dev/null; }
# The system's python3 (a pyenv shim first on the PATH costs a second a call).
PY=${PY:-$(command -v /usr/bin/python3 || command -v python3)}

bin=$T/bin
go_build strata-tests/ctrddiff strata-tests/ctrdapply strata-tests/treemanifest strata-tests/mklayers || {
	fail "build the Go tools"
	summary
	exit 1
}

# expect.py MODE C LAYER.tar P GOT OUT: the manifest C as the tree rebuilt
# from the layer on P (manifests) must show it, with the exemptions of the
# header, on stdout (MODE a: strata's layer applied by containerd; b:
# containerd's layer applied by strata); the manifest GOT of that tree with
# the same masks (root mtime, whole seconds) into OUT; notes on stderr.
cat >"$T/expect.py" <<'PY'
import ast, os, re, sys, tarfile

LINE = re.compile(r'^("(?:[^"\\]|\\.)*")(.*)$')
FIELD = re.compile(r' ([a-z0-9]+)=("(?:[^"\\]|\\.)*"|\{[^}]*\}|\S*)')

def read(name):
    out = {}
    for s in open(name, encoding="utf-8", errors="surrogateescape"):
        m = LINE.match(s.rstrip("\n"))
        if not m:
            continue
        out[ast.literal_eval(m.group(1))] = [m.group(1), FIELD.findall(m.group(2))]
    return out

def get(f, k):
    return dict(f).get(k)

def put(f, k, v):
    if v is None:
        return [(a, b) for a, b in f if a != k]
    if get(f, k) is None:  # xattrs goes before mtime
        i = [a for a, _ in f].index("mtime")
        return f[:i] + [(k, v)] + f[i:]
    return [(a, v if a == k else b) for a, b in f]

def xattrs(v):
    return dict(x.split("=", 1) for x in v[1:-1].split(",")) if v else {}

def fmt_xattrs(d):
    return "{" + ",".join("%s=%s" % kv for kv in sorted(d.items())) + "}" if d else None

def layer_paths(name):
    paths = set()
    with tarfile.open(name, "r:") as t:
        for m in t:
            p = "/" + os.path.normpath(m.name).lstrip("/")
            if not os.path.basename(p).startswith(".wh."):
                paths.add(p)
    return paths

def write(man):
    for p in sorted(man):
        q, f = man[p]
        sys.stdout.write(q + "".join(" %s=%s" % kv for kv in f) + "\n")

def mask_root(man):
    if "/" in man:
        man["/"][1] = put(man["/"][1], "mtime", "(root)")

def seconds(f):
    return put(f, "mtime", str(int(get(f, "mtime")) // 10**9 * 10**9))

mode = sys.argv[1]
if mode not in ("a", "b"):
    sys.exit("expect.py: bad mode")
man = read(sys.argv[2])
inlayer = layer_paths(sys.argv[3])
parent = read(sys.argv[4])
for p in [p for p, (q, f) in man.items() if get(f, "type") == "socket" and p not in parent]:
    print("%s: a socket has no tar form" % p, file=sys.stderr)
    del man[p]
for p, (q, f) in man.items():
    if p == "/":
        continue
    if p in inlayer:
        f = seconds(f)
        pf = parent.get(p, [None, []])[1]
        if mode == "a" and get(f, "type") == "dir" and get(pf, "type") == "dir":
            # containerd's apply keeps a directory that exists and only sets
            # the entry's xattrs: ones P had and C lost stay.
            x, px = xattrs(get(f, "xattrs")), xattrs(get(pf, "xattrs"))
            stale = {k: v for k, v in px.items() if k not in x}
            if stale:
                print("%s: containerd's apply keeps the existing directory's %s" %
                      (p, ",".join(sorted(stale))), file=sys.stderr)
                f = put(f, "xattrs", fmt_xattrs({**x, **stale}))
        if mode == "b":  # ChangeWriter writes security.capability only
            x = xattrs(get(f, "xattrs"))
            kept = {k: v for k, v in x.items() if k == "security.capability"}
            if kept != x:
                print("%s: containerd's layer does not carry %s" %
                      (p, ",".join(sorted(set(x) - set(kept)))), file=sys.stderr)
            f = put(f, "xattrs", fmt_xattrs(kept))
    elif mode == "b" and p in parent:
        # Not in containerd's layer: expected as in P where only what
        # fs.Changes does not compare differs.
        pf = parent[p][1]
        g = f
        if get(f, "type") == "dir":
            g = put(g, "mtime", get(pf, "mtime"))
        x = {k: v for k, v in xattrs(get(pf, "xattrs")).items() if k != "security.capability"}
        cap = xattrs(get(f, "xattrs")).get("security.capability")
        if cap is not None:
            x["security.capability"] = cap
        g = put(g, "xattrs", fmt_xattrs(x))
        changed = sorted(k for k in set(dict(f)) | set(dict(g)) if get(f, k) != get(g, k))
        if changed:
            print("%s: containerd's differ does not see its change of %s" %
                  (p, ",".join(changed)), file=sys.stderr)
        f = g
    man[p][1] = f
mask_root(man)
write(man)
got = read(sys.argv[5])
for p, (q, f) in got.items():
    if p in inlayer:
        got[p][1] = seconds(f)
mask_root(got)
sys.stdout = open(sys.argv[6], "w")
write(got)
PY

manifest() { "$bin/treemanifest" "$1" >"$2"; }
# masked MANIFEST: the manifest with the root's mtime masked (its first line).
masked() { sed '1s/ mtime=[^ ]*$/ mtime=(root)/' "$1"; }
# expect MODE LAYER TREE NAME OTHER: compare the tree at TREE, rebuilt from
# LAYER, with C (see expect.py); on failure list LAYER and OTHER (the other
# side's layer of the same change).
expect() {
	manifest "$3" "$d/got.m"
	"$PY" "$T/expect.py" "$1" "$d/C.m" "$2" "$d/P.m" "$d/got.m" "$d/got.e" >"$d/C.e" 2>"$d/notes"
	sed "s/^/note ${4%% applied*}: /" "$d/notes"
	compare "$4" "$d/C.e" "$d/got.e" "$2" "$5"
}
# compare NAME EXPECTED GOT [LAYER OTHER]: the manifests are equal; on
# failure shows the differences and the listings of the two layers.
compare() {
	if "$bin/treemanifest" -compare "$2" "$3" >"$T/cmp.out" 2>&1; then
		pass "$1"
		return
	fi
	fail "$1" "$(tail -n 1 "$T/cmp.out")"
	head -n 25 "$T/cmp.out" | sed 's/^/     | /'
	for _l in ${4:+"$4"} ${5:+"$5"}; do
		[ -f "$_l" ] || continue
		case $_l in */Lb.plain) echo "     | containerd's layer (tar -tvf):" ;; *) echo "     | strata's layer (tar -tvf):" ;; esac
		tar -tvf "$_l" 2>&1 | head -n 40 | sed 's/^/     | /'
	done
}
# plain FILE OUT: the uncompressed tar of layer FILE (by magic, system tools).
plain() {
	case $(od -An -tx1 -N4 "$1" | tr -d ' \n') in
	1f8b*) gzip -dc "$1" ;;
	28b52ffd) zstd -qdc "$1" ;;
	*) cat "$1" ;;
	esac >"$2"
}
jfield() { # jfield FILE KEY...: a field of a JSON document ("" when absent)
	"$PY" -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v.get(k, "") if isinstance(v, dict) else ""
print(v)' "$@" 2>/dev/null
}
head -c 1024 /dev/zero >"$T/empty.tar"

ensure_user
start_stratad "$T/root" "$ADDR" || {
	fail "daemon starts"
	summary
	exit 1
}

# ---- the cases: P_NAME builds P in the current directory, C_NAME turns it
# into C (run in the child's mount, `set -e`). ----
# A fixed past time for mtime changes (with nanoseconds).
OLD=@978321906.123456789
# xset NAME VALUE PATH / xdel NAME PATH: set / remove an xattr (VALUE 0xHEX
# for bytes), without following a symlink.
xset() {
	"$PY" -c '
import os, sys
n, v, p = sys.argv[1:]
v = bytes.fromhex(v[2:]) if v.startswith("0x") else v.encode()
os.setxattr(p, n, v, follow_symlinks=False)' "$@"
}
xdel() { "$PY" -c 'import os, sys; os.removexattr(sys.argv[2], sys.argv[1], follow_symlinks=False)' "$@"; }

P_delete() {
	mkdir -p keep tree/y/w tree/x.d mixed
	echo keep >keep/a
	echo gone >delfile
	echo x >tree/x.d/x
	echo z >tree/y/z
	echo deep >tree/y/w/deep
	ln -s y tree/link
	echo stay >mixed/stay
	echo go >mixed/go
	mkfifo mixed/fifo
}
C_delete() {
	rm delfile mixed/go mixed/fifo
	rm -rf tree
}

P_opaque() {
	mkdir -p o/sub p/q/r e/full
	echo full >e/full/f
	echo a >o/a
	echo b >o/b
	echo c >o/sub/c
	chmod 0750 o
	chown 3:4 o
	xset user.o lower o
	echo r >p/q/r/f
	echo q >p/q/f
}
C_opaque() {
	rm -rf o
	mkdir -m 0700 o o/sub
	echo new >o/n
	echo other >o/sub/m
	rm -rf p/q
	mkdir p/q
	echo renewed >p/q/f
	rm -rf e/full
	mkdir e/full
}

P_rename() {
	mkdir -p r/sub s re mvo/src mvo/dst
	echo a >r/a
	echo b >r/sub/b
	echo x >s/x
	echo a >re/a
	echo b >re/b
	echo f >mvo/src/f
	echo g >mvo/dst/g
}
C_rename() {
	mv r r2
	mv s/x s/y
	rm -rf re
	mkdir re
	echo again >re/a
	rm -rf mvo/dst
	mv mvo/src mvo/dst
}

# Renames with overlay's redirect_dir=on (a kernel default where
# CONFIG_OVERLAY_FS_REDIRECT_DIR=y): the upperdir's new directory only
# points at the lower one (trusted.overlay.redirect).
P_redirect() {
	mkdir -p rd/sub rd2 keep
	echo a >rd/a
	echo b >rd/sub/b
	echo x >rd2/x
	echo k >keep/k
}
C_redirect() {
	mv rd moved
	echo new >moved/new
	mv rd2 rd
	mkdir nest
	mv moved/sub nest/sub2
}

P_meta() {
	mkdir -p m/dmode m/downer m/dtime m/dxattr m/dxkeep m/sticky m/setgid
	for f in mode owner mtime xattr xattr2 cap suid bigids future xkeep; do echo "$f" >"m/$f"; done
	xset user.a one m/xattr2
	xset user.b two m/xattr2
	xset user.keep kept m/xkeep
	xset user.dkeep kept m/dxkeep
	echo in >m/dmode/in
	echo in >m/dtime/in
	echo locked >m/locked
}
C_meta() {
	chmod 0600 m/mode
	chown 12:34 m/owner
	touch -m -d "$OLD" m/mtime
	xset user.new value m/xattr
	xset user.a changed m/xattr2
	xdel user.b m/xattr2
	# CAP_NET_BIND_SERVICE, effective+permitted (vfs cap v2).
	xset security.capability 0x0100000200040000000000000000000000000000 m/cap
	chmod 0700 m/dmode
	chown 5:6 m/downer
	touch -m -d "$OLD" m/dtime
	xset user.d dir m/dxattr
	chmod 4755 m/suid
	chmod 1777 m/sticky
	chmod 2775 m/setgid
	# Past the ustar fields: ids over 7 octal digits, a time over 11.
	chown 3000000:4000000 m/bigids
	touch -m -d @8900000000.5 m/future
	# Copy-up keeps xattrs of a file and a directory that change otherwise.
	echo changed >>m/xkeep
	echo new >m/dxkeep/new
	# Unreadable by mode: whoever reads the upperdir needs to bypass it.
	echo changed >>m/locked
	chmod 0000 m/locked
	mkdir m/locked-dir
	echo hidden >m/locked-dir/f
	chmod 0000 m/locked-dir
	: >m/empty
	head -c 512 /dev/zero | tr '\0' x >m/block
}

P_hardlink() {
	mkdir -p h/dir
	echo exist >h/exist
	echo pair >h/pair1
	ln h/pair1 h/pair2
}
C_hardlink() {
	echo new >h/new
	ln h/new h/new-link
	ln h/new h/dir/new-link2
	ln h/exist h/exist-link
	ln h/exist h/dir/exist-link2
	echo other >h/dir/solo
}

P_symlink() {
	mkdir -p l
	ln -s target1 l/old
	ln -s x l/keep
	ln -s y l/owned
	ln -s z l/todel
	ln -s w l/times
}
C_symlink() {
	ln -s ../abs l/new-rel
	ln -s /etc/passwd l/new-abs
	ln -s nowhere/at/all l/dangling
	ln -sfn target2 l/old
	chown -h 7:8 l/owned
	touch -h -m -d "$OLD" l/times
	rm l/todel
}

P_devices() {
	mkdir -p dev
	mknod dev/old-char c 1 3
	mknod dev/old-blk b 8 1
	mknod dev/chmod-me c 1 5
	mkfifo dev/fifo-old
}
C_devices() {
	mknod -m 0620 dev/c c 4 64
	mknod dev/b b 8 16
	mknod dev/bignum c 511 300000
	mkfifo -m 0600 dev/fifo
	rm dev/fifo-old
	chown 0:6 dev/old-blk
	chmod 0600 dev/chmod-me
	# A socket: no tar form, both differs skip it.
	"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' dev/sock
}

P_sparse() {
	mkdir -p sp
	printf 'start' >sp/grow
	truncate -s 1M sp/grow
}
C_sparse() {
	truncate -s 16M sp/new
	printf 'ten' | dd of=sp/new bs=1 seek=$((10 << 20)) conv=notrunc 2>/dev/null
	printf 'end' | dd of=sp/new bs=1 seek=$(((16 << 20) - 3)) conv=notrunc 2>/dev/null
	truncate -s 8M sp/all-hole
	printf 'more' | dd of=sp/grow bs=1 seek=$((15 << 20)) conv=notrunc 2>/dev/null
}

P_large() {
	mkdir -p big
	head -c 1M /dev/urandom >big/grow
}
C_large() {
	head -c 64M /dev/urandom >big/new
	head -c 3M /dev/urandom >>big/grow
}

P_replace() {
	mkdir -p df/sub ds
	echo f >fd
	echo x >df/x
	echo y >df/sub/y
	ln -s x sl
	echo d >ds/d
	mkfifo ff
	echo s >fs
}
C_replace() {
	rm fd
	mkdir fd
	echo in >fd/in
	rm -rf df
	echo now a file >"df"
	rm sl
	mkdir sl
	echo z >sl/z
	rm -rf ds
	ln -s target ds
	rm ff
	echo now a file >ff
	rm fs
	mkfifo fs
}

long=$(printf 'n%.0s' $(seq 1 120))
P_names() {
	mkdir -p "a/$long"
	echo a >a/f
	echo gone >"a/$long/gone-$long"
}
C_names() {
	mkdir -p a/b/c/d/e/f/g/h "a/$long/$long"
	echo deep >a/b/c/d/e/f/g/h/file
	echo long >"a/$long/$long/$long"
	ln -s "$long/$long/$long" a/to-long
	ln "a/$long/$long/$long" "a/$long/hardlink-to-long"
	echo space >"a/with space"
	echo utf >"a/ü-日本"
	echo nl >"a/new
line"
	echo bs >'a/back\slash'
	rm "a/$long/gone-$long"
	xset user.long "$long" "a/$long"
}

# ---- one case ----
# mount_from FILE DIR [OPTS]: mount the first mount `strata prepare` printed
# (TYPE SOURCE OPTIONS) into FILE at DIR, an overlay with OPTS first; lib.sh
# unmounts it on exit.
mount_from() {
	mkdir -p "$2"
	read -r type src opts <"$1" || return 1
	case $type in
	bind) mount --bind "$src" "$2" ;;
	overlay) mount -t overlay -o "${3:+$3,}$opts" "$src" "$2" ;;
	*) return 1 ;;
	esac
}

# strata_diff NAME WHAT FMT ARGS...: `strata diff ARGS` as FMT into
# $d/L.layer and its tar into $d/L.plain; sets want (the diff ID strata
# reports).  Returns 2 when it fails.
strata_diff() {
	_n=$1 _w=$2 _f=$3
	shift 3
	if ! st --json diff "$@" -o "$d/L.layer" --media-type "$_f" >"$d/L.json" 2>"$d/err"; then
		fail "$_n: $_w: strata diff" "$(cat "$d/err")"
		return 2
	fi
	plain "$d/L.layer" "$d/L.plain"
	if [ "$_f" = tar ]; then want=$(jfield "$d/L.json" digest); else
		want=$(jfield "$d/L.json" annotations containerd.io/uncompressed)
	fi
	same "$_n: $_w: the digest is sha256 of the $_f layer" "$(jfield "$d/L.json" digest)" "$(sha "$d/L.layer")"
	same "$_n: $_w: the diff ID is sha256 of the tar" "$want" "$(sha "$d/L.plain")"
}

# strata_layer NAME WHAT: containerd applies strata's $d/L.layer onto a copy
# of P, reports strata's diff ID, and gets C.
strata_layer() {
	R=$d/R
	cp -a "$P" "$R"
	if "$bin/ctrdapply" -mode bind "$R" "$d/L.layer" >"$d/R.id" 2>"$d/err"; then
		pass "$1: $2: containerd applies it"
	else
		fail "$1: $2: containerd applies it" "$(cat "$d/err")"
	fi
	same "$1: $2: containerd's diff ID is strata's" "$(cat "$d/R.id")" "$want"
	expect a "$d/L.plain" "$R" "$1: $2 applied by containerd onto P gives C" "$d/Lb.plain"
	rm -rf "$R"
}

# run_case NAME FMT_A FMT_B [OPTS]: OPTS are overlay options added to the
# child's mounts (the fast path then gives up and the daemon compares the trees).
run_case() {
	n=$1 fa=$2 fb=$3 xo=${4:-}
	d=$T/c/$n
	P=$d/P
	mkdir -p "$P"
	chmod 0755 "$P"
	if ! (cd "$P" && set -e && "P_$n") >"$d/mk.out" 2>&1 ||
		! "$bin/mklayers" -from "$P" -o "$d/base.tar" >>"$d/mk.out" 2>&1; then
		fail "$n: build P and its layer" "$(cat "$d/mk.out")"
		return
	fi
	manifest "$P" "$d/P.m"
	# base (P), mid (an empty layer on it), the child on mid: the child's
	# own layer is the fast path, its layer against base the general path.
	if ! st prepare "$n-base-a" >/dev/null 2>"$d/err" || ! st apply "$n-base-a" "$d/base.tar" >/dev/null 2>>"$d/err" ||
		! st commit "$n-base" "$n-base-a" 2>>"$d/err" || ! st prepare "$n-mid-a" "$n-base" >/dev/null 2>>"$d/err" ||
		! st commit "$n-mid" "$n-mid-a" 2>>"$d/err" || ! st prepare "$n-child" "$n-mid" >"$d/child.mnt" 2>>"$d/err"; then
		fail "$n: base, mid and child snapshots" "$(cat "$d/err")"
		return
	fi
	# The base as the child's overlay sees it (its last lowerdir): the
	# lower tree containerd's differ would mount.
	base=$(sed -n '1s/.*lowerdir=\([^,]*\).*/\1/p' "$d/child.mnt")
	base=${base##*:}
	manifest "$base" "$d/base.m"
	masked "$d/P.m" >"$d/P.e"
	masked "$d/base.m" >"$d/base.e"
	compare "$n: prerequisite: strata's base equals P" "$d/P.e" "$d/base.e"

	# The child, changed through a real overlay mount.
	if ! mount_from "$d/child.mnt" "$d/mnt" "$xo" 2>"$d/err"; then
		fail "$n: mount the child" "$(cat "$d/child.mnt" "$d/err")"
		return
	fi
	if (cd "$d/mnt" && set -e && "C_$n") >"$d/c.out" 2>&1; then
		pass "$n: P turned into C through the overlay"
	else
		fail "$n: P turned into C through the overlay" "$(cat "$d/c.out")"
	fi
	umount "$d/mnt"
	# The reference: the child's merged tree, read-only.
	if ! mount_from "$d/child.mnt" "$d/C" "ro${xo:+,$xo}" 2>"$d/err"; then
		fail "$n: mount the child read-only" "$(cat "$d/err")"
		return
	fi
	manifest "$d/C" "$d/C.m"

	# containerd's layer of the change, for (b).
	if "$bin/ctrddiff" -c "$fb" -o "$d/Lb.layer" "$base" "$d/C" >"$d/Lb.id" 2>"$d/err"; then
		pass "$n: (b) containerd's differ writes the $fb layer"
	else
		fail "$n: (b) containerd's differ writes the $fb layer" "$(cat "$d/err")"
	fi
	same "$n: (b) containerd's digest is sha256 of its layer" "$(sed -n 1p "$d/Lb.id")" "$(sha "$d/Lb.layer")"
	plain "$d/Lb.layer" "$d/Lb.plain"

	# (a) strata's layer of the child (fast path), (a2) of the child
	# against base (general path), each applied by containerd.
	first=''
	if strata_diff "$n" "(a) strata's layer" "$fa" "$n-child"; then
		strata_layer "$n" "(a) strata's layer"
		first=$(sha "$d/L.layer")
		cp "$d/L.plain" "$d/La.plain"
	fi
	# A fast path that gives up cannot restart into a pipe: a clear error.
	if [ -n "$xo" ]; then
		st diff "$n-child" -o - --media-type tar 2>"$d/err" | cat >/dev/null
		if grep -q 'FailedPrecondition:.*went to a pipe' "$d/err"; then
			pass "$n: (a) into a pipe: a clear error naming --parent"
		else
			fail "$n: (a) into a pipe: a clear error" "$(cat "$d/err")"
		fi
	fi
	strata_diff "$n" "(a2) strata's layer against base" tar "$n-child" --parent "$n-base" &&
		strata_layer "$n" "(a2) strata's layer against base"

	# (b) containerd's layer applied by strata.
	if st prepare "$n-redo" "$n-base" >"$d/redo.mnt" 2>"$d/err" &&
		st apply "$n-redo" "$d/Lb.layer" --digest "$(sed -n 1p "$d/Lb.id")" >"$d/redo.id" 2>"$d/err"; then
		pass "$n: (b) strata applies containerd's layer"
	else
		fail "$n: (b) strata applies containerd's layer" "$(cat "$d/err")"
	fi
	same "$n: (b) strata's diff ID is containerd's" "$(tail -n 1 "$d/redo.id")" "$(sed -n 2p "$d/Lb.id")"
	if mount_from "$d/redo.mnt" "$d/redo" ro 2>"$d/err"; then
		expect b "$d/Lb.plain" "$d/redo" "$n: (b) containerd's layer applied by strata onto P gives C" "$d/La.plain"
		umount "$d/redo"
	else
		fail "$n: (b) mount the re-applied snapshot" "$(cat "$d/err")"
	fi

	# (c) an unchanged child (on mid): mounted, every file read, unmounted;
	# its layer, and its layer against base, are empty tars.
	if st prepare "$n-same" "$n-mid" >"$d/same.mnt" 2>"$d/err" && mount_from "$d/same.mnt" "$d/same" 2>>"$d/err"; then
		find "$d/same" -type f -exec cat {} + >/dev/null 2>&1
		umount "$d/same"
	fi
	for against in '' "$n-base"; do
		what="(c) an unchanged child's diff${against:+ against base} is an empty tar"
		if st diff "$n-same" ${against:+--parent "$against"} --media-type tar -o "$d/same.tar" >/dev/null 2>>"$d/err" &&
			cmp -s "$d/same.tar" "$T/empty.tar"; then
			pass "$n: $what"
		else
			fail "$n: $what" "$(cat "$d/err") $(wc -c <"$d/same.tar" 2>/dev/null) bytes: $(tar -tvf "$d/same.tar" 2>&1 | head -5)"
		fi
	done

	umount "$d/C"
	if [ -n "$first" ]; then
		st diff "$n-child" -o "$d/again.layer" --media-type "$fa" >/dev/null 2>&1
		same "$n: the child's diff again: the same bytes" "$(sha "$d/again.layer")" "$first"
	fi
	# The big files go now; the snapshots with $T at the end.
	rm -f "$d"/*.tar "$d"/*.plain "$d"/*.layer
}

selected() { [ -z "${CASES:-}" ] || case " $CASES " in *" $1 "*) ;; *) return 1 ;; esac; }

# NAME, strata's media type (a), containerd's (b) (every compression both
# ways), overlay options added to the child's mounts.
while read -r name fa fb xo; do
	[ "$xo" = - ] && xo=''
	selected "$name" && run_case "$name" "$fa" "$fb" "$xo"
done <<'EOF'
delete tar gzip -
opaque gzip zstd -
rename zstd tar -
redirect tar gzip redirect_dir=on
meta tar tar -
hardlink gzip gzip -
symlink zstd zstd -
devices tar zstd -
sparse gzip tar -
large zstd zstd -
replace tar gzip -
names gzip tar -
EOF

run st ls
expect_rc "the daemon still serves" 0
# Stop the daemon here: lib.sh's cleanup reuses the exit status.
stop_stratad >/dev/null 2>&1
summary
