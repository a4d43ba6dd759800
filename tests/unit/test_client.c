/* The native socket from both ends: the client library against a fake
 * broker on a socketpair, the real native server (broker/native.c, in a
 * forked child running the loop) against raw records, and the CLI's output
 * helpers. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/connpool.h"
#include "broker/loop.h"
#include "broker/native.h"
#include "client/cli.h"
#include "client/client.h"
#include "client/mountfd.h"
#include "client/output.h"
#include "client/progress.h"
#include "common/util.h"
#include "proto/api.h"
#include "tests/rawsend.h"
#include "run_suite.h"

typedef Containerd__Services__Snapshots__V1__StatSnapshotRequest stat_req;
typedef Containerd__Services__Snapshots__V1__StatSnapshotResponse stat_resp;

/* ---- fake broker ------------------------------------------------------- */

static void fake_record(int fd, uint32_t kind, uint32_t id, uint32_t code, const void *p, size_t len,
			int pass_fd)
{
	struct native_resp h = {NATIVE_MAGIC, kind, id, code, (uint32_t)len};
	unsigned char buf[sizeof h + 4096];
	ck_assert_uint_le(len, 4096);
	memcpy(buf, &h, sizeof h);
	memcpy(buf + sizeof h, p, len);
	ck_assert_int_eq(raw_send(fd, buf, sizeof h + len, pass_fd, pass_fd >= 0), (ssize_t)(sizeof h + len));
}

static void fake_info(int fd, uint32_t id, const char *name)
{
	Containerd__Services__Snapshots__V1__Info info = CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__INIT;
	stat_resp r = CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_RESPONSE__INIT;
	unsigned char buf[1024];
	info.name = (char *)name;
	info.kind = CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__COMMITTED;
	r.info = &info;
	size_t len = protobuf_c_message_pack(&r.base, buf);
	fake_record(fd, NATIVE_DATA, id, 0, buf, len, -1);
}

static void pair(struct client *c, int *server)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	c->fd = sv[0];
	c->next_id = 1;
	*server = sv[1];
}

START_TEST(unary_ok_and_request_framing)
{
	struct client c;
	int s;
	struct err e;
	pair(&c, &s);
	/* Responses are queued before the call: ids start at 1.  A record of
	 * another call (id 9) must be skipped. */
	fake_info(s, 9, "other");
	fake_info(s, 1, "base");
	fake_record(s, NATIVE_STATUS, 1, ST_OK, "", 0, -1);

	stat_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
	req.key = "base";
	req.snapshotter = "strata";
	ProtobufCMessage *out;
	ck_assert_int_eq(
	    client_unary(&c, NM_STAT, &req.base,
			 &containerd__services__snapshots__v1__stat_snapshot_response__descriptor, &out, &e),
	    0);
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(((stat_resp *)out)->info->name, "base");
	protobuf_c_message_free_unpacked(out, NULL);

	unsigned char buf[4096];
	ssize_t n = recv(s, buf, sizeof buf, 0);
	struct native_req h;
	ck_assert_int_ge(n, (ssize_t)sizeof h);
	memcpy(&h, buf, sizeof h);
	ck_assert_uint_eq(h.magic, NATIVE_MAGIC);
	ck_assert_uint_eq(h.method, NM_STAT);
	ck_assert_uint_eq(h.id, 1);
	ck_assert_uint_eq(h.len, (size_t)n - sizeof h);
	stat_req *got = (stat_req *)protobuf_c_message_unpack(
	    &containerd__services__snapshots__v1__stat_snapshot_request__descriptor, NULL, h.len,
	    buf + sizeof h);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got->key, "base");
	protobuf_c_message_free_unpacked(&got->base, NULL);
	client_close(&c);
	close(s);
}
END_TEST

START_TEST(error_status_becomes_err)
{
	struct client c;
	int s;
	struct err e;
	pair(&c, &s);
	const char *text = "snapshot `x` not found";
	fake_record(s, NATIVE_STATUS, 1, ST_NOT_FOUND, text, strlen(text), -1);
	stat_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
	ProtobufCMessage *out;
	ck_assert_int_eq(
	    client_unary(&c, NM_STAT, &req.base,
			 &containerd__services__snapshots__v1__stat_snapshot_response__descriptor, &out, &e),
	    -1);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(e.code, ST_NOT_FOUND);
	ck_assert_str_eq(e.msg, text);
	client_close(&c);
	close(s);
}
END_TEST

