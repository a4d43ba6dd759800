/* The LMDB metadata store against containerd's storage semantics
 * (snapshots/storage/bolt.go and the snapshotter test suite). */
#include <check.h>
#include <endian.h>
#include <lmdb.h>
#include <poll.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "broker/convert.h"
#include "broker/meta.h"
#include "proto/native.h"
#include "common/util.h"
#include "run_suite.h"

/* One base directory for the whole run, made and removed by the unchecked
 * fixture in the runner process, so it goes even when a test fails. */
static char base[] = "/tmp/strata-test-meta-XXXXXX";
static int ntest;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void base_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(base));
}

static void base_teardown(void)
{
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *fresh_dir(void)
{
	char *d = xasprintf("%s/t%d-%d", base, getpid(), ntest++);
	ck_assert_int_eq(mkdir(d, 0700), 0);
	return d;
}

static struct meta *store_open(const char *dir)
{
	struct meta *m = NULL;
	struct err e = {0};
	if (meta_open(&m, dir, &e) < 0)
		ck_abort_msg("meta_open: %s", e.msg);
	return m;
}

/* Creates an active or view snapshot; returns its id. */
static uint64_t create(struct meta *m, int kind, const char *name, const char *parent, const struct label *l,
		       size_t nl)
{
	struct err e = {0};
	struct snap_info in = {.name = (char *)name,
			       .parent = (char *)parent,
			       .kind = kind,
			       .labels = (struct label *)l,
			       .nlabels = nl};
	/* 1 in group commit when a block was reserved in the batch. */
	ck_assert_int_ge(meta_next_id(m, &in.id, &e), 0);
	if (meta_create(m, &in, NULL, &e) < 0)
		ck_abort_msg("create %s: %s", name, e.msg);
	return in.id;
}

/* Prepare + Commit: a committed snapshot `name` on `parent`. */
static uint64_t committed(struct meta *m, const char *name, const char *parent)
{
	char key[64];
	struct err e = {0};
	snprintf(key, sizeof key, "tmp-%.50s", name);
	uint64_t id = create(m, KIND_ACTIVE, key, parent, NULL, 0);
	if (meta_commit(m, key, name, NULL, 0, 10, 2, &e) < 0)
		ck_abort_msg("commit %s: %s", name, e.msg);
	return id;
}

/* name's chain of parents is one snapshot, pid. */
static void chain_is_one(struct meta *m, const char *name, uint64_t pid)
{
	uint64_t *ids;
	size_t n;
	struct err e = {0};
	ck_assert_int_eq(meta_parent_ids(m, name, &ids, &n, &e), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(ids[0], pid);
	free(ids);
}

static int expect_code(int rc, const struct err *e, int code)
{
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(e->code == code, "want %s, got %s: %s", status_name(code), status_name(e->code),
		      e->msg);
	return 0;
}

static int create_err(struct meta *m, int kind, const char *name, const char *parent, const struct label *l,
		      size_t nl, int code)
{
	struct err e = {0};
	struct snap_info in = {.name = (char *)name,
			       .parent = (char *)parent,
			       .kind = kind,
			       .labels = (struct label *)l,
			       .nlabels = nl};
	ck_assert_int_eq(meta_next_id(m, &in.id, &e), 0);
	expect_code(meta_create(m, &in, NULL, &e), &e, code);
	return 0;
}

static void assert_absent(struct meta *m, const char *name)
{
	struct snap_info s;
	struct err e = {0};
	expect_code(meta_get(m, name, &s, &e), &e, ST_NOT_FOUND);
}

struct names {
	char *v[512];
	size_t n, stop_after;
};

static int collect(const struct snap_info *s, void *ctx)
{
	struct names *w = ctx;
	ck_assert_uint_lt(w->n, 512);
	w->v[w->n++] = xstrdup(s->name);
	return w->stop_after && w->n == w->stop_after;
}

static void names_free(struct names *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i]);
	w->n = 0;
}

static int64_t ns(int64_t sec, int32_t nsec)
{
	return sec * 1000000000 + nsec;
}

static int64_t now_ns(void)
{
	int64_t s;
	int32_t n;
	now_realtime(&s, &n);
	return ns(s, n);
}

START_TEST(empty_store_walks_nothing)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	struct names w = {0};
	struct err e = {0};
	ck_assert_int_eq(meta_walk(m, collect, &w, &e), 0);
	ck_assert_uint_eq(w.n, 0);
	uint64_t *ids = NULL;
	size_t n = 99;
	ck_assert_int_eq(meta_ids(m, &ids, &n, &e), 0);
	ck_assert_uint_eq(n, 0);
	free(ids);
	assert_absent(m, "nothing");
	meta_close(m);
	/* The environment's files are private to the broker's user. */
	cleanup_free char *data = xasprintf("%s/data.mdb", d);
	struct stat st;
	ck_assert_int_eq(stat(data, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
}
END_TEST

START_TEST(create_stores_normalised_labels_and_times)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	struct err e = {0};
	const struct label in_labels[] = {
	    {"zeta", "1"}, {"alpha", "first"}, {"gone", ""}, {"alpha", "second"}, {"mid", "m"},
	};
	struct snap_info in = {
	    .name = "a", .kind = KIND_ACTIVE, .labels = (struct label *)in_labels, .nlabels = 5};
	ck_assert_int_eq(meta_next_id(m, &in.id, &e), 0);
	ck_assert_uint_eq(in.id, 1);
	int64_t t1 = now_ns();
	struct snap_info out;
	ck_assert_int_eq(meta_create(m, &in, &out, &e), 0);
	int64_t t2 = now_ns();
	/* Sorted by key, the last of a repeated key wins, empty values dropped. */
	ck_assert_uint_eq(out.nlabels, 3);
	ck_assert_str_eq(out.labels[0].key, "alpha");
	ck_assert_str_eq(out.labels[0].value, "second");
	ck_assert_str_eq(out.labels[1].key, "mid");
	ck_assert_str_eq(out.labels[2].key, "zeta");
	ck_assert_ptr_null(out.parent);
	ck_assert_int_eq(out.kind, KIND_ACTIVE);

	struct snap_info got;
	ck_assert_int_eq(meta_get(m, "a", &got, &e), 0);
	ck_assert_str_eq(got.name, "a");
	ck_assert_uint_eq(got.id, 1);
	ck_assert_int_eq(got.kind, KIND_ACTIVE);
	ck_assert_ptr_null(got.parent);
	ck_assert_uint_eq(got.nlabels, 3);
	ck_assert_str_eq(got.labels[1].value, "m");
	int64_t c = ns(got.created_sec, got.created_nsec);
	ck_assert(c >= t1 && c <= t2);
	ck_assert(c == ns(got.updated_sec, got.updated_nsec));
	ck_assert(c == ns(out.created_sec, out.created_nsec));
	ck_assert_int_eq(got.size, 0);
	snap_info_free(&got);
	snap_info_free(&out);
	meta_close(m);
}
END_TEST

