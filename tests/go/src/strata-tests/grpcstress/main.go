// grpcstress drives a running stratad over gRPC with grpc-go and
// containerd's generated snapshots client: many connections with many
// concurrent streams doing Prepare/Stat/List/Remove, every answer checked,
// while misbehaving clients (garbage bytes, a request cut off mid-stream,
// an oversized message, an unknown method, a compressed or undecodable
// message) run next to them.  The misbehaving ones must get their own
// errors and nobody else may notice.
//
// Built by go_build (tests/lib.sh).
//
// Exits non-zero on any failure; the last line is "N passed, M failed".
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/status"
)

const service = "/containerd.services.snapshots.v1.Snapshots/"

var (
	address     = flag.String("address", "/run/strata/strata.sock", "stratad's gRPC socket")
	conns       = flag.Int("conns", 4, "concurrent connections")
	streams     = flag.Int("streams", 16, "concurrent streams per connection")
	ops         = flag.Int("ops", 20, "Prepare/Stat/List/Remove rounds per stream")
	snapshotter = flag.String("snapshotter", "strata", "snapshotter name sent in requests")
	maxMessage  = flag.Int("max-message", 16<<20, "the daemon's max_message setting")
	timeout     = flag.Duration("timeout", 120*time.Second, "deadline for the whole run")
	verbose     = flag.Bool("v", false, "print every passed check")
)

var passed, failed int64

func pass(name string) {
	atomic.AddInt64(&passed, 1)
	if *verbose {
		fmt.Printf("ok   %s\n", name)
	}
}

func fail(name string, format string, args ...interface{}) {
	atomic.AddInt64(&failed, 1)
	fmt.Printf("FAIL %s: %s\n", name, fmt.Sprintf(format, args...))
}

func dialUnix(ctx context.Context, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", *address)
}

func dial(ctx context.Context) (*grpc.ClientConn, error) {
	return grpc.DialContext(ctx, "unix:"+*address, grpc.WithInsecure(), grpc.WithBlock(),
		grpc.WithContextDialer(dialUnix),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(1<<30)))
}

// ---- the well-behaved load -------------------------------------------------

// round runs Prepare, Stat, List, Remove, Stat on one fresh key and checks
// every answer.
func round(ctx context.Context, c snapshotsapi.SnapshotsClient, key string) error {
	label := map[string]string{"containerd.io/snapshot/grpcstress": key}
	pr, err := c.Prepare(ctx, &snapshotsapi.PrepareSnapshotRequest{Snapshotter: *snapshotter, Key: key, Labels: label})
	if err != nil {
		return fmt.Errorf("Prepare %s: %v", key, err)
	}
	if len(pr.Mounts) == 0 || pr.Mounts[0].Type == "" || pr.Mounts[0].Source == "" {
		return fmt.Errorf("Prepare %s: bad mounts %+v", key, pr.Mounts)
	}
	st, err := c.Stat(ctx, &snapshotsapi.StatSnapshotRequest{Snapshotter: *snapshotter, Key: key})
	if err != nil {
		return fmt.Errorf("Stat %s: %v", key, err)
	}
	if st.Info.Name != key || st.Info.Kind != snapshotsapi.KindActive || st.Info.Parent != "" ||
		st.Info.Labels["containerd.io/snapshot/grpcstress"] != key {
		return fmt.Errorf("Stat %s: wrong info %+v", key, st.Info)
	}
	if err := listHas(ctx, c, key); err != nil {
		return err
	}
	if _, err := c.Remove(ctx, &snapshotsapi.RemoveSnapshotRequest{Snapshotter: *snapshotter, Key: key}); err != nil {
		return fmt.Errorf("Remove %s: %v", key, err)
	}
	_, err = c.Stat(ctx, &snapshotsapi.StatSnapshotRequest{Snapshotter: *snapshotter, Key: key})
	if status.Code(err) != codes.NotFound {
		return fmt.Errorf("Stat %s after Remove: want NotFound, got %v", key, err)
	}
	return nil
}

// listHas reads the whole List stream and checks that key is in it once.
func listHas(ctx context.Context, c snapshotsapi.SnapshotsClient, key string) error {
	ls, err := c.List(ctx, &snapshotsapi.ListSnapshotsRequest{Snapshotter: *snapshotter})
	if err != nil {
		return fmt.Errorf("List: %v", err)
	}
	found := 0
	for {
		resp, err := ls.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("List: %v", err)
		}
		for _, info := range resp.Info {
			if info.Name == key {
				found++
			}
		}
	}
	if found != 1 {
		return fmt.Errorf("List: %s found %d times, want once", key, found)
	}
	return nil
}

