// connattack attacks stratad's connections as a client would, and plays the
// well-behaved client that must still be served:
//
//	connattack idle -address A -n N          hold N idle connections (gRPC, or -native)
//	connattack halfsend -address A -conns C -streams S
//	                                         requests that never end: as many bytes as
//	                                         flow control lets in, then hold
//	connattack stat -address A -within D     one Stat through grpc-go, in time D
//	connattack nul -address A                NUL and invalid UTF-8 in every string
//	                                         field: InvalidArgument, nothing changed
//	connattack fill -address A -n N -labels L -size B
//	                                         N snapshots with L labels of B bytes
//	connattack walk -address A -want N -delay D
//	                                         containerd's proxy Walk, D per snapshot
//
// The holding modes print "holding" once in place and hold until killed.
// Built by go_build (tests/lib.sh).
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/containerd/snapshots/proxy"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"strata-tests/rawgrpc"
)

const service = "/containerd.services.snapshots.v1.Snapshots/"

var (
	fs          = flag.NewFlagSet("connattack", flag.ExitOnError)
	address     = fs.String("address", "/run/strata/strata.sock", "stratad's gRPC socket")
	native      = fs.Bool("native", false, "idle: the native socket (ADDRESS.fd)")
	n           = fs.Int("n", 1030, "idle: connections; fill: snapshots")
	conns       = fs.Int("conns", 16, "halfsend: connections")
	streams     = fs.Int("streams", 32, "halfsend: streams per connection")
	within      = fs.Duration("within", 2*time.Second, "stat: deadline")
	labels      = fs.Int("labels", 42, "fill: labels per snapshot")
	size        = fs.Int("size", 4000, "fill: bytes of each label (key and value)")
	want        = fs.Int("want", 0, "walk: snapshots expected")
	delay       = fs.Duration("delay", 5*time.Millisecond, "walk: time spent on each snapshot")
	snapshotter = fs.String("snapshotter", "strata", "snapshotter name sent in requests")
)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "connattack: "+format+"\n", args...)
	os.Exit(1)
}

func dial(ctx context.Context) (*grpc.ClientConn, error) {
	return grpc.DialContext(ctx, "unix:"+*address, grpc.WithInsecure(), grpc.WithBlock(),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", *address)
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
}

// connect dials with a deadline for the whole run; done ends both.
func connect(d time.Duration) (context.Context, *grpc.ClientConn, func()) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	cc, err := dial(ctx)
	if err != nil {
		die("dial: %v", err)
	}
	return ctx, cc, func() { cc.Close(); cancel() }
}

func hold() {
	fmt.Println("holding")
	select {}
}

// ---- idle ------------------------------------------------------------------

func idle() {
	network, addr := "unix", *address
	if *native {
		network, addr = "unixpacket", *address+".fd"
	}
	var held []net.Conn
	for i, tries := 0, 0; i < *n && tries < 100*(*n); tries++ {
		c, err := net.Dial(network, addr)
		if err != nil {
			// The listen backlog is full: let the daemon accept.
			time.Sleep(time.Millisecond)
			continue
		}
		i++
		if !*native {
			c.Write([]byte(http2.ClientPreface))
			http2.NewFramer(c, c).WriteSettings()
		}
		held = append(held, c)
	}
	fmt.Printf("opened %d connections\n", len(held))
	hold()
}

// ---- stat --------------------------------------------------------------------

func stat() {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), *within)
	defer cancel()
	cc, err := dial(ctx)
	if err != nil {
		die("dial after %v: %v", time.Since(start), err)
	}
	defer cc.Close()
	_, err = snapshotsapi.NewSnapshotsClient(cc).Stat(ctx,
		&snapshotsapi.StatSnapshotRequest{Snapshotter: *snapshotter, Key: "connattack/absent"})
	if status.Code(err) != codes.NotFound {
		die("Stat after %v: want NotFound, got %v", time.Since(start), err)
	}
	fmt.Printf("served in %v\n", time.Since(start).Round(time.Millisecond))
}

// ---- halfsend ------------------------------------------------------------------

// flow tracks the windows the server grants one connection.
type flow struct {
	mu     sync.Mutex
	cond   *sync.Cond
	conn   int64
	stream map[uint32]int64
	init   int64
	closed map[uint32]bool
	dead   bool
}

