// healthcheck asks a gRPC server grpc.health.v1.Health/Check, as
// grpc_health_probe and Kubernetes' gRPC probes do, for
// tests/integration/metrics.sh.
//
//	healthcheck -address SOCK [-service NAME] [-watch]
//
// Prints the status (SERVING, NOT_SERVING...) and exits 0, or prints
// `CODE: message` (CODE a gRPC status name) when the call failed and exits
// 1; exit 2 for a usage or connection error.  -watch calls Watch instead
// and prints its first answer.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

func main() {
	address := flag.String("address", "", "the gRPC unix socket")
	service := flag.String("service", "", "the service to ask about (empty: the server)")
	watch := flag.Bool("watch", false, "call Watch, not Check")
	flag.Parse()
	if *address == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: healthcheck -address SOCK [-service NAME] [-watch]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, "unix://"+*address, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		fmt.Fprintf(os.Stderr, "healthcheck: connect: %v\n", err)
		os.Exit(2)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	req := &healthpb.HealthCheckRequest{Service: *service}
	var resp *healthpb.HealthCheckResponse
	if *watch {
		var stream healthpb.Health_WatchClient
		if stream, err = client.Watch(ctx, req); err == nil {
			resp, err = stream.Recv()
		}
	} else {
		resp, err = client.Check(ctx, req)
	}
	if err != nil {
		s, _ := status.FromError(err)
		fmt.Printf("%s: %s\n", s.Code(), s.Message())
		os.Exit(1)
	}
	fmt.Println(resp.Status.String())
}
