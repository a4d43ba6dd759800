#!/bin/sh
# strata's layer apply against containerd's, as a differential test: for
# every pair of layers mklayers writes, the trees strata's `apply` writes
# equal the trees containerd 1.6's own archive.Apply writes, compared by
# treemanifest (path, type, mode, owner, size, content hash, hardlink groups,
# link target, device numbers, xattrs, mtime).
#
# Containerd's side (tests/go/src/strata-tests/ctrdapply) does what its
# walking differ does on overlay snapshots: the lower layer goes into an empty
# dir A as into a snapshot without parents (bind mount: whiteouts delete), the
# upper into an EMPTY dir B with the overlay whiteout converter and A as the
# parent.  Strata's side: prepare K1, apply lower, commit L1; prepare K2 on L1,
# apply upper; K1's fs is compared with A, K2's upperdir with B.  Diff IDs are
# compared too (with each other and with sha256 of the decompressed file).
#
# Entries containerd stamps with the apply's own time (whiteout devices, the
# parents it creates) show as mtime=recent; strata may give those parents the
# lower's mtime instead (treemanifest -compare -lower accepts both).
#
# Each upper is also applied by the extract engine alone (XAPPLY) as a parallel
# unpack applies it, before its lower exists, then rebased onto strata's lower
# tree: that tree must equal strata's apply of the upper over its lower.
#
# Environment: STRATA (CLI, default $B/strata), XAPPLY (default $B/tests/xapply), REAL_LOWER / REAL_UPPER (the
# real directories of pair `real`; REAL_LOWER= skips it), PAIRS (space-separated
# names to run only those), GO (go binary).  Prints `N passed, M failed`.
set -u
. "$(dirname "$0")/../lib.sh"
lib_init apply-vs-containerd
need_tools zstd
umask 022
STRATA=${STRATA:-$B/strata}
XAPPLY=${XAPPLY:-$B/tests/xapply}
ADDR=$T/s.sock
REAL_LOWER=${REAL_LOWER-/usr/share/doc}
REAL_UPPER=${REAL_UPPER-/usr/lib/x86_64-linux-gnu/perl-base}

bin=$T/bin
go_build strata-tests/ctrdapply strata-tests/treemanifest strata-tests/mklayers || {
	fail "build the Go tools"
	summary
	exit 1
}
L=$T/layers
if ! "$bin/mklayers" -o "$L" -real-lower "$REAL_LOWER" -real-upper "$REAL_UPPER" >"$T/mk.out" 2>&1; then
	fail "mklayers writes the layers" "$(cat "$T/mk.out")"
	summary
	exit 1
fi

selected() { [ -z "${PAIRS:-}" ] || case " $PAIRS " in *" $1 "*) ;; *) return 1 ;; esac; }

# sha256 of the uncompressed stream, decompressed by magic with the system tools.
stream_digest() {
	case $(od -An -tx1 -N4 "$1" | tr -d ' \n') in
	1f8b*) gzip -dc "$1" ;;
	28b52ffd | 5?2a4d18) zstd -qdc "$1" ;;
	*) cat "$1" ;;
	esac | sha256sum | awk '{ print "sha256:" $1 }'
}

# manifest DIR OUT: the tree's manifest with the root's mtime masked (the
# root's own time is the snapshotter's, not the layer's).
manifest() {
	"$bin/treemanifest" -recent-after "$T0" "$1" >"$2.raw" || return 1
	sed '1s/ mtime=[^ ]*$/ mtime=(root)/' "$2.raw" >"$2"
}

