/* ipc records: exact lengths, fds only where a type carries them. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/ipc.h"
#include "tests/rawsend.h"
#include "run_suite.h"

static int sp[2] = {-1, -1};

static void setup(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
}

static void teardown(void)
{
	close(sp[0]);
	close(sp[1]);
}

/* Sends a raw record: header claiming (type, claimed), then body_len bytes,
 * with nfds copies of fd. */
static void send_raw(uint32_t type, uint32_t claimed, size_t body_len, int fd, int nfds)
{
	char buf[sizeof(struct ipc_hdr) + sizeof(union ipc_body) + 16] = {0};
	struct ipc_hdr h = {type, claimed};
	memcpy(buf, &h, sizeof h);
	ck_assert_int_eq(raw_send(sp[0], buf, sizeof h + body_len, fd, (size_t)nfds),
			 (ssize_t)(sizeof h + body_len));
}

/* The channel end a type arrives at; IPC_CH_JOB for an unknown type. */
static enum ipc_channel channel_of(uint32_t type)
{
	for (int ch = IPC_CH_PARENT; ch <= IPC_CH_MAX; ch++)
		if (ipc_type_on(type, (enum ipc_channel)ch))
			return (enum ipc_channel)ch;
	return IPC_CH_JOB;
}

/* Receives the next record at the channel end its type belongs to. */
static int recv_one(struct ipc_msg *m, struct err *e)
{
	struct ipc_hdr h = {0};
	memset(e, 0, sizeof *e);
	recv(sp[1], &h, sizeof h, MSG_PEEK | MSG_DONTWAIT);
	return ipc_recv(sp[1], channel_of(h.type), m, e);
}

START_TEST(round_trip_every_type)
{
	static const uint32_t types[] = {IPC_READY,	   IPC_SNAP_CREATE, IPC_SNAP_DROP, IPC_SNAP_LIST,
					 IPC_SNAP_ENTRY,   IPC_SPAWN,	    IPC_REPLY,	   IPC_JOB_EXIT,
					 IPC_JOB_USAGE,	   IPC_JOB_DONE,    IPC_JOB_FAIL,  IPC_JOB_PROBE,
					 IPC_SPAWN_FAILED, IPC_REMOVED,	    IPC_SNAP_RESET};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		union ipc_body b;
		memset(&b, 0, sizeof b);
		memset(&b, (int)(0x11 * (i + 1)), ipc_type_len(types[i]));
		if (types[i] == IPC_REPLY)
			b.reply.msg[IPC_MSG_MAX - 1] = '\0';
		if (types[i] == IPC_JOB_FAIL)
			b.job_fail.msg[IPC_MSG_MAX - 1] = '\0';
		if (types[i] == IPC_SPAWN_FAILED)
			b.spawn_failed.msg[IPC_MSG_MAX - 1] = '\0';
		struct err e = {0};
		ck_assert_int_eq(ipc_send(sp[0], types[i], &b, ipc_type_len(types[i]), NULL, 0, &e), 0);
		struct ipc_msg m;
		ck_assert_int_eq(recv_one(&m, &e), 1);
		ck_assert_uint_eq(m.type, types[i]);
		ck_assert_uint_eq(m.nfds, 0);
		ck_assert_int_eq(memcmp(&m.body, &b, ipc_type_len(types[i])), 0);
	}
}
END_TEST

START_TEST(spawn_carries_lower_list)
{
	struct ipc_spawn s = {.job_id = 7, .target = 42, .role = 1, .nlower = IPC_MAX_LOWER};
	for (int i = 0; i < IPC_MAX_LOWER; i++)
		s.lower[i] = (uint64_t)i + 1000;
	struct err e;
	ck_assert_int_eq(ipc_send(sp[0], IPC_SPAWN, &s, sizeof s, NULL, 0, &e), 0);
	struct ipc_msg m;
	ck_assert_int_eq(recv_one(&m, &e), 1);
	ck_assert_uint_eq(m.body.spawn.lower[IPC_MAX_LOWER - 1], 1000 + IPC_MAX_LOWER - 1);
	ck_assert_uint_eq(m.body.spawn.target, 42);
}
END_TEST

