// Command ctrd-overlay-server is the peer strata is measured against:
// containerd's own overlayfs snapshotter behind containerd's own snapshot
// service wrapper, served by grpc-go on a unix socket, which is how a proxy
// snapshotter plugin is reached (and how stratad serves).
//
//	ctrd-overlay-server -root DIR -address SOCKET
//
// It prints "serving" once the socket accepts connections and stops on
// SIGTERM or SIGINT (closing the snapshotter's metadata store).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/contrib/snapshotservice"
	"github.com/containerd/containerd/snapshots/overlay"
	"google.golang.org/grpc"
)

func main() {
	root := flag.String("root", "", "snapshotter state directory")
	address := flag.String("address", "", "unix socket to serve on")
	flag.Parse()
	if *root == "" || *address == "" {
		fmt.Fprintln(os.Stderr, "usage: ctrd-overlay-server -root DIR -address SOCKET")
		os.Exit(2)
	}
	if err := serve(*root, *address); err != nil {
		fmt.Fprintf(os.Stderr, "ctrd-overlay-server: %v\n", err)
		os.Exit(1)
	}
}

func serve(root, address string) error {
	sn, err := overlay.NewSnapshotter(root)
	if err != nil {
		return fmt.Errorf("overlay snapshotter on `%s`: %w", root, err)
	}
	defer sn.Close()

	if err := os.Remove(address); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove stale `%s`: %w", address, err)
	}
	l, err := net.Listen("unix", address)
	if err != nil {
		return fmt.Errorf("listen on `%s`: %w", address, err)
	}
	srv := grpc.NewServer()
	snapshotsapi.RegisterSnapshotsServer(srv, snapshotservice.FromSnapshotter(sn))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		srv.Stop()
	}()

	fmt.Println("serving")
	if err := srv.Serve(l); err != nil {
		return fmt.Errorf("serve on `%s`: %w", address, err)
	}
	return nil
}
