//go:build linux
// +build linux

// Package snapsuite runs containerd's own snapshotter test suite against
// stratad, reached the way containerd reaches a proxy snapshotter: a gRPC
// client connection on a unix socket wrapped by snapshots/proxy.
//
// Each subtest of the suite gets a fresh stratad on its own temporary root,
// started and stopped by pid here.
//
// Environment:
//
//	STRATAD          path of the stratad binary (default: REPO/build/stratad)
//	STRATA_USER      broker account passed as --user (default: strata)
//	STRATAD_ARGS     extra flags for stratad, split on spaces (e.g. "--log-level debug")
//	STRATA_UMASK     umask stratad runs under (default 0077, as in strata.service)
//	STRATA_TEST_LOG  1: copy every daemon's log into the test log, not only on a bad exit
package snapsuite

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/log"
	"github.com/containerd/containerd/pkg/dialer"
	"github.com/containerd/containerd/pkg/testutil"
	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/containerd/snapshots/proxy"
	"github.com/containerd/containerd/snapshots/testsuite"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

const (
	socketWait = 10 * time.Second // stratad must be serving within this
	stopWait   = 10 * time.Second // and gone this long after SIGTERM (it kills its broker after 5 s)
)

// repoRoot finds the repository from the test's working directory (the
// package directory under tests/go/src) by walking up to the Makefile.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "Makefile")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "worker")); err == nil {
				return d, nil
			}
		}
	}
	return "", fmt.Errorf("no strata repository above `%s`", dir)
}

func stratadPath() (string, error) {
	if p := os.Getenv("STRATAD"); p != "" {
		return filepath.Abs(p)
	}
	repo, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(repo, "build", "stratad"), nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// daemon is one running stratad and what is needed to stop it and explain it.
type daemon struct {
	cmd     *exec.Cmd
	logPath string
	exited  chan error // receives cmd.Wait's result once
}

func startDaemon(ctx context.Context, root string) (*daemon, string, error) {
	bin, err := stratadPath()
	if err != nil {
		return nil, "", err
	}
	// The suite makes its temp dir 0700; the broker runs as an unprivileged
	// user and must be able to traverse down to its own state directory.
	if err := os.Chmod(filepath.Dir(root), 0711); err != nil {
		return nil, "", err
	}
	if err := os.Chmod(root, 0711); err != nil {
		return nil, "", err
	}
	state := filepath.Join(root, "state")
	sock := filepath.Join(root, "s.sock")
	args := []string{"--root", state, "--address", sock, "--user", envOr("STRATA_USER", "strata")}
	args = append(args, strings.Fields(os.Getenv("STRATAD_ARGS"))...)

	logPath := filepath.Join(root, "stratad.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, "", err
	}
	defer logf.Close()
	// Under the umask systemd gives it (strata.service: UMask=0077), not the
	// suite's 0: the daemon must set the modes it means. sh execs, so the pid
	// is stratad's.
	umask := envOr("STRATA_UMASK", "0077")
	cmd := exec.Command("/bin/sh", append([]string{"-c", `umask "$0" && exec "$@"`, umask, bin},
		args...)...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Dies with the test binary if the test is killed before it can stop it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start `%s`: %w", bin, err)
	}
	d := &daemon{cmd: cmd, logPath: logPath, exited: make(chan error, 1)}
	go func() { d.exited <- cmd.Wait() }()
	log.G(ctx).WithField("pid", cmd.Process.Pid).Debugf("started %s %s", bin, strings.Join(args, " "))

	if err := d.waitSocket(sock); err != nil {
		d.kill()
		return nil, "", fmt.Errorf("%w\n%s", err, d.logTail())
	}
	return d, sock, nil
}

// waitSocket polls until something accepts connections on sock, failing
// early if the daemon exits.
func (d *daemon) waitSocket(sock string) error {
	deadline := time.Now().Add(socketWait)
	for time.Now().Before(deadline) {
		select {
		case err := <-d.exited:
			d.exited <- err
			return fmt.Errorf("stratad exited before serving on `%s`: %v", sock, err)
		default:
		}
		if c, err := dialer.Dialer(sock, 100*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("stratad did not serve on `%s` within %v", sock, socketWait)
}

func (d *daemon) kill() {
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
}

// stop sends SIGTERM and expects a clean exit (status 0) within stopWait.
func (d *daemon) stop() error {
	pid := d.cmd.Process.Pid
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM stratad pid %d: %w", pid, err)
	}
	select {
	case err := <-d.exited:
		if err != nil {
			return fmt.Errorf("stratad pid %d did not exit cleanly: %v\n%s", pid, err, d.logTail())
		}
		return nil
	case <-time.After(stopWait):
		d.kill()
		return fmt.Errorf("stratad pid %d still running %v after SIGTERM, killed\n%s", pid, stopWait,
			d.logTail())
	}
}

func (d *daemon) logTail() string {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return fmt.Sprintf("(no daemon log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	return "stratad log (last lines):\n" + string(bytes.Join(lines, []byte("\n")))
}

// dial connects the way containerd's proxy plugin loader does
// (services/server: insecure, context dialer, capped back-off).
func dial(sock string) (*grpc.ClientConn, error) {
	bc := backoff.DefaultConfig
	bc.MaxDelay = 3 * time.Second
	return grpc.Dial(dialer.DialAddress(sock),
		grpc.WithInsecure(),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bc}),
		grpc.WithContextDialer(dialer.ContextDialer),
	)
}

func newStrata(ctx context.Context, root string) (snapshots.Snapshotter, func() error, error) {
	d, sock, err := startDaemon(ctx, root)
	if err != nil {
		return nil, nil, err
	}
	conn, err := dial(sock)
	if err != nil {
		d.kill()
		return nil, nil, fmt.Errorf("dial `%s`: %w", sock, err)
	}
	sn := proxy.NewSnapshotter(snapshotsapi.NewSnapshotsClient(conn), "strata")
	closeFn := func() error {
		cerr := conn.Close()
		serr := d.stop()
		if serr != nil || os.Getenv("STRATA_TEST_LOG") == "1" {
			log.G(ctx).Info(d.logTail())
		}
		if serr != nil {
			return serr
		}
		return cerr
	}
	return sn, closeFn, nil
}

// TestStrata runs the suite as upstream runs it for overlayfs
// (snapshots/overlay/overlay_test.go): root is required for the mounts, and
// the Rename check skips itself inside the suite, as it does for overlay.
func TestStrata(t *testing.T) {
	testutil.RequiresRoot(t)
	bin, err := stratadPath()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("stratad not found (build it, or set STRATAD): %v", err)
	}
	testsuite.SnapshotterSuite(t, "Strata", newStrata)
}