START_TEST(ids_are_monotonic_and_never_reused)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	struct err e = {0};
	uint64_t a = create(m, KIND_ACTIVE, "a", NULL, NULL, 0);
	uint64_t b = create(m, KIND_VIEW, "b", NULL, NULL, 0);
	ck_assert_uint_eq(a, 1);
	ck_assert_uint_eq(b, 2);
	uint64_t id;
	int kind;
	ck_assert_int_eq(meta_remove(m, "b", &id, &kind, &e), 0);
	ck_assert_uint_eq(id, 2);
	ck_assert_int_eq(kind, KIND_VIEW);
	/* A reserved but never used id is burnt too. */
	ck_assert_int_eq(meta_next_id(m, &id, &e), 0);
	ck_assert_uint_eq(id, 3);
	ck_assert_uint_eq(create(m, KIND_ACTIVE, "b", NULL, NULL, 0), 4);
	meta_close(m);
	m = store_open(d);
	/* Ids are reserved in blocks: after a reopen the next one lies beyond
	 * every id handed out before. */
	uint64_t c = create(m, KIND_ACTIVE, "c", NULL, NULL, 0);
	ck_assert_uint_gt(c, 4);
	uint64_t *ids;
	size_t n;
	ck_assert_int_eq(meta_ids(m, &ids, &n, &e), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(ids[0], 1);
	ck_assert_uint_eq(ids[1], 4);
	ck_assert_uint_eq(ids[2], c);
	free(ids);
	meta_close(m);
}
END_TEST

START_TEST(create_checks_like_containerd)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	struct err e = {0};
	committed(m, "base", NULL);
	create(m, KIND_ACTIVE, "act", NULL, NULL, 0);

	create_err(m, KIND_COMMITTED, "x", NULL, NULL, 0, ST_INVALID_ARGUMENT);
	create_err(m, KIND_UNKNOWN, "x", NULL, NULL, 0, ST_INVALID_ARGUMENT);
	create_err(m, KIND_ACTIVE, "", NULL, NULL, 0, ST_INVALID_ARGUMENT);
	create_err(m, KIND_ACTIVE, "x", "missing", NULL, 0, ST_NOT_FOUND);
	create_err(m, KIND_ACTIVE, "x", "act", NULL, 0, ST_INVALID_ARGUMENT);
	create_err(m, KIND_VIEW, "act", NULL, NULL, 0, ST_ALREADY_EXISTS);
	create_err(m, KIND_VIEW, "base", "base", NULL, 0, ST_ALREADY_EXISTS);
	/* containerd checks the parent before the name. */
	create_err(m, KIND_VIEW, "act", "missing", NULL, 0, ST_NOT_FOUND);

	struct snap_info in = {.name = "x", .kind = KIND_ACTIVE};
	ck_assert_int_eq(meta_create(m, &in, NULL, &e), -1); /* id 0 */
	ck_assert_int_eq(e.code, ST_INTERNAL);
	in.id = 1000; /* never reserved */
	ck_assert_int_eq(meta_create(m, &in, NULL, &e), -1);
	ck_assert_int_eq(e.code, ST_INTERNAL);
	in.id = 1; /* in use by base */
	ck_assert_int_eq(meta_create(m, &in, NULL, &e), -1);
	ck_assert_int_eq(e.code, ST_INTERNAL);
	assert_absent(m, "x");

	/* Messages as containerd words them. */
	in = (struct snap_info){.name = "x", .parent = "act", .kind = KIND_ACTIVE};
	ck_assert_int_eq(meta_next_id(m, &in.id, &e), 0);
	ck_assert_int_eq(meta_create(m, &in, NULL, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "is not committed snapshot"));
	in = (struct snap_info){.name = "act", .kind = KIND_ACTIVE};
	ck_assert_int_eq(meta_next_id(m, &in.id, &e), 0);
	ck_assert_int_eq(meta_create(m, &in, NULL, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "already exists"));
	meta_close(m);
}
END_TEST

