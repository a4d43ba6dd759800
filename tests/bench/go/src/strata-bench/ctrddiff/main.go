// Command ctrddiff creates a layer the way containerd 1.6's walking differ
// does (diff/walking/differ.go, Compare), the peer of `strata diff` in
// tests/bench/diff.sh:
//
//   - the tar stream is archive.WriteDiff(ctx, w, lower, upper): continuity's
//     fs.Changes double walk of the two trees feeding archive's ChangeWriter;
//   - w is io.MultiWriter(compressed, uncompressed digester), compressed is
//     compression.CompressStream(out, Gzip|Zstd) (Go's compress/gzip at its
//     default level; klauspost zstd with its default options, which is what
//     containerd 1.6 offers for zstd);
//   - out stands for the content store's writer (content/local/writer.go):
//     every write goes to the file and into a SHA-256 digester, so the
//     compressed digest is computed while writing.
//
// Without -lower the lower tree is a fresh empty directory, as the differ's
// temporary mount of an empty mount list is for a snapshot without parents.
// The differ's temporary (bind) mounts are left out: the bench points this at
// the snapshot's directory directly, so every side reads the same inodes.
// The content store also fsyncs the blob at commit; -sync does that too.
// diff.sh leaves it off because no other side syncs its output either.
//
// Usage:
//
//	ctrddiff [-c gzip|zstd] [-lower DIR] [-sync] -o OUT UPPER
//
// Prints `digest: sha256:HEX`, `size: N` and `uncompressed: sha256:HEX`.
//
// Build (offline, GOPATH mode):
//
//	GO111MODULE=off GOPATH=$PWD/tests/bench/go:$PWD/tests/go:/usr/share/gocode \
//		go build -o ctrddiff strata-bench/ctrddiff
package main

import (
	"context"
	_ "crypto/sha256" // registers the hash go-digest uses
	"flag"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/containerd/containerd/archive"
	"github.com/containerd/containerd/archive/compression"
	"github.com/opencontainers/go-digest"
)

var (
	format = flag.String("c", "gzip", "compression: gzip or zstd")
	lower  = flag.String("lower", "", "lower tree (default: a new empty directory)")
	output = flag.String("o", "", "output file (created or truncated)")
	doSync = flag.Bool("sync", false, "fsync the output before closing it, as the content store's commit does")
)

// blobWriter is the content store writer's Write: file, then digester.
type blobWriter struct {
	f    *os.File
	h    hash.Hash
	size int64
}

func (w *blobWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.size += int64(n)
	return n, err
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: ctrddiff [-c gzip|zstd] [-lower DIR] [-sync] -o OUT UPPER\n")
	flag.PrintDefaults()
	os.Exit(2)
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "ctrddiff: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	flag.Usage = usage
	flag.Parse()
	if flag.NArg() != 1 || *output == "" {
		usage()
	}
	upper := flag.Arg(0)
	var algo compression.Compression
	switch *format {
	case "gzip":
		algo = compression.Gzip
	case "zstd":
		algo = compression.Zstd
	default:
		usage()
	}

	lowerDir := *lower
	if lowerDir == "" {
		d, err := os.MkdirTemp("", "ctrddiff-lower-")
		if err != nil {
			fail("empty lower dir: %v", err)
		}
		defer os.Remove(d)
		lowerDir = d
	}

	f, err := os.OpenFile(*output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0644)
	if err != nil {
		fail("%v", err)
	}
	blob := &blobWriter{f: f, h: digest.SHA256.Digester().Hash()}
	compressed, err := compression.CompressStream(blob, algo)
	if err != nil {
		fail("failed to get compressed stream: %v", err)
	}
	dgstr := digest.SHA256.Digester()
	err = archive.WriteDiff(context.Background(), io.MultiWriter(compressed, dgstr.Hash()), lowerDir, upper)
	// The differ closes the compressor whether or not the diff failed.
	cerr := compressed.Close()
	if err != nil {
		fail("failed to write compressed diff: %v", err)
	}
	if cerr != nil {
		fail("close compressor: %v", cerr)
	}
	if *doSync {
		if err := f.Sync(); err != nil {
			fail("sync failed: %v", err)
		}
	}
	if err := f.Close(); err != nil {
		fail("close %s: %v", *output, err)
	}
	fmt.Printf("digest: %s\nsize: %d\nuncompressed: %s\n",
		digest.NewDigest(digest.SHA256, blob.h), blob.size, dgstr.Digest())
}
