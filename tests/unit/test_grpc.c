/* The broker's loop and gRPC transport.
 *
 * Three layers: the pure wire helpers (message prefix reader, content-type,
 * percent-encoding); the event loop; and the transport end to end: a forked
 * child runs loop + grpc_server_start on a unix socket, with broker/call.c
 * and fake methods defined here (the server is started with their lookup),
 * and the parent talks to it over raw sockets and with a small nghttp2
 * client.
 *
 * `test_grpc --serve SOCKET` runs the same fake server in the foreground,
 * so tests/go/.../grpcstress can be pointed at it without a full stratad. */
#include <check.h>
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/call.h"
#include "broker/grpc.h"
#include "broker/grpc_wire.h"
#include "broker/loop.h"
#include "broker/meta.h"
#include "broker/pbcheck.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/api.h"
#include "run_suite.h"

/* ---- wire helpers ----------------------------------------------------------- */

static struct err e;

START_TEST(reader_assembles_across_chunks)
{
	struct grpc_reader r = {0};
	const uint8_t msg[] = {0, 0, 0, 0, 3, 'a', 'b', 'c'};
	const uint8_t *buf;
	size_t len;
	for (size_t i = 0; i < sizeof msg; i++)
		ck_assert_int_eq(grpc_reader_feed(&r, msg + i, 1, 100, &e), 0);
	ck_assert_int_eq(grpc_reader_finish(&r, &buf, &len, &e), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(buf, "abc", 3), 0);
	grpc_reader_release(&r);
}
END_TEST

START_TEST(reader_accepts_empty_message)
{
	struct grpc_reader r = {0};
	const uint8_t *buf;
	size_t len = 99;
	ck_assert_int_eq(grpc_reader_feed(&r, (const uint8_t[]){0, 0, 0, 0, 0}, 5, 100, &e), 0);
	ck_assert_int_eq(grpc_reader_finish(&r, &buf, &len, &e), 0);
	ck_assert_uint_eq(len, 0);
	grpc_reader_release(&r);
}
END_TEST

START_TEST(reader_refuses_oversized_before_buffering)
{
	struct grpc_reader r = {0};
	ck_assert_int_eq(grpc_reader_feed(&r, (const uint8_t[]){0, 0, 0, 0, 101, 'x'}, 6, 100, &e), -1);
	ck_assert_int_eq(e.code, ST_RESOURCE_EXHAUSTED);
	ck_assert_ptr_null(r.buf);
	grpc_reader_release(&r);
}
END_TEST

START_TEST(reader_refuses_compressed_and_bad_flags)
{
	struct grpc_reader r = {0};
	ck_assert_int_eq(grpc_reader_feed(&r, (const uint8_t[]){1, 0, 0, 0, 1}, 5, 100, &e), -1);
	ck_assert_int_eq(e.code, ST_UNIMPLEMENTED);
	ck_assert_str_eq(e.msg, "compression not supported");
	grpc_reader_release(&r);
	ck_assert_int_eq(grpc_reader_feed(&r, (const uint8_t[]){0x80, 0, 0, 0, 1}, 5, 100, &e), -1);
	ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
	grpc_reader_release(&r);
}
END_TEST

START_TEST(reader_refuses_second_message)
{
	struct grpc_reader r = {0};
	const uint8_t two[] = {0, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 1, 'b'};
	ck_assert_int_eq(grpc_reader_feed(&r, two, sizeof two, 100, &e), -1);
	ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
	grpc_reader_release(&r);
}
END_TEST

START_TEST(reader_finish_needs_whole_message)
{
	struct grpc_reader r = {0};
	const uint8_t *buf;
	size_t len;
	ck_assert_int_eq(grpc_reader_finish(&r, &buf, &len, &e), -1);
	ck_assert_str_eq(e.msg, "request message missing");
	ck_assert_int_eq(grpc_reader_feed(&r, (const uint8_t[]){0, 0, 0}, 3, 100, &e), 0);
	ck_assert_int_eq(grpc_reader_finish(&r, &buf, &len, &e), -1);
	ck_assert_int_eq(grpc_reader_feed(&r, (const uint8_t[]){0, 2, 'a'}, 3, 100, &e), 0);
	ck_assert_int_eq(grpc_reader_finish(&r, &buf, &len, &e), -1);
	ck_assert_str_eq(e.msg, "request message truncated");
	grpc_reader_release(&r);
}
END_TEST

START_TEST(prefix_is_big_endian)
{
	uint8_t p[GRPC_PREFIX_LEN];
	grpc_prefix_encode(p, 0x01020304);
	ck_assert_int_eq(memcmp(p, "\x00\x01\x02\x03\x04", 5), 0);
}
END_TEST

static int ctype(const char *s)
{
	return grpc_content_type_ok((const uint8_t *)s, strlen(s));
}

START_TEST(content_types)
{
	ck_assert(ctype("application/grpc"));
	ck_assert(ctype("application/grpc+proto"));
	ck_assert(ctype("application/grpc;charset=utf-8"));
	ck_assert(!ctype("application/grpc+json"));
	ck_assert(!ctype("application/grpcx"));
	ck_assert(!ctype("application/json"));
	ck_assert(!ctype(""));
}
END_TEST