START_TEST(names_and_labels_are_bounded)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	cleanup_free char *name = xmalloc(META_NAME_MAX + 2);
	memset(name, 'n', META_NAME_MAX + 1);
	name[META_NAME_MAX + 1] = '\0';
	create_err(m, KIND_ACTIVE, name, NULL, NULL, 0, ST_INVALID_ARGUMENT);
	name[META_NAME_MAX] = '\0';
	create(m, KIND_ACTIVE, name, NULL, NULL, 0);

	/* labels.Validate: key + value at most 4096 bytes. */
	cleanup_free char *val = xmalloc(META_LABEL_MAX + 1);
	memset(val, 'v', META_LABEL_MAX);
	val[META_LABEL_MAX - 1] = '\0';
	struct label l = {"k", val};
	create(m, KIND_ACTIVE, "fits", NULL, &l, 1);
	val[META_LABEL_MAX - 1] = 'v';
	val[META_LABEL_MAX] = '\0';
	create_err(m, KIND_ACTIVE, "too-big", NULL, &l, 1, ST_INVALID_ARGUMENT);

	struct label *many = xcalloc(META_LABELS_MAX + 1, sizeof *many);
	char(*keys)[16] = xcalloc(META_LABELS_MAX + 1, 16);
	for (size_t i = 0; i <= META_LABELS_MAX; i++) {
		snprintf(keys[i], 16, "k%zu", i);
		many[i] = (struct label){keys[i], "v"};
	}
	create_err(m, KIND_ACTIVE, "many", NULL, many, META_LABELS_MAX + 1, ST_INVALID_ARGUMENT);
	create(m, KIND_ACTIVE, "many", NULL, many, META_LABELS_MAX);
	struct err e = {0};
	expect_code(meta_commit(m, "many", "", NULL, 0, 0, 0, &e), &e, ST_INVALID_ARGUMENT);
	expect_code(meta_commit(m, "many", "c", many, META_LABELS_MAX + 1, 0, 0, &e), &e,
		    ST_INVALID_ARGUMENT);
	struct snap_info up = {.name = "many", .labels = many, .nlabels = META_LABELS_MAX + 1};
	expect_code(meta_update(m, &up, NULL, 0, NULL, &e), &e, ST_INVALID_ARGUMENT);
	free(keys);
	free(many);

	/* The labels' bytes together: 32 of 4096 fit, one byte more does not,
	 * whether it comes in one call or in an update of a snapshot that had
	 * room. */
	struct label big[33];
	char(*bkeys)[16] = xcalloc(33, 16);
	cleanup_free char *bval = xmalloc(META_LABEL_MAX);
	memset(bval, 'v', META_LABEL_MAX - 6);
	bval[META_LABEL_MAX - 6] = '\0';
	for (size_t i = 0; i < 33; i++) {
		snprintf(bkeys[i], 16, "big%03zu", i); /* 6 bytes: 4096 with the value */
		big[i] = (struct label){bkeys[i], bval};
	}
	ck_assert_uint_eq(32 * META_LABEL_MAX, META_LABELS_BYTES_MAX);
	create(m, KIND_ACTIVE, "big", NULL, big, 32);
	create_err(m, KIND_ACTIVE, "big2", NULL, big, 33, ST_INVALID_ARGUMENT);
	cleanup_free char *lp = xasprintf("labels.%s", bkeys[32]);
	const char *paths[] = {lp, "labels"};
	struct snap_info more = {.name = "big", .labels = big + 32, .nlabels = 1};
	expect_code(meta_update(m, &more, paths, 1, NULL, &e), &e, ST_INVALID_ARGUMENT);
	ck_assert_msg(strstr(e.msg, "135168 bytes"), "%s", e.msg);
	struct label small = {bkeys[0], "v"};
	struct snap_info one = {.name = "big", .labels = &small, .nlabels = 1};
	const char *p0 = "labels.big000";
	ck_assert_int_eq(meta_update(m, &one, &p0, 1, NULL, &e), 0);
	more = (struct snap_info){.name = "big", .labels = big, .nlabels = 33};
	expect_code(meta_update(m, &more, paths + 1, 1, NULL, &e), &e, ST_INVALID_ARGUMENT);
	free(bkeys);
	meta_close(m);
}
END_TEST

/* The largest snapshot the limits allow (the longest name and parent, and
 * labels at both bounds) is one native record, as List sends it. */
START_TEST(the_largest_info_fits_a_native_record)
{
	cleanup_free char *name = xmalloc(META_NAME_MAX + 1), *parent = xmalloc(META_NAME_MAX + 1);
	memset(name, 'n', META_NAME_MAX);
	name[META_NAME_MAX] = '\0';
	memset(parent, 'p', META_NAME_MAX);
	parent[META_NAME_MAX] = '\0';
	size_t per = META_LABELS_BYTES_MAX / META_LABELS_MAX; /* key and value of each */
	struct label *l = xcalloc(META_LABELS_MAX, sizeof *l);
	for (size_t i = 0; i < META_LABELS_MAX; i++) {
		l[i].key = xasprintf("k%05zu", i);
		l[i].value = xmalloc(per - strlen(l[i].key) + 1);
		memset(l[i].value, 'v', per - strlen(l[i].key));
		l[i].value[per - strlen(l[i].key)] = '\0';
	}
	cleanup_free char *d = fresh_dir();
	struct meta *store = store_open(d);
	create(store, KIND_ACTIVE, "x", NULL, l, META_LABELS_MAX); /* within every limit */
	meta_close(store);
	struct snap_info s = {.name = name,
			      .parent = parent,
			      .kind = KIND_COMMITTED,
			      .id = UINT64_MAX,
			      .created_sec = INT64_MAX,
			      .updated_sec = INT64_MAX,
			      .created_nsec = 999999999,
			      .updated_nsec = 999999999,
			      .nlabels = META_LABELS_MAX,
			      .labels = l,
			      .size = INT64_MAX,
			      .inodes = INT64_MAX};
	SnapInfoMsg *m = info_msg_new(&s);
	Containerd__Services__Snapshots__V1__ListSnapshotsResponse resp;
	containerd__services__snapshots__v1__list_snapshots_response__init(&resp);
	resp.n_info = 1;
	resp.info = &m;
	size_t sz = protobuf_c_message_get_packed_size(&resp.base);
	ck_assert_uint_gt(sz, META_LABELS_BYTES_MAX + 2 * META_NAME_MAX);
	ck_assert_uint_le(sz, NATIVE_MAX_RECORD);
	info_msg_free(m);
	for (size_t i = 0; i < META_LABELS_MAX; i++) {
		free(l[i].key);
		free(l[i].value);
	}
	free(l);
}
END_TEST

START_TEST(commit_replaces_the_active_record)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	struct err e = {0};
	uint64_t pid = committed(m, "p", NULL);
	const struct label al = {"from", "active"};
	uint64_t id = create(m, KIND_ACTIVE, "a", "p", &al, 1);
	const struct label cl[] = {{"l", "1"}, {"empty", ""}};
	int64_t t1 = now_ns();
	ck_assert_int_eq(meta_commit(m, "a", "c", cl, 2, 4096, 7, &e), 0);
	int64_t t2 = now_ns();
	assert_absent(m, "a");
	struct snap_info s;
	ck_assert_int_eq(meta_get(m, "c", &s, &e), 0);
	ck_assert_int_eq(s.kind, KIND_COMMITTED);
	ck_assert_uint_eq(s.id, id);
	ck_assert_str_eq(s.parent, "p");
	ck_assert_int_eq(s.size, 4096);
	ck_assert_int_eq(s.inodes, 7);
	/* Labels are replaced, not inherited. */
	ck_assert_uint_eq(s.nlabels, 1);
	ck_assert_str_eq(s.labels[0].key, "l");
	int64_t c = ns(s.created_sec, s.created_nsec);
	ck_assert(c >= t1 && c <= t2);
	ck_assert(c == ns(s.updated_sec, s.updated_nsec));
	snap_info_free(&s);
	/* The parent link follows: p has a child now, c's chain is p. */
	chain_is_one(m, "c", pid);
	expect_code(meta_remove(m, "p", NULL, NULL, &e), &e, ST_FAILED_PRECONDITION);
	meta_close(m);
}
END_TEST

