/* The native socket (ADDRESS.fd, SOCK_SEQPACKET): the same request and
 * response messages as gRPC, framed as one record each, plus fds passed with
 * SCM_RIGHTS for the operations that need them.
 *
 * client -> broker: struct native_req + protobuf request (+ fds)
 * broker -> client: struct native_resp + payload, one or more records:
 *   NATIVE_DATA   payload is a response message (streaming methods send many)
 *   NATIVE_STATUS payload is the status message text; ends the call.
 *                 code 0 and an empty text for success.
 * Records larger than NATIVE_MAX_RECORD are refused. */
#ifndef STRATA_NATIVE_H
#define STRATA_NATIVE_H

#include <stdint.h>

#define NATIVE_MAGIC	  0x53545241u /* "STRA" */
#define NATIVE_MAX_RECORD (192 * 1024)
#define NATIVE_MAX_FDS	  2

enum native_method {
	NM_PREPARE = 1,
	NM_VIEW = 2,
	NM_MOUNTS = 3,
	NM_COMMIT = 4,
	NM_REMOVE = 5,
	NM_STAT = 6,
	NM_UPDATE = 7,
	NM_LIST = 8,
	NM_USAGE = 9,
	NM_CLEANUP = 10,
	NM_APPLY = 11, /* diff service */
	NM_DIFF = 12,
	NM_PROBE = 100,	      /* strata.v1 ProbeRequest: policy probe (only with enable_probe) */
	NM_APPLY_LAYER = 101, /* strata.v1 ApplyLayerRequest + 1 fd: the layer */
	NM_DIFF_LAYER = 102,  /* strata.v1 DiffLayerRequest + 1 fd: where the layer goes */
	NM_MOUNT = 103,	      /* strata.v1 MountRequest; the reply's data record carries the mount fd */
	NM_RELEASE = 104,     /* strata.v1 ReleaseRequest: ends an attached mount's hold */
	NM_FSCK = 105,	      /* strata.v1 FsckRequest: metadata against the tree (broker/fsck.c) */
	NM_ACT_AS = 106,      /* strata.v1 ActAsRequest: root's connection acts as a tenant */
	NM_VERSION = 107,     /* strata.v1 VersionRequest: the daemon's version and features */
	NM_METRICS = 108,     /* strata.v1 MetricsRequest: the Prometheus exposition (broker/metrics.h) */
	NM_HEALTH = 109,      /* strata.v1 HealthRequest: the health check (broker/health.c) */
};

struct native_req {
	uint32_t magic;
	uint32_t method; /* enum native_method */
	uint32_t id;	 /* echoed in every response record of this call */
	uint32_t len;	 /* payload bytes that follow */
};

enum native_kind { NATIVE_DATA = 1, NATIVE_STATUS = 2 };

struct native_resp {
	uint32_t magic;
	uint32_t kind; /* enum native_kind */
	uint32_t id;
	uint32_t code; /* NATIVE_STATUS: enum status_code */
	uint32_t len;
};

#endif