START_TEST(fds_both_ways)
{
	struct client c;
	int s, p[2];
	struct err e;
	pair(&c, &s);
	ck_assert_int_eq(pipe(p), 0);

	/* client -> server: the fd arrives as SCM_RIGHTS. */
	ck_assert_int_eq(client_send(&c, NM_APPLY, NULL, &p[1], 1, NULL, &e), 0);
	unsigned char buf[256];
	union {
		struct cmsghdr a;
		char b[CMSG_SPACE(sizeof(int) * 2)];
	} ctl;
	struct iovec iov = {buf, sizeof buf};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl};
	ck_assert_int_eq(recvmsg(s, &mh, 0), (ssize_t)sizeof(struct native_req));
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	ck_assert_ptr_nonnull(cm);
	ck_assert_int_eq(cm->cmsg_type, SCM_RIGHTS);
	int got;
	memcpy(&got, CMSG_DATA(cm), sizeof got);
	ck_assert_int_eq(write(got, "x", 1), 1);
	close(got);

	/* server -> client: the record holds it until freed. */
	fake_record(s, NATIVE_DATA, 1, 0, "", 0, p[0]);
	struct client_record r;
	ck_assert_int_eq(client_recv(&c, &r, &e), 0);
	ck_assert_uint_eq(r.nfds, 1);
	char ch = 0;
	ck_assert_int_eq(read(r.fds[0], &ch, 1), 1);
	ck_assert_int_eq(ch, 'x');
	client_record_free(&r);
	ck_assert_int_eq(r.fds[0], -1);
	close(p[0]);
	close(p[1]);
	client_close(&c);
	close(s);
}
END_TEST

START_TEST(malformed_and_closed_are_unavailable)
{
	struct client c;
	int s;
	struct err e;
	struct client_record r;
	pair(&c, &s);
	uint32_t junk[5] = {0xdeadbeef, NATIVE_STATUS, 1, 0, 0};
	ck_assert_int_eq(send(s, junk, sizeof junk, 0), (ssize_t)sizeof junk);
	ck_assert_int_eq(client_recv(&c, &r, &e), -1);
	ck_assert_int_eq(e.code, ST_UNAVAILABLE);
	/* A length that disagrees with the record. */
	struct native_resp h = {NATIVE_MAGIC, NATIVE_STATUS, 1, 0, 10};
	ck_assert_int_eq(send(s, &h, sizeof h, 0), (ssize_t)sizeof h);
	ck_assert_int_eq(client_recv(&c, &r, &e), -1);
	ck_assert_int_eq(e.code, ST_UNAVAILABLE);
	close(s);
	ck_assert_int_eq(client_recv(&c, &r, &e), -1);
	ck_assert_int_eq(e.code, ST_UNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(e.msg, "closed"));
	client_close(&c);
}
END_TEST

START_TEST(oversized_request_refused_locally)
{
	struct client c;
	int s;
	struct err e;
	pair(&c, &s);
	stat_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
	char *big = xmalloc(NATIVE_MAX_RECORD + 10);
	memset(big, 'a', NATIVE_MAX_RECORD + 9);
	big[NATIVE_MAX_RECORD + 9] = 0;
	req.key = big;
	ck_assert_int_eq(client_send(&c, NM_STAT, &req.base, NULL, 0, NULL, &e), -1);
	ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
	free(big);
	client_close(&c);
	close(s);
}
END_TEST

/* ---- the real native server -------------------------------------------- */

static char sock_dir[64];
static char sock_path[128];
static pid_t server_pid = -1;