START_TEST(commit_checks_like_containerd)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	struct err e = {0};
	committed(m, "c", NULL);
	create(m, KIND_ACTIVE, "a", NULL, NULL, 0);
	create(m, KIND_VIEW, "v", "c", NULL, 0);
	/* The name is checked first, then the key, then its kind. */
	expect_code(meta_commit(m, "missing", "c", NULL, 0, 0, 0, &e), &e, ST_ALREADY_EXISTS);
	expect_code(meta_commit(m, "a", "a", NULL, 0, 0, 0, &e), &e, ST_ALREADY_EXISTS);
	expect_code(meta_commit(m, "missing", "n", NULL, 0, 0, 0, &e), &e, ST_NOT_FOUND);
	expect_code(meta_commit(m, "v", "n", NULL, 0, 0, 0, &e), &e, ST_FAILED_PRECONDITION);
	ck_assert_ptr_nonnull(strstr(e.msg, "is not active"));
	expect_code(meta_commit(m, "c", "n", NULL, 0, 0, 0, &e), &e, ST_FAILED_PRECONDITION);
	assert_absent(m, "n");
	/* A failed commit changed nothing. */
	struct snap_info s;
	ck_assert_int_eq(meta_get(m, "v", &s, &e), 0);
	ck_assert_int_eq(s.kind, KIND_VIEW);
	snap_info_free(&s);
	meta_close(m);
}
END_TEST

/* A parent given at commit (containerd's CommitActive with WithParent): a
 * key prepared without one takes it, with its parent link; the checks are
 * containerd's. */
START_TEST(commit_onto_a_parent)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	struct err e = {0};
	uint64_t base_id = committed(m, "base", NULL);
	uint64_t top = create(m, KIND_ACTIVE, "top-key", NULL, NULL, 0);
	create(m, KIND_ACTIVE, "act", NULL, NULL, 0);
	expect_code(meta_commit_onto(m, "top-key", "top", "missing", NULL, 0, 0, 0, &e), &e, ST_NOT_FOUND);
	expect_code(meta_commit_onto(m, "top-key", "top", "act", NULL, 0, 0, 0, &e), &e,
		    ST_FAILED_PRECONDITION);
	ck_assert_int_eq(meta_commit_onto(m, "top-key", "top", "base", NULL, 0, 0, 0, &e), 0);
	struct snap_info s = {0};
	ck_assert_int_eq(meta_get(m, "top", &s, &e), 0);
	ck_assert_str_eq(s.parent, "base");
	ck_assert_uint_eq(s.id, top);
	snap_info_free(&s);
	chain_is_one(m, "top", base_id);
	expect_code(meta_remove(m, "base", NULL, NULL, &e), &e, ST_FAILED_PRECONDITION); /* linked */
	/* Prepared on a parent: the same one is fine, another is refused. */
	committed(m, "other", NULL);
	create(m, KIND_ACTIVE, "on-base", "base", NULL, 0);
	expect_code(meta_commit_onto(m, "on-base", "x", "other", NULL, 0, 0, 0, &e), &e, ST_INVALID_ARGUMENT);
	ck_assert_int_eq(meta_commit_onto(m, "on-base", "x", "base", NULL, 0, 0, 0, &e), 0);
	meta_close(m);
}
END_TEST

START_TEST(remove_refuses_parents_and_frees_names)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	struct err e = {0};
	/* The suite's checkRemove sequence. */
	create(m, KIND_ACTIVE, "committed-a", NULL, NULL, 0);
	ck_assert_int_eq(meta_commit(m, "committed-a", "committed-1", NULL, 0, 0, 0, &e), 0);
	create(m, KIND_ACTIVE, "reuse-1", "committed-1", NULL, 0);
	expect_code(meta_remove(m, "committed-1", NULL, NULL, &e), &e, ST_FAILED_PRECONDITION);
	ck_assert_ptr_nonnull(strstr(e.msg, "remove"));
	ck_assert_int_eq(meta_remove(m, "reuse-1", NULL, NULL, &e), 0);
	create(m, KIND_VIEW, "reuse-1", "committed-1", NULL, 0);
	ck_assert_int_eq(meta_remove(m, "reuse-1", NULL, NULL, &e), 0);
	create(m, KIND_ACTIVE, "reuse-1", NULL, NULL, 0);
	uint64_t id;
	int kind;
	ck_assert_int_eq(meta_remove(m, "committed-1", &id, &kind, &e), 0);
	ck_assert_uint_eq(id, 1);
	ck_assert_int_eq(kind, KIND_COMMITTED);
	ck_assert_int_eq(meta_commit(m, "reuse-1", "committed-1", NULL, 0, 0, 0, &e), 0);

	expect_code(meta_remove(m, "missing", NULL, NULL, &e), &e, ST_NOT_FOUND);
	expect_code(meta_remove(m, "reuse-1", NULL, NULL, &e), &e, ST_NOT_FOUND);
	/* Only ids still in use are listed. */
	uint64_t *ids;
	size_t n;
	ck_assert_int_eq(meta_ids(m, &ids, &n, &e), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(ids[0], 4);
	free(ids);
	meta_close(m);
}
END_TEST

static void collect_name(const char *name, void *ctx)
{
	char *buf = ctx;
	strcat(buf, name);
	strcat(buf, " ");
}

/* The names meta_children gives for id, each followed by a space. */
static char *children_of(struct meta *m, uint64_t id)
{
	static char got[256];
	struct err e = {0};
	got[0] = '\0';
	if (meta_children(m, id, collect_name, got, &e) < 0)
		ck_abort_msg("meta_children: %s", e.msg);
	return got;
}

#define T2 "\xfft\xff" /* tenant t's prefix */

/* A parent's children are its range of the parents index: a neighbour's
 * (the id next to it) are not among them, nor a removed child's. */
