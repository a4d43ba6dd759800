// snapguard makes one snapshot or diff call to stratad over gRPC, the way
// containerd does, and prints the outcome, for tests/integration/
// commit-guard.sh: the snapshot calls through containerd's own proxy
// snapshotter (snapshots/proxy, as a proxy plugin is reached), the diff
// calls through the diff v1 client (containerd 1.6 has no diff proxy; its
// own diff service client sends the same requests).
//
//	snapguard -address SOCK [-content DIR] OP ARGS...
//	  commit NAME KEY      Commit
//	  remove KEY           Remove
//	  label KEY K=V        Update of one label
//	  apply KEY FILE       Apply of FILE (a layer; put into DIR's blobs/sha256
//	                       first) to the mounts of active snapshot KEY
//	  diff LOWER UPPER     Diff between the mounts of LOWER and UPPER
//
// Prints `OK` or `CODE: message` (CODE a gRPC status name such as
// FailedPrecondition) and exits 0; exit 2 for a usage or connection error.
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	diffapi "github.com/containerd/containerd/api/services/diff/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/mount"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/containerd/snapshots/proxy"
	"github.com/opencontainers/go-digest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "snapguard: "+format+"\n", args...)
	os.Exit(2)
}

func report(err error) {
	if err == nil {
		fmt.Println("OK")
		return
	}
	// The proxy turns statuses into errdefs errors; back to a status for
	// its code.  The diff client's errors are statuses already.
	st, ok := status.FromError(err)
	if !ok || st.Code() == 0 {
		st, _ = status.FromError(errdefs.ToGRPC(err))
	}
	fmt.Printf("%s: %s\n", st.Code(), st.Message())
}

func toTypes(ms []mount.Mount) []*types.Mount {
	out := make([]*types.Mount, len(ms))
	for i, m := range ms {
		out[i] = &types.Mount{Type: m.Type, Source: m.Source, Options: m.Options}
	}
	return out
}

// putBlob stores data as a blob of the content directory, as containerd's
// content store would hold it.
func putBlob(content string, data []byte) string {
	d := fmt.Sprintf("%x", sha256.Sum256(data))
	dir := filepath.Join(content, "blobs", "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fatalf("%v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, d), data, 0o644); err != nil {
		fatalf("%v", err)
	}
	return "sha256:" + d
}

func main() {
	address := flag.String("address", "", "stratad gRPC socket")
	content := flag.String("content", "", "content directory (apply)")
	flag.Parse()
	args := flag.Args()
	if *address == "" || len(args) < 2 {
		fatalf("usage: snapguard -address SOCK [-content DIR] commit NAME KEY | remove KEY | label KEY K=V | apply KEY FILE | diff LOWER UPPER")
	}
	conn, err := grpc.Dial("unix:"+*address, grpc.WithInsecure(),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", *address)
		}))
	if err != nil {
		fatalf("dial: %v", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	sn := proxy.NewSnapshotter(snapshotsapi.NewSnapshotsClient(conn), "strata")
	df := diffapi.NewDiffClient(conn)

	switch {
	case args[0] == "commit" && len(args) == 3:
		report(sn.Commit(ctx, args[1], args[2]))
	case args[0] == "remove" && len(args) == 2:
		report(sn.Remove(ctx, args[1]))
	case args[0] == "label" && len(args) == 3:
		kv := strings.SplitN(args[2], "=", 2)
		if len(kv) != 2 {
			fatalf("label wants K=V")
		}
		_, err := sn.Update(ctx, snapshots.Info{Name: args[1], Labels: map[string]string{kv[0]: kv[1]}}, "labels."+kv[0])
		report(err)
	case args[0] == "apply" && len(args) == 3:
		data, err := os.ReadFile(args[2])
		if err != nil || *content == "" {
			fatalf("apply needs -content and a readable layer: %v", err)
		}
		ms, err := sn.Mounts(ctx, args[1])
		if err != nil {
			report(err)
			return
		}
		desc := &types.Descriptor{MediaType: "application/vnd.oci.image.layer.v1.tar",
			Digest: digest.Digest(putBlob(*content, data)), Size_: int64(len(data))}
		_, err = df.Apply(ctx, &diffapi.ApplyRequest{Diff: desc, Mounts: toTypes(ms)})
		report(err)
	case args[0] == "diff" && len(args) == 3:
		lower, err := sn.Mounts(ctx, args[1])
		if err != nil {
			report(err)
			return
		}
		upper, err := sn.Mounts(ctx, args[2])
		if err != nil {
			report(err)
			return
		}
		_, err = df.Diff(ctx, &diffapi.DiffRequest{Left: toTypes(lower), Right: toTypes(upper),
			MediaType: "application/vnd.oci.image.layer.v1.tar"})
		report(err)
	default:
		fatalf("unknown operation %q or wrong arguments", strings.Join(args, " "))
	}
}
