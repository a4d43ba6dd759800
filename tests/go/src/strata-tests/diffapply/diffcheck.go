package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	diffapi "github.com/containerd/containerd/api/services/diff/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/api/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	mediaTar  = "application/vnd.oci.image.layer.v1.tar"
	mediaGzip = mediaTar + "+gzip"
	mediaZstd = mediaTar + "+zstd"
)

// upperOf returns the upperdir of an active snapshot's overlay mount, or the
// bind source of one without parents.
func upperOf(m *types.Mount) string {
	if m.Type == "bind" {
		return m.Source
	}
	for _, o := range m.Options {
		if strings.HasPrefix(o, "upperdir=") {
			return o[len("upperdir="):]
		}
	}
	return ""
}

// tarNames lists the entries of a (possibly gzip-compressed) tar.
func tarNames(data []byte) ([]string, error) {
	var r io.Reader = bytes.NewReader(data)
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		r = z
	}
	tr := tar.NewReader(r)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		names = append(names, h.Name)
	}
	sort.Strings(names)
	return names, nil
}

func gunzipDigest(data []byte) string {
	z, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return ""
	}
	h := sha256.New()
	io.Copy(h, z)
	return fmt.Sprintf("sha256:%x", h.Sum(nil))
}

// readBlob reads the blob a descriptor names and checks it is stored under
// its own digest with its size.
func readBlob(content string, d *types.Descriptor) ([]byte, bool) {
	data, err := os.ReadFile(filepath.Join(content, "blobs", "sha256", strings.TrimPrefix(string(d.Digest), "sha256:")))
	return data, err == nil && fmt.Sprintf("sha256:%x", sha256.Sum256(data)) == string(d.Digest) && int64(len(data)) == d.Size_
}

