/* Changes to snapshot records, as containerd's storage makes them: create,
 * commit, remove, update, and the usage measured after a commit.  Each is one
 * transaction, so a failed change changes nothing. */
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "meta_store.h"

/* About what a record of this name and labels adds to the store, twice
 * over (copy-on-write keeps the old pages until the commit), plus the pages
 * of the indexes it touches. */
static uint64_t record_need(const char *name, const struct label *l, size_t n)
{
	uint64_t bytes = strlen(name) + 64;
	for (size_t i = 0; i < n; i++)
		bytes += (l[i].key ? strlen(l[i].key) : 0) + (l[i].value ? strlen(l[i].value) : 0) + 16;
	return 2 * bytes + (64 << 10);
}

static void parent_link_key(uint64_t parent, uint64_t child, uint64_t buf[2])
{
	buf[0] = htobe64(parent);
	buf[1] = htobe64(child);
}

/* ---- create ---------------------------------------------------------------- */

struct create_args {
	const struct snap_info *in;
	struct snap_info *out;
};

static int create_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	const struct snap_info *in = ((struct create_args *)arg)->in;
	const char *parent = in->parent && in->parent[0] ? in->parent : NULL;
	Record rec = STRATA__V1__SNAPSHOT_RECORD__INIT;
	uint64_t pid = 0;
	if (check_new_id(m, txn, in->id, e) < 0)
		return -1;
	if (parent) {
		Record *p = NULL;
		int r = record_load(m, txn, parent, &p, e);
		if (r <= 0)
			return r < 0 ? -1 : err_set(e, ST_NOT_FOUND, "missing parent `%.200s`", parent);
		int pkind = p->kind;
		pid = p->id;
		strata__v1__snapshot_record__free_unpacked(p, NULL);
		if (pkind != KIND_COMMITTED)
			return err_set(e, ST_INVALID_ARGUMENT, "parent `%.200s` is not committed snapshot",
				       parent);
	}
	int r = record_exists(m, txn, in->name, e);
	if (r != 0)
		return r < 0 ? -1
			     : err_set(e, ST_ALREADY_EXISTS, "snapshot `%.200s`: already exists", in->name);

	rec.id = in->id;
	rec.kind = in->kind;
	rec.parent = (char *)(parent ? parent : "");
	now_realtime(&rec.created_sec, &rec.created_nsec);
	rec.updated_sec = rec.created_sec;
	rec.updated_nsec = rec.created_nsec;
	cleanup_free struct label_ref *l = label_refs_of(in->labels, in->nlabels);
	size_t nl = labels_normalize(l, in->nlabels);
	if (record_store(m, txn, in->name, &rec, l, nl, e) < 0 ||
	    id_name_put(m, txn, in->id, in->name, e) < 0)
		return -1;
	if (parent) {
		uint64_t lk[2];
		parent_link_key(pid, in->id, lk);
		MDB_val k = {.mv_size = sizeof lk, .mv_data = lk}, v = {0};
		int rc = mdb_put(txn, m->parents, &k, &v, 0);
		if (rc)
			return lmdb_fail(e, rc, "writing parent link of", in->name);
	}
	struct create_args *a = arg;
	if (a->out) {
		info_fill(a->out, in->name, strlen(in->name), &rec);
		info_set_labels(a->out, l, nl);
	}
	return 0;
}

int meta_create(struct meta *m, const struct snap_info *in, struct snap_info *out, struct err *e)
{
	if (in->kind != KIND_ACTIVE && in->kind != KIND_VIEW)
		return err_set(
		    e, ST_INVALID_ARGUMENT,
		    "snapshot type %d invalid; only snapshots of type Active or View can be created",
		    in->kind);
	if (validate_name("snapshot key", in->name, e) < 0 || validate_labels(in->labels, in->nlabels, e) < 0)
		return -1;
	if (meta_room(m, record_need(in->name, in->labels, in->nlabels), e) < 0)
		return -1;
	struct create_args a = {.in = in, .out = out};
	if (in_txn(m, true, create_body, &a, e) < 0) {
		if (out)
			snap_info_free(out);
		return -1;
	}
	return 0;
}

/* ---- commit ---------------------------------------------------------------- */

struct commit_args {
	const char *key, *name, *parent;
	const struct label *labels;
	size_t nlabels;
	int64_t size, inodes;
};

/* rec (active, without a parent) takes committed snapshot parent: its
 * record names it, and the parent index links them. */