START_TEST(spawned_passes_one_fd)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	struct ipc_spawned s = {.job_id = 3, .pid = 1234};
	struct err e;
	ck_assert_int_eq(ipc_send(sp[0], IPC_SPAWNED, &s, sizeof s, &p[1], 1, &e), 0);
	close(p[1]);
	struct ipc_msg m;
	ck_assert_int_eq(recv_one(&m, &e), 1);
	ck_assert_uint_eq(m.nfds, 1);
	ck_assert_int_eq(m.body.spawned.pid, 1234);
	ck_assert_int_eq(write(m.fds[0], "x", 1), 1);
	char c;
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	ck_assert_int_ne(fcntl(m.fds[0], F_GETFD) & FD_CLOEXEC, 0);
	ipc_msg_close(&m);
	ck_assert_int_eq(read(p[0], &c, 1), 0); /* every write end closed */
	close(p[0]);
}
END_TEST

START_TEST(wrong_length_rejected)
{
	struct ipc_msg m;
	struct err e;
	/* header and body agree with each other but not with the type */
	send_raw(IPC_SNAP_CREATE, sizeof(struct ipc_snap_create) - 8, sizeof(struct ipc_snap_create) - 8, -1,
		 0);
	ck_assert_int_eq(recv_one(&m, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "wrong length"));
	/* header says the right length, the record is longer */
	send_raw(IPC_SNAP_DROP, sizeof(struct ipc_snap_drop), sizeof(struct ipc_snap_drop) + 4, -1, 0);
	ck_assert_int_eq(recv_one(&m, &e), -1);
	/* a body on a type that has none */
	send_raw(IPC_READY, 4, 4, -1, 0);
	ck_assert_int_eq(recv_one(&m, &e), -1);
	/* shorter than a header */
	ck_assert_int_eq(send(sp[0], "abc", 3, 0), 3);
	ck_assert_int_eq(recv_one(&m, &e), -1);
	/* unknown types */
	send_raw(0, 0, 0, -1, 0);
	ck_assert_int_eq(recv_one(&m, &e), -1);
	send_raw(IPC_TYPE_MAX + 1, 0, 0, -1, 0);
	ck_assert_int_eq(recv_one(&m, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "unknown type"));
	/* still usable afterwards */
	ck_assert_int_eq(ipc_send(sp[0], IPC_READY, NULL, 0, NULL, 0, &e), 0);
	ck_assert_int_eq(recv_one(&m, &e), 1);
	ck_assert_uint_eq(m.type, IPC_READY);
}
END_TEST

START_TEST(unexpected_fds_closed_and_rejected)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	struct ipc_msg m;
	struct err e;
	/* fd on a type that carries none */
	send_raw(IPC_SNAP_CREATE, sizeof(struct ipc_snap_create), sizeof(struct ipc_snap_create), p[1], 1);
	ck_assert_int_eq(recv_one(&m, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "fds"));
	/* surplus fds on a type that carries one */
	send_raw(IPC_SPAWNED, sizeof(struct ipc_spawned), sizeof(struct ipc_spawned), p[1], 3);
	ck_assert_int_eq(recv_one(&m, &e), -1);
	close(p[1]);
	char c;
	ck_assert_int_eq(read(p[0], &c, 1), 0); /* no copy of the write end survived */
	close(p[0]);
}
END_TEST

START_TEST(missing_fd_rejected)
{
	struct ipc_spawned s = {.job_id = 3, .pid = 1};
	struct err e;
	/* the sender refuses, and so does the receiver of a raw record */
	ck_assert_int_eq(ipc_send(sp[0], IPC_SPAWNED, &s, sizeof s, NULL, 0, &e), -1);
	send_raw(IPC_SPAWNED, sizeof s, sizeof s, -1, 0);
	struct ipc_msg m;
	ck_assert_int_eq(recv_one(&m, &e), -1);
}
END_TEST

