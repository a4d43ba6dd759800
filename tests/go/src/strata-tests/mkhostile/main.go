// mkhostile writes one layer per hostile case for strata's hostile-layer
// suite (tests/integration/hostile.sh) and a list of the cases with the
// outcome each should have:
//
//	mkhostile -o DIR -canary DIR [-bomb-size BYTES] [-flood N] [-depth N]
//
// DIR/cases has one line per case: `NAME FILE CLASS DESCRIPTION...`, where
// CLASS is
//
//	refused          the apply must fail with a message (escapes, smuggled
//	                 trusted.* xattrs, limits, malformed streams);
//	accepted-safely  the apply must succeed and stay inside the target
//	                 (containerd accepts these too);
//	either           strata may refuse or handle it as containerd does, but
//	                 must stay inside the target either way.
//
// Every escape aims at -canary (an absolute directory the test checksums
// before and after) and every payload is named strata-pwned-*, so a test can
// look for stray files by name.
//
// Built by go_build (tests/lib.sh).
package main

import (
	"archive/tar"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	. "strata-tests/mklayers/tarutil"
)

var (
	out      = flag.String("o", "", "output directory")
	canary   = flag.String("canary", "", "absolute directory the escapes aim at")
	bombSize = flag.Int64("bomb-size", 1<<30, "uncompressed size of the gzip bomb's one file")
	flood    = flag.Int("flood", 200000, "entries in the inode flood")
	depth    = flag.Int("depth", 5000, "nesting of the deep tree")
)

type hcase struct {
	name, class, what string
	file              string // set when written
}

var vfsCapV2 = string([]byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})

func main() {
	flag.Parse()
	if *out == "" || !filepath.IsAbs(*canary) || flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "usage: mkhostile -o DIR -canary ABSDIR [-bomb-size N] [-flood N] [-depth N]\n")
		os.Exit(2)
	}
	if err := run(*out, filepath.Clean(*canary)); err != nil {
		fmt.Fprintf(os.Stderr, "mkhostile: %v\n", err)
		os.Exit(1)
	}
}