func (f *flow) read(fr *http2.Framer) {
	for {
		fm, err := fr.ReadFrame()
		f.mu.Lock()
		if err != nil {
			f.dead = true
			f.cond.Broadcast()
			f.mu.Unlock()
			return
		}
		switch fm := fm.(type) {
		case *http2.SettingsFrame:
			if !fm.IsAck() {
				if v, ok := fm.Value(http2.SettingInitialWindowSize); ok {
					for id := range f.stream {
						f.stream[id] += int64(v) - f.init
					}
					f.init = int64(v)
				}
			}
		case *http2.WindowUpdateFrame:
			if fm.StreamID == 0 {
				f.conn += int64(fm.Increment)
			} else {
				f.stream[fm.StreamID] += int64(fm.Increment)
			}
		case *http2.RSTStreamFrame:
			f.closed[fm.StreamID] = true
		case *http2.HeadersFrame:
			if fm.StreamEnded() {
				f.closed[fm.StreamID] = true
			}
		}
		f.cond.Broadcast()
		f.mu.Unlock()
	}
}

// take waits until k bytes may be sent on id; false when the stream or
// the connection is gone, or when nothing moved for a second.
func (f *flow) take(id uint32, k int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	deadline := time.Now().Add(time.Second)
	for !f.dead && !f.closed[id] && (f.conn < k || f.stream[id] < k) {
		if time.Now().After(deadline) {
			return false
		}
		go func() { time.Sleep(100 * time.Millisecond); f.cond.Broadcast() }()
		f.cond.Wait()
	}
	if f.dead || f.closed[id] {
		return false
	}
	f.conn -= k
	f.stream[id] -= k
	return true
}

// halfConn opens one connection and sends on each stream a Stat whose
// message announces 16 MiB and never ends: as much of it as the windows
// allow.  Returns the bytes sent.
func halfConn() (net.Conn, int64) {
	c, err := net.Dial("unix", *address)
	if err != nil {
		fmt.Printf("dial: %v\n", err)
		return nil, 0
	}
	c.Write([]byte(http2.ClientPreface))
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	f := &flow{conn: 65535, init: 65535, stream: map[uint32]int64{}, closed: map[uint32]bool{}}
	f.cond = sync.NewCond(&f.mu)
	rfr := http2.NewFramer(nil, c)
	go f.read(rfr)
	chunk := bytes.Repeat([]byte{0x0a}, 16384)
	var sent int64
	for s := 0; s < *streams; s++ {
		id := uint32(2*s + 1)
		var hb bytes.Buffer
		enc := hpack.NewEncoder(&hb)
		for _, h := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", service + "Stat"},
			{":authority", "localhost"}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
			enc.WriteField(hpack.HeaderField{Name: h[0], Value: h[1]})
		}
		f.mu.Lock()
		f.stream[id] = f.init
		f.mu.Unlock()
		if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true}) != nil {
			break
		}
		prefix := []byte{0, 1, 0, 0, 0} // 16 MiB announced
		if !f.take(id, 5) || fr.WriteData(id, false, prefix) != nil {
			continue
		}
		// Short of the announced length: the message never completes.
		for k := 0; k < 16<<20-len(chunk) && f.take(id, int64(len(chunk))); k += len(chunk) {
			if fr.WriteData(id, false, chunk) != nil {
				break
			}
			sent += int64(len(chunk))
		}
	}
	return c, sent
}

func halfsend() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var held []net.Conn
	var total int64
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, sent := halfConn()
			mu.Lock()
			defer mu.Unlock()
			if c != nil {
				held = append(held, c)
			}
			total += sent
		}()
	}
	wg.Wait()
	fmt.Printf("sent %d MiB of requests that never end on %d connections\n", total>>20, len(held))
	hold()
}

// ---- nul -----------------------------------------------------------------------

// Protobuf by hand: a NUL cannot be put into a string any other way.
func ld(num int, v []byte) []byte {
	b := []byte{byte(num<<3 | 2)}
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func entry(num int, k, v string) []byte { return ld(num, cat(ld(1, []byte(k)), ld(2, []byte(v)))) }

// nativeCall sends one record on the native socket and returns its status.
func nativeCall(method uint32, payload []byte) (uint32, string, error) {
	c, err := net.Dial("unixpacket", *address+".fd")
	if err != nil {
		return 0, "", err
	}
	defer c.Close()
	rec := make([]byte, 16, 16+len(payload))
	binary.LittleEndian.PutUint32(rec[0:], 0x53545241)
	binary.LittleEndian.PutUint32(rec[4:], method)
	binary.LittleEndian.PutUint32(rec[8:], 1)
	binary.LittleEndian.PutUint32(rec[12:], uint32(len(payload)))
	if _, err := c.Write(append(rec, payload...)); err != nil {
		return 0, "", err
	}
	buf := make([]byte, 256<<10)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		k, err := c.Read(buf)
		if err != nil {
			return 0, "", err
		}
		if k >= 20 && binary.LittleEndian.Uint32(buf[4:]) == 2 {
			return binary.LittleEndian.Uint32(buf[12:]), string(buf[20:k]), nil
		}
	}
}