static void server_setup(void)
{
	snprintf(sock_dir, sizeof sock_dir, "/tmp/strata-native-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sock_dir));
	snprintf(sock_path, sizeof sock_path, "%s/s.sock.fd", sock_dir);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, sock_path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	server_pid = fork();
	ck_assert_int_ge(server_pid, 0);
	if (server_pid == 0) {
		static volatile sig_atomic_t stop;
		struct err e;
		if (loop_init() < 0 ||
		    native_server_start(fd, &(struct conn_limits){.max_connections = 4}, &e) < 0)
			_exit(1);
		loop_run(&stop);
		_exit(0);
	}
	close(fd);
}

static void server_teardown(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
	}
	server_pid = -1;
	unlink(sock_path);
	rmdir(sock_dir);
}

static void send_request(struct client *c, uint32_t magic, uint32_t method, uint32_t id, uint32_t len,
			 const void *payload, size_t plen)
{
	struct native_req h = {magic, method, id, len};
	unsigned char *buf = xmalloc(sizeof h + plen);
	memcpy(buf, &h, sizeof h);
	if (plen)
		memcpy(buf + sizeof h, payload, plen);
	ck_assert_int_eq(raw_send(c->fd, buf, sizeof h + plen, -1, 0), (ssize_t)(sizeof h + plen));
	free(buf);
}

static void expect_status(struct client *c, uint32_t id, int code)
{
	struct client_record r;
	struct err e;
	ck_assert_int_eq(client_recv(c, &r, &e), 0);
	ck_assert_uint_eq(r.kind, NATIVE_STATUS);
	ck_assert_uint_eq(r.id, id);
	ck_assert_int_eq(r.code, code);
	ck_assert_uint_gt(r.len, 0); /* a message says why */
	client_record_free(&r);
}

static void expect_closed(struct client *c)
{
	struct client_record r;
	struct err e;
	ck_assert_int_eq(client_recv(c, &r, &e), -1);
	ck_assert_int_eq(e.code, ST_UNAVAILABLE);
}

START_TEST(server_rejects_bad_requests_and_keeps_serving)
{
	struct client c;
	struct err e;
	ck_assert_int_eq(client_connect(&c, sock_path, &e), 0);
	/* Pipelined: each answer echoes its request's id, in order. */
	send_request(&c, NATIVE_MAGIC, 77, 10, 0, NULL, 0);
	send_request(&c, NATIVE_MAGIC, NM_STAT, 11, 3, "\xff\xff\xff", 3);
	send_request(&c, NATIVE_MAGIC, NM_STAT, 12, 100, "abc", 3);
	expect_status(&c, 10, ST_UNIMPLEMENTED);
	expect_status(&c, 11, ST_INVALID_ARGUMENT);
	expect_status(&c, 12, ST_INVALID_ARGUMENT);

	/* An fd on a method that takes none: refused. */
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	stat_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
	uint32_t id;
	ck_assert_int_eq(client_send(&c, NM_STAT, &req.base, &p[0], 1, &id, &e), 0);
	expect_status(&c, id, ST_INVALID_ARGUMENT);
	/* The broker closed its copy: the pipe's read side is ours alone. */
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(write(p[1], "x", 1), -1);
	ck_assert_int_eq(errno, EPIPE);
	close(p[1]);

	/* Still serving. */
	send_request(&c, NATIVE_MAGIC, 78, 13, 0, NULL, 0);
	expect_status(&c, 13, ST_UNIMPLEMENTED);
	client_close(&c);
}
END_TEST

START_TEST(server_closes_on_oversize_and_bad_magic)
{
	struct client c;
	struct err e;
	ck_assert_int_eq(client_connect(&c, sock_path, &e), 0);
	size_t big = NATIVE_MAX_RECORD + 100;
	char *payload = xcalloc(1, big);
	send_request(&c, NATIVE_MAGIC, NM_STAT, 5, (uint32_t)big, payload, big);
	free(payload);
	expect_status(&c, 5, ST_RESOURCE_EXHAUSTED);
	expect_closed(&c);
	client_close(&c);

	ck_assert_int_eq(client_connect(&c, sock_path, &e), 0);
	send_request(&c, 0x12345678, NM_STAT, 6, 0, NULL, 0);
	expect_closed(&c);
	client_close(&c);

	/* A short record cannot be answered either. */
	ck_assert_int_eq(client_connect(&c, sock_path, &e), 0);
	ck_assert_int_eq(send(c.fd, "abc", 3, 0), 3);
	expect_closed(&c);
	client_close(&c);
}
END_TEST

