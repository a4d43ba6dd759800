// rebaseunpack unpacks layers into stratad over gRPC as containerd 2.2's
// unpacker does with a snapshotter that has the "rebase" capability
// (core/unpack/unpacker.go, parallel mode): every layer is prepared without
// a parent, labelled with containerd.io/snapshot.ref, .../diff-id and, above
// the first, .../parent-chain-id; all are applied at once through the diff
// service (Apply with the mounts Prepare gave); then each is committed in
// order as its chain ID, with its parent's chain ID in
// CommitSnapshotRequest.parent (field 5, which containerd 1.6's API here
// lacks: the request is encoded by hand).
//
//	rebaseunpack unpack -address SOCK -content DIR LAYER...
//	    prints the chain IDs, bottom first
//	rebaseunpack commit -address SOCK KEY NAME PARENT
//	    commits KEY as NAME onto PARENT; prints OK or the status code
//
// LAYER files go into DIR/blobs/sha256 (containerd's content layout, the
// daemon's content_root).  Built by go_build (tests/lib.sh).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	diffapi "github.com/containerd/containerd/api/services/diff/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/archive/compression"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"strata-tests/rawgrpc"
)

const snapshotter = "strata"

// field appends a length-delimited protobuf field.
func field(b []byte, num int, data []byte) []byte {
	b = binary.AppendUvarint(b, uint64(num)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(data)))
	return append(b, data...)
}

// commitRequest encodes CommitSnapshotRequest with parent (field 5).
func commitRequest(key, name, parent string, labels map[string]string) []byte {
	var b []byte
	b = field(b, 1, []byte(snapshotter))
	b = field(b, 2, []byte(name))
	b = field(b, 3, []byte(key))
	for k, v := range labels {
		var e []byte
		e = field(e, 1, []byte(k))
		e = field(e, 2, []byte(v))
		b = field(b, 4, e)
	}
	if parent != "" {
		b = field(b, 5, []byte(parent))
	}
	return b
}

func commit(ctx context.Context, cc *grpc.ClientConn, key, name, parent string, labels map[string]string) error {
	var out []byte
	return cc.Invoke(ctx, "/containerd.services.snapshots.v1.Snapshots/Commit",
		commitRequest(key, name, parent, labels), &out, grpc.ForceCodec(rawgrpc.Codec{}))
}

func dial(address string) *grpc.ClientConn {
	cc, err := grpc.Dial("unix:"+address, grpc.WithInsecure(),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", address)
		}))
	if err != nil {
		fatalf("dial: %v", err)
	}
	return cc
}

type layer struct {
	desc   *types.Descriptor
	diffID digest.Digest
}

// store puts the blob in content's layout and reads what containerd's
// unpacker reads from the image config: its diff ID and media type.
func store(content, path string) layer {
	data, err := os.ReadFile(path)
	if err != nil {
		fatalf("%v", err)
	}
	d := fmt.Sprintf("%x", sha256.Sum256(data))
	dir := filepath.Join(content, "blobs", "sha256")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, d), data, 0o644); err != nil {
		fatalf("%v", err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	ds, err := compression.DecompressStream(f)
	if err != nil {
		fatalf("%s: %v", path, err)
	}
	h := sha256.New()
	io.Copy(h, ds)
	media := "application/vnd.oci.image.layer.v1.tar"
	switch ds.GetCompression() {
	case compression.Gzip:
		media += "+gzip"
	case compression.Zstd:
		media += "+zstd"
	}
	ds.Close()
	return layer{&types.Descriptor{MediaType: media, Digest: digest.Digest("sha256:" + d), Size_: int64(len(data))},
		digest.Digest(fmt.Sprintf("sha256:%x", h.Sum(nil)))}
}

func unpack(address, content string, files []string) {
	cc := dial(address)
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sn := snapshotsapi.NewSnapshotsClient(cc)
	df := diffapi.NewDiffClient(cc)
	layers := make([]layer, len(files))
	diffIDs := make([]digest.Digest, len(files))
	for i, f := range files {
		layers[i] = store(content, f)
		diffIDs[i] = layers[i].diffID
	}
	chains := identity.ChainIDs(append([]digest.Digest(nil), diffIDs...))
	keys := make([]string, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i := range layers {
		// A layer already there is skipped, as the unpacker skips it.
		if _, err := sn.Stat(ctx, &snapshotsapi.StatSnapshotRequest{Snapshotter: snapshotter, Key: chains[i].String()}); err == nil {
			continue
		}
		labels := map[string]string{
			"containerd.io/snapshot.ref":     chains[i].String(),
			"containerd.io/snapshot/diff-id": diffIDs[i].String(),
		}
		if i > 0 {
			labels["containerd.io/snapshot/parent-chain-id"] = chains[i-1].String()
		}
		keys[i] = fmt.Sprintf("extract-%d-%d %s", time.Now().Nanosecond(), i, chains[i])
		pr, err := sn.Prepare(ctx, &snapshotsapi.PrepareSnapshotRequest{Snapshotter: snapshotter, Key: keys[i], Labels: labels})
		if err != nil {
			fatalf("prepare %s: %v", keys[i], err)
		}
		wg.Add(1)
		go func(i int, mounts []*types.Mount) {
			defer wg.Done()
			res, err := df.Apply(ctx, &diffapi.ApplyRequest{Diff: layers[i].desc, Mounts: mounts})
			if err == nil && res.Applied.Digest != diffIDs[i] {
				err = fmt.Errorf("diff ID %s, want %s", res.Applied.Digest, diffIDs[i])
			}
			errs[i] = err
		}(i, pr.Mounts)
	}
	wg.Wait()
	for i := range layers {
		if errs[i] != nil {
			fatalf("apply layer %d: %v", i, errs[i])
		}
		if keys[i] == "" {
			fmt.Println(chains[i])
			continue
		}
		parent := ""
		if i > 0 {
			parent = chains[i-1].String()
		}
		if err := commit(ctx, cc, keys[i], chains[i].String(), parent,
			map[string]string{"containerd.io/snapshot.ref": chains[i].String()}); err != nil {
			fatalf("commit layer %d: %v", i, err)
		}
		fmt.Println(chains[i])
	}
}

func main() {
	if len(os.Args) < 2 {
		fatalf("usage: rebaseunpack unpack|commit ...")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	address := fs.String("address", "", "stratad gRPC socket")
	content := fs.String("content", "", "content directory (unpack)")
	fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "unpack":
		unpack(*address, *content, fs.Args())
	case "commit":
		if fs.NArg() != 3 {
			fatalf("usage: rebaseunpack commit -address SOCK KEY NAME PARENT")
		}
		cc := dial(*address)
		defer cc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := commit(ctx, cc, fs.Arg(0), fs.Arg(1), fs.Arg(2), nil)
		if err == nil {
			fmt.Println("OK")
		} else {
			fmt.Println(status.Code(err), status.Convert(err).Message())
		}
	default:
		fatalf("unknown command %s", os.Args[1])
	}
}

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "rebaseunpack: "+format+"\n", args...)
	os.Exit(1)
}