func run(dir, cv string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// up is enough ../ to leave any target and reach / from it.
	up := strings.Repeat("../", 64)
	rel := strings.TrimPrefix(cv, "/")
	var list []hcase
	write := func(c hcase, ext string, p []byte) error {
		c.file = c.name + ext
		list = append(list, c)
		return os.WriteFile(filepath.Join(dir, c.file), p, 0o644)
	}
	tarCase := func(name, class, what string, f func(b *Builder)) error {
		b := NewBuilder()
		f(b)
		p, err := b.Bytes()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return write(hcase{name: name, class: class, what: what}, ".tar", p)
	}
	file := func(b *Builder, name string) { b.File(name, 0o644, []byte("pwned\n")) }

	steps := []func() error{
		func() error {
			return tarCase("dotdot", "refused", "../ paths climbing out of the target", func(b *Builder) {
				file(b, up+rel+"/strata-pwned-dotdot")
				file(b, "a/../../"+up+rel+"/strata-pwned-dotdot2")
			})
		},
		func() error {
			return tarCase("absolute", "refused", "absolute paths into the canary", func(b *Builder) {
				file(b, cv+"/strata-pwned-abs")
			})
		},
		func() error {
			return tarCase("symlink-escape", "refused", "a symlink to the canary, then a file written through it",
				func(b *Builder) {
					b.Symlink("evil", cv)
					file(b, "evil/strata-pwned-symlink")
				})
		},
		func() error {
			return tarCase("symlink-escape-rel", "refused", "a relative symlink climbing out, then writes "+
				"through it (file, dir, and a chmod of an existing canary file by re-declaring it)",
				func(b *Builder) {
					b.Symlink("evil", up+rel)
					file(b, "evil/strata-pwned-symlink-rel")
					b.Dir("evil/strata-pwned-dir/", 0o777)
					b.File("evil/file", 0o777, []byte("overwritten\n"), Owner(1234, 1234))
				})
		},
		func() error {
			return tarCase("symlink-dir-chain", "refused", "a symlink inside the target to a symlink out, "+
				"then a write through the chain", func(b *Builder) {
				b.Dir("d/", 0o755)
				b.Symlink("d/out", up+rel)
				b.Symlink("chain", "d/out")
				file(b, "chain/strata-pwned-chain")
			})
		},
		func() error {
			return tarCase("hardlink-outside", "refused", "hardlinks to a canary file by ../ and absolute name",
				func(b *Builder) {
					b.Hardlink("strata-pwned-hl1", up+rel+"/file", Mode(0o4777), Owner(1234, 1234))
					b.Hardlink("strata-pwned-hl2", cv+"/file", Mode(0o4777), Owner(1234, 1234))
				})
		},
		func() error {
			return tarCase("hardlink-via-symlink", "refused", "a hardlink whose target path goes through a "+
				"symlink to the canary", func(b *Builder) {
				b.Symlink("evil", cv)
				b.Hardlink("strata-pwned-hl3", "evil/file", Mode(0o4777), Owner(1234, 1234))
			})
		},
		func() error {
			return tarCase("hardlink-to-symlink", "accepted-safely", "a hardlink to a symlink that points at a "+
				"canary file, carrying mode 04777 and an owner: must link the symlink itself, never chmod/chown "+
				"through it", func(b *Builder) {
				b.Symlink("s-abs", cv+"/file")
				b.Hardlink("h-abs", "s-abs", Mode(0o4777), Owner(1234, 1234))
				b.Symlink("s-rel", up+rel+"/file")
				b.Hardlink("h-rel", "s-rel", Mode(0o4777), Owner(1234, 1234))
			})
		},
		func() error {
			return tarCase("whiteout-dotdot", "refused", "a whiteout of .. (.wh..)", func(b *Builder) {
				b.Dir("a/", 0o755)
				file(b, "a/.wh..")
			})
		},
		func() error {
			return tarCase("whiteout-absolute", "refused", "whiteouts naming the canary by absolute and ../ path",
				func(b *Builder) {
					file(b, cv+"/.wh.file")
					file(b, up+rel+"/.wh.file")
				})
		},
		func() error {
			return tarCase("opaque-root", "either", "an opaque marker at the root of the layer", func(b *Builder) {
				file(b, ".wh..wh..opq")
				file(b, "ok")
			})
		},
		func() error {
			return tarCase("trusted-xattr", "refused", "smuggled trusted.overlay.* xattrs (opaque, redirect, "+
				"origin, metacopy)", func(b *Builder) {
				b.Dir("d/", 0o755, Xattr("trusted.overlay.opaque", "y"))
				b.Dir("r/", 0o755, Xattr("trusted.overlay.redirect", cv))
				b.File("f", 0o644, []byte("x"), Xattr("trusted.overlay.origin", "\x00\xfb"),
					Xattr("trusted.overlay.metacopy", ""))
			})
		},
		func() error {
			return tarCase("setuid-cap", "accepted-safely", "setuid root file with security.capability (kept "+
				"as containerd keeps it unless stripping is configured)", func(b *Builder) {
				b.File("suid", 0o4755, []byte("#!/bin/sh\n"), Xattr("security.capability", vfsCapV2))
				b.File("sgid", 0o2755, []byte("#!/bin/sh\n"), Owner(0, 0))
			})
		},
		func() error {
			return tarCase("devices", "accepted-safely", "device nodes (/dev/mem, /dev/sda, /dev/kmsg)",
				func(b *Builder) {
					b.Dev("mem", tar.TypeChar, 1, 1, 0o666)
					b.Dev("sda", tar.TypeBlock, 8, 0, 0o666)
					b.Dev("kmsg", tar.TypeChar, 1, 11, 0o666)
				})
		},
		func() error {
			return bomb(dir, *bombSize, &list)
		},
		func() error {
			b := NewBuilder()
			for i := 0; i < *flood; i++ {
				if i%10000 == 0 {
					b.Dir(fmt.Sprintf("f%03d/", i/10000), 0o755)
				}
				b.File(fmt.Sprintf("f%03d/%d", i/10000, i), 0o644, nil)
			}
			p, err := b.Bytes()
			if err != nil {
				return err
			}
			return write(hcase{name: "inode-flood", class: "either",
				what: fmt.Sprintf("%d empty files (gzip): refused by the entry limit or applied", *flood)},
				".tar.gz", Gzip(p, 1))
		},
		func() error {
			return tarCase("deep-tree", "refused", fmt.Sprintf("%d nested directories (paths of %d bytes)",
				*depth, 2**depth), func(b *Builder) {
				p := ""
				for i := 0; i < *depth; i++ {
					p += "d/"
					b.Dir(p, 0o755)
				}
				file(b, p+"strata-pwned-deep")
			})
		},
		func() error {
			b := NewBuilder()
			b.Dir("t/", 0o755)
			b.File("t/big", 0o644, Pattern(5, 100000))
			p, err := b.Bytes()
			if err != nil {
				return err
			}
			if err := write(hcase{name: "truncated", class: "refused", what: "a tar cut in the middle of a file"},
				".tar", p[:50000]); err != nil {
				return err
			}
			if err := write(hcase{name: "truncated-header", class: "refused",
				what: "a tar cut in the middle of a header"}, ".tar", p[:512+300]); err != nil {
				return err
			}
			gz := Gzip(p, 1)
			if err := write(hcase{name: "truncated-gzip", class: "refused", what: "a gzip stream cut short"},
				".tar.gz", gz[:len(gz)/2]); err != nil {
				return err
			}
			bad := append([]byte{}, gz...)
			for i := len(bad) / 3; i < len(bad)/3+64; i++ {
				bad[i] ^= 0x5a
			}
			if err := write(hcase{name: "corrupt-gzip", class: "refused", what: "a gzip stream with flipped bytes"},
				".tar.gz", bad); err != nil {
				return err
			}
			crc := append([]byte{}, gz...)
			crc[len(crc)-6] ^= 0xff // CRC32 in the trailer
			if err := write(hcase{name: "gzip-bad-crc", class: "refused", what: "a gzip stream whose CRC is wrong"},
				".tar.gz", crc); err != nil {
				return err
			}
			zs := Zstd(p, false)
			if err := write(hcase{name: "truncated-zstd", class: "refused", what: "a zstd stream cut short"},
				".tar.zst", zs[:len(zs)/2]); err != nil {
				return err
			}
			hdr := append([]byte{}, p...)
			hdr[148] ^= 0x07 // header checksum
			return write(hcase{name: "bad-checksum", class: "refused", what: "a header with a wrong checksum"},
				".tar", hdr)
		},
		func() error {
			return write(hcase{name: "garbage", class: "refused", what: "64 KiB of random bytes"}, ".bin",
				Pattern(99, 64<<10))
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	var b strings.Builder
	for _, c := range list {
		fmt.Fprintf(&b, "%s %s %s %s\n", c.name, c.file, c.class, c.what)
	}
	return os.WriteFile(filepath.Join(dir, "cases"), []byte(b.String()), 0o644)
}

// bomb writes a gzip'd tar of one file of size zeros, streaming (the
// uncompressed tar is never in memory).
func bomb(dir string, size int64, list *[]hcase) error {
	name := "gzip-bomb.tar.gz"
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := StreamZeroFile(f, "strata-bomb", size); err != nil {
		return err
	}
	*list = append(*list, hcase{name: "gzip-bomb", class: "refused", file: name,
		what: fmt.Sprintf("gzip, %d bytes of zeros in one file: refused by the uncompressed-size limit", size)})
	return f.Close()
}
