/* libFuzzer target over the native protocol as the CLI reads the daemon's
 * replies: one record, with fds, on a SOCK_SEQPACKET socketpair through
 * client_recv() (client/client.c), then a data record unpacked as the
 * response of one method (the table in broker/call.c) and a status record's
 * text taken as the CLI takes it.  The CLI often runs as root, and the
 * broker that answers it is the process an attacker reaches first.
 * Input: one byte naming the method by its native id, one of fd count
 * (b % 4: more than a record may carry), then the record. */
#include <string.h>

#include "broker/call.h"
#include "client/client.h"
#include "fuzz.h"

static int sp[2] = {-1, -1};
static int devnull = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct method_desc *m = size >= 2 ? method_by_id(data[0]) : NULL;
	if (!m)
		return 0;
	if (sp[0] < 0)
		fuzz_socketpair(sp, &devnull);
	int lowest = fuzz_lowest_fd();
	fuzz_send_record(sp[0], data + 2, size - 2, devnull, data[1] % 4);

	struct client c = {.fd = sp[1]};
	struct client_record r;
	struct err e = {0};
	if (client_recv(&c, &r, &e) < 0) {
		fuzz_check_refusal("client_recv", &e);
	} else {
		if (r.nfds > NATIVE_MAX_FDS || r.payload[r.len] ||
		    (r.kind != NATIVE_DATA && r.kind != NATIVE_STATUS))
			fuzz_fail("client_recv passed a record of kind %u with %zu fds", r.kind, r.nfds);
		if (r.kind == NATIVE_DATA) {
			ProtobufCMessage *msg = protobuf_c_message_unpack(m->resp, NULL, r.len, r.payload);
			if (msg)
				protobuf_c_message_free_unpacked(msg, NULL);
		} else if (r.code != ST_OK) {
			/* The text is the daemon's: the CLI prints it as data. */
			err_set(&e, (int)r.code, "%s", (const char *)r.payload);
		}
		client_record_free(&r);
	}
	if (fuzz_lowest_fd() != lowest)
		fuzz_fail("an fd received with the record is still open");
	return 0;
}