func nul() {
	ctx, cc, done := connect(60 * time.Second)
	defer done()
	c := snapshotsapi.NewSnapshotsClient(cc)
	keep := "connattack/keep"
	kl := map[string]string{"containerd.io/snapshot/keep": "v"}
	if _, err := c.Prepare(ctx, &snapshotsapi.PrepareSnapshotRequest{Snapshotter: *snapshotter, Key: keep, Labels: kl}); err != nil {
		die("Prepare %s: %v", keep, err)
	}
	before := names(ctx, c)

	failed := 0
	sn := ld(1, []byte(*snapshotter))
	for _, bad := range []string{"\x00", "\xff", "\xc0\x80", "\xed\xa0\x80"} {
		b := func(s string) []byte { return []byte(s + bad + "zzz") }
		k := []byte(keep)
		info := func(parts ...[]byte) []byte { return ld(2, cat(parts...)) }
		cases := []struct {
			method string
			id     uint32
			body   []byte
		}{
			{"Prepare", 1, cat(sn, ld(2, b("connattack/new")))},
			{"Prepare", 1, cat(sn, ld(2, b(keep)))},
			{"Prepare", 1, cat(ld(1, b(*snapshotter)), ld(2, []byte("connattack/new")))},
			{"Prepare", 1, cat(sn, ld(2, []byte("connattack/new")), ld(3, b(keep)))},
			{"Prepare", 1, cat(sn, ld(2, []byte("connattack/new")), entry(4, string(b("containerd.io/snapshot/x")), "v"))},
			{"Prepare", 1, cat(sn, ld(2, []byte("connattack/new")), entry(4, "containerd.io/snapshot/x", string(b("v"))))},
			{"View", 2, cat(sn, ld(2, b("connattack/view")), ld(3, k))},
			{"Mounts", 3, cat(sn, ld(2, b(keep)))},
			{"Commit", 4, cat(sn, ld(2, b("connattack/c")), ld(3, k))},
			{"Commit", 4, cat(sn, ld(2, []byte("connattack/c")), ld(3, b(keep)))},
			{"Commit", 4, cat(sn, ld(2, []byte("connattack/c")), ld(3, k), entry(4, "containerd.io/snapshot/x", string(b("v"))))},
			{"Remove", 5, cat(sn, ld(2, b(keep)))},
			{"Remove", 5, cat(sn, ld(2, []byte(keep+bad)))},
			{"Stat", 6, cat(sn, ld(2, b(keep)))},
			{"Update", 7, cat(sn, info(ld(1, b(keep))))},
			{"Update", 7, cat(sn, info(ld(1, k), entry(6, "containerd.io/snapshot/keep", string(b("w")))))},
			{"Update", 7, cat(sn, info(ld(1, k), entry(6, string(b("containerd.io/snapshot/x")), "w")))},
			{"Update", 7, cat(sn, info(ld(1, k), entry(6, "containerd.io/snapshot/keep", "w")), ld(3, ld(1, b("labels.x"))))},
			{"List", 8, cat(sn, ld(2, b("name=="+keep)))},
			{"Usage", 9, cat(sn, ld(2, b(keep)))},
		}
		for i, tc := range cases {
			name := fmt.Sprintf("%s #%d with %q", tc.method, i, bad)
			var out []byte
			err := cc.Invoke(ctx, service+tc.method, tc.body, &out, grpc.ForceCodec(rawgrpc.Codec{}))
			if status.Code(err) != codes.InvalidArgument {
				fmt.Printf("FAIL gRPC %s: want InvalidArgument, got %v\n", name, err)
				failed++
			}
			code, msg, err := nativeCall(tc.id, tc.body)
			if err != nil || code != uint32(codes.InvalidArgument) {
				fmt.Printf("FAIL native %s: want InvalidArgument, got %d %q %v\n", name, code, msg, err)
				failed++
			}
		}
	}
	// Nothing changed: the same names, keep's labels as they were.
	after := names(ctx, c)
	if strings.Join(before, "\n") != strings.Join(after, "\n") {
		fmt.Printf("FAIL the snapshots changed:\nbefore %q\nafter  %q\n", before, after)
		failed++
	}
	st, err := c.Stat(ctx, &snapshotsapi.StatSnapshotRequest{Snapshotter: *snapshotter, Key: keep})
	if err != nil || len(st.Info.Labels) != 1 || st.Info.Labels["containerd.io/snapshot/keep"] != "v" {
		fmt.Printf("FAIL %s changed: %v %v\n", keep, st, err)
		failed++
	}
	// Valid UTF-8 beyond ASCII is a string like any other.
	u := "connattack/ключ-é-😀"
	if _, err := c.Prepare(ctx, &snapshotsapi.PrepareSnapshotRequest{Snapshotter: *snapshotter, Key: u}); err != nil {
		fmt.Printf("FAIL Prepare %q: %v\n", u, err)
		failed++
	} else if _, err := c.Remove(ctx, &snapshotsapi.RemoveSnapshotRequest{Snapshotter: *snapshotter, Key: u}); err != nil {
		fmt.Printf("FAIL Remove %q: %v\n", u, err)
		failed++
	}
	c.Remove(ctx, &snapshotsapi.RemoveSnapshotRequest{Snapshotter: *snapshotter, Key: keep})
	if failed > 0 {
		die("%d failed", failed)
	}
	fmt.Println("every bad string refused, nothing changed")
}

