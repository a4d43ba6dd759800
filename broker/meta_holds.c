/* Mount holds of attached mounts, the snapshots a read-write mount fd was
 * issued for (broker/mountsvc.c uses both), and the snapshots a layer apply
 * failed on or is under way on (broker/applyfail.c), in the metadata
 * store. */
#include <string.h>

#include "../common/util.h"
#include "meta_store.h"

/* ---- mount holds -------------------------------------------------------------- */

/* A hold's record: be64 snapshot id, be32 uid, be32 flags, be64 dev, be64
 * ns.  Records of 8 bytes (the snapshot id alone) were written before holds
 * had owners: they load as root's, read-write, with nothing known about the
 * mount. */
#define HOLD_REC_LEN 32

struct hold_args {
	const struct meta_hold *h;
	const char *path;
	meta_hold_fn fn;
	void *ctx;
};

static void hold_pack(const struct meta_hold *h, unsigned char *rec)
{
	uint64_t id = htobe64(h->id), dev = htobe64(h->dev), ns = htobe64(h->ns);
	uint32_t uid = htobe32(h->uid), flags = htobe32(h->flags);
	memcpy(rec, &id, 8);
	memcpy(rec + 8, &uid, 4);
	memcpy(rec + 12, &flags, 4);
	memcpy(rec + 16, &dev, 8);
	memcpy(rec + 24, &ns, 8);
}

/* 0, or -1 when the record has neither known length. */
static int hold_unpack(const MDB_val *v, struct meta_hold *h)
{
	const unsigned char *rec = v->mv_data;
	uint64_t id, dev = 0, ns = 0;
	uint32_t uid = 0, flags = htobe32(META_HOLD_RW);
	if (v->mv_size != 8 && v->mv_size != HOLD_REC_LEN)
		return -1;
	memcpy(&id, rec, 8);
	if (v->mv_size == HOLD_REC_LEN) {
		memcpy(&uid, rec + 8, 4);
		memcpy(&flags, rec + 12, 4);
		memcpy(&dev, rec + 16, 8);
		memcpy(&ns, rec + 24, 8);
	}
	h->id = be64toh(id);
	h->uid = be32toh(uid);
	h->flags = be32toh(flags);
	h->dev = be64toh(dev);
	h->ns = be64toh(ns);
	return 0;
}

static int hold_put_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct hold_args *a = arg;
	unsigned char rec[HOLD_REC_LEN];
	hold_pack(a->h, rec);
	MDB_val key = {.mv_size = strlen(a->h->path), .mv_data = (void *)a->h->path},
		val = {.mv_size = sizeof rec, .mv_data = rec};
	int rc = mdb_put(txn, m->holds, &key, &val, 0);
	return rc ? lmdb_fail(e, rc, "writing", "holds") : 0;
}

static int hold_del_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct hold_args *a = arg;
	MDB_val key = {.mv_size = strlen(a->path), .mv_data = (void *)a->path};
	int rc = mdb_del(txn, m->holds, &key, NULL);
	return rc && rc != MDB_NOTFOUND ? lmdb_fail(e, rc, "deleting from", "holds") : 0;
}

static int hold_walk_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct hold_args *a = arg;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, m->holds, &cur);
	if (rc)
		return lmdb_fail(e, rc, "reading", "holds");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct meta_hold h;
		if (k.mv_size == 0 || k.mv_size > 4096 || hold_unpack(&v, &h) < 0)
			continue;
		char *path = xmalloc(k.mv_size + 1);
		memcpy(path, k.mv_data, k.mv_size);
		path[k.mv_size] = '\0';
		h.path = path;
		a->fn(&h, a->ctx);
		free(path);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : lmdb_fail(e, rc, "reading", "holds");
}

int meta_hold_put(struct meta *m, const struct meta_hold *h, struct err *e)
{
	struct hold_args a = {.h = h};
	return in_txn(m, true, hold_put_body, &a, e);
}

int meta_hold_del(struct meta *m, const char *path, struct err *e)
{
	struct hold_args a = {.path = path};
	return in_txn(m, true, hold_del_body, &a, e);
}

int meta_holds_walk(struct meta *m, meta_hold_fn fn, void *ctx, struct err *e)
{
	struct hold_args a = {.fn = fn, .ctx = ctx};
	return in_txn(m, false, hold_walk_body, &a, e);
}