# ---- containerd's side ----
T0=$(date +%s%N)
C=$T/ctrd
while read -r name lower upper ref _what; do
	selected "$name" || continue
	d=$C/$name
	mkdir -p "$d/A" "$d/B" "$d/refused"
	if "$bin/ctrdapply" -mode bind "$d/A" "$L/$lower" >"$d/lower.id" 2>"$d/lower.err"; then
		pass "$name: containerd applies the lower layer"
	else
		fail "$name: containerd applies the lower layer" "$(cat "$d/lower.err")"
	fi
	upref=$upper
	if [ "$ref" != - ]; then
		# containerd refuses this encoding: prove it, then apply the equivalent.
		if "$bin/ctrdapply" -mode overlay -parents "$d/A" "$d/refused" "$L/$upper" >/dev/null 2>"$d/refused.err"; then
			fail "$name: containerd refuses $upper (the reason for $ref)"
		else
			pass "$name: containerd refuses $upper: $(head -c 200 "$d/refused.err")"
		fi
		upref=$ref
	fi
	if "$bin/ctrdapply" -mode overlay -parents "$d/A" "$d/B" "$L/$upref" >"$d/upper.id" 2>"$d/upper.err"; then
		pass "$name: containerd applies the upper layer"
	else
		fail "$name: containerd applies the upper layer" "$(cat "$d/upper.err")"
	fi
	for side in lower upper; do
		[ "$ref" != - ] && [ "$side" = upper ] && continue
		if [ "$side" = lower ]; then f=$lower; else f=$upper; fi
		want=$(stream_digest "$L/$f")
		if [ "$(cat "$d/$side.id")" = "$want" ]; then
			pass "$name: containerd's $side diff ID is sha256 of the uncompressed stream"
		else
			fail "$name: containerd's $side diff ID" "got $(cat "$d/$side.id"), sha256 of the stream is $want"
		fi
	done
	if ! manifest "$d/A" "$d/A.m" || ! manifest "$d/B" "$d/B.m"; then
		fail "$name: manifests of containerd's trees"
	fi
done <"$L/pairs"

# ---- the reference itself: what each case means to exercise ----
# PAIR SIDE has|lacks STRING: containerd's manifest of SIDE (A or B) contains
# (lacks) the line fragment STRING.  These fail when a generator stops
# producing what the case is about.
expect_ctrd() {
	[ -f "$C/$1/$2.m" ] || return 0
	if grep -qF -- "$4" "$C/$1/$2.m"; then found=has; else found=lacks; fi
	if [ "$found" = "$3" ]; then
		pass "$1: containerd's $2 $3 $4"
	else
		fail "$1: containerd's $2 $3 $4"
	fi
}
while read -r pair side how str; do
	selected "$pair" && expect_ctrd "$pair" "$side" "$how" "$str"
