/* libFuzzer target over the ipc as a compromised peer speaks it: one
 * record, with fds, sent on a SOCK_SEQPACKET socketpair and read by
 * ipc_recv() (proto/ipc.c) at one end of a channel; then what is admitted
 * goes through the receiver's check of its body: the parent's (ctl_check,
 * parent/ctlcheck.c) or the spawner's (spawn_check and publish_check,
 * parent/spawncheck.c), and what the spawner does next with a SPAWN it
 * accepted (its confinement and target name, proto/roles.c).
 * Input: one byte choosing the channel end (1 + (b & 0x7f) % 5) and
 * enable_probe (bit 7), one byte of fd count (b % 4: more than any type
 * carries), then the record. */
#include <string.h>

#include "common/util.h"
#include "fuzz.h"
#include "parent/ctlcheck.h"
#include "parent/idmap.h"
#include "parent/spawncheck.h"
#include "proto/ipc.h"
#include "proto/roles.h"

static int sp[2] = {-1, -1};
static int devnull = -1;

/* The spawner's checks, on a copy of exactly the body's size. */
static void spawner_checks(const struct ipc_msg *m, int enable_probe)
{
	if (m->type == IPC_PUBLISH) {
		struct ipc_publish *p = xmalloc(sizeof *p);
		memcpy(p, &m->body.publish, sizeof *p);
		publish_check(p);
		free(p);
	} else if (m->type == IPC_SPAWN || m->type == IPC_SPAWN_INPUT) {
		struct ipc_spawn *s = xmalloc(sizeof *s);
		memcpy(s, &m->body.spawn, sizeof *s);
		if (!spawn_check(m->type, s, enable_probe)) {
			/* What the spawner goes on to read of an accepted SPAWN. */
			char name[64];
			role_target_name(s, name, sizeof name);
			if (!role_confinement(s))
				fuzz_fail("an accepted SPAWN of role %u has no confinement", s->role);
			if (s->nlower > IPC_MAX_LOWER ||
			    ((s->flags & IPC_SPAWN_MOUNT_IDMAP) && !idmap_valid(s)))
				fuzz_fail("an accepted SPAWN has bad lower layers or id maps");
		}
		free(s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if (sp[0] < 0)
		fuzz_socketpair(sp, &devnull);
	enum ipc_channel ch = (enum ipc_channel)(1 + (data[0] & 0x7f) % 5);
	int enable_probe = data[0] >> 7;
	size_t nfds = data[1] % 4;
	int lowest = fuzz_lowest_fd();

	fuzz_send_record(sp[0], data + 2, size - 2, devnull, nfds);
	struct ipc_msg m;
	struct err e = {0};
	int r = ipc_recv(sp[1], ch, &m, &e);
	if (r < 0) {
		fuzz_check_refusal("ipc_recv", &e);
		if (m.nfds)
			fuzz_fail("ipc_recv refused a record and kept its fds");
	} else if (r == 1) {
		if (!ipc_type_on(m.type, ch) || m.nfds != ipc_type_fds(m.type))
			fuzz_fail("ipc_recv admitted `%s` with %zu fds at end %d", ipc_type_name(m.type),
				  m.nfds, (int)ch);
		if ((m.type == IPC_REPLY && strnlen(m.body.reply.msg, IPC_MSG_MAX) == IPC_MSG_MAX) ||
		    (m.type == IPC_JOB_FAIL && strnlen(m.body.job_fail.msg, IPC_MSG_MAX) == IPC_MSG_MAX) ||
		    (m.type == IPC_SPAWN_FAILED &&
		     strnlen(m.body.spawn_failed.msg, IPC_MSG_MAX) == IPC_MSG_MAX))
			fuzz_fail("ipc_recv admitted `%s` with unterminated text", ipc_type_name(m.type));
		if (ch == IPC_CH_PARENT)
			ctl_check(&m);
		else if (ch == IPC_CH_SPAWNER)
			spawner_checks(&m, enable_probe);
		ipc_msg_close(&m);
	} else if (m.nfds) {
		fuzz_fail("ipc_recv saw the end of the stream and kept fds");
	}
	if (fuzz_lowest_fd() != lowest)
		fuzz_fail("an fd received with the record is still open");
	return 0;
}
