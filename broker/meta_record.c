/* A snapshot's record in the metadata store: its key, its packed record and
 * the snap_info read from it, its labels normalised, and the limits checked
 * on every write. */
#include <stdlib.h>
#include <string.h>

#include "../common/sha256.h"
#include "../common/sort.h"
#include "../common/util.h"
#include "meta_store.h"

/* ---- keys and limits ------------------------------------------------------ */

void snap_key_of(const char *name, struct snap_key *k)
{
	size_t len = strlen(name);
	if (len <= SHORT_KEY_MAX) {
		memcpy(k->b, name, len);
		k->n = len;
		return;
	}
	memcpy(k->b, name, LONG_KEY_PREFIX);
	sha256(name, len, k->b + LONG_KEY_PREFIX);
	k->n = LONG_KEY_LEN;
}

int validate_name(const char *what, const char *name, struct err *e)
{
	if (!name || !name[0])
		return err_set(e, ST_INVALID_ARGUMENT, "%s must not be empty", what);
	if (strlen(name) > META_NAME_MAX)
		return err_set(e, ST_INVALID_ARGUMENT, "%s `%.40s...` longer than %d bytes", what, name,
			       META_NAME_MAX);
	return 0;
}

int validate_labels_total(size_t n, size_t bytes, struct err *e)
{
	if (n > META_LABELS_MAX)
		return err_set(e, ST_INVALID_ARGUMENT, "info.Labels: %zu labels, more than %d", n,
			       META_LABELS_MAX);
	if (bytes > META_LABELS_BYTES_MAX)
		return err_set(e, ST_INVALID_ARGUMENT,
			       "info.Labels: %zu bytes of keys and values, more than %d", bytes,
			       META_LABELS_BYTES_MAX);
	return 0;
}

int validate_labels(const struct label *l, size_t n, struct err *e)
{
	if (n > META_LABELS_MAX)
		return validate_labels_total(n, 0, e);
	size_t bytes = 0;
	for (size_t i = 0; i < n; i++) {
		const char *k = l[i].key ? l[i].key : "", *v = l[i].value ? l[i].value : "";
		size_t len = strlen(k) + strlen(v);
		if (len > META_LABEL_MAX)
			return err_set(
			    e, ST_INVALID_ARGUMENT,
			    "info.Labels: label key and value greater than maximum size (%d bytes), "
			    "key: %.10s",
			    META_LABEL_MAX, k);
		bytes += len;
	}
	return validate_labels_total(n, bytes, e);
}

/* ---- labels: normalise as containerd's map + boltutil.WriteLabels do ------- */

static int label_ref_cmp(const void *a, const void *b)
{
	const struct label_ref *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

size_t labels_normalize(struct label_ref *r, size_t n)
{
	size_t out = 0;
	for (size_t i = 0; i < n; i++) {
		r[i].key = r[i].key ? r[i].key : "";
		r[i].value = r[i].value ? r[i].value : "";
		r[i].order = i;
	}
	sort_array(r, n, sizeof *r, label_ref_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && strcmp(r[i].key, r[i + 1].key) == 0)
			continue; /* a later assignment to the same key follows */
		if (r[i].value[0])
			r[out++] = r[i];
	}
	return out;
}

struct label_ref *label_refs_of(const struct label *l, size_t n)
{
	struct label_ref *r = xcalloc(n + 1, sizeof *r);
	for (size_t i = 0; i < n; i++)
		r[i] = (struct label_ref){.key = l[i].key, .value = l[i].value};
	return r;
}

/* ---- records -------------------------------------------------------------- */

/* The packed record under name: 1 and *val when found, 0 when absent, -1 on
 * a store error. */
static int record_get(struct meta *m, MDB_txn *txn, const char *name, MDB_val *val, struct err *e)
{
	struct snap_key k;
	snap_key_of(name, &k);
	MDB_val key = {.mv_size = k.n, .mv_data = k.b};
	int rc = mdb_get(txn, m->snaps, &key, val);
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc ? lmdb_fail(e, rc, "reading snapshot", name) : 1;
}

int record_load(struct meta *m, MDB_txn *txn, const char *name, Record **rec, struct err *e)
{
	MDB_val val;
	int r = record_get(m, txn, name, &val, e);
	if (r <= 0)
		return r;
	*rec = strata__v1__snapshot_record__unpack(NULL, val.mv_size, val.mv_data);
	if (!*rec)
		return err_set(e, ST_INTERNAL, "metadata: corrupt record for snapshot `%.200s`", name);
	return 1;
}

