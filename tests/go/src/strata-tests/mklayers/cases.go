package main

import (
	"archive/tar"
	"strings"

	. "strata-tests/mklayers/tarutil"
)

// A pair is applied in order: lower onto an empty snapshot without parents
// (containerd's bind-mount path: whiteouts delete), then upper into an empty
// upperdir over lower's tree (overlay path: whiteouts become 0/0 devices,
// opaque markers become trusted.overlay.opaque, missing parents are copied up
// from lower).  Each case says what it exercises.
//
// ref, when set, is the upper containerd applies instead of upper: a layer
// with the same result in a form containerd accepts (containerd 1.6 refuses
// old-GNU sparse entries, "unhandled tar header type 83"); the test then
// also checks that containerd refuses upper itself.
type pair struct {
	name         string
	what         string
	lower, upper func(b *Builder)
	ref          func(b *Builder)
}

// vfsCapV2 is a valid security.capability value (VFS_CAP_REVISION_2,
// effective, permitted = CAP_NET_BIND_SERVICE).
var vfsCapV2 = string([]byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})

func txt(s string) []byte { return []byte(s) }

// base is a small lower layer for cases that only care about the upper.
func base(b *Builder) {
	b.Dir("etc/", 0o755)
	b.File("etc/hostname", 0o644, txt("strata\n"))
	b.Dir("usr/", 0o755)
}

