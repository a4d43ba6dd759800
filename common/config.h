/* Daemon configuration: defaults, an INI file (libinih) whose keys mirror the
 * command-line flags, then the flags, which win.  The parent parses it once;
 * the broker receives the effective values on its command line. */
#ifndef STRATA_CONFIG_H
#define STRATA_CONFIG_H

#include <stdint.h>
#include "err.h"

#define STRATA_DEFAULT_ROOT    "/var/lib/strata"
#define STRATA_DEFAULT_ADDRESS "/run/strata/strata.sock"
#define STRATA_DEFAULT_USER    "strata"

struct config {
	char *root;	      /* --root, key `root` */
	char *address;	      /* --address, key `address`; native socket is address + ".fd" */
	char *user;	      /* --user, key `user`: the broker's account */
	char *content_root;   /* --content-root, key `content_root` (diff service) */
	int log_level;	      /* --log-level, key `log_level`: error|warn|info|debug */
	int seccomp_log;      /* --seccomp-log, key `seccomp_log`: log denied calls instead of killing */
	int enable_probe;     /* --enable-probe, key `enable_probe`: allow the policy probe jobs (tests) */
	uint32_t max_message; /* --max-message, key `max_message`: largest gRPC/native message in bytes */
	uint32_t max_conns;   /* --max-connections, key `max_connections` */
	uint32_t max_jobs;    /* --max-jobs, key `max_jobs`: workers running at once */
	/* --max-queued-jobs, key `max_queued_jobs`: jobs waiting for a worker
	 * slot; past it a call gets ResourceExhausted. */
	uint32_t max_queued_jobs;
	/* --job-timeout, key `job_timeout`: seconds a job may run in all;
	 * --job-idle-timeout, key `job_idle_timeout`: seconds a job that
	 * streams a layer (apply, diff) may go without moving a byte.  Past
	 * either, its worker is killed and the call gets DeadlineExceeded. */
	uint32_t job_timeout, job_idle_timeout;
	/* Limits of one layer apply (`extract_*` keys, same-named flags with
	 * dashes); exceeding one fails the apply with ResourceExhausted. */
	uint64_t extract_max_bytes;   /* uncompressed bytes */
	uint64_t extract_max_entries; /* tar entries */
	uint64_t extract_max_file;    /* bytes of one file */
	uint32_t extract_max_depth;   /* path components */
	uint32_t extract_max_name;    /* bytes of a path or link target */
	uint32_t extract_max_xattr;   /* bytes of one xattr value */
	uint32_t extract_max_ratio;   /* uncompressed / compressed past 64 MiB; 0: none */
	int strip_caps;		      /* key `strip_caps`: drop setuid/setgid and security.capability */
};

void config_defaults(struct config *c);
/* Loads an INI file: keys either at top level or under [strata]. */
int config_load_file(struct config *c, const char *path, struct err *e);
/* Applies one `key`/`value` pair; used by the file loader and by the flags. */
int config_set(struct config *c, const char *key, const char *value, struct err *e);
void config_free(struct config *c);
/* Path of the native socket for a gRPC address: ADDRESS.fd */
char *config_native_address(const struct config *c);

#endif
