// maxcalls makes the snapshot and diff calls of tests/integration/maximal.sh
// over gRPC, at sizes the strata CLI cannot send (its records are capped at
// 192 KiB), and checks each answer against what it asked for.
//
//	maxcalls -address SOCK [-tenant NAME] OP ARGS...
//	  labels KEY N SIZE   Prepare KEY with N labels of SIZE bytes each (key
//	                      and value), Stat it, then Update every value and
//	                      Stat again: OK when each answer has exactly them
//	  prepare KEY N SIZE  only that Prepare (prints OK or the status)
//	  wideupdate KEY N    Update KEY (which exists) with 1023 labels in its
//	                      info and a mask of N paths labels.K for keys they
//	                      lack, then one that sets strata.test/wide: OK when
//	                      the answer adds just that label (every path looked
//	                      up in vain among the most labels allowed)
//	  many PREFIX N       Prepare PREFIX-00000 .. PREFIX-(N-1), 16 at a time,
//	                      labelled strata.test/i=I and strata.test/mod=I%7
//	  chain PREFIX N      N committed layers PREFIX-0 .. PREFIX-(N-1), each
//	                      the parent of the next
//	  list FILE           List with the filters in FILE (one a line; an
//	                      empty FILE: none): prints the count of snapshots
//	  walk FILE           the same through containerd's proxy snapshotter
//	  diff LOWER UPPER    Diff of two snapshots' mounts, published in the
//	                      daemon's content_root: prints OK, digest and size
//
// -tenant sends every call with the metadata key strata-tenant: NAME (root
// acts as that tenant).  Prints `OK ...` or `CODE: message` (CODE a gRPC
// status name) and exits 0; exit 2 for a usage or connection error.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	diffapi "github.com/containerd/containerd/api/services/diff/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/containerd/snapshots/proxy"
	protobuftypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const snapshotter = "strata"

var client snapshotsapi.SnapshotsClient

func fatalf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "maxcalls: "+format+"\n", args...)
	os.Exit(2)
}

// failed prints a call's status and says whether there was one.
func failed(err error) bool {
	if err == nil {
		return false
	}
	st, _ := status.FromError(err)
	fmt.Printf("%s: %s\n", st.Code(), st.Message())
	return true
}

// labelSet is N labels of size bytes each, key and value; round picks the
// values, so that an Update can change every one.
func labelSet(n, size, round int) map[string]string {
	m := make(map[string]string, n)
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("strata.test/%05d/", i)
		k += strings.Repeat("k", size/2-len(k))
		v := fmt.Sprintf("%d.%d.", round, i)
		m[k] = v + strings.Repeat("v", size-len(k)-len(v))
	}
	return m
}

func sameLabels(what string, got, want map[string]string) bool {
	if len(got) != len(want) {
		fmt.Printf("Mismatch: %s has %d labels, not %d\n", what, len(got), len(want))
		return false
	}
	for k, v := range want {
		if got[k] != v {
			fmt.Printf("Mismatch: %s: label %.24s... differs\n", what, k)
			return false
		}
	}
	return true
}

func prepare(ctx context.Context, key, parent string, labels map[string]string) error {
	_, err := client.Prepare(ctx, &snapshotsapi.PrepareSnapshotRequest{Snapshotter: snapshotter,
		Key: key, Parent: parent, Labels: labels})
	return err
}

func labels(ctx context.Context, key string, n, size int) {
	want := labelSet(n, size, 0)
	if failed(prepare(ctx, key, "", want)) {
		return
	}
	st, err := client.Stat(ctx, &snapshotsapi.StatSnapshotRequest{Snapshotter: snapshotter, Key: key})
	if failed(err) || !sameLabels("Stat", st.Info.Labels, want) {
		return
	}
	want = labelSet(n, size, 1)
	up, err := client.Update(ctx, &snapshotsapi.UpdateSnapshotRequest{Snapshotter: snapshotter,
		Info:       snapshotsapi.Info{Name: key, Labels: want},
		UpdateMask: &protobuftypes.FieldMask{Paths: []string{"labels"}}})
	if failed(err) || !sameLabels("Update", up.Info.Labels, want) {
		return
	}
	st, err = client.Stat(ctx, &snapshotsapi.StatSnapshotRequest{Snapshotter: snapshotter, Key: key})
	if failed(err) || !sameLabels("Stat after Update", st.Info.Labels, want) {
		return
	}
	fmt.Printf("OK %d labels\n", len(want))
}