func diffChecks(ctx context.Context, sn snapshotsapi.SnapshotsClient, df diffapi.DiffClient, content string) {
	code := func(err error) codes.Code { return status.Code(err) }
	child, err := sn.Prepare(ctx, &snapshotsapi.PrepareSnapshotRequest{Snapshotter: "strata", Key: "diff-child", Parent: "applied"})
	if err != nil {
		check("prepare the diff's child", false, err.Error())
		return
	}
	lower, err := sn.View(ctx, &snapshotsapi.ViewSnapshotRequest{Snapshotter: "strata", Key: "diff-lower", Parent: "applied"})
	if err != nil {
		check("view the diff's parent", false, err.Error())
		return
	}
	// The child's changes, made in its upperdir as overlay would: a new
	// file and a whiteout of the parent's etc/motd.
	up := upperOf(child.Mounts[0])
	os.WriteFile(filepath.Join(up, "new.txt"), []byte("made in the child\n"), 0644)
	os.Mkdir(filepath.Join(up, "etc"), 0755)
	syscall.Mknod(filepath.Join(up, "etc", "motd"), syscall.S_IFCHR|0, 0)

	labels := map[string]string{"test.label": "kept"}
	res, err := df.Diff(ctx, &diffapi.DiffRequest{Left: lower.Mounts, Right: child.Mounts, MediaType: mediaGzip, Ref: "diff-ref-1", Labels: labels})
	check("Diff of a child against its parent succeeds", err == nil, fmt.Sprint(err))
	if err != nil {
		return
	}
	d := res.Diff
	data, ok := readBlob(content, d)
	check("the blob is in blobs/sha256 under its digest, with its size", ok, fmt.Sprintf("%+v", d))
	check("the descriptor has the media type asked for", d.MediaType == mediaGzip, d.MediaType)
	check("containerd.io/uncompressed is the diff ID", d.Annotations["containerd.io/uncompressed"] == gunzipDigest(data),
		fmt.Sprintf("%v", d.Annotations))
	check("the request's labels are kept", d.Annotations["test.label"] == "kept", fmt.Sprintf("%v", d.Annotations))
	entries, _ := os.ReadDir(filepath.Join(content, "ingest"))
	check("no ingest is left behind", len(entries) == 0, fmt.Sprintf("%d entries", len(entries)))
	names, terr := tarNames(data)
	want := "etc/ etc/.wh.motd new.txt"
	check("the layer has the new file and the whiteout", terr == nil && strings.Join(names, " ") == want,
		fmt.Sprintf("%v %v, want %s", names, terr, want))

	again, err := df.Diff(ctx, &diffapi.DiffRequest{Left: lower.Mounts, Right: child.Mounts, MediaType: mediaGzip, Ref: "diff-ref-1"})
	check("the same Diff again (same ref, blob already stored) succeeds", err == nil, fmt.Sprint(err))
	if err == nil {
		check("the same trees give the same digest", again.Diff.Digest == d.Digest, string(again.Diff.Digest))
	}
	noref, err := df.Diff(ctx, &diffapi.DiffRequest{Left: lower.Mounts, Right: child.Mounts})
	check("Diff without a ref or media type (tar+gzip)", err == nil && noref.Diff.MediaType == mediaGzip, fmt.Sprint(err))

	z, err := df.Diff(ctx, &diffapi.DiffRequest{Left: lower.Mounts, Right: child.Mounts, MediaType: mediaZstd})
	if check("Diff as tar+zstd", err == nil, fmt.Sprint(err)); err == nil {
		zd, ok := readBlob(content, z.Diff)
		check("the zstd blob is stored by digest and starts with zstd's magic", ok && len(zd) > 4 &&
			bytes.Equal(zd[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}), fmt.Sprintf("%+v", z.Diff))
	}

	// The general path: the parent's tree against the child's (the
	// child's changes undone), two arbitrary trees compared side by side.
	back, err := df.Diff(ctx, &diffapi.DiffRequest{Left: child.Mounts, Right: lower.Mounts, MediaType: mediaTar})
	if check("Diff of the parent against the child (general path)", err == nil, fmt.Sprint(err)); err == nil {
		bd, ok := readBlob(content, back.Diff)
		names, terr := tarNames(bd)
		want := ".wh.new.txt etc/ etc/motd"
		check("the reverse layer removes the new file and restores the old one", ok && terr == nil &&
			strings.Join(names, " ") == want, fmt.Sprintf("%v %v, want %s", names, terr, want))
		_, has := back.Diff.Annotations["containerd.io/uncompressed"]
		check("a tar layer carries no uncompressed annotation", !has, fmt.Sprintf("%v", back.Diff.Annotations))
	}

	forged := &types.Mount{Type: "bind", Source: "/etc", Options: []string{"ro", "rbind"}}
	_, err = df.Diff(ctx, &diffapi.DiffRequest{Left: []*types.Mount{forged}, Right: child.Mounts})
	check("Diff of mounts strata did not issue: InvalidArgument", code(err) == codes.InvalidArgument, fmt.Sprint(err))
	tampered := *child.Mounts[0]
	tampered.Options = append([]string{}, tampered.Options...)
	for i, o := range tampered.Options {
		if strings.HasPrefix(o, "lowerdir=") {
			tampered.Options[i] = "lowerdir=/"
		}
	}
	_, err = df.Diff(ctx, &diffapi.DiffRequest{Left: lower.Mounts, Right: []*types.Mount{&tampered}})
	check("Diff with a changed lowerdir: InvalidArgument", code(err) == codes.InvalidArgument, fmt.Sprint(err))
	_, err = df.Diff(ctx, &diffapi.DiffRequest{Left: lower.Mounts})
	check("Diff without right mounts: InvalidArgument", code(err) == codes.InvalidArgument, fmt.Sprint(err))
	_, err = df.Diff(ctx, &diffapi.DiffRequest{Left: lower.Mounts, Right: child.Mounts, MediaType: "application/x-bzip2"})
	check("Diff to an unknown media type: Unimplemented", code(err) == codes.Unimplemented, fmt.Sprint(err))
	_, err = df.Diff(ctx, &diffapi.DiffRequest{Left: lower.Mounts, Right: child.Mounts, Ref: strings.Repeat("r", 300)})
	check("Diff with an over-long ref: InvalidArgument", code(err) == codes.InvalidArgument, fmt.Sprint(err))
	// An ingest that is in use (as containerd's store would hold it) makes
	// that ref unavailable, and is left alone.
	h := sha256.Sum256([]byte("busy-ref"))
	busy := filepath.Join(content, "ingest", fmt.Sprintf("%x", h))
	os.MkdirAll(busy, 0700)
	_, err = df.Diff(ctx, &diffapi.DiffRequest{Left: lower.Mounts, Right: child.Mounts, Ref: "busy-ref"})
	_, serr := os.Stat(busy)
	check("Diff to a ref being written: Unavailable, the ingest untouched", code(err) == codes.Unavailable && serr == nil,
		fmt.Sprint(err, serr))
	os.RemoveAll(busy)
}