START_TEST(children_are_listed_by_parent)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	struct err e = {0};
	uint64_t a = committed(m, "a", NULL);
	uint64_t b = committed(m, "b", NULL);
	ck_assert_uint_eq(b, a + 1);
	create(m, KIND_ACTIVE, "c1", "a", NULL, 0);
	create(m, KIND_ACTIVE, "d1", "b", NULL, 0);
	create(m, KIND_VIEW, T2 "c2", "a", NULL, 0);
	ck_assert_str_eq(children_of(m, a), "c1 " T2 "c2 ");
	ck_assert_str_eq(children_of(m, b), "d1 ");
	ck_assert_int_eq(meta_remove(m, "c1", NULL, NULL, &e), 0);
	ck_assert_str_eq(children_of(m, a), T2 "c2 ");
	ck_assert_str_eq(children_of(m, committed(m, "c", NULL)), "");
	meta_close(m);
}
END_TEST

/* A full map refuses what adds to the store, by name of the setting, and
 * keeps room for removals; what they free is used again. */
START_TEST(full_map_refuses_additions_but_not_removals)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = NULL;
	struct err e = {0};
	if (meta_open_sized(&m, d, 2 << 20, &e) < 0)
		ck_abort_msg("meta_open_sized: %s", e.msg);
	static char value[4000];
	memset(value, 'v', sizeof value - 1);
	struct label l[32];
	char keys[32][8];
	for (int i = 0; i < 32; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i);
		l[i] = (struct label){keys[i], value};
	}
	int n = 0, rc = 0;
	char name[32];
	while (n < 100) {
		struct snap_info in = {.name = name, .kind = KIND_ACTIVE, .labels = l, .nlabels = 32};
		snprintf(name, sizeof name, "s%d", n);
		ck_assert_int_ge(meta_next_id(m, &in.id, &e), 0);
		if ((rc = meta_create(m, &in, NULL, &e)) < 0)
			break;
		n++;
	}
	ck_assert_int_lt(rc, 0);
	ck_assert_int_eq(e.code, ST_RESOURCE_EXHAUSTED);
	ck_assert_msg(strstr(e.msg, "meta_max_bytes") && strstr(e.msg, d), "%s", e.msg);
	ck_assert_int_gt(n, 2);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "s%d", i);
		if (meta_remove(m, name, NULL, NULL, &e) < 0)
			ck_abort_msg("remove %s from a full store: %s", name, e.msg);
	}
	create(m, KIND_ACTIVE, "again", NULL, l, 32);
	meta_close(m);
}
END_TEST

static void assert_labels(const struct snap_info *s, const char *const *kv, size_t n)
{
	ck_assert_uint_eq(s->nlabels, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(s->labels[i].key, kv[2 * i]);
		ck_assert_str_eq(s->labels[i].value, kv[2 * i + 1]);
	}
}

START_TEST(update_follows_field_paths)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	struct err e = {0};
	create(m, KIND_ACTIVE, "a", NULL, NULL, 0);
	struct snap_info before, out, got;
	ck_assert_int_eq(meta_get(m, "a", &before, &e), 0);

	/* No paths: every label replaced; parent and kind are not touched. */
	struct label l1[] = {{"l1", "v1"}, {"l2", "v2"}, {"l3", "v3"}, {"root", "r"}};
	struct snap_info in = {
	    .name = "a", .parent = "doesnotexist", .kind = KIND_VIEW, .labels = l1, .nlabels = 4};
	int64_t u1 = now_ns();
	ck_assert_int_eq(meta_update(m, &in, NULL, 0, &out, &e), 0);
	int64_t u2 = now_ns();
	assert_labels(&out, (const char *[]){"l1", "v1", "l2", "v2", "l3", "v3", "root", "r"}, 4);
	ck_assert_ptr_null(out.parent);
	ck_assert_int_eq(out.kind, KIND_ACTIVE);
	ck_assert(ns(out.created_sec, out.created_nsec) == ns(before.created_sec, before.created_nsec));
	int64_t u = ns(out.updated_sec, out.updated_nsec);
	ck_assert(u >= u1 && u <= u2);
	snap_info_free(&out);

	/* labels.KEY: l1 takes the new value (the last given, as a Go map
	 * keeps it), l2 (absent from in) and l3 (given empty) are deleted, l4
	 * (not named) is ignored. */
	struct label l2[] = {{"l4", "v4"}, {"l1", "first"}, {"l3", ""}, {"l1", "updated"}};
	in = (struct snap_info){.name = "a", .labels = l2, .nlabels = 4};
	const char *paths[] = {"labels.l3", "labels.l1", "labels.l2"};
	ck_assert_int_eq(meta_update(m, &in, paths, 3, &out, &e), 0);
	assert_labels(&out, (const char *[]){"l1", "updated", "root", "r"}, 2);
	snap_info_free(&out);

	/* "labels": replace them all. */
	struct label l3[] = {{"l4", "v4"}, {"root", "r"}};
	in = (struct snap_info){.name = "a", .labels = l3, .nlabels = 2};
	const char *all[] = {"labels"};
	ck_assert_int_eq(meta_update(m, &in, all, 1, &out, &e), 0);
	assert_labels(&out, (const char *[]){"l4", "v4", "root", "r"}, 2);
	snap_info_free(&out);

	/* Immutable fields are refused and nothing changes. */
	const char *bad[] = {"labels.x", "parent"};
	in = (struct snap_info){.name = "a", .parent = "doesnotexist", .labels = l1, .nlabels = 4};
	expect_code(meta_update(m, &in, bad, 2, &out, &e), &e, ST_INVALID_ARGUMENT);
	ck_assert_int_eq(meta_get(m, "a", &got, &e), 0);
	assert_labels(&got, (const char *[]){"l4", "v4", "root", "r"}, 2);
	snap_info_free(&got);

	/* Replacing with nothing leaves no labels. */
	in = (struct snap_info){.name = "a"};
	ck_assert_int_eq(meta_update(m, &in, NULL, 0, &out, &e), 0);
	ck_assert_uint_eq(out.nlabels, 0);
	snap_info_free(&out);

	in = (struct snap_info){.name = "missing"};
	expect_code(meta_update(m, &in, NULL, 0, &out, &e), &e, ST_NOT_FOUND);
	snap_info_free(&before);
	meta_close(m);
}
END_TEST