func wideUpdate(ctx context.Context, key string, n int) {
	st, err := client.Stat(ctx, &snapshotsapi.StatSnapshotRequest{Snapshotter: snapshotter, Key: key})
	if failed(err) {
		return
	}
	want := map[string]string{}
	for k, v := range st.Info.Labels {
		want[k] = v
	}
	want["strata.test/wide"] = "yes"
	info := map[string]string{"strata.test/wide": "yes"}
	paths := make([]string, 0, n+1)
	for i := 0; i < 1023; i++ {
		info[fmt.Sprintf("strata.test/in/%07d", i)] = "v"
	}
	for i := 0; i < n; i++ {
		paths = append(paths, fmt.Sprintf("labels.strata.test/absent/%07d", i))
	}
	paths = append(paths, "labels.strata.test/wide")
	up, err := client.Update(ctx, &snapshotsapi.UpdateSnapshotRequest{Snapshotter: snapshotter,
		Info:       snapshotsapi.Info{Name: key, Labels: info},
		UpdateMask: &protobuftypes.FieldMask{Paths: paths}})
	if failed(err) || !sameLabels("Update", up.Info.Labels, want) {
		return
	}
	fmt.Printf("OK %d labels\n", len(up.Info.Labels))
}

func many(ctx context.Context, prefix string, n int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				err := prepare(ctx, fmt.Sprintf("%s-%05d", prefix, i), "", map[string]string{
					"strata.test/i": strconv.Itoa(i), "strata.test/mod": strconv.Itoa(i % 7)})
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if !failed(first) {
		fmt.Printf("OK %d snapshots\n", n)
	}
}

func chain(ctx context.Context, prefix string, n int) {
	parent := ""
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		if failed(prepare(ctx, name+"-active", parent, nil)) {
			return
		}
		_, err := client.Commit(ctx, &snapshotsapi.CommitSnapshotRequest{Snapshotter: snapshotter,
			Name: name, Key: name + "-active"})
		if failed(err) {
			return
		}
		parent = name
	}
	fmt.Printf("OK %d layers\n", n)
}

func readFilters(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		fatalf("%v", err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 64<<20)
	for s.Scan() {
		out = append(out, s.Text())
	}
	if s.Err() != nil {
		fatalf("%s: %v", path, s.Err())
	}
	return out
}

func list(ctx context.Context, filters []string) {
	lc, err := client.List(ctx, &snapshotsapi.ListSnapshotsRequest{Snapshotter: snapshotter, Filters: filters})
	if failed(err) {
		return
	}
	n := 0
	for {
		resp, err := lc.Recv()
		if err == io.EOF {
			break
		}
		if failed(err) {
			return
		}
		n += len(resp.Info)
	}
	fmt.Printf("OK %d\n", n)
}

func walk(ctx context.Context, filters []string) {
	n := 0
	err := proxy.NewSnapshotter(client, snapshotter).Walk(ctx, func(context.Context, snapshots.Info) error {
		n++
		return nil
	}, filters...)
	if !failed(err) {
		fmt.Printf("OK %d\n", n)
	}
}

func diff(ctx context.Context, conn *grpc.ClientConn, lower, upper string) {
	mounts := func(key string) []*types.Mount {
		r, err := client.Mounts(ctx, &snapshotsapi.MountsRequest{Snapshotter: snapshotter, Key: key})
		if failed(err) {
			os.Exit(0)
		}
		return r.Mounts
	}
	r, err := diffapi.NewDiffClient(conn).Diff(ctx, &diffapi.DiffRequest{Left: mounts(lower),
		Right: mounts(upper), MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"})
	if !failed(err) {
		fmt.Printf("OK %s %d\n", r.Diff.Digest, r.Diff.Size_)
	}
}

func number(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fatalf("not a number: %q", s)
	}
	return n
}

func main() {
	address := flag.String("address", "", "stratad gRPC socket")
	tenant := flag.String("tenant", "", "the tenant root acts as (metadata key strata-tenant)")
	flag.Parse()
	args := flag.Args()
	if *address == "" || len(args) < 2 {
		fatalf("usage: maxcalls -address SOCK OP ARGS...")
	}
	conn, err := grpc.Dial("unix://"+*address, grpc.WithInsecure(), grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		fatalf("dial: %v", err)
	}
	defer conn.Close()
	client = snapshotsapi.NewSnapshotsClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if *tenant != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "strata-tenant", *tenant)
	}
	switch {
	case args[0] == "labels" && len(args) == 4:
		labels(ctx, args[1], number(args[2]), number(args[3]))
	case args[0] == "prepare" && len(args) == 4:
		if !failed(prepare(ctx, args[1], "", labelSet(number(args[2]), number(args[3]), 0))) {
			fmt.Println("OK")
		}
	case args[0] == "wideupdate" && len(args) == 3:
		wideUpdate(ctx, args[1], number(args[2]))
	case args[0] == "many" && len(args) == 3:
		many(ctx, args[1], number(args[2]))
	case args[0] == "chain" && len(args) == 3:
		chain(ctx, args[1], number(args[2]))
	case args[0] == "list" && len(args) == 2:
		list(ctx, readFilters(args[1]))
	case args[0] == "walk" && len(args) == 2:
		walk(ctx, readFilters(args[1]))
	case args[0] == "diff" && len(args) == 3:
		diff(ctx, conn, args[1], args[2])
	default:
		fatalf("unknown operation %q or wrong arguments", strings.Join(args, " "))
	}
}
