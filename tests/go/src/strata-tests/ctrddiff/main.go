// ctrddiff writes the layer of the changes from LOWER to UPPER with
// containerd 1.6's own code, exactly as its walking differ does it
// (diff/walking/differ.go, Compare), minus the content store and the
// temporary mounts: the reference side of tests/integration/diff-roundtrip.sh.
//
//   - the tar stream is archive.WriteDiff(ctx, w, lower, upper): continuity's
//     fs.Changes double walk of the two trees feeding archive's ChangeWriter
//     (which writes whole-second mtimes, only the security.capability xattr,
//     and whiteouts stamped with the time of the diff);
//   - uncompressed (-c tar): w is the output itself;
//   - compressed (-c gzip|zstd): w is io.MultiWriter(compressed, digester of
//     the uncompressed stream), compressed = compression.CompressStream(out,
//     Gzip|Zstd), closed after WriteDiff, as Compare does;
//   - out stands for the content store's writer: what is written is hashed,
//     which is the blob's digest.
//
// The differ mounts lower read-write and upper read-only (WithTempMount,
// WithReadonlyTempMount); pass directories that are already mounted so (the
// test passes the child snapshot's overlay, mounted read-only).
//
// Usage:
//
//	ctrddiff [-c tar|gzip|zstd] [-o FILE|-] LOWER UPPER
//
// Prints two lines: the blob's digest and the uncompressed digest (the diff
// ID, which containerd puts in the containerd.io/uncompressed label of a
// compressed blob), `sha256:HEX` each, on stdout, or on stderr when the layer
// itself goes to stdout (-o - or no -o).  Exit 1 with containerd's error.
//
// Built by go_build (tests/lib.sh).
package main

import (
	"bufio"
	"context"
	_ "crypto/sha256" // registers the hash go-digest uses
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/containerd/containerd/archive"
	"github.com/containerd/containerd/archive/compression"
	"github.com/containerd/containerd/log"
	"github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"
)

var (
	format  = flag.String("c", "tar", "compression: tar (none), gzip or zstd")
	output  = flag.String("o", "-", "output file, - for stdout")
	verbose = flag.Bool("v", false, "show containerd's debug and warning log on stderr")
)

func usage() {
	fmt.Fprintf(os.Stderr, "usage: ctrddiff [-c tar|gzip|zstd] [-o FILE|-] LOWER UPPER\n")
	flag.PrintDefaults()
	os.Exit(2)
}

func main() {
	flag.Usage = usage
	flag.Parse()
	if flag.NArg() != 2 {
		usage()
	}
	lower, upper := flag.Arg(0), flag.Arg(1)

	var comp compression.Compression
	switch *format {
	case "tar":
		comp = compression.Uncompressed
	case "gzip":
		comp = compression.Gzip
	case "zstd":
		comp = compression.Zstd
	default:
		usage()
	}
	if *verbose {
		logrus.SetLevel(logrus.DebugLevel)
	} else {
		logrus.SetLevel(logrus.ErrorLevel)
	}
	ctx := log.WithLogger(context.Background(), log.L)

	out, report := os.Stdout, os.Stdout
	if *output != "-" {
		f, err := os.Create(*output)
		if err != nil {
			fatalf("%v", err)
		}
		out = f
	} else {
		report = os.Stderr
	}
	// The content store's writer: buffered file writes, hashed as written.
	blob := digest.Canonical.Digester()
	bw := bufio.NewWriterSize(out, 1<<20)
	cw := io.MultiWriter(bw, blob.Hash())

	var diffID digest.Digest
	if comp == compression.Uncompressed {
		if err := archive.WriteDiff(ctx, cw, lower, upper); err != nil {
			fail(out, "failed to write diff: %v", err)
		}
	} else {
		dgstr := digest.SHA256.Digester()
		compressed, err := compression.CompressStream(cw, comp)
		if err != nil {
			fail(out, "failed to get compressed stream: %v", err)
		}
		err = archive.WriteDiff(ctx, io.MultiWriter(compressed, dgstr.Hash()), lower, upper)
		compressed.Close()
		if err != nil {
			fail(out, "failed to write compressed diff: %v", err)
		}
		diffID = dgstr.Digest()
	}
	if err := bw.Flush(); err != nil {
		fail(out, "write output: %v", err)
	}
	if out != os.Stdout {
		if err := out.Close(); err != nil {
			fail(nil, "close output: %v", err)
		}
	}
	if diffID == "" {
		diffID = blob.Digest()
	}
	fmt.Fprintf(report, "%s\n%s\n", blob.Digest(), diffID)
}

// fail removes a partly written output file (never stdout) and exits 1.
func fail(out *os.File, format string, args ...interface{}) {
	if out != nil && out != os.Stdout {
		out.Close()
		os.Remove(out.Name())
	}
	fatalf(format, args...)
}

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "ctrddiff: "+format+"\n", args...)
	os.Exit(1)
}