int record_exists(struct meta *m, MDB_txn *txn, const char *name, struct err *e)
{
	MDB_val val;
	return record_get(m, txn, name, &val, e);
}

int record_put(struct meta *m, MDB_txn *txn, const char *name, const Record *rec, struct err *e)
{
	struct snap_key k;
	snap_key_of(name, &k);
	MDB_val key = {.mv_size = k.n, .mv_data = k.b};
	MDB_val val = {.mv_size = strata__v1__snapshot_record__get_packed_size(rec)};
	int rc = mdb_put(txn, m->snaps, &key, &val, MDB_RESERVE);
	if (rc)
		return lmdb_fail(e, rc, "writing snapshot", name);
	strata__v1__snapshot_record__pack(rec, val.mv_data);
	return 0;
}

int record_store(struct meta *m, MDB_txn *txn, const char *name, Record *rec, const struct label_ref *l,
		 size_t nl, struct err *e)
{
	RecordLabel *lv = xcalloc(nl + 1, sizeof *lv);
	RecordLabel **lp = xcalloc(nl + 1, sizeof *lp);
	for (size_t i = 0; i < nl; i++) {
		strata__v1__label__init(&lv[i]);
		lv[i].key = (char *)l[i].key;
		lv[i].value = (char *)l[i].value;
		lp[i] = &lv[i];
	}
	rec->n_labels = nl;
	rec->labels = lp;
	int ret = record_put(m, txn, name, rec, e);
	rec->n_labels = 0;
	rec->labels = NULL;
	free(lp);
	free(lv);
	return ret;
}

int record_delete(struct meta *m, MDB_txn *txn, const char *name, struct err *e)
{
	struct snap_key k;
	snap_key_of(name, &k);
	MDB_val key = {.mv_size = k.n, .mv_data = k.b};
	int rc = mdb_del(txn, m->snaps, &key, NULL);
	return rc ? lmdb_fail(e, rc, "deleting snapshot", name) : 0;
}

int id_name_put(struct meta *m, MDB_txn *txn, uint64_t id, const char *name, struct err *e)
{
	uint64_t be;
	MDB_val key = id_val(id, &be), val = {.mv_size = strlen(name), .mv_data = (void *)name};
	int rc = mdb_put(txn, m->ids, &key, &val, 0);
	return rc ? lmdb_fail(e, rc, "writing id of", name) : 0;
}

void info_fill(struct snap_info *out, const char *name, size_t namelen, const Record *r)
{
	memset(out, 0, sizeof *out);
	out->name = xmalloc(namelen + 1);
	memcpy(out->name, name, namelen);
	out->name[namelen] = '\0';
	out->parent = r->parent && r->parent[0] ? xstrdup(r->parent) : NULL;
	out->kind = r->kind;
	out->id = r->id;
	out->created_sec = r->created_sec;
	out->created_nsec = r->created_nsec;
	out->updated_sec = r->updated_sec;
	out->updated_nsec = r->updated_nsec;
	out->size = r->size;
	out->inodes = r->inodes;
	out->nlabels = r->n_labels;
	out->labels = xcalloc(r->n_labels + 1, sizeof *out->labels);
	for (size_t i = 0; i < r->n_labels; i++) {
		out->labels[i].key = xstrdup(r->labels[i]->key);
		out->labels[i].value = xstrdup(r->labels[i]->value);
	}
}

void info_set_labels(struct snap_info *out, const struct label_ref *l, size_t nl)
{
	for (size_t i = 0; i < out->nlabels; i++) {
		free(out->labels[i].key);
		free(out->labels[i].value);
	}
	out->labels = xrealloc(out->labels, (nl + 1) * sizeof *out->labels);
	for (size_t i = 0; i < nl; i++)
		out->labels[i] = (struct label){xstrdup(l[i].key), xstrdup(l[i].value)};
	out->nlabels = nl;
}

/* ---- snap_info ------------------------------------------------------------- */

void snap_info_free(struct snap_info *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->parent);
	for (size_t i = 0; s->labels && i < s->nlabels; i++) {
		free(s->labels[i].key);
		free(s->labels[i].value);
	}
	free(s->labels);
	memset(s, 0, sizeof *s);
}

const char *snap_kind_name(int kind)
{
	switch (kind) {
	case KIND_ACTIVE:
		return "active";
	case KIND_VIEW:
		return "view";
	case KIND_COMMITTED:
		return "committed";
	default:
		return "unknown";
	}
}