START_TEST(walk_visits_in_name_order_and_stops)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	struct err e = {0};
	committed(m, "p", NULL);
	create(m, KIND_VIEW, "v", "p", NULL, 0);
	create(m, KIND_ACTIVE, "b", "p", NULL, 0);
	create(m, KIND_ACTIVE, "a", NULL, NULL, 0);
	struct names w = {0};
	ck_assert_int_eq(meta_walk(m, collect, &w, &e), 0);
	ck_assert_uint_eq(w.n, 4);
	ck_assert_str_eq(w.v[0], "a");
	ck_assert_str_eq(w.v[1], "b");
	ck_assert_str_eq(w.v[2], "p");
	ck_assert_str_eq(w.v[3], "v");
	names_free(&w);
	w.stop_after = 2;
	ck_assert_int_eq(meta_walk(m, collect, &w, &e), 0);
	ck_assert_uint_eq(w.n, 2);
	names_free(&w);
	meta_close(m);
}
END_TEST

START_TEST(deep_chain_parent_ids_nearest_first)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	struct err e = {0};
	uint64_t want[128];
	char name[32], parent[32] = "";
	for (int i = 0; i < 128; i++) {
		snprintf(name, sizeof name, "layer-%d", i);
		want[127 - i] = committed(m, name, i ? parent : NULL);
		memcpy(parent, name, sizeof name);
	}
	create(m, KIND_ACTIVE, "top", parent, NULL, 0);
	uint64_t *ids;
	size_t n;
	ck_assert_int_eq(meta_parent_ids(m, "top", &ids, &n, &e), 0);
	ck_assert_uint_eq(n, 128);
	for (int i = 0; i < 128; i++)
		ck_assert_uint_eq(ids[i], want[i]);
	free(ids);
	ck_assert_int_eq(meta_parent_ids(m, "layer-0", &ids, &n, &e), 0);
	ck_assert_uint_eq(n, 0);
	free(ids);
	expect_code(meta_parent_ids(m, "missing", &ids, &n, &e), &e, ST_NOT_FOUND);
	meta_close(m);
}
END_TEST

START_TEST(everything_survives_reopen)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	struct err e = {0};
	committed(m, "p", NULL);
	const struct label l = {"k", "v"};
	create(m, KIND_ACTIVE, "a", "p", &l, 1);
	meta_close(m);
	m = store_open(d);
	struct snap_info s;
	ck_assert_int_eq(meta_get(m, "a", &s, &e), 0);
	ck_assert_str_eq(s.parent, "p");
	ck_assert_uint_eq(s.id, 2);
	assert_labels(&s, (const char *[]){"k", "v"}, 1);
	snap_info_free(&s);
	/* The parent index survived too. */
	expect_code(meta_remove(m, "p", NULL, NULL, &e), &e, ST_FAILED_PRECONDITION);
	struct names w = {0};
	ck_assert_int_eq(meta_walk(m, collect, &w, &e), 0);
	ck_assert_uint_eq(w.n, 2);
	names_free(&w);
	meta_close(m);
}
END_TEST

static int batches_opened;
static void count_batch(void *ctx)
{
	(void)ctx;
	batches_opened++;
}

/* Group commit: operations join one batch, a failed one leaves the batch as
 * it was, reads see the batch, and only meta_flush() makes it durable. */
START_TEST(group_commit_batches_until_flush)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	struct err e = {0};
	struct snap_info s;
	ck_assert_int_eq(meta_set_group_commit(m, count_batch, NULL, &e), 0);
	batches_opened = 0;
	ck_assert_int_eq(meta_pending(m), 0);
	create(m, KIND_ACTIVE, "a", NULL, NULL, 0);
	ck_assert_int_eq(meta_pending(m), 1);
	create(m, KIND_ACTIVE, "b", NULL, NULL, 0);
	ck_assert_int_eq(batches_opened, 1);
	/* A failing operation inside the batch changes nothing. */
	struct snap_info dup = {.name = "a", .kind = KIND_ACTIVE};
	ck_assert_int_ge(meta_next_id(m, &dup.id, &e), 0);
	expect_code(meta_create(m, &dup, NULL, &e), &e, ST_ALREADY_EXISTS);
	ck_assert_int_eq(meta_get(m, "b", &s, &e), 0);
	snap_info_free(&s);
	ck_assert_int_eq(meta_flush(m, &e), 0);
	ck_assert_int_eq(meta_pending(m), 0);
	/* Changes not flushed are lost with the process. */
	create(m, KIND_ACTIVE, "c", NULL, NULL, 0);
	ck_assert_int_eq(batches_opened, 2);
	meta_close(m);
	m = store_open(d);
	ck_assert_int_eq(meta_get(m, "a", &s, &e), 0);
	snap_info_free(&s);
	ck_assert_int_eq(meta_get(m, "b", &s, &e), 0);
	snap_info_free(&s);
	expect_code(meta_get(m, "c", &s, &e), &e, ST_NOT_FOUND);
	meta_close(m);
}
END_TEST

/* The committer thread: a batch handed over commits beside the caller,
 * which learns of it through the eventfd; a write meanwhile waits for the
 * next batch; meta_flush waits for everything handed; a batch never handed
 * is lost at close. */
START_TEST(committer_commits_beside_the_caller)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	struct err e = {0};
	struct snap_info s;
	ck_assert_int_eq(meta_set_group_commit(m, count_batch, NULL, &e), 0);
	ck_assert_int_ge(meta_commit_fd(m), 0);
	create(m, KIND_ACTIVE, "a", NULL, NULL, 0);
	uint64_t seq = meta_flush_async(m);
	ck_assert_uint_gt(seq, 0);
	ck_assert_int_eq(meta_pending(m), 0);
	ck_assert_uint_eq(meta_flush_async(m), 0); /* nothing more to hand */
	struct pollfd p = {.fd = meta_commit_fd(m), .events = POLLIN};
	while (meta_commit_done(m, seq, &e) == 0) {
		ck_assert_int_eq(poll(&p, 1, 5000), 1);
		meta_commit_drain(m);
	}
	ck_assert_int_eq(meta_commit_done(m, seq, &e), 1);
	ck_assert_int_eq(meta_writable(m), 1);
	ck_assert_int_eq(meta_get(m, "a", &s, &e), 0);
	snap_info_free(&s);
	/* A write right after a hand-over waits for the next batch. */
	create(m, KIND_ACTIVE, "b", NULL, NULL, 0);
	uint64_t seq2 = meta_flush_async(m);
	ck_assert_uint_eq(seq2, seq + 1);
	create(m, KIND_ACTIVE, "c", NULL, NULL, 0);
	ck_assert_int_eq(meta_pending(m), 1);
	ck_assert_int_eq(meta_commit_done(m, seq2, &e), 1);
	ck_assert_int_eq(meta_flush(m, &e), 0);
	ck_assert_int_eq(meta_commit_done(m, seq2 + 1, &e), 1);
	create(m, KIND_ACTIVE, "lost", NULL, NULL, 0);
	meta_close(m);
	m = store_open(d);
	for (const char *const *n = (const char *const[]){"a", "b", "c", NULL}; *n; n++) {
		ck_assert_msg(meta_get(m, *n, &s, &e) == 0, "%s: %s", *n, e.msg);
		snap_info_free(&s);
	}
	expect_code(meta_get(m, "lost", &s, &e), &e, ST_NOT_FOUND);
	meta_close(m);
}
END_TEST

