/* libFuzzer target over gRPC requests as the broker reads them, below
 * HTTP/2 (nghttp2 delivers the headers and DATA chunks): a content-type
 * header checked by grpc_content_type_ok(), the request stream assembled
 * from DATA chunks of any size by the grpc_reader (broker/grpc_wire.c),
 * unpacked as the request of one method of the table (broker/call.c), then
 * what the handlers make of it before the metadata (requests.c); a refusal's
 * message goes out percent-encoded (grpc_percent_encode).
 * Input: one byte naming the method by its native id (one without a gRPC
 * path reads nothing), one the chunk size (1 + b), one the length limit
 * (bit 7 set: 64 bytes, else 4 MiB), one the length of the content-type
 * value that follows, then the stream. */
#include <string.h>

#include "broker/call.h"
#include "broker/grpc_wire.h"
#include "common/util.h"
#include "fuzz.h"
#include "requests.h"

/* What a status message becomes on the wire: printable ASCII only. */
static void check_status_message(const char *msg)
{
	cleanup_free char *enc = grpc_percent_encode(msg);
	for (const char *p = enc; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			fuzz_fail("grpc-message holds byte 0x%02x", (unsigned char)*p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct method_desc *m = size >= 4 ? method_by_id(data[0]) : NULL;
	if (!m || !m->grpc_path)
		return 0;
	if (method_by_grpc_path(m->grpc_path) != m)
		fuzz_fail("`%s` does not lead back to its method", m->grpc_path);
	size_t chunk = 1 + (size_t)data[1];
	uint32_t max = data[2] & 0x80 ? 64 : 4u << 20;
	size_t ctlen = data[3];
	data += 4, size -= 4;
	if (ctlen > size)
		ctlen = size;
	grpc_content_type_ok(data, ctlen);
	data += ctlen, size -= ctlen;

	struct grpc_reader rd = {0};
	struct err e = {0};
	const uint8_t *buf;
	size_t len;
	int rc = 0;
	for (size_t off = 0; rc == 0 && off < size; off += chunk)
		rc = grpc_reader_feed(&rd, data + off, size - off < chunk ? size - off : chunk, max, &e);
	if (rc == 0)
		rc = grpc_reader_finish(&rd, &buf, &len, &e);
	if (rc < 0) {
		fuzz_check_refusal("grpc_reader", &e);
		check_status_message(e.msg);
		grpc_reader_release(&rd);
		return 0;
	}
	if (len > max || len + GRPC_PREFIX_LEN > size)
		fuzz_fail("a message of %zu bytes out of a stream of %zu, limit %u", len, size, max);
	/* The message is the stream's bytes after the prefix. */
	if (len && memcmp(buf, data + GRPC_PREFIX_LEN, len))
		fuzz_fail("the assembled message differs from the bytes sent");
	ProtobufCMessage *req = protobuf_c_message_unpack(m->req, NULL, len, buf);
	grpc_reader_release(&rd);
	if (req) {
		fuzz_request_convert(req);
		protobuf_c_message_free_unpacked(req, NULL);
	}
	return 0;
}