static int rebase_onto(struct meta *m, MDB_txn *txn, Record *rec, const char *parent, struct err *e)
{
	Record *p = NULL;
	int r = record_load(m, txn, parent, &p, e);
	if (r <= 0)
		return r < 0 ? -1 : err_set(e, ST_NOT_FOUND, "missing parent `%.200s`", parent);
	int pkind = p->kind;
	uint64_t pid = p->id;
	strata__v1__snapshot_record__free_unpacked(p, NULL);
	if (pkind != KIND_COMMITTED)
		return err_set(e, ST_FAILED_PRECONDITION, "parent `%.200s` is not committed", parent);
	uint64_t lk[2];
	parent_link_key(pid, rec->id, lk);
	MDB_val k = {.mv_size = sizeof lk, .mv_data = lk}, v = {0};
	int rc = mdb_put(txn, m->parents, &k, &v, 0);
	if (rc)
		return lmdb_fail(e, rc, "writing parent link of", parent);
	/* free_unpacked frees the string it finds there (never protobuf-c's
	 * shared empty default, which an empty field may point to). */
	if (rec->parent != protobuf_c_empty_string)
		free(rec->parent);
	rec->parent = xstrdup(parent);
	return 0;
}

static int commit_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct commit_args *a = arg;
	cleanup_free struct label_ref *l = label_refs_of(a->labels, a->nlabels);
	size_t nl = labels_normalize(l, a->nlabels);
	int r = record_exists(m, txn, a->name, e);
	if (r != 0)
		return r < 0 ? -1
			     : err_set(e, ST_ALREADY_EXISTS, "committed snapshot `%.200s`: already exists",
				       a->name);
	Record *rec = NULL;
	r = record_load(m, txn, a->key, &rec, e);
	if (r <= 0)
		return r < 0 ? -1
			     : err_set(e, ST_NOT_FOUND, "failed to get active snapshot `%.200s`", a->key);
	int ret = -1;
	if (rec->kind != KIND_ACTIVE) {
		err_set(e, ST_FAILED_PRECONDITION, "snapshot `%.200s` is not active", a->key);
		goto out;
	}
	if (a->parent && rec->parent && rec->parent[0] && strcmp(a->parent, rec->parent)) {
		err_set(e, ST_INVALID_ARGUMENT, "cannot change parent of active snapshot `%.200s` on commit",
			a->key);
		goto out;
	}
	if (a->parent && !(rec->parent && rec->parent[0]) && rebase_onto(m, txn, rec, a->parent, e) < 0)
		goto out;
	if (rec->parent && rec->parent[0]) {
		r = record_exists(m, txn, rec->parent, e);
		if (r == 0)
			err_set(e, ST_NOT_FOUND, "missing parent `%.200s` of snapshot `%.200s`", rec->parent,
				a->key);
		if (r <= 0)
			goto out;
	}
	/* As CommitActive: new times, labels replaced (not inherited), usage
	 * recorded; id and parent stay, so the parent link stays valid. */
	for (size_t i = 0; i < rec->n_labels; i++)
		strata__v1__label__free_unpacked(rec->labels[i], NULL);
	free(rec->labels);
	rec->labels = NULL;
	rec->n_labels = 0;
	rec->kind = KIND_COMMITTED;
	now_realtime(&rec->created_sec, &rec->created_nsec);
	rec->updated_sec = rec->created_sec;
	rec->updated_nsec = rec->created_nsec;
	rec->size = a->size;
	rec->inodes = a->inodes;
	if (record_delete(m, txn, a->key, e) < 0 || record_store(m, txn, a->name, rec, l, nl, e) < 0 ||
	    id_name_put(m, txn, rec->id, a->name, e) < 0)
		goto out;
	ret = 0;
out:
	strata__v1__snapshot_record__free_unpacked(rec, NULL);
	return ret;
}

int meta_commit_onto(struct meta *m, const char *key, const char *name, const char *parent,
		     const struct label *labels, size_t nlabels, int64_t size, int64_t inodes, struct err *e)
{
	if (validate_name("snapshot name", name, e) < 0 || validate_labels(labels, nlabels, e) < 0)
		return -1;
	if (!key)
		key = "";
	if (meta_room(m, record_need(name, labels, nlabels), e) < 0)
		return -1;
	struct commit_args a = {key,  name,  parent && parent[0] ? parent : NULL, labels, nlabels,
				size, inodes};
	return in_txn(m, true, commit_body, &a, e);
}

int meta_commit(struct meta *m, const char *key, const char *name, const struct label *labels, size_t nlabels,
		int64_t size, int64_t inodes, struct err *e)
{
	return meta_commit_onto(m, key, name, NULL, labels, nlabels, size, inodes, e);
}

/* ---- remove ---------------------------------------------------------------- */

struct remove_args {
	const char *name;
	uint64_t id;
	int kind;
};

