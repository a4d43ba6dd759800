// Command snapbench loads a snapshotter served on a unix socket through
// containerd's proxy snapshotter client, the code path containerd itself
// uses for a proxy plugin.
//
//	snapbench -address SOCKET [-c CLIENTS] [-n CYCLES] [-warmup CYCLES] [-files N]
//
// A committed base layer is created first. Then CLIENTS goroutines, each on
// its own gRPC connection, run CYCLES cycles of
//
//	prepare(key, parent=base) → mounts(key) → commit(name, key) → stat(name) → remove(name)
//
// after WARMUP untimed cycles each. With -files N (N > 0; needs root), each
// snapshot gets content before its commit, as a container's or a build
// step's would: a directory with N files of 4 KiB written straight into the
// upperdir its mounts name (not timed per RPC, but part of the wall time on
// both sides alike), so that Remove deletes a tree. With -c 1 this is the sequential,
// single-client mode. Every RPC counts as one op. The result is one line of
// key=value pairs on stdout (run.sh parses it); latencies are per RPC kind.
// Any failed RPC aborts the run with exit status 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/mount"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/pkg/dialer"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/containerd/snapshots/proxy"
	"google.golang.org/grpc"
)

// The RPCs of one cycle, in order; indexes into a client's latency table.
var opNames = []string{"prepare", "mounts", "commit", "stat", "remove"}

type client struct {
	conn  *grpc.ClientConn
	sn    snapshots.Snapshotter
	lat   [][]time.Duration // per op kind, one entry per timed cycle
	files int               // files written into each snapshot before its commit
}

func main() {
	address := flag.String("address", "", "unix socket of the snapshotter")
	clients := flag.Int("c", 1, "concurrent clients, each on its own connection (1: sequential mode)")
	cycles := flag.Int("n", 200, "timed cycles per client")
	warmup := flag.Int("warmup", 10, "untimed cycles per client before the timed ones")
	name := flag.String("snapshotter", "strata", "snapshotter name sent in requests")
	files := flag.Int("files", 0, "files written into each snapshot's upperdir before its commit")
	flag.Parse()
	if *address == "" || *clients < 1 || *cycles < 1 || *warmup < 0 || *files < 0 {
		fmt.Fprintln(os.Stderr, "usage: snapbench -address SOCKET [-c CLIENTS>=1] [-n CYCLES>=1] [-warmup N>=0] [-files N>=0]")
		os.Exit(2)
	}
	if err := run(*address, *name, *clients, *cycles, *warmup, *files); err != nil {
		fmt.Fprintf(os.Stderr, "snapbench: %v\n", err)
		os.Exit(1)
	}
}

func dial(address, name string) (*client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// WithBlock: connection setup is not part of the timed work.
	conn, err := grpc.DialContext(ctx, dialer.DialAddress(address),
		grpc.WithInsecure(), grpc.WithBlock(), grpc.WithContextDialer(dialer.ContextDialer))
	if err != nil {
		return nil, fmt.Errorf("dial `%s`: %w", address, err)
	}
	sn := proxy.NewSnapshotter(snapshotsapi.NewSnapshotsClient(conn), name)
	return &client{conn: conn, sn: sn}, nil
}

func run(address, name string, nclients, cycles, warmup, files int) error {
	// containerd sends its namespace as gRPC metadata; so does this.
	ctx := namespaces.WithNamespace(context.Background(), "bench")
	// Unique per run, so that rounds against the same daemon never collide.
	tag := fmt.Sprintf("b%d-%d", os.Getpid(), time.Now().UnixNano())

	cs := make([]*client, nclients)
	defer func() {
		for _, c := range cs {
			if c != nil {
				c.conn.Close()
			}
		}
	}()
	for i := range cs {
		c, err := dial(address, name)
		if err != nil {
			return err
		}
		c.files = files
		cs[i] = c
	}

	base := tag + "-base"
	if err := makeBase(ctx, cs[0].sn, base); err != nil {
		return err
	}
	for i, c := range cs {
		for w := 0; w < warmup; w++ {
			key := fmt.Sprintf("%s-w%d-%d", tag, i, w)
			if err := c.cycle(ctx, key, base, nil); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
		}
	}

	elapsed, err := timed(ctx, cs, tag, base, cycles)
	if err != nil {
		return err
	}
	if err := cs[0].sn.Remove(ctx, base); err != nil {
		return fmt.Errorf("remove base `%s`: %w", base, err)
	}
	report(cs, nclients, cycles, elapsed)
	return nil
}