START_TEST(server_caps_connections)
{
	struct client c[5];
	struct err e;
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(client_connect(&c[i], sock_path, &e), 0);
	/* max_connections is 4: exactly one of the five was refused (closed). */
	int closed = 0;
	for (int i = 0; i < 5; i++) {
		struct native_req h = {NATIVE_MAGIC, 99, 1, 0};
		/* The refused one may already be closed: a send error is fine. */
		(void)!send(c[i].fd, &h, sizeof h, MSG_NOSIGNAL);
		struct client_record r;
		if (client_recv(&c[i], &r, &e) < 0)
			closed++;
		else
			client_record_free(&r);
	}
	ck_assert_int_eq(closed, 1);
	for (int i = 0; i < 5; i++)
		client_close(&c[i]);
}
END_TEST

/* ---- output ------------------------------------------------------------ */

static char *json_of(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_write_string(f, s);
	fclose(f);
	return buf;
}

START_TEST(json_strings_escape_and_stay_utf8)
{
	char *j = json_of("a\"b\\c\n\x01 é");
	ck_assert_str_eq(j, "\"a\\\"b\\\\c\\n\\u0001 é\"");
	free(j);
	ck_assert_int_eq(out_text_width("a\x01\xc3\xa9"), 6); /* a, \x01, é */
	j = json_of("bad\xff\xc0\x80!");
	ck_assert_str_eq(j, "\"bad\\ufffd\\ufffd\\ufffd!\"");
	free(j);
}
END_TEST

START_TEST(json_writer_commas)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct jw w;
	jw_init(&w, f);
	jw_obj_begin(&w, NULL);
	jw_arr_begin(&w, "a");
	jw_int(&w, NULL, 1);
	jw_int(&w, NULL, -2);
	jw_obj_begin(&w, NULL);
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_bool(&w, "b", 1);
	jw_str(&w, "c", "x");
	jw_obj_end(&w);
	jw_finish(&w);
	fclose(f);
	ck_assert_str_eq(buf, "{\"a\":[1,-2,{}],\"b\":true,\"c\":\"x\"}\n");
	free(buf);
}
END_TEST

START_TEST(sizes_and_times)
{
	char b[64];
	format_size(b, sizeof b, 512);
	ck_assert_str_eq(b, "512 B");
	format_size(b, sizeof b, 1258291);
	ck_assert_str_eq(b, "1.2 MiB");
	format_size(b, sizeof b, 1024);
	ck_assert_str_eq(b, "1.0 KiB");
	format_time(b, sizeof b, 0, 0);
	ck_assert_str_eq(b, "1970-01-01T00:00:00Z");
	format_time(b, sizeof b, 1700000000, 5000000);
	ck_assert_str_eq(b, "2023-11-14T22:13:20.005Z");
	format_time(b, sizeof b, 1700000000, 123456789);
	ck_assert_str_eq(b, "2023-11-14T22:13:20.123456789Z");
}
END_TEST

/* The progress line fits every width (at most width - 1 columns), keeps
 * the ETA when the total is known, and drops parts in order. */