/* ---- marks by snapshot id: `written` (a read-write mount fd was issued) and
 * `failed` (a layer apply failed on it while it had content) ---------------- */

struct mark_args {
	MDB_dbi dbi;
	const char *db; /* its name, for errors */
	uint64_t id;
	int op; /* 1 put, -1 delete, 0 look up */
	int found;
};

static int mark_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct mark_args *a = arg;
	uint64_t be = htobe64(a->id);
	MDB_val key = {.mv_size = sizeof be, .mv_data = &be}, val = {.mv_size = 0, .mv_data = ""};
	int rc = a->op > 0   ? mdb_put(txn, a->dbi, &key, &val, 0)
		 : a->op < 0 ? mdb_del(txn, a->dbi, &key, NULL)
			     : mdb_get(txn, a->dbi, &key, &val);
	a->found = rc == 0;
	if (rc && rc != MDB_NOTFOUND)
		return lmdb_fail(e, rc, a->op ? "writing" : "reading", a->db);
	return 0;
}

int meta_written_put(struct meta *m, uint64_t id, struct err *e)
{
	struct mark_args a = {.dbi = m->written, .db = "written", .id = id, .op = 1};
	return in_txn(m, true, mark_body, &a, e);
}

int meta_written_del(struct meta *m, uint64_t id, struct err *e)
{
	struct mark_args a = {.dbi = m->written, .db = "written", .id = id, .op = -1};
	return in_txn(m, true, mark_body, &a, e);
}

int meta_written(struct meta *m, uint64_t id)
{
	struct mark_args a = {.dbi = m->written, .db = "written", .id = id};
	struct err e;
	/* Unreadable counts as marked: the caller then checks on disk. */
	return in_txn(m, false, mark_body, &a, &e) < 0 || a.found;
}

int meta_failed_put(struct meta *m, uint64_t id, struct err *e)
{
	struct mark_args a = {.dbi = m->failed, .db = "failed", .id = id, .op = 1};
	return in_txn(m, true, mark_body, &a, e);
}

int meta_failed(struct meta *m, uint64_t id)
{
	struct mark_args a = {.dbi = m->failed, .db = "failed", .id = id};
	struct err e;
	/* Unreadable counts as marked: a Commit is refused rather than risked. */
	return in_txn(m, false, mark_body, &a, &e) < 0 || a.found;
}

/* ---- applies under way: be64(id) -> one byte of META_APPLYING_* --------------- */

struct applying_args {
	uint64_t id;
	uint32_t flags;
	int op; /* 1 put, -1 delete, 0 walk */
	meta_applying_fn fn;
	void *ctx;
};

static int applying_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct applying_args *a = arg;
	uint64_t be;
	MDB_val key = id_val(a->id, &be), val;
	unsigned char flags = (unsigned char)a->flags;
	int rc;
	if (a->op) {
		val = (MDB_val){.mv_size = 1, .mv_data = &flags};
		rc = a->op > 0 ? mdb_put(txn, m->applying, &key, &val, 0)
			       : mdb_del(txn, m->applying, &key, NULL);
		return rc && rc != MDB_NOTFOUND ? lmdb_fail(e, rc, "writing", "applying") : 0;
	}
	MDB_cursor *cur;
	if ((rc = mdb_cursor_open(txn, m->applying, &cur)))
		return lmdb_fail(e, rc, "reading", "applying");
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		if (key.mv_size != sizeof be)
			continue;
		memcpy(&be, key.mv_data, sizeof be);
		/* Another length: flags unknown, so nothing is taken as empty. */
		a->fn(be64toh(be), val.mv_size == 1 ? *(unsigned char *)val.mv_data : 0, a->ctx);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : lmdb_fail(e, rc, "reading", "applying");
}

int meta_applying_put(struct meta *m, uint64_t id, uint32_t flags, struct err *e)
{
	struct applying_args a = {.id = id, .flags = flags, .op = 1};
	return in_txn(m, true, applying_body, &a, e);
}

int meta_applying_del(struct meta *m, uint64_t id, struct err *e)
{
	struct applying_args a = {.id = id, .op = -1};
	return in_txn(m, true, applying_body, &a, e);
}

int meta_applying_walk(struct meta *m, meta_applying_fn fn, void *ctx, struct err *e)
{
	struct applying_args a = {.fn = fn, .ctx = ctx};
	return in_txn(m, false, applying_body, &a, e);
}
