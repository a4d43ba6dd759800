/* The parent: what stratad is when started as root.  It prepares the state
 * directories and sockets, runs the broker and its spawner (restarting both
 * when one dies) and serves the broker's few fixed directory requests. */
#ifndef STRATA_PARENT_H
#define STRATA_PARENT_H

#include "../common/config.h"
#include "../common/err.h"
#include "../common/tenant.h"

/* Runs until SIGTERM/SIGINT; returns the exit status.  The tenants go to
 * the broker (--tenant flags). */
int parent_main(const struct config *cfg, const struct tenants *tenants);

/* sdnotify.c: systemd's protocols without libsystemd. */

/* Takes the sockets of socket activation (LISTEN_PID/LISTEN_FDS), telling
 * them apart by SO_TYPE and address: SOCK_SEQPACKET is native, the
 * SOCK_STREAM one bound to grpc_path gRPC (a lone stream socket is gRPC
 * wherever it is bound), another stream socket (a unix path or TCP) the
 * metrics.  Sets the fds found (others stay -1), marks them close-on-exec
 * and unsets the variables.  Returns the number taken. */
int sd_listen_fds_take(const char *grpc_path, int *grpc_fd, int *native_fd, int *metrics_fd, struct err *e);
/* Sends `state` (e.g. "READY=1") to NOTIFY_SOCKET when it is set. */
int sd_notify_state(const char *state, struct err *e);

#endif