START_TEST(progress_fits_the_width)
{
	char b[512];
	const char *what = "a-rather-long-snapshot-key-for-a-narrow-terminal";
	for (int w = 1; w <= 200; w++) {
		size_t n = progress_line(b, sizeof b, w, what, 12582912, 41943040, 1234, 1.5);
		ck_assert_msg((int)n <= (w > 1 ? w - 1 : 1), "width %d: `%s` (%zu)", w, b, n);
		if (w >= 20)
			ck_assert_msg(strstr(b, "ETA 0:04") != NULL, "width %d: no ETA in `%s`", w, b);
	}
	progress_line(b, sizeof b, 200, what, 12582912, 41943040, 1234, 1.5);
	ck_assert_str_eq(b, "a-rather-long-snapshot-key-for-a-narrow-terminal: 12.0 MiB of 40.0 MiB (30%), "
			    "8.0 MiB/s, ETA 0:04, 1234 entries");
	progress_line(b, sizeof b, 40, what, 12582912, 41943040, 1234, 1.5);
	ck_assert_str_eq(b, "a-rather-long-snapshot..: 30%, ETA 0:04");
	progress_line(b, sizeof b, 40, "k", 12582912, -1, 1234, 1.5);
	ck_assert_str_eq(b, "k: 12.0 MiB, 8.0 MiB/s, 1234 entries");
	progress_line(b, sizeof b, 80, "k", 0, 100, 0, 0);
	ck_assert_str_eq(b, "k: 0 B of 100 B (0%), 0 B/s, ETA -:--, 0 entries");
	progress_line(b, sizeof b, 80, "k\x1b[2J", 50, 100, 1, 1);
	ck_assert_msg(strchr(b, 0x1b) == NULL, "a control byte of WHAT reached the terminal: `%s`", b);
}
END_TEST

START_TEST(format_templates)
{
	Containerd__Services__Snapshots__V1__Info info = CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__INIT;
	Containerd__Services__Snapshots__V1__Info__LabelsEntry l1 =
	    CONTAINERD__SERVICES__SNAPSHOTS__V1__INFO__LABELS_ENTRY__INIT;
	Containerd__Services__Snapshots__V1__Info__LabelsEntry *ls[] = {&l1};
	struct info_format f;
	char err[256], *buf = NULL;
	size_t len = 0;
	info.name = "kid";
	info.parent = "base";
	info.kind = CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__ACTIVE;
	l1.key = "a";
	l1.value = "1";
	info.labels = ls;
	info.n_labels = 1;
	ck_assert_int_eq(info_format_parse("{{.Name}}\\t{{ .Parent }} {{.Kind}} {{.Labels}} {{json .Labels}}",
					   &f, err, sizeof err),
			 0);
	FILE *o = open_memstream(&buf, &len);
	info_format_print(o, &f, &info);
	fclose(o);
	ck_assert_str_eq(buf, "kid\tbase active a=1 {\"a\":\"1\"}\n");
	free(buf);
	info_format_free(&f);
	ck_assert_int_eq(info_format_parse("{{.Nope}}", &f, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "`.Nope`"));
	ck_assert_int_eq(info_format_parse("{{.Name", &f, err, sizeof err), -1);
	ck_assert_int_eq(info_format_parse("plain", &f, err, sizeof err), 0);
	info_format_free(&f);
}
END_TEST

/* Exit codes, error keys, the socket's path and the filters ls refuses. */
START_TEST(exit_codes_by_class)
{
	ck_assert_int_eq(cli_exit_code(ST_OK), 0);
	ck_assert_int_eq(cli_exit_code(ST_FAILED_PRECONDITION), CLI_FAIL);
	ck_assert_int_eq(cli_exit_code(ST_INVALID_ARGUMENT), CLI_FAIL);
	ck_assert_int_eq(cli_exit_code(ST_NOT_FOUND), 3);
	ck_assert_int_eq(cli_exit_code(ST_UNAVAILABLE), 4);
	ck_assert_int_eq(cli_exit_code(ST_PERMISSION_DENIED), 5);
	ck_assert_str_eq(cli_status_key(ST_NOT_FOUND), "not_found");
	ck_assert_str_eq(cli_status_key(ST_FAILED_PRECONDITION), "failed_precondition");
	ck_assert_str_eq(cli_status_key(99), "unknown");
	static const char *good[] = {"name==a",
				     "parent!=b",
				     "kind==committed,kind!=view",
				     "labels.x.y==1",
				     "labels.\"a b\"",
				     "name~=^a",
				     "kind~=act",
				     " kind == \"active\" ",
				     "name~=/a,b/,kind==view",
				     "labels.x==a/b,name==c",
				     "name=="};
	static const char *bad[] = {
	    "bogus",	 "foo==bar",	       "kind==weird", "kind!=Active",	    "labels",
	    "name.x==a", "name==a,kind==nope", "\"nam\"==a",  "labels.x==a/b,kinds"};
	char err[256];
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		ck_assert_msg(cli_check_filter(good[i], err, sizeof err) == 0, "`%s` refused: %s", good[i],
			      err);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(cli_check_filter(bad[i], err, sizeof err) == -1, "`%s` passed", bad[i]);
	cli_check_filter("name==a,kind==nope", err, sizeof err);
	ck_assert_str_eq(err, "kind `nope` is none of active, view, committed");
	char *p = cli_native_path("/run/strata/strata.sock");
	ck_assert_str_eq(p, "/run/strata/strata.sock.fd");
	free(p);
	p = cli_native_path("/run/strata/strata.sock.fd");
	ck_assert_str_eq(p, "/run/strata/strata.sock.fd");
	free(p);
}
END_TEST