/* Names longer than an LMDB key: keyed by prefix + hash, reported whole. */
START_TEST(long_names_sharing_a_prefix)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	struct err e = {0};
	cleanup_free char *a = xmalloc(META_NAME_MAX + 1), *b = NULL, *c = NULL;
	memset(a, 'x', META_NAME_MAX);
	a[META_NAME_MAX] = '\0';
	b = xstrdup(a);
	b[META_NAME_MAX - 1] = 'y';
	c = xstrdup(a);
	c[600] = '\0'; /* long, a prefix of the others */
	create(m, KIND_ACTIVE, a, NULL, NULL, 0);
	create(m, KIND_ACTIVE, c, NULL, NULL, 0);
	ck_assert_int_eq(meta_commit(m, a, b, NULL, 0, 0, 0, &e), 0);
	create(m, KIND_VIEW, a, b, NULL, 0);
	struct snap_info s;
	ck_assert_int_eq(meta_get(m, a, &s, &e), 0);
	ck_assert_str_eq(s.parent, b);
	ck_assert_int_eq(s.kind, KIND_VIEW);
	snap_info_free(&s);
	ck_assert_int_eq(meta_get(m, b, &s, &e), 0);
	ck_assert_int_eq(s.kind, KIND_COMMITTED);
	snap_info_free(&s);
	struct names w = {0};
	ck_assert_int_eq(meta_walk(m, collect, &w, &e), 0);
	ck_assert_uint_eq(w.n, 3);
	int seen = 0;
	for (size_t i = 0; i < w.n; i++)
		seen |=
		    (strcmp(w.v[i], a) == 0) | (strcmp(w.v[i], b) == 0) << 1 | (strcmp(w.v[i], c) == 0) << 2;
	ck_assert_int_eq(seen, 7);
	names_free(&w);
	expect_code(meta_remove(m, b, NULL, NULL, &e), &e, ST_FAILED_PRECONDITION);
	ck_assert_int_eq(meta_remove(m, a, NULL, NULL, &e), 0);
	ck_assert_int_eq(meta_remove(m, b, NULL, NULL, &e), 0);
	assert_absent(m, a);
	ck_assert_int_eq(meta_get(m, c, &s, &e), 0);
	snap_info_free(&s);
	meta_close(m);
}
END_TEST

struct holds_seen {
	struct meta_hold h[4];
	char *path[4];
	size_t n;
};

static void collect_hold(const struct meta_hold *h, void *ctx)
{
	struct holds_seen *w = ctx;
	ck_assert_uint_lt(w->n, 4);
	w->h[w->n] = *h;
	w->path[w->n] = xstrdup(h->path);
	w->h[w->n].path = w->path[w->n];
	w->n++;
}

static void holds_seen_free(struct holds_seen *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->path[i]);
	w->n = 0;
}

/* The store in dir opened behind its back (a stopped daemon's, in a test
 * of damage or of old formats), with database `name` in one transaction. */
struct raw {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
};