START_TEST(percent_encoding)
{
	char *s = grpc_percent_encode("snapshot `a/b` 100% gone\n\xc3\xa9");
	ck_assert_str_eq(s, "snapshot `a/b` 100%25 gone%0A%C3%A9");
	free(s);
	s = grpc_percent_encode("");
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

/* ---- the strings of a request, on the wire ---------------------------------- */

#define PD(x) &containerd__services__snapshots__v1__##x##__descriptor

/* Appends field `num` as a length-delimited value of n bytes. */
static size_t put_ld(uint8_t *out, size_t off, unsigned num, const void *v, size_t n)
{
	out[off++] = (uint8_t)(num << 3 | 2);
	out[off++] = (uint8_t)n; /* the tests keep every value under 128 bytes */
	memcpy(out + off, v, n);
	return off + n;
}

/* A map<string,string> entry: key 1, value 2. */
static size_t put_entry(uint8_t *out, size_t off, unsigned num, const char *k, size_t kn, const char *v,
			size_t vn)
{
	uint8_t ent[128];
	size_t n = put_ld(ent, 0, 1, k, kn);
	n = put_ld(ent, n, 2, v, vn);
	return put_ld(out, off, num, ent, n);
}

START_TEST(strings_utf8_rules)
{
	ck_assert(pb_string_ok((const uint8_t *)"", 0));
	ck_assert(pb_string_ok((const uint8_t *)"plain/key-1", 11));
	ck_assert(pb_string_ok((const uint8_t *)"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
			       9)); /* e-acute, euro, an emoji */
	ck_assert(!pb_string_ok((const uint8_t *)"a\0b", 3));
	ck_assert(!pb_string_ok((const uint8_t *)"\xff", 1));
	ck_assert(!pb_string_ok((const uint8_t *)"\x80", 1));		  /* a lone continuation */
	ck_assert(!pb_string_ok((const uint8_t *)"\xc3", 1));		  /* cut short */
	ck_assert(!pb_string_ok((const uint8_t *)"\xc0\x80", 2));	  /* overlong NUL */
	ck_assert(!pb_string_ok((const uint8_t *)"\xe0\x80\xaf", 3));	  /* overlong '/' */
	ck_assert(!pb_string_ok((const uint8_t *)"\xed\xa0\x80", 3));	  /* a surrogate */
	ck_assert(!pb_string_ok((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
	ck_assert(!pb_string_ok((const uint8_t *)"\xf8\x88\x80\x80\x80", 5));
}
END_TEST

START_TEST(strings_checked_in_every_field)
{
	uint8_t b[512];
	size_t n;

	/* Clean: a Prepare with a parent and a label passes. */
	n = put_ld(b, 0, 1, "strata", 6);
	n = put_ld(b, n, 2, "k\xc3\xa9", 3);
	n = put_ld(b, n, 3, "p", 1);
	n = put_entry(b, n, 4, "l", 1, "v", 1);
	ck_assert_int_eq(pb_check_strings(PD(prepare_snapshot_request), b, n, &e), 0);
	ck_assert_int_eq(pb_check_strings(PD(prepare_snapshot_request), NULL, 0, &e), 0);

	static const struct {
		const char *s;
		size_t n;
	} bad[] = {{"a\0b", 3}, {"a\xff", 2}, {"\0", 1}, {"\xc0\x80", 2}};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		/* Prepare's snapshotter, key, parent, a label's key and value. */
		for (unsigned field = 1; field <= 3; field++) {
			n = put_ld(b, 0, field, bad[i].s, bad[i].n);
			ck_assert_int_eq(pb_check_strings(PD(prepare_snapshot_request), b, n, &e), -1);
			ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
		}
		n = put_entry(b, 0, 4, bad[i].s, bad[i].n, "v", 1);
		ck_assert_int_eq(pb_check_strings(PD(prepare_snapshot_request), b, n, &e), -1);
		n = put_entry(b, 0, 4, "k", 1, bad[i].s, bad[i].n);
		ck_assert_int_eq(pb_check_strings(PD(prepare_snapshot_request), b, n, &e), -1);
		ck_assert_str_eq(
		    e.msg, "`containerd.services.snapshots.v1.PrepareSnapshotRequest.LabelsEntry.value` "
			   "is not valid UTF-8 or holds a NUL byte");
		/* Commit's name, List's filters, Remove's and Stat's key. */
		n = put_ld(b, 0, 2, bad[i].s, bad[i].n);
		ck_assert_int_eq(pb_check_strings(PD(commit_snapshot_request), b, n, &e), -1);
		ck_assert_int_eq(pb_check_strings(PD(list_snapshots_request), b, n, &e), -1);
		ck_assert_int_eq(pb_check_strings(PD(remove_snapshot_request), b, n, &e), -1);
		ck_assert_int_eq(pb_check_strings(PD(stat_snapshot_request), b, n, &e), -1);

		/* Update: info.name, info.labels, update_mask.paths, a level down. */
		uint8_t inner[128];
		size_t k = put_ld(inner, 0, 1, bad[i].s, bad[i].n);
		n = put_ld(b, 0, 2, inner, k);
		ck_assert_int_eq(pb_check_strings(PD(update_snapshot_request), b, n, &e), -1);
		k = put_entry(inner, 0, 6, "k", 1, bad[i].s, bad[i].n);
		n = put_ld(b, 0, 2, inner, k);
		ck_assert_int_eq(pb_check_strings(PD(update_snapshot_request), b, n, &e), -1);
		k = put_ld(inner, 0, 1, bad[i].s, bad[i].n);
		n = put_ld(b, 0, 3, inner, k);
		ck_assert_int_eq(pb_check_strings(PD(update_snapshot_request), b, n, &e), -1);
		ck_assert_str_eq(e.msg,
				 "`google.protobuf.FieldMask.paths` is not valid UTF-8 or holds a NUL byte");
	}

	/* Bytes that are no string may hold anything: an unknown field. */
	n = put_ld(b, 0, 15, "a\0\xff", 3);
	ck_assert_int_eq(pb_check_strings(PD(prepare_snapshot_request), b, n, &e), 0);

	/* Cut short, or a group: not protobuf. */
	n = put_ld(b, 0, 2, "key", 3);
	ck_assert_int_eq(pb_check_strings(PD(prepare_snapshot_request), b, n - 1, &e), -1);
	b[0] = 2 << 3 | 3;
	ck_assert_int_eq(pb_check_strings(PD(prepare_snapshot_request), b, 1, &e), -1);
	ck_assert_str_eq(e.msg, "cannot decode `containerd.services.snapshots.v1.PrepareSnapshotRequest`");
}
END_TEST

#undef PD

/* ---- loop --------------------------------------------------------------------- */

struct pipe_src {
	int fds[2];
	struct loop_src *src;
	int hits;
	struct pipe_src *victim; /* removed (and closed) by this one's callback */
};

static volatile sig_atomic_t loop_stop;
static int order[8], norder;

static void pipe_ready(void *ctx, uint32_t events)
{
	struct pipe_src *p = ctx;
	char c;
	ck_assert_int_eq(read(p->fds[0], &c, 1), 1);
	p->hits++;
	if (p->victim) {
		loop_remove(p->victim->src);
		loop_remove(p->src); /* itself too */
	}
	loop_stop = 1;
}

START_TEST(loop_remove_during_batch)
{
	struct pipe_src a = {0}, b = {0};
	ck_assert_int_eq(loop_init(), 0);
	ck_assert_int_eq(pipe(a.fds), 0);
	ck_assert_int_eq(pipe(b.fds), 0);
	a.src = loop_add(a.fds[0], EPOLLIN, pipe_ready, &a);
	b.src = loop_add(b.fds[0], EPOLLIN, pipe_ready, &b);
	a.victim = &b;
	b.victim = &a;
	/* Both ready in one batch: whichever runs first removes the other,
	 * which must then not run. */
	ck_assert_int_eq(write(a.fds[1], "x", 1), 1);
	ck_assert_int_eq(write(b.fds[1], "x", 1), 1);
	loop_stop = 0;
	ck_assert_int_eq(loop_run(&loop_stop), 0);
	ck_assert_int_eq(a.hits + b.hits, 1);
	close(a.fds[0]), close(a.fds[1]), close(b.fds[0]), close(b.fds[1]);
}
END_TEST

static void record(void *ctx)
{
	order[norder++] = (int)(intptr_t)ctx;
	if ((intptr_t)ctx == 1)
		loop_defer(record, (void *)3); /* runs in a later round */
	if ((intptr_t)ctx == 3)
		loop_stop = 1;
}

START_TEST(loop_defer_runs_in_order_without_fds)
{
	ck_assert_int_eq(loop_init(), 0);
	norder = 0;
	loop_stop = 0;
	loop_defer(record, (void *)1);
	loop_defer(record, (void *)2);
	ck_assert_int_eq(loop_run(&loop_stop), 0);
	ck_assert_int_eq(norder, 3);
	ck_assert_int_eq(order[0], 1);
	ck_assert_int_eq(order[1], 2);
	ck_assert_int_eq(order[2], 3);
}
END_TEST

/* ---- fake methods --------------------------------------------------------------- */

#define SNAP "/containerd.services.snapshots.v1.Snapshots/"
#define D(x) &containerd__services__snapshots__v1__##x##__descriptor
typedef Containerd__Services__Snapshots__V1__PrepareSnapshotRequest PrepareReq;
typedef Containerd__Services__Snapshots__V1__Info Info;
typedef Containerd__Services__Snapshots__V1__Info__LabelsEntry InfoLabel;

#define FAKE_MAX 4096
static PrepareReq *fake_snaps[FAKE_MAX]; /* the Prepare requests, by slot */

static int fake_find(const char *key)
{
	for (int i = 0; i < FAKE_MAX; i++)
		if (fake_snaps[i] && !strcmp(fake_snaps[i]->key, key))
			return i;
	return -1;
}

/* Info for slot i; labels point into the stored request. */
static void fake_info(int i, Info *info, InfoLabel *lab, InfoLabel **labp)
{
	PrepareReq *p = fake_snaps[i];
	containerd__services__snapshots__v1__info__init(info);
	info->name = p->key;
	info->parent = p->parent;
	info->kind = CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__ACTIVE;
	for (size_t k = 0; k < p->n_labels && k < 8; k++) {
		containerd__services__snapshots__v1__info__labels_entry__init(&lab[k]);
		lab[k].key = p->labels[k]->key;
		lab[k].value = p->labels[k]->value;
		labp[k] = &lab[k];
	}
	info->n_labels = p->n_labels < 8 ? p->n_labels : 8;
	info->labels = labp;
}

/* Prepare answers after the batch, as a call waiting for a worker would. */
static void fake_prepare_later(void *ctx)
{
	struct call *c = ctx;
	PrepareReq *p = (PrepareReq *)c->req;
	int slot;
	if (fake_find(p->key) >= 0) {
		call_fail(c, ST_ALREADY_EXISTS, "snapshot `%s` already exists", p->key);
		return;
	}
	for (slot = 0; slot < FAKE_MAX && fake_snaps[slot]; slot++)
		;
	if (slot == FAKE_MAX) {
		call_fail(c, ST_RESOURCE_EXHAUSTED, "fake store full");
		return;
	}
	fake_snaps[slot] = steal_pointer(&c->req);
	char src[32];
	snprintf(src, sizeof src, "/fake/%d", slot);
	Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT, *mp = &m;
	m.type = "bind";
	m.source = src;
	Containerd__Services__Snapshots__V1__PrepareSnapshotResponse r =
	    CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_RESPONSE__INIT;
	r.n_mounts = 1;
	r.mounts = &mp;
	call_reply(c, &r.base);
}

static void fake_prepare(struct call *c)
{
	loop_defer(fake_prepare_later, c);
}

/* Usage parks its call until a Stat of "parked?" reports whether the
 * transport detached it (the client reset the stream or hung up). */
static struct call *parked;

static void fake_usage(struct call *c)
{
	if (parked)
		call_fail(parked, ST_ABORTED, "replaced");
	parked = c;
}

/* Cleanup keeps its call in flight for as long as the server runs: it
 * makes a connection busy. */
static void fake_cleanup(struct call *c)
{
}

static void fake_stat_parked(struct call *c)
{
	Info info;
	Containerd__Services__Snapshots__V1__StatSnapshotResponse r =
	    CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_RESPONSE__INIT;
	containerd__services__snapshots__v1__info__init(&info);
	info.name = !parked ? "none" : parked->transport ? "attached" : "detached";
	r.info = &info;
	call_reply(c, &r.base);
	if (parked)
		call_fail(steal_pointer(&parked), ST_ABORTED, "released");
}

static void fake_stat(struct call *c)
{
	Containerd__Services__Snapshots__V1__StatSnapshotRequest *q = (void *)c->req;
	if (!strcmp(q->key, "parked?")) {
		fake_stat_parked(c);
		return;
	}
	if (!strcmp(q->key, "peer?")) {
		call_fail(c, ST_NOT_FOUND, "%d/%d", (int)c->peer_uid, (int)c->peer_pid);
		return;
	}
	int i = fake_find(q->key);
	if (i < 0) {
		call_fail(c, ST_NOT_FOUND, "snapshot `%s` not found", q->key);
		return;
	}
	Info info;
	InfoLabel lab[8], *labp[8];
	Containerd__Services__Snapshots__V1__StatSnapshotResponse r =
	    CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_RESPONSE__INIT;
	fake_info(i, &info, lab, labp);
	r.info = &info;
	call_reply(c, &r.base);
}

static void fake_remove(struct call *c)
{
	Containerd__Services__Snapshots__V1__RemoveSnapshotRequest *q = (void *)c->req;
	int i = fake_find(q->key);
	if (i < 0) {
		call_fail(c, ST_NOT_FOUND, "remove `%s`: not found", q->key);
		return;
	}
	protobuf_c_message_free_unpacked(&fake_snaps[i]->base, NULL);
	fake_snaps[i] = NULL;
	call_reply(c, NULL);
}

/* List streams one Info per message, a few per round of the loop, so the
 * data provider runs dry and resumes many times. */
struct list_state {
	struct call *c;
	int next;
};

static void fake_list_more(void *ctx)
{
	struct list_state *ls = ctx;
	for (int sent = 0; ls->next < FAKE_MAX && sent < 4; ls->next++) {
		if (!fake_snaps[ls->next])
			continue;
		Info info, *ip = &info;
		InfoLabel lab[8], *labp[8];
		Containerd__Services__Snapshots__V1__ListSnapshotsResponse r =
		    CONTAINERD__SERVICES__SNAPSHOTS__V1__LIST_SNAPSHOTS_RESPONSE__INIT;
		fake_info(ls->next, &info, lab, labp);
		r.n_info = 1;
		r.info = &ip;
		call_send(ls->c, &r.base);
		sent++;
	}
	if (ls->next < FAKE_MAX) {
		loop_defer(fake_list_more, ls);
		return;
	}
	call_reply(ls->c, NULL);
	free(ls);
}

static void fake_list(struct call *c)
{
	struct list_state *ls = xcalloc(1, sizeof *ls);
	ls->c = c;
	fake_list_more(ls);
}

static const struct method_desc fake_methods[] = {
    {NM_PREPARE, SNAP "Prepare", D(prepare_snapshot_request), D(prepare_snapshot_response), 0, 0,
     fake_prepare, "Prepare", 0},
    {NM_STAT, SNAP "Stat", D(stat_snapshot_request), D(stat_snapshot_response), 0, 0, fake_stat, "Stat", 0},
    {NM_REMOVE, SNAP "Remove", D(remove_snapshot_request), &google__protobuf__empty__descriptor, 0, 0,
     fake_remove, "Remove", 0},
    {NM_USAGE, SNAP "Usage", D(usage_request), D(usage_response), 0, 0, fake_usage, "Usage", 0},
    {NM_LIST, SNAP "List", D(list_snapshots_request), D(list_snapshots_response), 1, 0, fake_list, "List", 0},
    {NM_CLEANUP, SNAP "Cleanup", D(cleanup_request), &google__protobuf__empty__descriptor, 0, 0, fake_cleanup,
     "Cleanup", 0},
};

static const struct method_desc *fake_method_by_path(const char *path)
{
	for (size_t i = 0; i < ARRAY_SIZE(fake_methods); i++)
		if (!strcmp(fake_methods[i].grpc_path, path))
			return &fake_methods[i];
	return NULL;
}

/* ---- the fake server ---------------------------------------------------------- */

static volatile sig_atomic_t serve_stop;

static void on_term(int sig)
{
	serve_stop = 1;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 64) < 0)
		return -1;
	return fd;
}

/* call.c answers a call once the metadata changes made so far are durable
 * (durable.h): the server keeps an empty store beside its socket. */
static void meta_dir_of(char *out, size_t n, const char *sock)
{
	snprintf(out, n, "%s.meta", sock);
}

static void meta_dir_remove(const char *sock)
{
	char dir[256], f[300];
	meta_dir_of(dir, sizeof dir, sock);
	snprintf(f, sizeof f, "%s/data.mdb", dir);
	unlink(f);
	snprintf(f, sizeof f, "%s/lock.mdb", dir);
	unlink(f);
	rmdir(dir);
}

static int serve(const char *path, const struct grpc_limits *lim)
{
	struct err err;
	char meta_dir[256];
	int fd = listen_unix(path);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	meta_dir_of(meta_dir, sizeof meta_dir, path);
	if (fd < 0 || meta_open(&broker.meta, meta_dir, &err) < 0 || loop_init() < 0 ||
	    grpc_server_start(fd, lim, fake_method_by_path, &err) < 0) {
		fprintf(stderr, "fake server on %s failed\n", path);
		return 1;
	}
	loop_run(&serve_stop);
	grpc_server_stop();
	meta_close(broker.meta);
	meta_dir_remove(path);
	unlink(path);
	return 0;
}

/* ---- a small blocking HTTP/2 client ------------------------------------------ */

struct rpc {
	const uint8_t *body;
	size_t body_len, body_off;
	int grpc_status; /* -1 until seen */
	char grpc_message[512];
	uint8_t data[1 << 16];
	size_t data_len;
	int closed;
	int hold_open; /* send the body but not END_STREAM */
};

struct h2 {
	int fd;
	nghttp2_session *s;
	int goaway; /* the server sent one */
};

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
			const uint8_t *value, size_t vl, uint8_t flags, void *user)
{
	struct rpc *r = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (r && nl == 11 && !memcmp(name, "grpc-status", 11))
		r->grpc_status = atoi((const char *)value);
	if (r && nl == 12 && !memcmp(name, "grpc-message", 12))
		snprintf(r->grpc_message, sizeof r->grpc_message, "%s", (const char *)value);
	return 0;
}

