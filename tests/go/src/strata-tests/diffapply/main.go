// diffapply drives containerd's diff v1 Apply and Diff against stratad over gRPC, as
// containerd 2.x's diff proxy would: a layer blob in a content directory in
// containerd's layout, the mounts strata issued for an active snapshot.  It
// checks the applied descriptor and the error codes for mounts strata did not
// issue, unknown media types, missing and corrupt blobs.  Diff (diffcheck.go):
// the blob lands in blobs/sha256 by its digest with no ingest left behind,
// its descriptor and annotations, the layer's entries, both paths (a
// snapshot against its parent, and two arbitrary trees), and the errors.
//
//	diffapply -address SOCK -content DIR -root ROOT
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	diffapi "github.com/containerd/containerd/api/services/diff/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/opencontainers/go-digest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var passed, failed int

func check(name string, ok bool, detail string) {
	if ok {
		passed++
		fmt.Printf("ok   %s\n", name)
	} else {
		failed++
		fmt.Printf("FAIL %s: %s\n", name, detail)
	}
}

func layer() (plain, gz []byte) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	mt := time.Unix(1700000000, 0)
	tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0755, ModTime: mt})
	body := []byte("applied through the diff service\n")
	tw.WriteHeader(&tar.Header{Name: "etc/motd", Typeflag: tar.TypeReg, Mode: 0644, Size: int64(len(body)), ModTime: mt})
	tw.Write(body)
	tw.Close()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b.Bytes())
	zw.Close()
	return b.Bytes(), z.Bytes()
}

func putBlob(content string, data []byte) string {
	d := fmt.Sprintf("%x", sha256.Sum256(data))
	dir := filepath.Join(content, "blobs", "sha256")
	os.MkdirAll(dir, 0755)
	os.WriteFile(filepath.Join(dir, d), data, 0644)
	return "sha256:" + d
}

