/* Daemon configuration: defaults, an INI file (libinih) whose keys are the
 * settings, then the flags (args.h), which win.  Each setting is one entry of
 * config_settings (config.c), from which the file parser, the flags, the
 * argv of the parent's children and --help are all derived.  The parent
 * parses it once; its children receive the effective values as flags. */
#ifndef STRATA_CONFIG_H
#define STRATA_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "tenant.h"

#define STRATA_DEFAULT_ROOT    "/var/lib/strata"
#define STRATA_DEFAULT_ADDRESS "/run/strata/strata.sock"
#define STRATA_DEFAULT_USER    "strata"

/* Each field is one setting; config.c's table names its key and range.  No
 * padding: test_config proves every field is in the table by their tiling. */
struct config {
	char *root;
	char *address; /* gRPC; the native socket is address + ".fd" */
	char *user;    /* the broker's account */
	char *content_root;
	char *socket_group;    /* a group name or number; empty: root's */
	char *audit_log;       /* the audit trail's file (broker/audit.h); empty: the log alone */
	char *metrics_address; /* HTTP /metrics: a unix socket path or HOST:PORT; empty: none */
	int log_level;	       /* enum log_level */
	int log_format;	       /* enum log_format */
	/* The sockets' permission bits.  32 bits, though 9 would do: the
	 * 4-byte fields are then an even number, and struct config has no
	 * padding. */
	uint32_t socket_mode;
	int seccomp_log, enable_probe, strip_caps;
	uint32_t max_message, max_conns, max_jobs, max_queued_jobs;
	uint32_t job_timeout, job_idle_timeout;
	/* Per front door: connections of one peer uid, and seconds one with
	 * nothing in flight stays open (broker/connpool.h). */
	uint32_t max_conns_per_user, idle_timeout;
	/* The limits of one layer apply; exceeding one fails it with
	 * ResourceExhausted. */
	uint32_t extract_max_depth, extract_max_name, extract_max_xattr, extract_max_ratio;
	uint64_t extract_max_bytes, extract_max_entries, extract_max_file;
	uint64_t meta_max_bytes;    /* the metadata store's map (broker/meta_space.c) */
	uint64_t max_request_bytes; /* gRPC request bytes buffered across connections */
	/* Applies of layers ahead of their lowers (a parallel unpack) running
	 * at once; 0: one per core. */
	uint64_t max_parallel_applies;
};

enum setting_kind {
	SETTING_PATH,		  /* absolute */
	SETTING_PATH_OR_EMPTY,	  /* absolute, or empty: none */
	SETTING_NAME,		  /* not empty */
	SETTING_NAME_OR_EMPTY,	  /* a name, or empty: none */
	SETTING_BOOL,		  /* int: true|yes|on|1 or false|no|off|0 */
	SETTING_ENUM,		  /* int: the index of one of names */
	SETTING_UINT,		  /* uint32_t or uint64_t, lo..hi */
	SETTING_MODE,		  /* uint32_t: octal permission bits lo..hi, no execute bit */
	SETTING_ADDRESS_OR_EMPTY, /* an absolute path (a unix socket), HOST:PORT, or empty */
};

struct setting {
	const char *key; /* in the file; the flag is --KEY with `-` for `_` */
	enum setting_kind kind;
	size_t off, size;	  /* the field of struct config */
	uint64_t lo, hi;	  /* SETTING_UINT, SETTING_MODE */
	const char *const *names; /* SETTING_ENUM, NULL-terminated */
	const char *def;	  /* the default, as the file spells it */
	const char *value_name;	  /* the value in --help (DIR, N); NULL for a bool */
	const char *help;
};

extern const struct setting config_settings[];
extern const size_t config_nsettings;

void config_defaults(struct config *c);
/* Loads an INI file: settings either at top level or under [strata], and
 * the tenants' sections `[tenant NAME]` into t (tenant.h), whose user and
 * group names are resolved now. */
int config_load_file(struct config *c, struct tenants *t, const char *path, struct err *e);
/* A HOST:PORT address ([HOST]:PORT for IPv6) split: host without brackets
 * into host (NUL-terminated), port 1..65535.  -1 when it is not one. */
int config_split_hostport(const char *v, char *host, size_t hostlen, unsigned *port);
/* Applies one `key`/`value` pair; used by the file loader and by the flags. */
int config_set(struct config *c, const char *key, const char *value, struct err *e);
/* One setting's value in c as the file spells it; allocated. */
char *config_get(const struct config *c, const struct setting *s);
int config_parse_bool(const char *v, int *out);
void config_free(struct config *c);
/* Path of the native socket for a gRPC address: ADDRESS.fd */
char *config_native_address(const struct config *c);

#endif