func names(ctx context.Context, c snapshotsapi.SnapshotsClient) []string {
	ls, err := c.List(ctx, &snapshotsapi.ListSnapshotsRequest{Snapshotter: *snapshotter})
	if err != nil {
		die("List: %v", err)
	}
	var out []string
	for {
		resp, err := ls.Recv()
		if err == io.EOF {
			return out
		}
		if err != nil {
			die("List: %v", err)
		}
		for _, info := range resp.Info {
			out = append(out, info.Name)
		}
	}
}

// ---- fill, walk ---------------------------------------------------------

func fill() {
	ctx, cc, done := connect(120 * time.Second)
	defer done()
	c := snapshotsapi.NewSnapshotsClient(cc)
	var wg sync.WaitGroup
	errs := make(chan error, *n)
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				l := map[string]string{}
				for j := 0; j < *labels; j++ {
					k := fmt.Sprintf("containerd.io/snapshot/fill-%02d", j)
					l[k] = strings.Repeat(string(rune('a'+j%26)), *size-len(k))
				}
				key := fmt.Sprintf("connattack/fill/%04d", i)
				_, err := c.Prepare(ctx, &snapshotsapi.PrepareSnapshotRequest{Snapshotter: *snapshotter, Key: key, Labels: l})
				if err != nil {
					errs <- fmt.Errorf("Prepare %s: %v", key, err)
				}
			}
		}()
	}
	for i := 0; i < *n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		die("%v", err)
	}
	fmt.Printf("prepared %d snapshots\n", *n)
}

func walk() {
	ctx, cc, done := connect(120 * time.Second)
	defer done()
	sn := proxy.NewSnapshotter(snapshotsapi.NewSnapshotsClient(cc), *snapshotter)
	seen, bytes := 0, 0
	start := time.Now()
	err := sn.Walk(ctx, func(ctx context.Context, info snapshots.Info) error {
		seen++
		for k, v := range info.Labels {
			bytes += len(k) + len(v)
		}
		time.Sleep(*delay)
		return nil
	})
	if err != nil {
		die("Walk after %d snapshots: %v", seen, err)
	}
	if seen != *want {
		die("Walk saw %d snapshots, want %d", seen, *want)
	}
	fmt.Printf("walked %d snapshots, %d MiB of labels, in %v\n", seen, bytes>>20, time.Since(start).Round(time.Millisecond))
}

func main() {
	if len(os.Args) < 2 {
		die("usage: connattack idle|halfsend|stat|nul|fill|walk [flags]")
	}
	fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "idle":
		idle()
	case "halfsend":
		halfsend()
	case "stat":
		stat()
	case "nul":
		nul()
	case "fill":
		fill()
	case "walk":
		walk()
	default:
		die("unknown mode %s", os.Args[1])
	}
}