done <<'EOF'
types B has "/dev/bignum" type=char mode=0600 uid=0 gid=0 nlink=1 rdev=4095:1048575
types B has "/dev/sda" type=block mode=0660 uid=0 gid=6 nlink=1 rdev=8:0
types B has "/dev/fifo" type=fifo mode=0644
types B has nlink=4 inode="/bin/d"
types B has "/hl/c" type=file mode=0644 uid=0 gid=0 size=15
types B has "/link-abs" type=symlink mode=0777 uid=0 gid=0 nlink=1 target="/etc/hostname"
types B has "/bigids" type=file mode=0644 uid=3000000 gid=4000000
types B has mtime=1614834376123456789
types B has "/data/locked" type=dir mode=0000
whiteout A lacks "/gone"
whiteout B has "/d/f1" type=char mode=0000 uid=0 gid=0 nlink=1 rdev=0:0 mtime=recent
whiteout B has "/d/f2" type=char mode=0000 uid=1000 gid=1001 nlink=1 rdev=0:0
whiteout B has "/d/sub" type=char mode=0000
whiteout B has "/e" type=dir mode=0711 uid=7 gid=8 xattrs={user.e=6c6f7765722d65}
whiteout B has "/d/f3" type=file
opaque B has "/o" type=dir mode=0755 uid=0 gid=0 xattrs={trusted.overlay.opaque=79}
opaque B has "/p" type=dir mode=0700 uid=0 gid=0 xattrs={trusted.overlay.opaque=79}
opaque B has "/q" type=dir mode=0750 uid=11 gid=12 xattrs={trusted.overlay.opaque=79,user.q=6c6f7765722d71}
opaque B lacks "/o/a"
longnames B has ffffffffff" type=file mode=0644 uid=0 gid=0 size=4
longnames B has "/odd/with space" type=file
longnames B has "/odd/ü-ñ-日本語" type=file
longnames B has gggggggggg" type=file mode=0644 uid=0 gid=0 size=3
xattrs B has "/x/cap" type=file mode=0755 uid=0 gid=0 size=3
xattrs B has xattrs={security.capability=0100000200040000000000000000000000000000}
xattrs B has xattrs={user.aa=6669727374,user.bin=0001fffe0a3d,user.zz=6c617374}
xattrs B has xattrs={user.empty=}
xattrs B has "/xd" type=dir mode=0751 uid=21 gid=22 xattrs={user.lower=66726f6d2d6c6f776572,user.other=32} mtime=recent
setuid B has "/s/suid-cap" type=file mode=4755 uid=0 gid=0 size=1
setuid B has "/s/both" type=file mode=6711
setuid B has "/s/sticky" type=dir mode=1777
replace A has "/ldup" type=dir mode=0710
replace B has "/dup2" type=file
replace B has "/dup5" type=dir mode=0755 uid=2 gid=2 xattrs={user.first=31,user.second=32}
replace B has "/dup6b" type=file mode=0644 uid=0 gid=0 size=8 sha256=0682c5f2076f099c34cfdd15a9e063849ed437a49677e6fcc5b4198c76575be5
replace B has "/w" type=fifo mode=0600
parents B has "/p" type=dir mode=0750 uid=1234 gid=5678 xattrs={user.p=6c6f7765722d70} mtime=recent
parents B has "/p/q" type=dir mode=0705 uid=42 gid=43 xattrs={user.q=6c6f7765722d71} mtime=recent
parents B has "/deep/a/b" type=dir mode=1755 uid=5 gid=6 xattrs={user.b=626565}
parents B has "/f" type=dir mode=0755 uid=0 gid=0 mtime=recent
parents B has "/late" type=dir mode=0700 uid=11 gid=12 xattrs={user.late=6c6f776572}
lowerdirs B has "/ld" type=dir mode=0755 uid=1 gid=2 xattrs={security.capability=0100000200040000000000000000000000000000,user.over=7570706572} mtime=
lowerdirs B has "/ln" type=dir mode=0755 uid=0 gid=0 mtime=
lowerdirs B has "/lc" type=dir mode=0751 uid=3 gid=4 xattrs={user.c=6c6f7765722d63} mtime=
lowerdirs B has "/lo" type=dir mode=0705 uid=0 gid=0 xattrs={trusted.overlay.opaque=79} mtime=
names B has "/n/upsafe" type=file
names B has "/" type=dir mode=0755 uid=0 gid=0 mtime=(root)
sparse B has "/sp/pax1.0-many" type=file mode=0644 uid=0 gid=0 size=65536
sparse-gnu B has "/sp/gnu-all-hole" type=file mode=0640 uid=0 gid=0 size=5242880
EOF

# The sparse layers decode to the same content with GNU tar as with containerd
# (so neither the generator nor containerd's reader is fooled).
for name in sparse sparse-gnu; do
	if ! selected "$name" || ! [ -f "$C/$name/B.m" ]; then continue; fi
	g=$T/gnutar-$name
	mkdir -p "$g"
	if tar -C "$g" -xf "$L/$name.upper.tar" 2>"$T/tar.err" &&
		(cd "$g" && find sp -type f | sort | xargs sha256sum) >"$T/tar.sums" &&
		(cd "$C/$name/B" && find sp -type f | sort | xargs sha256sum) >"$T/ctrd.sums" &&
		cmp -s "$T/tar.sums" "$T/ctrd.sums"; then
		pass "$name: GNU tar extracts the same sparse contents as containerd"
	else
		fail "$name: GNU tar extracts the same sparse contents as containerd" \
			"$(cat "$T/tar.err"; diff "$T/tar.sums" "$T/ctrd.sums" | head -5)"
	fi
done

# ---- strata's side ----
if ! "$STRATA" apply --help >/dev/null 2>&1; then
	echo "strata apply not available"
	summary
	exit 1
fi
ensure_user
start_stratad "$T/root" "$ADDR" || {
	fail "daemon starts"
	summary
	exit 1
}
st() { "$STRATA" --address "$ADDR" "$@" </dev/null; }