START_TEST(send_checks_length)
{
	struct ipc_snap_drop d = {0};
	struct err e;
	ck_assert_int_eq(ipc_send(sp[0], IPC_SNAP_DROP, &d, sizeof d - 1, NULL, 0, &e), -1);
	ck_assert_int_eq(ipc_send(sp[0], 999, &d, sizeof d, NULL, 0, &e), -1);
}
END_TEST

START_TEST(text_is_terminated_and_eof_seen)
{
	struct ipc_reply r;
	memset(&r, 'A', sizeof r);
	r.errnum = 2;
	struct err e;
	ck_assert_int_eq(ipc_send(sp[0], IPC_REPLY, &r, sizeof r, NULL, 0, &e), 0);
	struct ipc_msg m;
	ck_assert_int_eq(recv_one(&m, &e), 1);
	ck_assert_uint_eq(strlen(m.body.reply.msg), IPC_MSG_MAX - 1);
	close(sp[0]);
	sp[0] = -1;
	ck_assert_int_eq(recv_one(&m, &e), 0);
}
END_TEST

/* Each type arrives at one channel end: a worker cannot send a spawn
 * request up its job socket, nor the broker a reply to the parent. */
START_TEST(types_arrive_only_at_their_channel_end)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	size_t checked = 0;
	for (uint32_t type = 1; type <= IPC_TYPE_MAX; type++) {
		if (ipc_type_len(type) == (size_t)-1)
			continue;
		enum ipc_channel own = channel_of(type);
		ck_assert_msg(ipc_type_on(type, own), "%s arrives nowhere", ipc_type_name(type));
		for (int ch = IPC_CH_PARENT; ch <= IPC_CH_MAX; ch++) {
			size_t nfds = ipc_type_fds(type);
			send_raw(type, ipc_type_len(type), ipc_type_len(type), nfds ? p[1] : -1, (int)nfds);
			struct ipc_msg m;
			struct err e = {0};
			int r = ipc_recv(sp[1], (enum ipc_channel)ch, &m, &e);
			if ((enum ipc_channel)ch == own) {
				ck_assert_msg(r == 1, "%s refused at its own end: %s", ipc_type_name(type),
					      e.msg);
				ipc_msg_close(&m);
			} else {
				ck_assert_msg(r == -1 && strstr(e.msg, "not a type this end"),
					      "%s accepted at channel end %d", ipc_type_name(type), ch);
			}
		}
		checked++;
	}
	ck_assert_uint_eq(checked, 30); /* every type of proto/ipc.h; 21 is retired */
	close(p[1]);
	char c;
	ck_assert_int_eq(read(p[0], &c, 1), 0); /* every fd received was closed */
	close(p[0]);
}
END_TEST

START_TEST(nonblocking_empty_is_eagain)
{
	struct ipc_msg m;
	struct err e;
	ck_assert_int_eq(fcntl(sp[1], F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(recv_one(&m, &e), -1);
	ck_assert_int_eq(errno, EAGAIN);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ipc");
	TCase *tc = tcase_create("records");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, round_trip_every_type);
	tcase_add_test(tc, spawn_carries_lower_list);
	tcase_add_test(tc, spawned_passes_one_fd);
	tcase_add_test(tc, wrong_length_rejected);
	tcase_add_test(tc, unexpected_fds_closed_and_rejected);
	tcase_add_test(tc, missing_fd_rejected);
	tcase_add_test(tc, types_arrive_only_at_their_channel_end);
	tcase_add_test(tc, send_checks_length);
	tcase_add_test(tc, text_is_terminated_and_eof_seen);
	tcase_add_test(tc, nonblocking_empty_is_eagain);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