/* strata mount --idmap: both parts, either order, several ranges, and the
 * errors a user makes. */
START_TEST(idmap_specs)
{
	struct strata_idmap m;
	struct err e = {0};
	ck_assert_int_eq(mountfd_idmap_parse("uids=0:100000:65536,gids=0:100000:65536", &m, &e), 0);
	ck_assert_uint_eq(m.nuids, 1);
	ck_assert_uint_eq(m.ngids, 1);
	ck_assert_uint_eq(m.uids[0].inside, 0);
	ck_assert_uint_eq(m.uids[0].outside, 100000);
	ck_assert_uint_eq(m.uids[0].count, 65536);
	ck_assert_int_eq(mountfd_idmap_parse("gids=0:200:10;10:300:5,uids=0:100:1", &m, &e), 0);
	ck_assert_uint_eq(m.ngids, 2);
	ck_assert_uint_eq(m.gids[1].inside, 10);
	ck_assert_uint_eq(m.gids[1].outside, 300);
	ck_assert_uint_eq(m.uids[0].outside, 100);
	static const char *const bad[] = {
	    "",
	    "uids=0:100000:65536",				   /* gids missing */
	    "uids=0:1:1,gids=0:1:0",				   /* empty range */
	    "uids=0:1,gids=0:1:1",				   /* two numbers */
	    "uids=0:1:1,gids=0:1:1,uids=0:2:1",			   /* twice */
	    "uids=a:1:1,gids=0:1:1",				   /* not a number */
	    "uids=0:4294967295:2,gids=0:1:1",			   /* past 2^32 - 1 */
	    "uids=0:1:1;1:2:1;2:3:1;3:4:1;4:5:1;5:6:1,gids=0:1:1", /* six ranges */
	    "users=0:1:1,gids=0:1:1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&e, 0, sizeof e);
		ck_assert_msg(mountfd_idmap_parse(bad[i], &m, &e) == -1, "accepted `%s`", bad[i]);
		ck_assert_int_eq(e.code, ST_INVALID_ARGUMENT);
	}
}
END_TEST

static Suite *client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *lib = tcase_create("library");
	tcase_add_test(lib, unary_ok_and_request_framing);
	tcase_add_test(lib, error_status_becomes_err);
	tcase_add_test(lib, fds_both_ways);
	tcase_add_test(lib, malformed_and_closed_are_unavailable);
	tcase_add_test(lib, oversized_request_refused_locally);
	suite_add_tcase(s, lib);

	TCase *srvc = tcase_create("native server");
	tcase_add_checked_fixture(srvc, server_setup, server_teardown);
	tcase_add_test(srvc, server_rejects_bad_requests_and_keeps_serving);
	tcase_add_test(srvc, server_closes_on_oversize_and_bad_magic);
	tcase_add_test(srvc, server_caps_connections);
	suite_add_tcase(s, srvc);

	TCase *out = tcase_create("output");
	tcase_add_test(out, json_strings_escape_and_stay_utf8);
	tcase_add_test(out, json_writer_commas);
	tcase_add_test(out, sizes_and_times);
	tcase_add_test(out, idmap_specs);
	tcase_add_test(out, progress_fits_the_width);
	tcase_add_test(out, format_templates);
	tcase_add_test(out, exit_codes_by_class);
	suite_add_tcase(s, out);
	return s;
}

int main(void)
{
	return run_suite(client_suite());
}