var pairs = []pair{
	{"types", "every entry type: files (empty, big, odd modes), dirs, symlinks (relative, absolute, dangling, " +
		"to a dir), a hardlink chain, char/block devices (large numbers), fifo, ids beyond ustar's octal range",
		base, func(b *Builder) {
			b.Dir("bin/", 0o755)
			b.File("bin/file", 0o644, txt("hello\n"))
			b.File("bin/exec", 0o755, txt("#!/bin/sh\necho hi\n"))
			b.File("bin/empty", 0o644, nil)
			b.File("bin/readonly", 0o400, txt("r\n"))
			b.File("bin/nomode", 0o000, txt("none\n"))
			b.Dir("data/", 0o700, Owner(1000, 1000))
			b.File("data/big", 0o640, Pattern(1, 1<<20+123), Owner(1000, 1000))
			b.File("data/nanos", 0o644, txt("ns\n"), Nanos(123456789))
			b.Dir("data/locked/", 0o000)
			b.File("data/locked/inside", 0o644, txt("x"))
			b.Symlink("link-rel", "bin/file")
			b.Symlink("link-abs", "/etc/hostname")
			b.Symlink("link-dangling", "nowhere/x")
			b.Symlink("link-dir", "data", Owner(5, 6))
			b.Symlink("data/link-up", "../bin/exec")
			b.Dir("hl/", 0o755)
			b.File("hl/a", 0o644, txt("shared content\n"), Owner(3, 4))
			b.Hardlink("hl/b", "hl/a")
			b.Hardlink("hl/c", "hl/b") // names a name that is itself a link
			b.Hardlink("bin/d", "hl/a")
			b.Dir("dev/", 0o755)
			b.Dev("dev/null", tar.TypeChar, 1, 3, 0o666)
			b.Dev("dev/sda", tar.TypeBlock, 8, 0, 0o660, Owner(0, 6))
			b.Dev("dev/bignum", tar.TypeChar, 4095, 1048575, 0o600)
			b.Fifo("dev/fifo", 0o644)
			b.File("bigids", 0o644, txt("ids\n"), Owner(3000000, 4000000))
			b.Dir("usr/", 0o755, Owner(0, 0))
			b.Dir("usr/local/", 0o2775, Owner(0, 50))
		}, nil},
	{"whiteout", "whiteouts of files and dirs, of a name lower does not have, owned whiteouts, a whiteout whose " +
		"parent only lower has, a name whited out then re-created; lower has whiteouts too (bind path deletes)",
		func(b *Builder) {
			b.Dir("d/", 0o755)
			b.File("d/f1", 0o644, txt("f1"))
			b.File("d/f2", 0o644, txt("f2"))
			b.File("d/f3", 0o644, txt("f3"))
			b.Dir("d/sub/", 0o755)
			b.File("d/sub/x", 0o644, txt("x"))
			b.File("top", 0o644, txt("top"))
			b.File("keep", 0o644, txt("keep"))
			b.Dir("e/", 0o711, Owner(7, 8), Xattr("user.e", "lower-e"))
			b.File("e/y", 0o644, txt("y"))
			b.File("gone", 0o644, txt("gone"))
			b.File(".wh.gone", 0o644, nil) // bind path: removes `gone`
			b.File(".wh.never", 0o644, nil)
		},
		func(b *Builder) {
			b.Dir("d/", 0o750)
			b.File("d/.wh.f1", 0o644, nil)
			b.File("d/.wh.f2", 0o600, nil, Owner(1000, 1001))
			b.File("d/.wh.sub", 0o644, nil)
			b.File(".wh.top", 0o644, nil)
			b.File(".wh.nonexistent", 0o644, nil)
			b.File("e/.wh.y", 0o644, nil)
			b.File("d/.wh.f3", 0o644, nil)
			b.File("d/f3", 0o644, txt("f3 again"))
		}, nil},
	{"opaque", "opaque markers: with the dir entry first, after a child (out of order), without a dir entry " +
		"(parent copied up from lower); lower has an opaque marker too (bind path removes siblings)",
		func(b *Builder) {
			b.Dir("o/", 0o755)
			b.File("o/a", 0o644, txt("a"))
			b.Dir("o/sub/", 0o755)
			b.File("o/sub/b", 0o644, txt("b"))
			b.Dir("p/", 0o755)
			b.File("p/x", 0o644, txt("x"))
			b.Dir("q/", 0o750, Owner(11, 12), Xattr("user.q", "lower-q"))
			b.File("q/y", 0o644, txt("y"))
			b.Dir("r/", 0o755)
			b.File("r/1", 0o644, txt("1"))
			b.File("r/.wh..wh..opq", 0o644, nil)
			b.File("r/2", 0o644, txt("2"))
		},
		func(b *Builder) {
			b.Dir("o/", 0o755)
			b.File("o/.wh..wh..opq", 0o644, nil)
			b.File("o/c", 0o644, txt("c"))
			b.Dir("p/", 0o700)
			b.File("p/c", 0o644, txt("c"))
			b.File("p/.wh..wh..opq", 0o644, nil)
			b.File("q/.wh..wh..opq", 0o644, nil)
		}, nil},
	{"longnames", "names past ustar's 100 bytes (PAX path, GNU ././@LongLink), ustar prefix split, 255-byte " +
		"components, long symlink and hardlink targets, spaces, newlines, tabs, UTF-8",
		base, func(b *Builder) {
			c200 := strings.Repeat("c", 200)
			long := "long/" + c200 + "/" + strings.Repeat("d", 200) + "/" + strings.Repeat("e", 200)
			b.Dir("long/", 0o755)
			b.Dir("long/"+c200+"/", 0o755)
			b.Dir("long/"+c200+"/"+strings.Repeat("d", 200)+"/", 0o755)
			b.Dir(long+"/", 0o755)
			b.File(long+"/"+strings.Repeat("f", 255), 0o644, txt("deep"))
			b.File(long+"/gnu-"+strings.Repeat("g", 150), 0o644, txt("gnu"), Format(tar.FormatGNU))
			b.Symlink("long/sym", long+"/"+strings.Repeat("f", 255))
			b.Symlink("long/gnusym", strings.Repeat("t", 300), Format(tar.FormatGNU))
			b.Hardlink(long+"/hard-"+strings.Repeat("h", 200), long+"/"+strings.Repeat("f", 255))
			b.File(strings.Repeat("n", 100), 0o644, txt("100"))
			b.File(strings.Repeat("m", 101), 0o644, txt("101"))
			b.Dir("long/"+strings.Repeat("p", 90)+"/", 0o755)
			b.File("long/"+strings.Repeat("p", 90)+"/"+strings.Repeat("s", 60), 0o644, txt("prefix"),
				Format(tar.FormatUSTAR))
			b.Dir("odd/", 0o755)
			b.File("odd/with space", 0o644, txt("sp"))
			b.File("odd/new\nline", 0o644, txt("nl"))
			b.File("odd/tab\there", 0o644, txt("tab"))
			b.File("odd/ü-ñ-日本語", 0o644, txt("utf8"))
			b.File("odd/-dash", 0o644, txt("dash"))
			b.File("odd/\\backslash\"quote", 0o644, txt("bq"))
			b.Symlink("odd/sym with space", "with space")
		}, nil},
	{"xattrs", "PAX xattrs: user.* on files and dirs (binary, empty, 4 KB values), security.capability, " +
		"user.* on a symlink and a fifo (containerd ignores those), xattrs on a parent copied up from lower",
		func(b *Builder) {
			base(b)
			b.Dir("xd/", 0o751, Owner(21, 22), Xattr("user.lower", "from-lower"), Xattr("user.other", "2"))
			b.File("xd/old", 0o644, txt("old"))
		},
		func(b *Builder) {
			b.Dir("x/", 0o755, Xattr("user.dir", "on a dir"))
			b.File("x/plain", 0o644, txt("p"), Xattr("user.a", "1"))
			b.File("x/binary", 0o644, txt("b"), Xattr("user.bin", "\x00\x01\xff\xfe\n="),
				Xattr("user.zz", "last"), Xattr("user.aa", "first"))
			b.File("x/empty-value", 0o644, txt("e"), Xattr("user.empty", ""))
			b.File("x/big-value", 0o644, txt("big"), Xattr("user.big", string(Pattern(7, 4000))))
			b.File("x/cap", 0o755, txt("cap"), Xattr("security.capability", vfsCapV2))
			b.Symlink("x/sym", "plain", Xattr("user.onlink", "ignored"))
			b.Fifo("x/fifo", 0o644, Xattr("user.onfifo", "ignored"))
			b.File("xd/new", 0o644, txt("new"))
		}, nil},
	{"setuid", "setuid/setgid/sticky bits on files and dirs, setuid with security.capability, owned setuid files",
		base, func(b *Builder) {
			b.Dir("s/", 0o755)
			b.File("s/suid", 0o4755, txt("suid"))
			b.File("s/sgid", 0o2755, txt("sgid"), Owner(0, 50))
			b.File("s/both", 0o6711, txt("both"))
			b.File("s/suid-user", 0o4750, txt("u"), Owner(1000, 1000))
			b.File("s/suid-cap", 0o4755, txt("c"), Xattr("security.capability", vfsCapV2))
			b.File("s/sticky-file", 0o1644, txt("t"))
			b.Dir("s/sticky/", 0o1777)
			b.Dir("s/sgiddir/", 0o2775, Owner(0, 50))
			b.Dir("s/sgiddir/sub/", 0o755)
			b.File("s/sgiddir/f", 0o644, txt("f"))
		}, nil},
	{"sparse", "sparse files in GNU's PAX 0.0, 0.1 and 1.0 formats; holes at start, middle and end, a file " +
		"that is all hole, a map long enough for old-GNU extension blocks", base, sparseUpper, nil},
	{"sparse-gnu", "the same sparse files as old-GNU 'S' entries (with extension blocks), compared with " +
		"containerd's apply of the same files as PAX 1.0 (containerd refuses 'S')", base,
		func(b *Builder) { sparseGNU(b, false) }, func(b *Builder) { sparseGNU(b, true) }},
	{"replace", "entries replacing entries: in lower's tree (dir over file, file over dir, symlink over file, " +
		"fifo over dir, dir over symlink) and inside one layer (file over file, file over a non-empty dir, dir " +
		"over file, symlink over file, dir over dir merges metadata, a hardlink's source replaced)",
		func(b *Builder) {
			b.File("x", 0o644, txt("x file"))
			b.Dir("y/", 0o755)
			b.File("y/inner", 0o644, txt("inner"))
			b.File("z", 0o644, txt("z file"))
			b.Dir("w/", 0o755)
			b.Symlink("v", "y")
			b.File("ldup", 0o644, txt("lower dup file"))
			b.Dir("ldup/", 0o710)
			b.File("ldup/in", 0o644, txt("in"))
		},
		func(b *Builder) {
			b.Dir("x/", 0o755)
			b.File("x/child", 0o644, txt("child"))
			b.File("y", 0o600, txt("y is a file now"))
			b.Symlink("z", "x")
			b.Fifo("w", 0o600)
			b.Dir("v/", 0o700)
			b.File("dup1", 0o644, txt("first"))
			b.File("dup1", 0o600, txt("second"), Owner(9, 9))
			b.Dir("dup2/", 0o700)
			b.File("dup2/in", 0o644, txt("in"))
			b.File("dup2", 0o644, txt("file over dir"))
			b.File("dup3", 0o644, txt("file first"))
			b.Dir("dup3/", 0o750)
			b.File("dup3/in", 0o644, txt("in"))
			b.File("dup4", 0o644, txt("file"))
			b.Symlink("dup4", "dup1")
			b.Dir("dup5/", 0o700, Owner(1, 1), Xattr("user.first", "1"))
			b.File("dup5/in", 0o644, txt("in"))
			b.Dir("dup5/", 0o755, Owner(2, 2), Xattr("user.second", "2"))
			b.File("dup6a", 0o644, txt("original"))
			b.Hardlink("dup6b", "dup6a")
			b.File("dup6a", 0o644, txt("replaced"))
		}, nil},
	{"parents", "parents the upper does not carry: copied from lower (mode, owner, times, xattrs) through " +
		"several levels, a parent that lower has as a file, one lower lacks, a dir entry after its child, " +
		"a parent that lower has as a symlink to a dir",
		func(b *Builder) {
			b.Dir("p/", 0o750, Owner(1234, 5678), Xattr("user.p", "lower-p"), Nanos(111))
			b.Dir("p/q/", 0o705, Owner(42, 43), Xattr("user.q", "lower-q"))
			b.File("p/q/old", 0o644, txt("old"))
			b.File("f", 0o644, txt("a file"))
			b.Dir("deep/", 0o711, Owner(1, 2))
			b.Dir("deep/a/", 0o733, Owner(3, 4))
			b.Dir("deep/a/b/", 0o1755, Owner(5, 6), Xattr("user.b", "bee"))
			b.Dir("deep/a/b/c/", 0o2750, Owner(7, 8))
			b.Dir("late/", 0o777, Owner(9, 10), Xattr("user.late", "lower"))
			b.Symlink("symdir", "p")
		},
		func(b *Builder) {
			b.File("p/q/new", 0o644, txt("new"))
			b.File("f/child", 0o644, txt("parent was a file"))
			b.File("missing/x", 0o644, txt("no parent anywhere"))
			b.Dir("deep/a/b/c/d/", 0o755)
			b.File("deep/a/b/c/d/e", 0o644, txt("e"))
			b.File("late/child", 0o644, txt("child first"))
			b.Dir("late/", 0o700, Owner(11, 12))
			b.File("symdir/z", 0o644, txt("lower has symdir as a symlink to a dir"))
		}, nil},
	{"lowerdirs", "directory entries for directories that lower has: the entry's own owner, mode and xattrs " +
		"only, none of lower's (containerd mkdirs them fresh in the upperdir, which hides lower's " +
		"metadata); one overriding a lower xattr, one naming none, one whose child comes first, an opaque one",
		func(b *Builder) {
			b.Dir("ld/", 0o750, Owner(31, 32), Xattr("user.keep", "lower-keep"), Xattr("user.over", "lower"))
			b.File("ld/old", 0o644, txt("old"))
			b.Dir("ln/", 0o711, Owner(33, 34), Xattr("user.n", "lower-n"))
			b.Dir("lc/", 0o700, Owner(35, 36), Xattr("user.c", "lower-c"))
			b.Dir("lo/", 0o755, Owner(37, 38), Xattr("user.o", "lower-o"))
			b.File("lo/hidden", 0o644, txt("hidden"))
		},
		func(b *Builder) {
			b.Dir("ld/", 0o755, Owner(1, 2), Xattr("user.over", "upper"), Xattr("security.capability", vfsCapV2))
			b.File("ld/new", 0o644, txt("new"))
			b.Dir("ln/", 0o755)
			b.File("lc/child", 0o644, txt("child first"))
			b.Dir("lc/", 0o751, Owner(3, 4))
			b.Dir("lo/", 0o705)
			b.File("lo/.wh..wh..opq", 0o644, nil)
		}, nil},
	{"names", "names as tar -C DIR . writes them (./ prefix, the ./ root entry containerd skips), unclean " +
		"names (a//b, a/./b, x/../y staying inside), a dir named without trailing slash",
		base, func(b *Builder) {
			b.Dir("./", 0o700)
			b.Dir("./n/", 0o755)
			b.File("./n/f", 0o644, txt("f"))
			b.File("n//double", 0o644, txt("double"))
			b.File("n/./dot", 0o644, txt("dot"))
			b.Dir("n/up/", 0o755)
			b.File("n/up/../upsafe", 0o644, txt("upsafe"))
			h := &tar.Header{Typeflag: tar.TypeDir, Name: "n/noslash", Mode: 0o755, ModTime: b.Tick()}
			b.Add(h, nil)
		}, nil},
}

