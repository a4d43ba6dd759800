/* Reads of the metadata store: a snapshot by name or id, its ancestors, every
 * snapshot in name order, every id in use. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "meta_store.h"

/* More ancestors than this means a corrupt store (a loop), not a deep chain. */
#define CHAIN_MAX 100000

struct get_args {
	const char *name;
	struct snap_info *out;
};

static int get_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct get_args *a = arg;
	Record *rec = NULL;
	int r = record_load(m, txn, a->name, &rec, e);
	if (r <= 0)
		return r < 0 ? -1 : err_set(e, ST_NOT_FOUND, "snapshot `%.200s` does not exist", a->name);
	info_fill(a->out, a->name, strlen(a->name), rec);
	strata__v1__snapshot_record__free_unpacked(rec, NULL);
	return 0;
}

int meta_get(struct meta *m, const char *name, struct snap_info *out, struct err *e)
{
	struct get_args a = {.name = name, .out = out};
	return in_txn(m, false, get_body, &a, e);
}

struct ids_args {
	const char *name;
	uint64_t *ids;
	size_t n;
};

static int parent_ids_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct ids_args *a = arg;
	Record *rec = NULL;
	int r = record_load(m, txn, a->name, &rec, e);
	if (r <= 0)
		return r < 0 ? -1 : err_set(e, ST_NOT_FOUND, "snapshot `%.200s` does not exist", a->name);
	size_t cap = 0;
	while (rec->parent && rec->parent[0]) {
		Record *p = NULL;
		r = record_load(m, txn, rec->parent, &p, e);
		if (r == 0)
			err_set(e, ST_NOT_FOUND, "missing parent `%.200s` of `%.200s`", rec->parent, a->name);
		strata__v1__snapshot_record__free_unpacked(rec, NULL);
		if (r <= 0)
			return -1;
		rec = p;
		if (a->n == CHAIN_MAX) {
			strata__v1__snapshot_record__free_unpacked(rec, NULL);
			return err_set(e, ST_INTERNAL, "metadata: parent chain of `%.200s` loops", a->name);
		}
		if (a->n == cap) {
			cap = cap ? 2 * cap : 16;
			a->ids = xrealloc(a->ids, cap * sizeof *a->ids);
		}
		a->ids[a->n++] = rec->id;
	}
	strata__v1__snapshot_record__free_unpacked(rec, NULL);
	return 0;
}

int meta_parent_ids(struct meta *m, const char *name, uint64_t **ids, size_t *n, struct err *e)
{
	struct ids_args a = {.name = name};
	if (in_txn(m, false, parent_ids_body, &a, e) < 0) {
		free(a.ids);
		return -1;
	}
	*ids = a.ids ? a.ids : xcalloc(1, sizeof **ids);
	*n = a.n;
	return 0;
}

struct walk_args {
	meta_walk_fn fn;
	void *ctx;
	const char *after; /* start past this name; NULL: at the first */
};

/* The first record of the walk: the first of all, or the first whose key
 * follows after's. */
static int walk_first(struct meta *m, MDB_cursor *cur, const char *after, MDB_val *k, MDB_val *v)
{
	if (!after)
		return mdb_cursor_get(cur, k, v, MDB_FIRST);
	struct snap_key sk;
	snap_key_of(after, &sk);
	k->mv_data = sk.b;
	k->mv_size = sk.n;
	int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
	if (rc == 0 && k->mv_size == sk.n && !memcmp(k->mv_data, sk.b, sk.n))
		rc = mdb_cursor_get(cur, k, v, MDB_NEXT);
	return rc;
}

/* The name of the record under key k: the key itself, or for a long key
 * the full name kept in the ids database. */
static int key_name(struct meta *m, MDB_txn *txn, const MDB_val *k, uint64_t id, MDB_val *name, struct err *e)
{
	if (k->mv_size <= SHORT_KEY_MAX) {
		*name = *k;
		return 0;
	}
	uint64_t be;
	MDB_val key = id_val(id, &be);
	int rc = mdb_get(txn, m->ids, &key, name);
	if (rc == MDB_NOTFOUND)
		return err_set(e, ST_INTERNAL, "metadata: no name for snapshot id %" PRIu64, id);
	return rc ? lmdb_fail(e, rc, "reading", "ids") : 0;
}

static int walk_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct walk_args *a = arg;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, m->snaps, &cur);
	if (rc)
		return lmdb_fail(e, rc, "walking", "snapshots");
	MDB_val k, v;
	int ret = 0;
	for (rc = walk_first(m, cur, a->after, &k, &v); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Record *rec = strata__v1__snapshot_record__unpack(NULL, v.mv_size, v.mv_data);
		if (!rec) {
			ret = err_set(e, ST_INTERNAL, "metadata: corrupt snapshot record");
			break;
		}
		MDB_val name;
		struct snap_info s;
		if (key_name(m, txn, &k, rec->id, &name, e) < 0) {
			strata__v1__snapshot_record__free_unpacked(rec, NULL);
			ret = -1;
			break;
		}
		info_fill(&s, name.mv_data, name.mv_size, rec);
		strata__v1__snapshot_record__free_unpacked(rec, NULL);
		int stop = a->fn(&s, a->ctx);
		snap_info_free(&s);
		if (stop)
			break;
	}
	if (ret == 0 && rc != 0 && rc != MDB_NOTFOUND)
		ret = lmdb_fail(e, rc, "walking", "snapshots");
	mdb_cursor_close(cur);
	return ret;
}

