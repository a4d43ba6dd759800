// ctrdapply applies one layer file to a directory with containerd 1.6's own
// code, the reference side of strata's differential test (tests/integration/
// apply-vs-containerd.sh).  It does what containerd's walking differ does for a
// snapshot (diff/apply/apply.go + apply_linux.go), minus the content store:
//
//   - the blob is decompressed by compression.DecompressStream (magic-number
//     detection: gzip through unpigz when it is on the PATH, else Go's gzip;
//     zstd; anything else passes through as a plain tar);
//   - the uncompressed bytes are hashed as they are read, then whatever
//     follows the end of the tar is read too (containerd's "read any trailing
//     data"), so the printed diff ID is sha256 of the whole uncompressed stream;
//   - -mode overlay (a snapshot with parents, mounted as overlay): archive.Apply
//     into the upperdir with the overlay whiteout converter and the lower dirs
//     as parents, exactly the options apply_linux.go builds from
//     `upperdir=`/`lowerdir=`;
//   - -mode bind (a snapshot without parents: overlay snapshotter hands out a
//     bind mount, apply_linux.go falls through to mount.WithTempMount):
//     archive.Apply with no options, so whiteouts delete instead of converting.
//     The bind mount itself changes nothing about the written tree, so the
//     directory is used directly.
//
// Usage:
//
//	ctrdapply [-mode overlay|bind] [-parents DIR[:DIR...]] ROOT FILE|-
//
// -parents is lowerdir= order (nearest first).  Prints `sha256:HEX` on
// stdout; with -size also the uncompressed size.  Exit 1 with containerd's
// error on stderr when the apply fails.
//
// Built by go_build (tests/lib.sh).
package main

import (
	"context"
	_ "crypto/sha256" // registers the hash go-digest uses
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/containerd/containerd/archive"
	"github.com/containerd/containerd/archive/compression"
	"github.com/containerd/containerd/log"
	"github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"
)

var (
	mode     = flag.String("mode", "overlay", "overlay (snapshot with parents) or bind (no parents)")
	parents  = flag.String("parents", "", "lower directories, nearest first, ':'-separated (overlay mode)")
	showSize = flag.Bool("size", false, "also print the uncompressed size in bytes")
	verbose  = flag.Bool("v", false, "show containerd's debug and warning log on stderr")
)

// readCounter counts the bytes read through it, as the differ's does.
type readCounter struct {
	r io.Reader
	c int64
}

func (rc *readCounter) Read(p []byte) (int, error) {
	n, err := rc.r.Read(p)
	rc.c += int64(n)
	return n, err
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: ctrdapply [-mode overlay|bind] [-parents DIR[:DIR...]] [-size] ROOT FILE|-\n")
	flag.PrintDefaults()
	os.Exit(2)
}

func main() {
	flag.Usage = usage
	flag.Parse()
	if flag.NArg() != 2 {
		usage()
	}
	root, file := flag.Arg(0), flag.Arg(1)

	// containerd runs under systemd's default umask; every mode archive.Apply
	// writes is set explicitly afterwards anyway, but keep the same start.
	syscall.Umask(0o022)

	if *verbose {
		logrus.SetLevel(logrus.DebugLevel)
	} else {
		logrus.SetLevel(logrus.ErrorLevel)
	}
	ctx := log.WithLogger(context.Background(), log.L)

	var opts []archive.ApplyOpt
	switch *mode {
	case "overlay":
		opts = append(opts, archive.WithConvertWhiteout(archive.OverlayConvertWhiteout))
		if *parents != "" {
			opts = append(opts, archive.WithParents(strings.Split(*parents, ":")))
		}
	case "bind":
		if *parents != "" {
			fatalf("-parents makes no sense with -mode bind (a snapshot without parents)")
		}
	default:
		usage()
	}

	in := os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			fatalf("%v", err)
		}
		defer f.Close()
		in = f
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		fatalf("%v", err)
	}

	ds, err := compression.DecompressStream(in)
	if err != nil {
		fatalf("decompress: %v", err)
	}
	defer ds.Close()

	digester := digest.Canonical.Digester()
	rc := &readCounter{r: io.TeeReader(ds, digester.Hash())}
	if _, err := archive.Apply(ctx, abs, rc, opts...); err != nil {
		fatalf("apply: %v", err)
	}
	// Read any trailing data: it counts in the diff ID.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		fatalf("read trailing data: %v", err)
	}
	fmt.Println(digester.Digest())
	if *showSize {
		fmt.Println(rc.c)
	}
}

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "ctrdapply: "+format+"\n", args...)
	os.Exit(1)
}