static int h2_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		      void *user)
{
	struct rpc *r = nghttp2_session_get_stream_user_data(s, id);
	if (r && r->data_len + len <= sizeof r->data) {
		memcpy(r->data + r->data_len, data, len);
		r->data_len += len;
	}
	return 0;
}

static int h2_on_close(nghttp2_session *s, int32_t id, uint32_t code, void *user)
{
	struct rpc *r = nghttp2_session_get_stream_user_data(s, id);
	if (r)
		r->closed = 1;
	return 0;
}

static ssize_t h2_read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			    nghttp2_data_source *src, void *user)
{
	struct rpc *r = src->ptr;
	size_t k = r->body_len - r->body_off;
	if (k > len)
		k = len;
	if (k)
		memcpy(buf, r->body + r->body_off, k);
	r->body_off += k;
	if (r->body_off == r->body_len && r->hold_open)
		return k > 0 ? (ssize_t)k : NGHTTP2_ERR_DEFERRED;
	if (r->body_off == r->body_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)k;
}

static int h2_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	struct h2 *h = user;
	if (f->hd.type == NGHTTP2_GOAWAY)
		h->goaway = 1;
	return 0;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Sends what nghttp2 has, then waits up to 5 s for input when asked to. */
static int h2_pump(struct h2 *h, int wait_read)
{
	const uint8_t *data;
	ssize_t n;
	int sent = 0;
	while ((n = nghttp2_session_mem_send(h->s, &data)) > 0)
		if (write_all(h->fd, data, (size_t)n) < 0) {
			sent = -1;
			break;
		}
	/* A server that closed the connection may have said why first (a
	 * GOAWAY): it is read even when the write failed. */
	if (!wait_read)
		return sent;
	struct pollfd p = {.fd = h->fd, .events = POLLIN};
	if (poll(&p, 1, 5000) != 1)
		return -1;
	uint8_t buf[16384];
	n = read(h->fd, buf, sizeof buf);
	if (n <= 0)
		return -1;
	return nghttp2_session_mem_recv(h->s, buf, (size_t)n) < 0 ? -1 : 0;
}