static struct raw raw_open(const char *dir, const char *name, unsigned flags)
{
	struct raw r;
	ck_assert_int_eq(mdb_env_create(&r.env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(r.env, 16), 0);
	ck_assert_int_eq(mdb_env_set_mapsize(r.env, 1UL << 30), 0);
	ck_assert_int_eq(mdb_env_open(r.env, dir, flags, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(r.env, NULL, flags, &r.txn), 0);
	ck_assert_int_eq(mdb_dbi_open(r.txn, name, 0, &r.dbi), 0);
	return r;
}

/* Commits what was written (a read-only transaction just ends). */
static void raw_close(struct raw *r)
{
	ck_assert_int_eq(mdb_txn_commit(r->txn), 0);
	mdb_env_close(r->env);
}

/* A hold record written before holds had owners: the snapshot id alone. */
static void put_legacy_hold(const char *dir, const char *path, uint64_t id)
{
	uint64_t be = htobe64(id);
	MDB_val k = {.mv_size = strlen(path), .mv_data = (void *)path}, v = {.mv_size = 8, .mv_data = &be};
	struct raw r = raw_open(dir, "holds", 0);
	ck_assert_int_eq(mdb_put(r.txn, r.dbi, &k, &v, 0), 0);
	raw_close(&r);
}

/* A damaged store: the record of `name` deleted behind the store's back. */
static void delete_record(const char *dir, const char *name)
{
	MDB_val k = {.mv_size = strlen(name), .mv_data = (void *)name};
	struct raw r = raw_open(dir, "snapshots", 0);
	ck_assert_int_eq(mdb_del(r.txn, r.dbi, &k, NULL), 0);
	raw_close(&r);
}

/* How many entries the database `name` of the store in dir has. */
static size_t db_entries(const char *dir, const char *name)
{
	MDB_stat st;
	struct raw r = raw_open(dir, name, MDB_RDONLY);
	ck_assert_int_eq(mdb_stat(r.txn, r.dbi, &st), 0);
	raw_close(&r);
	return st.ms_entries;
}

/* A snapshot whose parent's record is gone can still be removed, and
 * takes its link to the lost parent along. */
START_TEST(remove_without_the_parents_record)
{
	cleanup_free char *d = fresh_dir();
	struct meta *m = store_open(d);
	committed(m, "base", NULL);
	committed(m, "mid", "base");
	create(m, KIND_ACTIVE, "top", "mid", NULL, 0);
	meta_close(m);
	delete_record(d, "mid");
	m = store_open(d);
	struct err e = {0};
	uint64_t id;
	int kind;
	ck_assert_msg(meta_remove(m, "top", &id, &kind, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(kind, KIND_ACTIVE);
	struct snap_info s;
	expect_code(meta_get(m, "top", &s, &e), &e, ST_NOT_FOUND);
	/* base keeps its child link from mid (mid's id is still in use) */
	expect_code(meta_remove(m, "base", &id, &kind, &e), &e, ST_FAILED_PRECONDITION);
	meta_close(m);
	ck_assert_uint_eq(db_entries(d, "parents"), 1);
}
END_TEST

/* Hold records keep owner, mode, device and namespace across a reopen, a
 * put replaces the record of its path, and an old 8-byte record loads as
 * root's read-write hold with nothing known about its mount. */
START_TEST(holds_keep_owner_and_identity)
{
	cleanup_free char *dir = fresh_dir();
	struct meta *m = store_open(dir);
	struct err e = {0};
	struct holds_seen w = {0};
	struct meta_hold a = {
	    .path = "/mnt/a", .id = 7, .uid = 1000, .flags = META_HOLD_RW, .dev = 0x2d, .ns = 99};
	struct meta_hold b = {.path = "/mnt/b b", .id = 8, .uid = 65534, .flags = 0};
	ck_assert_int_eq(meta_hold_put(m, &a, &e), 0);
	ck_assert_int_eq(meta_hold_put(m, &b, &e), 0);
	a.ns = 100;
	ck_assert_int_eq(meta_hold_put(m, &a, &e), 0);
	meta_close(m);
	put_legacy_hold(dir, "/mnt/old", 5);
	m = store_open(dir);
	ck_assert_int_eq(meta_holds_walk(m, collect_hold, &w, &e), 0);
	ck_assert_uint_eq(w.n, 3);
	ck_assert_str_eq(w.h[0].path, "/mnt/a");
	ck_assert_uint_eq(w.h[0].id, 7);
	ck_assert_uint_eq(w.h[0].uid, 1000);
	ck_assert_uint_eq(w.h[0].flags, META_HOLD_RW);
	ck_assert_uint_eq(w.h[0].dev, 0x2d);
	ck_assert_uint_eq(w.h[0].ns, 100);
	ck_assert_str_eq(w.h[1].path, "/mnt/b b");
	ck_assert_uint_eq(w.h[1].uid, 65534);
	ck_assert_uint_eq(w.h[1].flags, 0);
	ck_assert_str_eq(w.h[2].path, "/mnt/old");
	ck_assert_uint_eq(w.h[2].id, 5);
	ck_assert_uint_eq(w.h[2].uid, 0);
	ck_assert_uint_eq(w.h[2].flags, META_HOLD_RW);
	ck_assert_uint_eq(w.h[2].dev + w.h[2].ns, 0);
	holds_seen_free(&w);
	ck_assert_int_eq(meta_hold_del(m, "/mnt/a", &e), 0);
	ck_assert_int_eq(meta_hold_del(m, "/mnt/never", &e), 0);
	ck_assert_int_eq(meta_holds_walk(m, collect_hold, &w, &e), 0);
	ck_assert_uint_eq(w.n, 2);
	holds_seen_free(&w);
	meta_close(m);
}
END_TEST

struct applying_seen {
	uint64_t id[4];
	uint32_t flags[4];
	size_t n;
};

static void collect_applying(uint64_t id, uint32_t flags, void *ctx)
{
	struct applying_seen *w = ctx;
	ck_assert_uint_lt(w->n, 4);
	w->id[w->n] = id;
	w->flags[w->n++] = flags;
}

/* Applies under way are kept across a reopen (a crash) by id with their
 * flags, a put replaces the flags, and a delete (also of an id never put)
 * leaves the others. */
START_TEST(applies_under_way_survive_reopen)
{
	cleanup_free char *dir = fresh_dir();
	struct meta *m = store_open(dir);
	struct err e = {0};
	struct applying_seen w = {0};
	ck_assert_int_eq(meta_applying_put(m, 300, 0, &e), 0);
	ck_assert_int_eq(meta_applying_put(m, 7, 0, &e), 0);
	ck_assert_int_eq(meta_applying_put(m, 7, META_APPLYING_EMPTY, &e), 0);
	ck_assert_int_eq(meta_applying_put(m, 9, 0, &e), 0);
	ck_assert_int_eq(meta_applying_del(m, 9, &e), 0);
	ck_assert_int_eq(meta_applying_del(m, 10, &e), 0);
	meta_close(m);
	m = store_open(dir);
	ck_assert_int_eq(meta_applying_walk(m, collect_applying, &w, &e), 0);
	ck_assert_uint_eq(w.n, 2);
	ck_assert_uint_eq(w.id[0], 7);
	ck_assert_uint_eq(w.flags[0], META_APPLYING_EMPTY);
	ck_assert_uint_eq(w.id[1], 300);
	ck_assert_uint_eq(w.flags[1], 0);
	meta_close(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("meta");
	TCase *tc = tcase_create("store");
	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, empty_store_walks_nothing);
	tcase_add_test(tc, create_stores_normalised_labels_and_times);
	tcase_add_test(tc, ids_are_monotonic_and_never_reused);
	tcase_add_test(tc, create_checks_like_containerd);
	tcase_add_test(tc, commit_onto_a_parent);
	tcase_add_test(tc, names_and_labels_are_bounded);
	tcase_add_test(tc, the_largest_info_fits_a_native_record);
	tcase_add_test(tc, commit_replaces_the_active_record);
	tcase_add_test(tc, commit_checks_like_containerd);
	tcase_add_test(tc, remove_refuses_parents_and_frees_names);
	tcase_add_test(tc, update_follows_field_paths);
	tcase_add_test(tc, walk_visits_in_name_order_and_stops);
	tcase_add_test(tc, deep_chain_parent_ids_nearest_first);
	tcase_add_test(tc, everything_survives_reopen);
	tcase_add_test(tc, long_names_sharing_a_prefix);
	tcase_add_test(tc, group_commit_batches_until_flush);
	tcase_add_test(tc, committer_commits_beside_the_caller);
	tcase_add_test(tc, holds_keep_owner_and_identity);
	tcase_add_test(tc, remove_without_the_parents_record);
	tcase_add_test(tc, applies_under_way_survive_reopen);
	tcase_add_test(tc, full_map_refuses_additions_but_not_removals);
	tcase_add_test(tc, children_are_listed_by_parent);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