func sparseFiles() []SparseFile {
	files := []SparseFile{
		{Name: "holes", RealSize: 3 << 20, Chunks: []Chunk{{Off: 0, Data: Pattern(11, 1024)},
			{Off: 1 << 20, Data: Pattern(12, 4096)}, {Off: 3<<20 - 10, Data: txt("0123456789")}}},
		{Name: "hole-end", RealSize: 1 << 20, Chunks: []Chunk{{Off: 512, Data: Pattern(13, 700)}}},
		{Name: "all-hole", RealSize: 5 << 20},
		{Name: "many", RealSize: 64 << 10},
	}
	// 30 chunks: old GNU needs two extension blocks.  Every chunk but the
	// last is whole blocks, as GNU tar writes them (see tarutil.sparseMap).
	for i := 0; i < 30; i++ {
		n := 512
		if i == 29 {
			n = 100
		}
		files[3].Chunks = append(files[3].Chunks, Chunk{Off: int64(i) * 2048, Data: Pattern(uint64(100+i), n)})
	}
	return files
}

// sparseUpper writes every sparse file in each PAX encoding.
func sparseUpper(b *Builder) {
	b.Dir("sp/", 0o755)
	for _, f := range sparseFiles() {
		f.Mode = 0o644
		for _, v := range []string{"0.0", "0.1", "1.0"} {
			g := f
			g.Name = "sp/pax" + v + "-" + f.Name
			g.MTime = b.Tick()
			p, err := g.PAX(v)
			if err != nil {
				panic(err)
			}
			b.Raw(p)
		}
	}
	b.File("sp/after", 0o644, txt("entry after the sparse ones"))
}

// sparseGNU writes the sparse files as old-GNU entries, or (asPAX, the
// reference containerd can apply) the same names and times as PAX 1.0.
func sparseGNU(b *Builder, asPAX bool) {
	b.Dir("sp/", 0o755)
	for _, f := range sparseFiles() {
		f.Mode = 0o640
		f.Name = "sp/gnu-" + f.Name
		f.MTime = b.Tick()
		if !asPAX {
			b.Raw(f.GNUOld())
			continue
		}
		p, err := f.PAX("1.0")
		if err != nil {
			panic(err)
		}
		b.Raw(p)
	}
	b.File("sp/after", 0o644, txt("entry after the sparse ones"))
}

// trailing: a valid layer followed by padding and junk after the end marker;
// the diff ID covers every byte.
func trailing(tarball []byte) []byte {
	out := append([]byte{}, tarball...)
	out = append(out, make([]byte, 10240-len(out)%10240)...)
	return append(out, []byte("junk after the end of the archive\n")...)
}