static int has_children(struct meta *m, MDB_txn *txn, uint64_t id, struct err *e)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, m->parents, &cur);
	if (rc)
		return lmdb_fail(e, rc, "reading", "parents");
	uint64_t be;
	MDB_val k = id_val(id, &be), v;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	int found = rc == 0 && k.mv_size >= sizeof be && memcmp(k.mv_data, &be, sizeof be) == 0;
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return lmdb_fail(e, rc, "reading", "parents");
	return found;
}

/* Deletes whatever link names child as a child, whoever the parent: a
 * walk of every link, for the rare snapshot whose parent's record is gone
 * (its id with it). */
static int parent_links_del_child(struct meta *m, MDB_txn *txn, uint64_t child, struct err *e)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, m->parents, &cur);
	if (rc)
		return lmdb_fail(e, rc, "walking", "parents");
	uint64_t want = htobe64(child);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size == 16 && memcmp((char *)k.mv_data + 8, &want, 8) == 0 &&
		    (rc = mdb_cursor_del(cur, 0)))
			break;
	}
	mdb_cursor_close(cur);
	return rc && rc != MDB_NOTFOUND ? lmdb_fail(e, rc, "deleting parent link of", "a snapshot") : 0;
}

static int remove_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct remove_args *a = arg;
	Record *rec = NULL;
	int r = record_load(m, txn, a->name, &rec, e);
	if (r <= 0)
		return r < 0 ? -1 : err_set(e, ST_NOT_FOUND, "snapshot `%.200s`: not found", a->name);
	int ret = -1;
	a->id = rec->id;
	a->kind = rec->kind;
	r = has_children(m, txn, rec->id, e);
	if (r != 0) {
		if (r > 0)
			err_set(e, ST_FAILED_PRECONDITION, "cannot remove snapshot with child");
		goto out;
	}
	if (rec->parent && rec->parent[0]) {
		Record *p = NULL;
		r = record_load(m, txn, rec->parent, &p, e);
		if (r < 0)
			goto out;
		if (r == 0) {
			/* The parent's record is gone (a damaged store; strata
			 * fsck says missing-parent): the snapshot can still go. */
			if (parent_links_del_child(m, txn, rec->id, e) < 0)
				goto out;
			goto unlinked;
		}
		uint64_t lk[2];
		parent_link_key(p->id, rec->id, lk);
		strata__v1__snapshot_record__free_unpacked(p, NULL);
		MDB_val k = {.mv_size = sizeof lk, .mv_data = lk};
		int rc = mdb_del(txn, m->parents, &k, NULL);
		if (rc && rc != MDB_NOTFOUND) {
			lmdb_fail(e, rc, "deleting parent link of", a->name);
			goto out;
		}
	}
unlinked:;
	uint64_t be;
	MDB_val k = id_val(rec->id, &be);
	int rc = mdb_del(txn, m->ids, &k, NULL);
	if (rc && rc != MDB_NOTFOUND) {
		lmdb_fail(e, rc, "deleting id of", a->name);
		goto out;
	}
	ret = record_delete(m, txn, a->name, e);
out:
	strata__v1__snapshot_record__free_unpacked(rec, NULL);
	return ret;
}

int meta_remove(struct meta *m, const char *name, uint64_t *id, int *kind, struct err *e)
{
	struct remove_args a = {.name = name ? name : ""};
	if (in_txn(m, true, remove_body, &a, e) < 0)
		return -1;
	if (id)
		*id = a.id;
	if (kind)
		*kind = a.kind;
	return 0;
}

/* ---- update ---------------------------------------------------------------- */

struct update_args {
	const struct snap_info *in;
	const char *const *paths;
	size_t npaths;
	struct snap_info *out;
};

/* The value `in` gives key, "" when none: what reading a Go map gives.  l
 * is in's labels normalised (sorted, the last of a repeated key kept, empty
 * values dropped), n of them: a mask of many labels.KEY paths costs a
 * binary search each, not a pass over in's labels. */
static const char *in_label(const struct label_ref *l, size_t n, const char *key)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l[mid].key, key);
		if (c == 0)
			return l[mid].value;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return "";
}

/* Builds the new label list as UpdateInfo does: start from the stored labels;
 * "labels" replaces them all with in's; "labels.KEY" assigns in's value of KEY
 * (deleting it when in has none).  Later assignments win in normalize. */
static void labels_assign_all(struct label_ref *l, size_t *nl, const struct snap_info *in)
{
	*nl = 0;
	for (size_t i = 0; i < in->nlabels; i++)
		l[(*nl)++] = (struct label_ref){.key = in->labels[i].key, .value = in->labels[i].value};
}

