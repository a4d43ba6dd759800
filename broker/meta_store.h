/* What the files of the metadata store share; nothing outside broker/meta*.c
 * includes it.  The store mirrors containerd's snapshots/storage (bolt.go):
 * the same checks in the same order, the same error codes.
 *
 *   meta.c         opening (databases, schema version) and closing
 *   meta_txn.c     transactions, alone or in a group-commit batch, and the
 *                  committer thread that commits the batch
 *   meta_record.c  a snapshot's key, record and labels, the limits on them
 *   meta_read.c    lookups and walks
 *   meta_ids.c     ids, reserved in blocks and never reused
 *   meta_write.c   create, commit, remove, update, usage
 *   meta_holds.c   mount holds, the snapshots written through a mount fd,
 *                  those a layer apply failed on and those one is under way on
 *   meta_space.c   room to grow: the reserve past data.mdb's end, the map's
 *                  headroom, and what ran out when a write cannot grow
 *
 * Named databases:
 *   snapshots  snap_key(name) -> packed strata.v1.SnapshotRecord
 *   parents    be64(parent id) be64(child id) -> empty (children of a parent)
 *   ids        be64(id) -> name (ids in use; full names of long-keyed records)
 *   info       "version" -> be32, "next_id" -> be64
 *   holds      attach path -> a mount hold's record (hold_pack)
 *   written    be64(id) -> empty (meta_written_put)
 *   failed     be64(id) -> empty (meta_failed_put)
 *   applying   be64(id) -> one byte of META_APPLYING_* (meta_applying_put)
 *
 * LMDB keys are at most 511 bytes and names may have 4096, so a name longer
 * than SHORT_KEY_MAX is keyed by a prefix of it plus its SHA-256; such keys
 * are exactly LONG_KEY_LEN bytes, longer than any short key, so the two never
 * collide.  Walks visit records in key order: name order, except among long
 * names that share their first LONG_KEY_PREFIX bytes. */
#ifndef STRATA_META_STORE_H
#define STRATA_META_STORE_H

#include <endian.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "meta.h"
#include "proto/api.h"

#define HASH_LEN	32
#define LONG_KEY_PREFIX 479
#define LONG_KEY_LEN	(LONG_KEY_PREFIX + HASH_LEN)
#define SHORT_KEY_MAX	LONG_KEY_PREFIX

typedef Strata__V1__SnapshotRecord Record;
typedef Strata__V1__Label RecordLabel;

struct committer; /* meta_txn.c */

struct meta {
	MDB_env *env;
	MDB_dbi snaps, parents, ids, info, holds, written, failed, applying;
	uint64_t id_next, id_end; /* reserved, not yet handed out: [id_next, id_end) */
	MDB_txn *batch;		  /* open batch transaction (group commit), HELD */
	void (*batch_opened)(void *ctx);
	void *batch_ctx;
	struct committer *k; /* group commit only */
	char *dir;	     /* ROOT/meta, for messages */
	uint64_t map_size;   /* meta_max_bytes */
	/* The reserve (meta_space.c), topped up by both threads. */
	pthread_mutex_t rsv_mu;
	uint64_t rsv_size; /* bytes kept allocated past data.mdb's end; 0: none */
	uint64_t rsv_end;  /* data.mdb's blocks are allocated up to here */
	bool rsv_short;	   /* the last top-up could not allocate all of it */
};

/* ---- the store (meta.c) ---------------------------------------------------- */

/* An LMDB failure as an error: ResourceExhausted when the store is full,
 * else Internal. */
int lmdb_fail(struct err *e, int rc, const char *op, const char *obj);

static inline MDB_val id_val(uint64_t id, uint64_t *be)
{
	*be = htobe64(id);
	return (MDB_val){.mv_size = sizeof *be, .mv_data = be};
}

/* ---- room to grow (meta_space.c) ------------------------------------------- */

/* Sizes the reserve for the file system data.mdb is on and allocates it. */
void reserve_init(struct meta *m);
/* Allocates the reserve again past data.mdb's end, if the file grew or the
 * last try fell short.  Called with no write transaction writing the file
 * (after a commit) or concurrently with one (the kernel orders them). */
void reserve_top_up(struct meta *m);
/* A failed commit as an error: on ENOSPC it says what the file system of
 * the store has left. */
int commit_fail(struct meta *m, struct err *e, int rc, const char *op);

/* ---- transactions (meta_txn.c) ---------------------------------------------- */

typedef int (*txn_body)(struct meta *m, MDB_txn *txn, void *arg, struct err *e);

/* Runs body in one transaction; a write transaction commits only when body
 * succeeded, so a failed operation changes nothing. */
int in_txn(struct meta *m, bool write, txn_body body, void *arg, struct err *e);
/* Ends group commit: drops the batch not yet committed, as a crash would,
 * and joins the committer thread.  Nothing when group commit is off. */
void committer_stop(struct meta *m);

/* ---- records (meta_record.c) ------------------------------------------------ */

/* A snapshot's key in the snapshots database. */
struct snap_key {
	unsigned char b[LONG_KEY_LEN];
	size_t n;
};
void snap_key_of(const char *name, struct snap_key *k);
int validate_name(const char *what, const char *name, struct err *e);
/* containerd's labels.Validate, plus strata's count bound. */
int validate_labels(const struct label *l, size_t n, struct err *e);
/* The bounds on a whole label set: META_LABELS_MAX and META_LABELS_BYTES_MAX. */
int validate_labels_total(size_t n, size_t bytes, struct err *e);

/* Labels normalised as containerd's map and boltutil.WriteLabels do. */
struct label_ref {
	const char *key, *value;
	size_t order;
};
/* Sorts refs by key; for a key given more than once the last one wins (map
 * assignment); empty values are dropped (WriteLabels does not store them).
 * Returns the number kept, compacted at the front. */
size_t labels_normalize(struct label_ref *r, size_t n);
struct label_ref *label_refs_of(const struct label *l, size_t n);

/* 1 and *rec when found, 0 when absent, -1 on a store error. */
int record_load(struct meta *m, MDB_txn *txn, const char *name, Record **rec, struct err *e);
int record_exists(struct meta *m, MDB_txn *txn, const char *name, struct err *e);
/* Packs rec, labels as it has them, under name straight into LMDB's page
 * (MDB_RESERVE). */
int record_put(struct meta *m, MDB_txn *txn, const char *name, const Record *rec, struct err *e);
/* Stores rec under name with the labels l (already normalised) in place of
 * its own. */
int record_store(struct meta *m, MDB_txn *txn, const char *name, Record *rec, const struct label_ref *l,
		 size_t nl, struct err *e);
int record_delete(struct meta *m, MDB_txn *txn, const char *name, struct err *e);
int id_name_put(struct meta *m, MDB_txn *txn, uint64_t id, const char *name, struct err *e);

void info_fill(struct snap_info *out, const char *name, size_t namelen, const Record *r);
/* Replaces out's labels with copies of l (records being written, whose
 * labels live in the caller's refs). */
void info_set_labels(struct snap_info *out, const struct label_ref *l, size_t nl);

/* ---- ids (meta_ids.c) ------------------------------------------------------- */

/* The id must have been reserved by meta_next_id and not be in use: anything
 * else is a bug in the caller, never a client's fault. */
int check_new_id(struct meta *m, MDB_txn *txn, uint64_t id, struct err *e);

#endif