# compare NAME REF GOT [LOWER]: manifests equal (treemanifest -compare rules).
compare() {
	if "$bin/treemanifest" -compare ${4:+-lower "$4"} "$2" "$3" >"$T/cmp.out" 2>&1; then
		pass "$1"
	else
		fail "$1" "$(wc -l <"$T/cmp.out") lines of differences"
		head -n 30 "$T/cmp.out" | sed 's/^/     | /'
	fi
}

# id_check NAME GOT WANT
id_check() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "strata printed '$2', containerd '$3'"; fi
}

while read -r name lower upper ref _what; do
	selected "$name" || continue
	d=$C/$name
	s=$T/strata/$name
	mkdir -p "$s"
	k1=low-$name k2=up-$name
	if ! st prepare "$k1" >"$s/k1.mounts" 2>"$s/err"; then
		fail "$name: prepare $k1" "$(cat "$s/err")"
		continue
	fi
	fs1=$(awk '$1 == "bind" { print $2; exit }' "$s/k1.mounts")
	if st apply "$k1" "$L/$lower" >"$s/lower.id" 2>"$s/err"; then
		pass "$name: strata applies the lower layer"
		id_check "$name: lower diff ID" "$(tail -n 1 "$s/lower.id")" "$(cat "$d/lower.id")"
		if [ -n "$fs1" ] && manifest "$fs1" "$s/A.m"; then
			compare "$name: lower tree equals containerd's" "$d/A.m" "$s/A.m"
		else
			fail "$name: lower tree" "no bind mount source in: $(cat "$s/k1.mounts")"
		fi
	else
		fail "$name: strata applies the lower layer" "$(cat "$s/err")"
	fi
	if ! st commit "base-$name" "$k1" 2>"$s/err" || ! st prepare "$k2" "base-$name" >"$s/k2.mounts" 2>>"$s/err"; then
		fail "$name: commit and prepare the upper snapshot" "$(cat "$s/err")"
		continue
	fi
	up2=$(sed -n 's/.*upperdir=\([^,]*\).*/\1/p' "$s/k2.mounts" | head -n 1)
	if st apply "$k2" "$L/$upper" >"$s/upper.id" 2>"$s/err"; then
		pass "$name: strata applies the upper layer"
		if [ "$ref" = - ]; then
			id_check "$name: upper diff ID" "$(tail -n 1 "$s/upper.id")" "$(cat "$d/upper.id")"
		else
			id_check "$name: upper diff ID" "$(tail -n 1 "$s/upper.id")" "$(stream_digest "$L/$upper")"
		fi
		if [ -n "$up2" ] && manifest "$up2" "$s/B.m"; then
			compare "$name: upper tree equals containerd's" "$d/B.m" "$s/B.m" "$d/A.m"
		else
			fail "$name: upper tree" "no upperdir in: $(cat "$s/k2.mounts")"
		fi
		# The engine's parallel unpack: the upper applied before its lower
		# exists, then rebased onto it, gives the very tree of the apply over it.
		mkdir -p "$s/P"
		if "$XAPPLY" --rebase "$s/P" "$L/$upper" 2>"$s/err" && "$XAPPLY" --fixup "$s/P" "$fs1" 2>>"$s/err" &&
			manifest "$s/P" "$s/P.m"; then
			compare "$name: upper applied before its lower, then rebased, equals the upper applied over it" \
				"$s/B.m" "$s/P.m"
		else
			fail "$name: upper applied before its lower, then rebased" "$(cat "$s/err")"
		fi
	elif [ "$ref" != - ] && [ -s "$s/err" ]; then
		pass "$name: strata refuses $upper as containerd does: $(head -c 200 "$s/err")"
	else
		fail "$name: strata applies the upper layer" "$(cat "$s/err")"
	fi
	st rm "$k2" "base-$name" >/dev/null 2>&1 || fail "$name: remove the snapshots"
done <"$L/pairs"

# Stop the daemon here: lib.sh's cleanup reuses _lib_rc in stop_stratad, which
# would turn a failed run's exit status into the daemon's (0).
stop_stratad >/dev/null 2>&1
summary