static int update_labels(const struct update_args *a, const Record *rec, struct label_ref **out, size_t *n,
			 struct err *e)
{
	const struct snap_info *in = a->in;
	size_t nl = 0, cap = rec->n_labels + in->nlabels + a->npaths + 1;
	struct label_ref *l = xcalloc(cap, sizeof *l);
	/* The labels given, normalised for in_label's binary search at the
	 * first labels.KEY path: a mask without one never needs them. */
	cleanup_free struct label_ref *given = NULL;
	size_t ngiven = 0;
	for (size_t i = 0; i < rec->n_labels; i++)
		l[nl++] = (struct label_ref){.key = rec->labels[i]->key, .value = rec->labels[i]->value};
	if (a->npaths == 0)
		labels_assign_all(l, &nl, in);
	for (size_t p = 0; p < a->npaths; p++) {
		const char *path = a->paths[p] ? a->paths[p] : "";
		if (strncmp(path, "labels.", 7) == 0) {
			if (!given) {
				given = label_refs_of(in->labels, in->nlabels);
				ngiven = labels_normalize(given, in->nlabels);
			}
			l[nl++] =
			    (struct label_ref){.key = path + 7, .value = in_label(given, ngiven, path + 7)};
		} else if (strcmp(path, "labels") == 0) {
			labels_assign_all(l, &nl, in);
		} else {
			free(l);
			return err_set(e, ST_INVALID_ARGUMENT,
				       "cannot update `%.100s` field on snapshot `%.200s`", path, in->name);
		}
	}
	*n = labels_normalize(l, nl);
	/* Each label was checked as it came; the set they make is checked here. */
	size_t bytes = 0;
	for (size_t i = 0; i < *n; i++)
		bytes += strlen(l[i].key) + strlen(l[i].value);
	if (validate_labels_total(*n, bytes, e) < 0) {
		free(l);
		return -1;
	}
	*out = l;
	return 0;
}

static int update_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	struct update_args *a = arg;
	Record *rec = NULL;
	int r = record_load(m, txn, a->in->name, &rec, e);
	if (r <= 0)
		return r < 0 ? -1 : err_set(e, ST_NOT_FOUND, "snapshot `%.200s` does not exist", a->in->name);
	struct label_ref *l = NULL;
	size_t nl = 0;
	int ret = -1;
	if (update_labels(a, rec, &l, &nl, e) < 0)
		goto out;
	now_realtime(&rec->updated_sec, &rec->updated_nsec);
	/* record_store replaces the label list: keep the unpacked one to free
	 * (l points into it). */
	size_t old_n = rec->n_labels;
	RecordLabel **old = rec->labels;
	ret = record_store(m, txn, a->in->name, rec, l, nl, e);
	if (ret == 0 && a->out) {
		info_fill(a->out, a->in->name, strlen(a->in->name), rec);
		info_set_labels(a->out, l, nl);
	}
	rec->n_labels = old_n;
	rec->labels = old;
	free(l);
out:
	strata__v1__snapshot_record__free_unpacked(rec, NULL);
	return ret;
}

int meta_update(struct meta *m, const struct snap_info *in, const char *const *paths, size_t npaths,
		struct snap_info *out, struct err *e)
{
	if (!in->name || !in->name[0])
		return err_set(e, ST_INVALID_ARGUMENT, "snapshot name must not be empty");
	if (validate_labels(in->labels, in->nlabels, e) < 0)
		return -1;
	if (meta_room(m, record_need(in->name, in->labels, in->nlabels), e) < 0)
		return -1;
	struct update_args a = {.in = in, .paths = paths, .npaths = npaths, .out = out};
	return in_txn(m, true, update_body, &a, e);
}

/* ---- usage measured after commit -------------------------------------------- */

struct usage_args {
	const char *name;
	uint64_t id;
	int64_t size, inodes;
};

static int set_usage_body(struct meta *m, MDB_txn *txn, void *arg, struct err *e)
{
	const struct usage_args *a = arg;
	Record *rec = NULL;
	int r = record_load(m, txn, a->name, &rec, e);
	if (r <= 0)
		return r; /* removed meanwhile: nothing to record */
	int ret = 0;
	/* Only the snapshot that was measured, and only once. */
	if (rec->id == a->id && rec->kind == KIND_COMMITTED && rec->size < 0) {
		rec->size = a->size;
		rec->inodes = a->inodes;
		ret = record_put(m, txn, a->name, rec, e);
	}
	strata__v1__snapshot_record__free_unpacked(rec, NULL);
	return ret;
}

int meta_set_usage(struct meta *m, const char *name, uint64_t id, int64_t size, int64_t inodes, struct err *e)
{
	struct usage_args a = {name, id, size, inodes};
	return in_txn(m, true, set_usage_body, &a, e);
}