static const char *sock_path;

static void h2_open(struct h2 *h)
{
	nghttp2_session_callbacks *cb;
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_header_callback(cb, h2_on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_on_close);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_on_frame);
	h->goaway = 0;
	h->fd = connect_unix(sock_path);
	ck_assert_int_ge(h->fd, 0);
	ck_assert_int_eq(nghttp2_session_client_new(&h->s, cb, h), 0);
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, NULL, 0);
}

static void h2_close(struct h2 *h)
{
	nghttp2_session_del(h->s);
	close(h->fd);
}

static const char *extra_header; /* x-extra: value, when set */

static int32_t h2_start(struct h2 *h, const char *path, struct rpc *r)
{
	const char *x = extra_header ? extra_header : "";
	nghttp2_nv hdrs[] = {
	    {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
	    {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
	    {(uint8_t *)":authority", (uint8_t *)"localhost", 10, 9, 0},
	    {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0},
	    {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0},
	    {(uint8_t *)"grpc-timeout", (uint8_t *)"10S", 12, 3, 0},
	    {(uint8_t *)"x-extra", (uint8_t *)x, 7, strlen(x), 0}, /* after the pseudo-headers */
	};
	nghttp2_data_provider prd = {.source.ptr = r, .read_callback = h2_read_body};
	r->grpc_status = -1;
	int32_t id = nghttp2_submit_request(h->s, NULL, hdrs, ARRAY_SIZE(hdrs) - !extra_header, &prd, r);
	ck_assert_int_gt(id, 0);
	return id;
}

/* One call with a raw (already framed) body; returns the grpc-status. */
static int h2_raw(struct h2 *h, const char *path, const uint8_t *body, size_t len, struct rpc *r)
{
	memset(r, 0, sizeof *r);
	r->body = body;
	r->body_len = len;
	h2_start(h, path, r);
	while (!r->closed)
		ck_assert_int_eq(h2_pump(h, 1), 0);
	return r->grpc_status;
}

/* One call with a message; the response's first message is unpacked. */
static int h2_call(struct h2 *h, const char *method, const ProtobufCMessage *req,
		   const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp, struct rpc *r)
{
	size_t n = protobuf_c_message_get_packed_size(req);
	cleanup_free uint8_t *body = xmalloc(GRPC_PREFIX_LEN + n);
	char path[128];
	snprintf(path, sizeof path, SNAP "%s", method);
	grpc_prefix_encode(body, (uint32_t)n);
	protobuf_c_message_pack(req, body + GRPC_PREFIX_LEN);
	int st = h2_raw(h, path, body, GRPC_PREFIX_LEN + n, r);
	if (resp && st == 0) {
		ck_assert_uint_ge(r->data_len, GRPC_PREFIX_LEN);
		*resp = protobuf_c_message_unpack(resp_desc, NULL, r->data_len - GRPC_PREFIX_LEN,
						  r->data + GRPC_PREFIX_LEN);
		ck_assert_ptr_nonnull(*resp);
	}
	return st;
}

static int h2_stat(struct h2 *h, const char *key, char *name_out, size_t name_size, struct rpc *r)
{
	Containerd__Services__Snapshots__V1__StatSnapshotRequest q =
	    CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	q.key = (char *)key;
	int st = h2_call(h, "Stat", &q.base, D(stat_snapshot_response), &resp, r);
	if (resp) {
		Containerd__Services__Snapshots__V1__StatSnapshotResponse *sr = (void *)resp;
		snprintf(name_out, name_size, "%s", sr->info->name);
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	return st;
}

/* ---- end to end against the fake server --------------------------------------- */

static char tmpdir[] = "/tmp/test_grpc.XXXXXX";
static char sock_buf[128];
static pid_t server_pid = -1;
/* No idle timeout but in the idle test's own case (e2e-idle): elsewhere a
 * slow machine would close connections the test still uses. */
static struct grpc_limits test_limits = {.max_message = 4096,
					 .max_connections = 3,
					 .max_streams = 8,
					 .idle_timeout_ms = 0,
					 .request_bytes = 20000};

static void dir_setup(void)
{
	strcpy(tmpdir, "/tmp/test_grpc.XXXXXX"); /* each case makes its own */
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(sock_buf, sizeof sock_buf, "%s/grpc.sock", tmpdir);
	sock_path = sock_buf;
}

static void dir_teardown(void)
{
	meta_dir_remove(sock_buf);
	unlink(sock_buf);
	rmdir(tmpdir);
}

/* The server child dies with the test process (PDEATHSIG) even when a
 * failed assertion skips the teardown. */
static void server_setup(void)
{
	server_pid = fork();
	ck_assert_int_ge(server_pid, 0);
	if (server_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		log_init("test-grpc", LOG_WARN_);
		_exit(serve(sock_path, &test_limits));
	}
	for (int i = 0; i < 500; i++) {
		int fd = connect_unix(sock_path);
		if (fd >= 0) {
			close(fd);
			return;
		}
		usleep(10000);
	}
	ck_abort_msg("fake server did not start");
}

static void idle_server_setup(void)
{
	test_limits.idle_timeout_ms = 1500;
	server_setup();
}

static void server_teardown(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
	}
}

static int server_alive(void)
{
	return waitpid(server_pid, NULL, WNOHANG) == 0;
}

START_TEST(e2e_prepare_stat_list_remove)
{
	struct h2 h;
	struct rpc r;
	char name[64] = "";
	ProtobufCMessage *resp = NULL;
	h2_open(&h);

	PrepareReq p = CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
	p.key = "ns/1/a";
	ck_assert_int_eq(h2_call(&h, "Prepare", &p.base, D(prepare_snapshot_response), &resp, &r), 0);
	Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *pr = (void *)resp;
	ck_assert_uint_eq(pr->n_mounts, 1);
	ck_assert_str_eq(pr->mounts[0]->type, "bind");
	protobuf_c_message_free_unpacked(resp, NULL);
	ck_assert_int_eq(h2_call(&h, "Prepare", &p.base, NULL, NULL, &r), ST_ALREADY_EXISTS);
	ck_assert_str_eq(r.grpc_message, "snapshot `ns/1/a` already exists");

	p.key = "ns/1/b";
	ck_assert_int_eq(h2_call(&h, "Prepare", &p.base, NULL, NULL, &r), 0);
	ck_assert_int_eq(h2_stat(&h, "ns/1/a", name, sizeof name, &r), 0);
	ck_assert_str_eq(name, "ns/1/a");

	/* List: two messages, each framed on its own. */
	Containerd__Services__Snapshots__V1__ListSnapshotsRequest lq =
	    CONTAINERD__SERVICES__SNAPSHOTS__V1__LIST_SNAPSHOTS_REQUEST__INIT;
	ck_assert_int_eq(h2_call(&h, "List", &lq.base, NULL, NULL, &r), 0);
	int msgs = 0;
	for (size_t off = 0; off + GRPC_PREFIX_LEN <= r.data_len; msgs++) {
		uint32_t n = (uint32_t)r.data[off + 1] << 24 | r.data[off + 2] << 16 | r.data[off + 3] << 8 |
			     r.data[off + 4];
		ck_assert_int_eq(r.data[off], 0);
		off += GRPC_PREFIX_LEN + n;
		ck_assert_uint_le(off, r.data_len);
	}
	ck_assert_int_eq(msgs, 2);

	Containerd__Services__Snapshots__V1__RemoveSnapshotRequest rq =
	    CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;
	rq.key = "ns/1/a";
	ck_assert_int_eq(h2_call(&h, "Remove", &rq.base, NULL, NULL, &r), 0);
	ck_assert_int_eq(h2_stat(&h, "ns/1/a", name, sizeof name, &r), ST_NOT_FOUND);
	ck_assert_str_eq(r.grpc_message, "snapshot `ns/1/a` not found");
	h2_close(&h);
}
END_TEST

START_TEST(e2e_request_errors_keep_the_connection)
{
	struct h2 h;
	struct rpc r;
	char name[64];
	static uint8_t big[8192];
	h2_open(&h);

	ck_assert_int_eq(h2_raw(&h, "/x.Y/Z", (const uint8_t *)"\0\0\0\0\0", 5, &r), ST_UNIMPLEMENTED);
	ck_assert_str_eq(r.grpc_message, "unknown method /x.Y/Z");

	grpc_prefix_encode(big, sizeof big - GRPC_PREFIX_LEN); /* 8187 > 4096 */
	ck_assert_int_eq(h2_raw(&h, SNAP "Stat", big, sizeof big, &r), ST_RESOURCE_EXHAUSTED);

	ck_assert_int_eq(h2_raw(&h, SNAP "Stat", (const uint8_t *)"\1\0\0\0\0", 5, &r), ST_UNIMPLEMENTED);
	ck_assert_str_eq(r.grpc_message, "compression not supported");

	ck_assert_int_eq(h2_raw(&h, SNAP "Stat", (const uint8_t *)"\0\0\0\0\2\xff\xff", 7, &r),
			 ST_INVALID_ARGUMENT);
	ck_assert_int_eq(h2_raw(&h, SNAP "Stat", (const uint8_t *)"\0\0\0\0\2\x0a", 6, &r),
			 ST_INVALID_ARGUMENT);
	ck_assert_int_eq(h2_raw(&h, SNAP "Stat", NULL, 0, &r), ST_INVALID_ARGUMENT);

	/* Headers over the server's cap reset that stream only. */
	char *huge = xmalloc(20001);
	memset(huge, 'h', 20000);
	huge[20000] = 0;
	extra_header = huge;
	ck_assert_int_eq(h2_stat(&h, "x", name, sizeof name, &r), -1);
	extra_header = NULL;
	free(huge);

	/* The transport fills in the peer's credentials. */
	char want[64];
	snprintf(want, sizeof want, "%d/%d", (int)getuid(), (int)getpid());
	ck_assert_int_eq(h2_stat(&h, "peer?", name, sizeof name, &r), ST_NOT_FOUND);
	ck_assert_str_eq(r.grpc_message, want);

	/* A status message with bytes that need percent-encoding. */
	ck_assert_int_eq(h2_stat(&h, "k\n%", name, sizeof name, &r), ST_NOT_FOUND);
	ck_assert_str_eq(r.grpc_message, "snapshot `k%0A%25` not found");
	h2_close(&h);
	ck_assert(server_alive());
}
END_TEST

static int closed_by_peer(int fd)
{
	char buf[4096];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	for (;;) {
		if (poll(&p, 1, 5000) != 1)
			return 0;
		ssize_t n = read(fd, buf, sizeof buf);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		if (n < 0)
			return 0;
	}
}

START_TEST(e2e_garbage_closes_only_that_connection)
{
	struct h2 a;
	struct rpc r;
	char name[64];
	h2_open(&a);
	ck_assert_int_eq(h2_stat(&a, "x", name, sizeof name, &r), ST_NOT_FOUND);

	int b = connect_unix(sock_path);
	ck_assert_int_ge(b, 0);
	ck_assert_int_eq(write_all(b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27), 0);
	ck_assert(closed_by_peer(b));
	close(b);

	ck_assert_int_eq(h2_stat(&a, "x", name, sizeof name, &r), ST_NOT_FOUND);
	h2_close(&a);
}
END_TEST

/* Reads until the server closes the connection (GOAWAY seen or not). */
static int h2_until_closed(struct h2 *h)
{
	for (int i = 0; i < 1000; i++)
		if (h2_pump(h, 1) < 0)
			return 1;
	return 0;
}

/* Starts a Cleanup, which stays in flight, and waits until the server has it
 * (a Stat behind it on the same connection is answered). */
static void h2_make_busy(struct h2 *h, struct rpc *park)
{
	static const uint8_t empty[GRPC_PREFIX_LEN];
	struct rpc r;
	char name[64];
	memset(park, 0, sizeof *park);
	park->body = empty;
	park->body_len = sizeof empty;
	h2_start(h, SNAP "Cleanup", park);
	ck_assert_int_eq(h2_stat(h, "x", name, sizeof name, &r), ST_NOT_FOUND);
}

START_TEST(e2e_connection_limit)
{
	struct h2 h[4];
	struct rpc r, park[3];
	char name[64];
	for (int i = 0; i < 3; i++) {
		h2_open(&h[i]);
		ck_assert_int_eq(h2_stat(&h[i], "x", name, sizeof name, &r), ST_NOT_FOUND);
	}
	/* A fourth connection: the one idle longest makes room, with a GOAWAY. */
	h2_open(&h[3]);
	ck_assert_int_eq(h2_stat(&h[3], "x", name, sizeof name, &r), ST_NOT_FOUND);
	ck_assert(h2_until_closed(&h[0]));
	ck_assert(h[0].goaway);

	/* Every connection busy with a call in flight: the next is refused,
	 * and the busy ones go on. */
	for (int i = 1; i < 4; i++)
		h2_make_busy(&h[i], &park[i - 1]);
	int extra = connect_unix(sock_path);
	ck_assert_int_ge(extra, 0);
	ck_assert(closed_by_peer(extra));
	close(extra);
	for (int i = 1; i < 4; i++)
		ck_assert_int_eq(h2_stat(&h[i], "x", name, sizeof name, &r), ST_NOT_FOUND);
	for (int i = 0; i < 4; i++)
		h2_close(&h[i]);
}
END_TEST

START_TEST(e2e_idle_connections_close)
{
	struct h2 a, b;
	struct rpc r, park;
	char name[64];
	h2_open(&a);
	h2_open(&b);
	ck_assert_int_eq(h2_stat(&a, "x", name, sizeof name, &r), ST_NOT_FOUND);
	h2_make_busy(&b, &park);

	/* Past idle_timeout (1.5 s) the idle one is closed with a GOAWAY... */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert(h2_until_closed(&a));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert(a.goaway);
	double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_double_ge(waited, 1.0);
	ck_assert_double_le(waited, 4.0);
	/* ...the one with a call in flight stays. */
	ck_assert_int_eq(h2_stat(&b, "x", name, sizeof name, &r), ST_NOT_FOUND);
	h2_close(&a);
	h2_close(&b);
}
END_TEST

/* Starts a request whose message says 4000 bytes and sends 3500 of them. */
static void h2_half_request(struct h2 *h, struct rpc *r, uint8_t *body)
{
	memset(r, 0, sizeof *r);
	grpc_prefix_encode(body, 4000);
	memset(body + GRPC_PREFIX_LEN, 0x0a, 3500);
	r->body = body;
	r->body_len = GRPC_PREFIX_LEN + 3500;
	r->hold_open = 1;
	h2_start(h, SNAP "Stat", r);
}

START_TEST(e2e_request_bytes_budget)
{
	struct h2 a;
	struct rpc half[3], r;
	static uint8_t body[3][GRPC_PREFIX_LEN + 3500];
	char name[64];
	h2_open(&a);

	/* One user may buffer half of request_bytes (10000): two half-sent
	 * requests fit, the third is refused at once. */
	for (int i = 0; i < 3; i++)
		h2_half_request(&a, &half[i], body[i]);
	while (!half[2].closed)
		ck_assert_int_eq(h2_pump(&a, 1), 0);
	ck_assert_int_eq(half[2].grpc_status, ST_RESOURCE_EXHAUSTED);
	ck_assert_msg(strstr(half[2].grpc_message, "max_request_bytes"), "%s", half[2].grpc_message);
	ck_assert(!half[0].closed && !half[1].closed);
	ck_assert_int_eq(h2_stat(&a, "x", name, sizeof name, &r), ST_NOT_FOUND);

	/* A reset stream gives its bytes back. */
	nghttp2_submit_rst_stream(a.s, NGHTTP2_FLAG_NONE, 1, NGHTTP2_CANCEL);
	ck_assert_int_eq(h2_stat(&a, "x", name, sizeof name, &r), ST_NOT_FOUND);
	h2_half_request(&a, &half[2], body[2]);
	ck_assert_int_eq(h2_stat(&a, "x", name, sizeof name, &r), ST_NOT_FOUND);
	ck_assert(!half[2].closed);
	h2_close(&a);
	ck_assert(server_alive());
}
END_TEST

START_TEST(e2e_reset_and_hangup_detach_pending_calls)
{
	struct h2 a, b;
	struct rpc r, u;
	char name[64];
	h2_open(&a);

	/* Usage parks; reset the stream; the parked call is detached. */
	Containerd__Services__Snapshots__V1__UsageRequest uq =
	    CONTAINERD__SERVICES__SNAPSHOTS__V1__USAGE_REQUEST__INIT;
	uint8_t body[64];
	size_t n = protobuf_c_message_pack(&uq.base, body + GRPC_PREFIX_LEN);
	grpc_prefix_encode(body, (uint32_t)n);
	memset(&u, 0, sizeof u);
	u.body = body;
	u.body_len = GRPC_PREFIX_LEN + n;
	int32_t id = h2_start(&a, SNAP "Usage", &u);
	ck_assert_int_eq(h2_pump(&a, 0), 0);
	ck_assert_int_eq(h2_stat(&a, "parked?", name, sizeof name, &r), 0);
	ck_assert_str_eq(name, "attached"); /* and released: Usage ends with Aborted */
	while (!u.closed)
		ck_assert_int_eq(h2_pump(&a, 1), 0);
	ck_assert_int_eq(u.grpc_status, ST_ABORTED);

	memset(&u, 0, sizeof u);
	u.body = body;
	u.body_len = GRPC_PREFIX_LEN + n;
	id = h2_start(&a, SNAP "Usage", &u);
	ck_assert_int_eq(h2_pump(&a, 0), 0);
	nghttp2_submit_rst_stream(a.s, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
	ck_assert_int_eq(h2_pump(&a, 0), 0);
	ck_assert_int_eq(h2_stat(&a, "parked?", name, sizeof name, &r), 0);
	ck_assert_str_eq(name, "detached");

	/* Same with the whole connection going away. */
	memset(&u, 0, sizeof u);
	u.body = body;
	u.body_len = GRPC_PREFIX_LEN + n;
	h2_start(&a, SNAP "Usage", &u);
	ck_assert_int_eq(h2_pump(&a, 0), 0);
	h2_open(&b);
	ck_assert_int_eq(h2_stat(&b, "x", name, sizeof name, &r), ST_NOT_FOUND); /* Usage has arrived */
	h2_close(&a);
	usleep(200000); /* let the server see the hang-up before the next request */
	ck_assert_int_eq(h2_stat(&b, "parked?", name, sizeof name, &r), 0);
	ck_assert_str_eq(name, "detached");
	h2_close(&b);
	ck_assert(server_alive());
}
END_TEST

static Suite *grpc_suite(void)
{
	Suite *s = suite_create("grpc");
	TCase *t = tcase_create("wire");
	tcase_add_test(t, reader_assembles_across_chunks);
	tcase_add_test(t, reader_accepts_empty_message);
	tcase_add_test(t, reader_refuses_oversized_before_buffering);
	tcase_add_test(t, reader_refuses_compressed_and_bad_flags);
	tcase_add_test(t, reader_refuses_second_message);
	tcase_add_test(t, reader_finish_needs_whole_message);
	tcase_add_test(t, prefix_is_big_endian);
	tcase_add_test(t, content_types);
	tcase_add_test(t, percent_encoding);
	tcase_add_test(t, strings_utf8_rules);
	tcase_add_test(t, strings_checked_in_every_field);
	suite_add_tcase(s, t);

	t = tcase_create("loop");
	tcase_add_test(t, loop_remove_during_batch);
	tcase_add_test(t, loop_defer_runs_in_order_without_fds);
	suite_add_tcase(s, t);

	t = tcase_create("e2e");
	tcase_add_unchecked_fixture(t, dir_setup, dir_teardown);
	tcase_add_checked_fixture(t, server_setup, server_teardown);
	tcase_add_test(t, e2e_prepare_stat_list_remove);
	tcase_add_test(t, e2e_request_errors_keep_the_connection);
	tcase_add_test(t, e2e_garbage_closes_only_that_connection);
	tcase_add_test(t, e2e_connection_limit);
	tcase_add_test(t, e2e_request_bytes_budget);
	tcase_add_test(t, e2e_reset_and_hangup_detach_pending_calls);
	tcase_set_timeout(t, 30);
	suite_add_tcase(s, t);
	t = tcase_create("e2e-idle");
	tcase_add_unchecked_fixture(t, dir_setup, dir_teardown);
	tcase_add_checked_fixture(t, idle_server_setup, server_teardown);
	tcase_add_test(t, e2e_idle_connections_close);
	tcase_set_timeout(t, 30);
	suite_add_tcase(s, t);
	return s;
}

int main(int argc, char **argv)
{
	/* A client writes to connections the server closes (the tests close
	 * them on purpose): EPIPE, not death. */
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && !strcmp(argv[1], "--serve")) {
		struct grpc_limits lim = {
		    .max_message = 16u << 20, .max_connections = 64, .max_streams = 128};
		log_init("fake-grpc", LOG_INFO_);
		return serve(argv[2], &lim);
	}
	return run_suite(grpc_suite());
}
