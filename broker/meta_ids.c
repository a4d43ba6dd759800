/* Snapshot ids: handed out from blocks reserved in the store, never reused,
 * and checked when a record takes one. */
#include <inttypes.h>
#include <string.h>

#include "meta_store.h"

/* Ids are reserved from the store in blocks: one synced transaction per
 * ID_BLOCK snapshots instead of one per snapshot.  An id of a block lost in a
 * crash is simply never used. */
#define ID_BLOCK 64

static const MDB_val next_id_key = {.mv_size = 7, .mv_data = "next_id"};

/* The first id not yet handed out: ids start at 1. */
static int next_id_read(struct meta *m, MDB_txn *txn, uint64_t *next, struct err *e)
{
	MDB_val k = next_id_key, v;
	int rc = mdb_get(txn, m->info, &k, &v);
	if (rc == MDB_NOTFOUND) {
		*next = 1;
		return 0;
	}
	if (rc)
		return lmdb_fail(e, rc, "reading", "next_id");
	uint64_t be;
	if (v.mv_size != sizeof be)
		return err_set(e, ST_INTERNAL, "metadata: corrupt next_id");
	memcpy(&be, v.mv_data, sizeof be);
	*next = be64toh(be);
	return 0;
}

static int reserve_ids_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	uint64_t *first = arg, be;
	if (next_id_read(m, txn, first, e) < 0)
		return -1;
	if (*first > UINT64_MAX - ID_BLOCK)
		return err_set(e, ST_RESOURCE_EXHAUSTED, "metadata: snapshot ids exhausted");
	MDB_val k = next_id_key, v = id_val(*first + ID_BLOCK, &be);
	int rc = mdb_put(txn, m->info, &k, &v, 0);
	return rc ? lmdb_fail(e, rc, "writing", "next_id") : 0;
}

int meta_next_id(struct meta *m, uint64_t *id, struct err *e)
{
	if (m->id_next == m->id_end) {
		/* The reservation must be durable before any directory is made
		 * with one of its ids: in group commit it joins the batch, and
		 * the caller commits before it uses the id (return 1). */
		uint64_t first;
		if (in_txn(m, true, reserve_ids_body, &first, e) < 0)
			return -1;
		m->id_next = first;
		m->id_end = first + ID_BLOCK;
		*id = m->id_next++;
		return m->batch_opened ? 1 : 0;
	}
	*id = m->id_next++;
	return 0;
}

void meta_forget_ids(struct meta *m)
{
	m->id_next = m->id_end = 0;
}

int check_new_id(struct meta *m, MDB_txn *txn, uint64_t id, struct err *e)
{
	uint64_t next, be;
	if (next_id_read(m, txn, &next, e) < 0)
		return -1;
	if (id == 0 || id >= next)
		return err_set(e, ST_INTERNAL, "metadata: id %" PRIu64 " was not reserved", id);
	MDB_val k = id_val(id, &be), v;
	int rc = mdb_get(txn, m->ids, &k, &v);
	if (rc == 0)
		return err_set(e, ST_INTERNAL, "metadata: id %" PRIu64 " is already in use", id);
	return rc == MDB_NOTFOUND ? 0 : lmdb_fail(e, rc, "reading", "ids");
}