func main() {
	address := flag.String("address", "", "stratad gRPC socket")
	content := flag.String("content", "", "content directory (containerd's layout)")
	root := flag.String("root", "", "stratad root (to look at the snapshot's files)")
	flag.Parse()
	// As containerd dials: the "unix:" scheme (HTTP/2 allows no '/' in the
	// :authority a bare path would become).
	conn, err := grpc.Dial("unix:"+*address, grpc.WithInsecure(),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", *address)
		}))
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sn := snapshotsapi.NewSnapshotsClient(conn)
	df := diffapi.NewDiffClient(conn)

	plain, gz := layer()
	dgz := putBlob(*content, gz)
	dplain := fmt.Sprintf("sha256:%x", sha256.Sum256(plain))

	pr, err := sn.Prepare(ctx, &snapshotsapi.PrepareSnapshotRequest{Snapshotter: "strata", Key: "apply-target"})
	if err != nil {
		fmt.Println("prepare:", err)
		os.Exit(1)
	}
	desc := &types.Descriptor{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: digest.Digest(dgz), Size_: int64(len(gz))}
	res, err := df.Apply(ctx, &diffapi.ApplyRequest{Diff: desc, Mounts: pr.Mounts})
	check("Apply of a gzip layer succeeds", err == nil, fmt.Sprint(err))
	if err == nil {
		check("applied descriptor is the uncompressed layer", string(res.Applied.Digest) == dplain &&
			res.Applied.Size_ == int64(len(plain)) && res.Applied.MediaType == "application/vnd.oci.image.layer.v1.tar",
			fmt.Sprintf("%+v, want %s size %d", res.Applied, dplain, len(plain)))
		src := pr.Mounts[0].Source
		got, rerr := os.ReadFile(filepath.Join(src, "etc", "motd"))
		check("the layer's file is in the snapshot", rerr == nil && string(got) == "applied through the diff service\n",
			fmt.Sprint(rerr))
	}

	code := func(err error) codes.Code { return status.Code(err) }
	// Mounts strata did not issue: another directory, a changed option, a view.
	forged := &types.Mount{Type: "bind", Source: *root, Options: []string{"rw", "rbind"}}
	_, err = df.Apply(ctx, &diffapi.ApplyRequest{Diff: desc, Mounts: []*types.Mount{forged}})
	check("mounts strata did not issue: InvalidArgument", code(err) == codes.InvalidArgument, fmt.Sprint(err))
	changed := *pr.Mounts[0]
	changed.Options = append([]string{}, changed.Options...)
	changed.Options = append(changed.Options, "suid")
	_, err = df.Apply(ctx, &diffapi.ApplyRequest{Diff: desc, Mounts: []*types.Mount{&changed}})
	check("a changed mount: InvalidArgument", code(err) == codes.InvalidArgument, fmt.Sprint(err))
	_, err = df.Apply(ctx, &diffapi.ApplyRequest{Diff: desc})
	check("no mounts: InvalidArgument", code(err) == codes.InvalidArgument, fmt.Sprint(err))
	if _, err := sn.Commit(ctx, &snapshotsapi.CommitSnapshotRequest{Snapshotter: "strata", Name: "applied", Key: "apply-target"}); err == nil {
		vr, verr := sn.View(ctx, &snapshotsapi.ViewSnapshotRequest{Snapshotter: "strata", Key: "v", Parent: "applied"})
		if verr == nil {
			_, err = df.Apply(ctx, &diffapi.ApplyRequest{Diff: desc, Mounts: vr.Mounts})
			check("a view's mounts: InvalidArgument", code(err) == codes.InvalidArgument, fmt.Sprint(err))
		}
	}
	pr2, err := sn.Prepare(ctx, &snapshotsapi.PrepareSnapshotRequest{Snapshotter: "strata", Key: "second", Parent: "applied"})
	if err != nil {
		fmt.Println("prepare:", err)
		os.Exit(1)
	}
	bad := *desc
	bad.MediaType = "application/x-unknown"
	_, err = df.Apply(ctx, &diffapi.ApplyRequest{Diff: &bad, Mounts: pr2.Mounts})
	check("unknown media type: Unimplemented", code(err) == codes.Unimplemented, fmt.Sprint(err))
	missing := *desc
	missing.Digest = digest.Digest("sha256:" + fmt.Sprintf("%064x", 1))
	_, err = df.Apply(ctx, &diffapi.ApplyRequest{Diff: &missing, Mounts: pr2.Mounts})
	check("missing blob: NotFound", code(err) == codes.NotFound, fmt.Sprint(err))
	malformed := *desc
	malformed.Digest = digest.Digest("sha256:../../etc/passwd")
	_, err = df.Apply(ctx, &diffapi.ApplyRequest{Diff: &malformed, Mounts: pr2.Mounts})
	check("malformed digest: InvalidArgument", code(err) == codes.InvalidArgument, fmt.Sprint(err))
	// A blob whose content does not match its name.
	corrupt := putBlob(*content, gz)
	os.WriteFile(filepath.Join(*content, "blobs", "sha256", corrupt[7:]), plain, 0644)
	cd := *desc
	cd.Digest = digest.Digest(corrupt)
	_, err = df.Apply(ctx, &diffapi.ApplyRequest{Diff: &cd, Mounts: pr2.Mounts})
	check("blob not matching its digest: FailedPrecondition", code(err) == codes.FailedPrecondition, fmt.Sprint(err))
	_, err = sn.Stat(ctx, &snapshotsapi.StatSnapshotRequest{Snapshotter: "strata", Key: "applied"})
	check("the daemon keeps serving", err == nil, fmt.Sprint(err))
	_, err = sn.Remove(ctx, &snapshotsapi.RemoveSnapshotRequest{Snapshotter: "strata", Key: "second"})
	check("the failed apply's snapshot can be removed", err == nil, fmt.Sprint(err))

	diffChecks(ctx, sn, df, *content)

	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
