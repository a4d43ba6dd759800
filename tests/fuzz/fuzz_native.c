/* libFuzzer target over the native protocol as the broker reads it: one
 * SOCK_SEQPACKET record (struct native_req, then a protobuf request) and
 * the fds that came with it, through native_request_decode()
 * (broker/native.c), then what the handlers make of the request before
 * the metadata (requests.c).
 * Input: one byte saying how many fds came (bit 7: more than a record may
 * carry), then the record. */
#include <string.h>

#include "broker/native.h"
#include "fuzz.h"
#include "requests.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct native_req h;
	if (size < 1 + sizeof h)
		return 0;
	size_t nfds = data[0] % (NATIVE_MAX_FDS + 1);
	int surplus = data[0] >> 7;
	memcpy(&h, data + 1, sizeof h);
	const unsigned char *payload = data + 1 + sizeof h;
	size_t n = size - 1 - sizeof h;

	ProtobufCMessage *req = NULL;
	struct err e = {0};
	const struct method_desc *m = native_request_decode(&h, payload, n, nfds, surplus, &req, &e);
	if (!m) {
		fuzz_check_refusal("native_request_decode", &e);
		if (req)
			fuzz_fail("a refused record left a request");
		return 0;
	}
	if (!req || req->descriptor != m->req || nfds != (size_t)m->nfds || surplus || h.len != n)
		fuzz_fail("method %u: the request is not what the method takes", h.method);
	fuzz_request_convert(req);
	protobuf_c_message_free_unpacked(req, NULL);
	return 0;
}