int meta_walk(struct meta *m, meta_walk_fn fn, void *ctx, struct err *e)
{
	return meta_walk_after(m, NULL, fn, ctx, e);
}

int meta_walk_after(struct meta *m, const char *after, meta_walk_fn fn, void *ctx, struct err *e)
{
	struct walk_args a = {.fn = fn, .ctx = ctx, .after = after};
	return in_txn(m, false, walk_body, &a, e);
}

static int all_ids_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct ids_args *a = arg;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, m->ids, &cur);
	if (rc)
		return lmdb_fail(e, rc, "walking", "ids");
	MDB_val k, v;
	size_t cap = 0;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t be;
		if (k.mv_size != sizeof be)
			continue;
		memcpy(&be, k.mv_data, sizeof be);
		if (a->n == cap) {
			cap = cap ? 2 * cap : 64;
			a->ids = xrealloc(a->ids, cap * sizeof *a->ids);
		}
		a->ids[a->n++] = be64toh(be);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : lmdb_fail(e, rc, "walking", "ids");
}

int meta_ids(struct meta *m, uint64_t **ids, size_t *n, struct err *e)
{
	struct ids_args a = {0};
	if (in_txn(m, false, all_ids_body, &a, e) < 0) {
		free(a.ids);
		return -1;
	}
	*ids = a.ids ? a.ids : xcalloc(1, sizeof **ids);
	*n = a.n;
	return 0;
}

/* ---- children ------------------------------------------------------------------ */

/* The name of the snapshot with id `id` (allocated): 1, or 0 when no
 * snapshot has it. */
static int id_name(struct meta *m, MDB_txn *txn, uint64_t id, char **name, struct err *e)
{
	uint64_t be;
	MDB_val key = id_val(id, &be), v;
	int rc = mdb_get(txn, m->ids, &key, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return lmdb_fail(e, rc, "reading", "ids");
	*name = xmalloc(v.mv_size + 1);
	memcpy(*name, v.mv_data, v.mv_size);
	(*name)[v.mv_size] = '\0';
	return 1;
}

struct children_args {
	uint64_t id;
	void (*fn)(const char *name, void *ctx);
	void *ctx;
};

/* The parents index holds (parent id, child id), both big-endian: a
 * parent's children are one range of it. */
static int children_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct children_args *a = arg;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, m->parents, &cur);
	if (rc)
		return lmdb_fail(e, rc, "reading", "parents");
	uint64_t be;
	MDB_val k = id_val(a->id, &be), v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 2 * sizeof be || memcmp(k.mv_data, &be, sizeof be))
			break;
		uint64_t child_be;
		memcpy(&child_be, (char *)k.mv_data + sizeof be, sizeof child_be);
		cleanup_free char *name = NULL;
		int found = id_name(m, txn, be64toh(child_be), &name, e);
		if (found < 0) {
			mdb_cursor_close(cur);
			return -1;
		}
		if (found) /* else a link left over: strata fsck reports it */
			a->fn(name, a->ctx);
	}
	mdb_cursor_close(cur);
	return rc && rc != MDB_NOTFOUND ? lmdb_fail(e, rc, "reading", "parents") : 0;
}

int meta_children(struct meta *m, uint64_t id, void (*fn)(const char *name, void *ctx), void *ctx,
		  struct err *e)
{
	struct children_args a = {id, fn, ctx};
	return in_txn(m, false, children_body, &a, e);
}

/* ---- lookup by id ------------------------------------------------------------- */

static int name_of_id_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct {
		uint64_t id;
		char *name;
	} *a = arg;
	int found = id_name(m, txn, a->id, &a->name, e);
	if (found == 0)
		return err_set(e, ST_NOT_FOUND, "no snapshot has id %" PRIu64, a->id);
	return found < 0 ? -1 : 0;
}

int meta_get_by_id(struct meta *m, uint64_t id, struct snap_info *out, struct err *e)
{
	struct {
		uint64_t id;
		char *name;
	} a = {id, NULL};
	if (in_txn(m, false, name_of_id_body, &a, e) < 0)
		return -1;
	int rc = meta_get(m, a.name, out, e);
	free(a.name);
	if (rc == 0 && out->id != id) {
		snap_info_free(out);
		return err_set(e, ST_NOT_FOUND, "no snapshot has id %" PRIu64, id);
	}
	return rc;
}
