// mklayers writes the layers of strata's differential test
// (tests/integration/apply-vs-containerd.sh) into a directory, deterministically.
//
//	mklayers -o DIR [-real-lower DIR] [-real-upper DIR]
//	mklayers -from DIR [-prefix P] -o FILE
//
// The first form writes pairs of layers (NAME.lower.tar*, NAME.upper.tar*)
// and DIR/pairs, one line per pair: `NAME LOWER UPPER REF DESCRIPTION...`
// (file names relative to DIR; REF is "-", or the upper containerd applies
// in place of UPPER because it refuses UPPER's encoding, see cases.go).  See cases.go for what each pair exercises; some
// pairs are compressed variants (gzip, multi-member gzip, zstd, zstd behind
// a skippable frame) and one carries trailing bytes after the end of the
// archive.  -real-lower / -real-upper add a pair tarred from this machine's
// directories ("" skips it).
//
// The second form tars one real directory like `tar -C DIR .` would, but
// deterministically: sorted, numeric owners only, nanosecond mtimes (PAX),
// xattrs of every namespace but trusted.*, hardlinks as links to the first
// name, devices, fifos (sockets are skipped).  With -prefix the entries are
// named P/...; P's own components are left out, so applying the tar needs
// its parents made (containerd's mkparent path).
//
// Built by go_build (tests/lib.sh).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"strata-tests/mklayers/tarutil"
)

var (
	out       = flag.String("o", "", "output directory (or file with -from)")
	from      = flag.String("from", "", "tar this directory into -o FILE")
	prefix    = flag.String("prefix", "", "with -from: name entries PREFIX/...")
	realLower = flag.String("real-lower", "/usr/share/doc", "real directory tarred as the lower of pair `real` (\"\" skips)")
	realUpper = flag.String("real-upper", "/usr/lib/x86_64-linux-gnu/perl-base", "real directory tarred as the upper of pair `real`")
)

func main() {
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "usage: mklayers -o DIR [-real-lower DIR] [-real-upper DIR]\n"+
			"       mklayers -from DIR [-prefix P] -o FILE\n")
		os.Exit(2)
	}
	var err error
	if *from != "" {
		var p []byte
		if p, err = tarDir(*from, *prefix); err == nil {
			err = os.WriteFile(*out, p, 0o644)
		}
	} else {
		err = writePairs(*out)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mklayers: %v\n", err)
		os.Exit(1)
	}
}

type pairLine struct{ name, lower, upper, ref, what string }

func build(f func(*tarutil.Builder)) ([]byte, error) {
	b := tarutil.NewBuilder()
	f(b)
	return b.Bytes()
}

func writePairs(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string][]byte{}
	var lines []pairLine
	add := func(name, what string, lower, upper string) {
		lines = append(lines, pairLine{name, lower, upper, "-", what})
	}
	for _, p := range pairs {
		lo, err := build(p.lower)
		if err != nil {
			return fmt.Errorf("pair %s lower: %w", p.name, err)
		}
		up, err := build(p.upper)
		if err != nil {
			return fmt.Errorf("pair %s upper: %w", p.name, err)
		}
		files[p.name+".lower.tar"], files[p.name+".upper.tar"] = lo, up
		add(p.name, p.what, p.name+".lower.tar", p.name+".upper.tar")
		if p.ref != nil {
			ref, err := build(p.ref)
			if err != nil {
				return fmt.Errorf("pair %s reference: %w", p.name, err)
			}
			files[p.name+".ref.tar"] = ref
			lines[len(lines)-1].ref = p.name + ".ref.tar"
		}
	}

	// Compressed variants of the every-type pair.
	lo, up := files["types.lower.tar"], files["types.upper.tar"]
	files["types.lower.tar.gz"], files["types.upper.tar.gz"] = tarutil.Gzip(lo, 1), tarutil.Gzip(up, 1)
	add("types-gzip", "pair `types`, gzip", "types.lower.tar.gz", "types.upper.tar.gz")
	files["types.upper.multi.tar.gz"] = tarutil.Gzip(up, 3)
	add("types-gzip-multi", "pair `types`, upper as three concatenated gzip members",
		"types.lower.tar.gz", "types.upper.multi.tar.gz")
	files["types.lower.tar.zst"], files["types.upper.tar.zst"] = tarutil.Zstd(lo, false), tarutil.Zstd(up, false)
	add("types-zstd", "pair `types`, zstd", "types.lower.tar.zst", "types.upper.tar.zst")
	files["types.upper.skippable.tar.zst"] = tarutil.Zstd(up, true)
	add("types-zstd-skippable", "pair `types`, upper zstd behind a skippable frame",
		"types.lower.tar.zst", "types.upper.skippable.tar.zst")
	files["whiteout.upper.tar.gz"] = tarutil.Gzip(files["whiteout.upper.tar"], 1)
	add("whiteout-gzip", "pair `whiteout`, upper gzip", "whiteout.lower.tar", "whiteout.upper.tar.gz")
	files["sparse.upper.tar.zst"] = tarutil.Zstd(files["sparse.upper.tar"], false)
	add("sparse-zstd", "pair `sparse`, upper zstd", "sparse.lower.tar", "sparse.upper.tar.zst")

	// Bytes after the end of the archive count in the diff ID.
	files["trailing.upper.tar"] = trailing(up)
	files["trailing.upper.tar.gz"] = tarutil.Gzip(files["trailing.upper.tar"], 1)
	add("trailing", "pair `types` with a 10 KiB record pad and junk after the end marker",
		"types.lower.tar", "trailing.upper.tar")
	add("trailing-gzip", "the same, gzip", "types.lower.tar", "trailing.upper.tar.gz")

	if *realLower != "" && *realUpper != "" {
		rl, err := tarDir(*realLower, strings.TrimPrefix(*realLower, "/"))
		if err != nil {
			return err
		}
		ru, err := tarDir(*realUpper, strings.TrimPrefix(*realUpper, "/"))
		if err != nil {
			return err
		}
		files["real.lower.tar"], files["real.upper.tar"] = rl, ru
		what := fmt.Sprintf("this machine's %s under %s", *realUpper, *realLower)
		add("real", what, "real.lower.tar", "real.upper.tar")
		files["real.lower.tar.gz"], files["real.upper.tar.zst"] = tarutil.Gzip(rl, 1), tarutil.Zstd(ru, false)
		add("real-compressed", what+", lower gzip, upper zstd", "real.lower.tar.gz", "real.upper.tar.zst")
	}

	for name, p := range files {
		if err := os.WriteFile(filepath.Join(dir, name), p, 0o644); err != nil {
			return err
		}
	}
	var list strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&list, "%s %s %s %s %s\n", l.name, l.lower, l.upper, l.ref, l.what)
	}
	return os.WriteFile(filepath.Join(dir, "pairs"), []byte(list.String()), 0o644)
}