func load(ctx context.Context, prefix string, nconns, nstreams, nops int) {
	var wg sync.WaitGroup
	for ci := 0; ci < nconns; ci++ {
		cc, err := dial(ctx)
		if err != nil {
			fail(prefix+"dial", "%v", err)
			continue
		}
		defer cc.Close()
		client := snapshotsapi.NewSnapshotsClient(cc)
		for si := 0; si < nstreams; si++ {
			wg.Add(1)
			go func(ci, si int) {
				defer wg.Done()
				name := fmt.Sprintf("%sconn%d/stream%d", prefix, ci, si)
				for i := 0; i < nops; i++ {
					key := fmt.Sprintf("grpcstress/%d/%s/%d", os.Getpid(), name, i)
					if err := round(ctx, client, key); err != nil {
						fail(name, "%v", err)
						return
					}
				}
				pass(name)
			}(ci, si)
		}
	}
	wg.Wait()
}

// ---- misbehaving clients -----------------------------------------------------

// expectClosed waits for the daemon to close a raw connection.
func expectClosed(name string, c net.Conn) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			fail(name, "connection still open after 10s")
		} else {
			pass(name)
		}
		return
	}
}

func garbage(ctx context.Context) {
	for i, junk := range [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		bytes.Repeat([]byte{0xff, 0x00, 0x13}, 20000),
		append([]byte(http2.ClientPreface), bytes.Repeat([]byte{0xee}, 64)...),
	} {
		name := fmt.Sprintf("garbage-%d", i)
		c, err := dialUnix(ctx, "")
		if err != nil {
			fail(name, "%v", err)
			continue
		}
		c.Write(junk)
		expectClosed(name, c)
		c.Close()
	}
}

// rawRequest opens a raw HTTP/2 connection and sends the HEADERS of a
// Prepare call; the caller sends the body (or not).
func rawRequest(ctx context.Context, path string) (net.Conn, *http2.Framer, error) {
	c, err := dialUnix(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	c.Write([]byte(http2.ClientPreface))
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", path},
		{":authority", "localhost"}, {"content-type", "application/grpc"}, {"te", "trailers"},
		{"grpc-timeout", "5S"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	err = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true})
	return c, fr, err
}

// cutOff sends a request whose message announces 100 bytes, sends 10 and
// hangs up; then one that sends half a prefix and hangs up.
func cutOff(ctx context.Context) {
	for i, body := range [][]byte{
		append([]byte{0, 0, 0, 0, 100}, bytes.Repeat([]byte{0x0a}, 10)...),
		{0, 0},
	} {
		name := fmt.Sprintf("cut-off-%d", i)
		c, fr, err := rawRequest(ctx, service+"Prepare")
		if err != nil {
			fail(name, "%v", err)
			continue
		}
		fr.WriteData(1, false, body)
		time.Sleep(50 * time.Millisecond)
		c.Close()
		pass(name)
	}
}

func expectCode(name string, err error, want codes.Code, text string) {
	if status.Code(err) != want {
		fail(name, "want %v, got %v", want, err)
	} else if text != "" && !strings.Contains(status.Convert(err).Message(), text) {
		fail(name, "want message containing %q, got %q", text, status.Convert(err).Message())
	} else {
		pass(name)
	}
}

// rawCodec sends bytes as they are, so a request can be undecodable.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func badRequests(ctx context.Context) {
	cc, err := dial(ctx)
	if err != nil {
		fail("bad-requests dial", "%v", err)
		return
	}
	defer cc.Close()
	c := snapshotsapi.NewSnapshotsClient(cc)

	big := map[string]string{"containerd.io/snapshot/big": strings.Repeat("x", *maxMessage+1024)}
	_, err = c.Prepare(ctx, &snapshotsapi.PrepareSnapshotRequest{Snapshotter: *snapshotter, Key: "grpcstress/big", Labels: big})
	expectCode("oversized", err, codes.ResourceExhausted, "")

	var out []byte
	err = cc.Invoke(ctx, service+"Nope", []byte{}, &out, grpc.ForceCodec(rawCodec{}))
	expectCode("unknown-method", err, codes.Unimplemented, "unknown method "+service+"Nope")

	_, err = c.Stat(ctx, &snapshotsapi.StatSnapshotRequest{Snapshotter: *snapshotter, Key: "grpcstress/gz"},
		grpc.UseCompressor("gzip"))
	expectCode("compressed", err, codes.Unimplemented, "compression not supported")

	err = cc.Invoke(ctx, service+"Stat", []byte{0xff, 0xff, 0xff}, &out, grpc.ForceCodec(rawCodec{}))
	expectCode("undecodable", err, codes.InvalidArgument, "")

	// The connection that saw all of this still works.
	_, err = c.Stat(ctx, &snapshotsapi.StatSnapshotRequest{Snapshotter: *snapshotter, Key: "grpcstress/absent"})
	expectCode("same-connection-after-errors", err, codes.NotFound, "")
}

func main() {
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); load(ctx, "", *conns, *streams, *ops) }()
	go func() {
		defer wg.Done()
		// Each round of abuse runs while the load above is in flight.
		for i := 0; i < 3; i++ {
			garbage(ctx)
			cutOff(ctx)
			badRequests(ctx)
		}
	}()
	wg.Wait()
	// And afterwards the daemon still answers a fresh client.
	load(ctx, "after/", 1, 2, 2)

	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 || passed == 0 {
		os.Exit(1)
	}
}