func makeBase(ctx context.Context, sn snapshots.Snapshotter, base string) error {
	active := base + "-active"
	if _, err := sn.Prepare(ctx, active, ""); err != nil {
		return fmt.Errorf("prepare base `%s`: %w", active, err)
	}
	if err := sn.Commit(ctx, base, active); err != nil {
		return fmt.Errorf("commit base `%s`: %w", base, err)
	}
	return nil
}

// timed starts all clients together and returns the wall time until the last
// one is done.
func timed(ctx context.Context, cs []*client, tag, base string, cycles int) (time.Duration, error) {
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	start := make(chan struct{})
	for i, c := range cs {
		c.lat = make([][]time.Duration, len(opNames))
		for k := range c.lat {
			c.lat[k] = make([]time.Duration, 0, cycles)
		}
		wg.Add(1)
		go func(i int, c *client) {
			defer wg.Done()
			<-start
			for n := 0; n < cycles; n++ {
				key := fmt.Sprintf("%s-c%d-%d", tag, i, n)
				if err := c.cycle(ctx, key, base, c.lat); err != nil {
					errs[i] = err
					return
				}
			}
		}(i, c)
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return elapsed, nil
}

// cycle runs one prepare → mounts → commit → stat → remove; lat, when not
// nil, gets each RPC's latency appended under its kind.
func (c *client) cycle(ctx context.Context, key, base string, lat [][]time.Duration) error {
	name := key + "-committed"
	var mounts []mount.Mount
	steps := []struct {
		what string
		do   func() error
	}{
		{"prepare `" + key + "`", func() error { _, err := c.sn.Prepare(ctx, key, base); return err }},
		{"mounts `" + key + "`", func() error {
			m, err := c.sn.Mounts(ctx, key)
			if err == nil && len(m) == 0 {
				err = fmt.Errorf("no mounts")
			}
			mounts = m
			return err
		}},
		{"commit `" + key + "`", func() error { return c.sn.Commit(ctx, name, key) }},
		{"stat `" + name + "`", func() error {
			info, err := c.sn.Stat(ctx, name)
			if err == nil && (info.Kind != snapshots.KindCommitted || info.Parent != base) {
				err = fmt.Errorf("got kind %v parent `%s`", info.Kind, info.Parent)
			}
			return err
		}},
		{"remove `" + name + "`", func() error { return c.sn.Remove(ctx, name) }},
	}
	for k, s := range steps {
		t := time.Now()
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
		if lat != nil {
			lat[k] = append(lat[k], time.Since(t))
		}
		if opNames[k] == "mounts" && c.files > 0 {
			if err := writeContent(mounts, c.files); err != nil {
				return fmt.Errorf("content of `%s`: %w", key, err)
			}
		}
	}
	return nil
}

var block = make([]byte, 4096)

// writeContent puts n files into the upperdir that mounts names.
func writeContent(mounts []mount.Mount, n int) error {
	upper := ""
	for _, o := range mounts[0].Options {
		if strings.HasPrefix(o, "upperdir=") {
			upper = strings.TrimPrefix(o, "upperdir=")
		}
	}
	if upper == "" {
		return fmt.Errorf("no upperdir in %v", mounts[0].Options)
	}
	dir := filepath.Join(upper, "data")
	if err := os.Mkdir(dir, 0755); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), block, 0644); err != nil {
			return err
		}
	}
	return nil
}

func report(cs []*client, nclients, cycles int, elapsed time.Duration) {
	total := nclients * cycles
	secs := elapsed.Seconds()
	var b strings.Builder
	fmt.Fprintf(&b, "clients=%d cycles=%d ops=%d seconds=%.4f ops_per_sec=%.1f cycles_per_sec=%.1f",
		nclients, total, total*len(opNames), secs, float64(total*len(opNames))/secs, float64(total)/secs)
	for k, op := range opNames {
		var all []time.Duration
		for _, c := range cs {
			all = append(all, c.lat[k]...)
		}
		sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
		fmt.Fprintf(&b, " %s_p50_us=%d %s_p99_us=%d", op, quantile(all, 0.50).Microseconds(),
			op, quantile(all, 0.99).Microseconds())
	}
	fmt.Println(b.String())
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1))]
}
