// Command snapbench loads a snapshotter served on a unix socket through
// containerd's proxy snapshotter client, the code path containerd itself
// uses for a proxy plugin.
//
//	snapbench -address SOCKET [-c CLIENTS] [-n CYCLES] [-warmup CYCLES]
//
// A committed base layer is created first. Then CLIENTS goroutines, each on
// its own gRPC connection, run CYCLES cycles of
//
//	prepare(key, parent=base) → mounts(key) → commit(name, key) → stat(name) → remove(name)
//
// after WARMUP untimed cycles each. With -c 1 this is the sequential,
// single-client mode. Every RPC counts as one op. The result is one line of
// key=value pairs on stdout (run.sh parses it); latencies are per RPC kind.
// Any failed RPC aborts the run with exit status 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/pkg/dialer"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/containerd/snapshots/proxy"
	"google.golang.org/grpc"
)

// The RPCs of one cycle, in order; indexes into a client's latency table.
var opNames = []string{"prepare", "mounts", "commit", "stat", "remove"}

type client struct {
	conn *grpc.ClientConn
	sn   snapshots.Snapshotter
	lat  [][]time.Duration // per op kind, one entry per timed cycle
}

func main() {
	address := flag.String("address", "", "unix socket of the snapshotter")
	clients := flag.Int("c", 1, "concurrent clients, each on its own connection (1: sequential mode)")
	cycles := flag.Int("n", 200, "timed cycles per client")
	warmup := flag.Int("warmup", 10, "untimed cycles per client before the timed ones")
	name := flag.String("snapshotter", "strata", "snapshotter name sent in requests")
	flag.Parse()
	if *address == "" || *clients < 1 || *cycles < 1 || *warmup < 0 {
		fmt.Fprintln(os.Stderr, "usage: snapbench -address SOCKET [-c CLIENTS>=1] [-n CYCLES>=1] [-warmup N>=0]")
		os.Exit(2)
	}
	if err := run(*address, *name, *clients, *cycles, *warmup); err != nil {
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

func run(address, name string, nclients, cycles, warmup int) error {
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
