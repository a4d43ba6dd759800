/* How the parent starts its two children: each is exec'ed (stratad-broker,
 * stratad-spawner, next to stratad) with these fds open and every other fd
 * closed.  The parent puts them there; the child takes them as given.
 * (stratad-worker, the spawner's image for the layer roles, is exec'ed by
 * the spawner: parent/spawner.h.) */
#ifndef STRATA_EXEC_H
#define STRATA_EXEC_H

/* stratad-broker */
#define BROKER_FD_CTL	  3 /* ipc control channel to the parent (requests, replies) */
#define BROKER_FD_EVT	  4 /* ipc event channel to the spawner (jobs) */
#define BROKER_FD_GRPC	  5 /* listening gRPC socket (SOCK_STREAM) */
#define BROKER_FD_NATIVE  6 /* listening native socket (SOCK_SEQPACKET) */
#define BROKER_FD_AUDIT	  7 /* the audit_log file, appended to (only with audit_log) */
#define BROKER_FD_METRICS 8 /* listening metrics socket (only with metrics_address) */

/* stratad-spawner */
#define SPAWNER_FD_EVT	   3 /* the broker's event channel */
#define SPAWNER_FD_SNAPDIR 4 /* O_PATH fd of ROOT/snapshots */
#define SPAWNER_FD_WORKER  5 /* stratad-worker, read-only: the image it execs for some jobs */

#endif
