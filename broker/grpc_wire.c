/* gRPC length-prefixed messages, header checks, status message encoding. */
#include "grpc_wire.h"

#include <string.h>

#include "../common/util.h"

void grpc_prefix_encode(uint8_t out[GRPC_PREFIX_LEN], uint32_t len)
{
	out[0] = 0;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
}

/* Checks a completed prefix; the length is known before any body byte is
 * stored, so an oversized message costs no memory. */
static int reader_check_prefix(struct grpc_reader *r, uint32_t max, struct err *e)
{
	const uint8_t *p = r->prefix;
	if (p[0] == 1)
		return err_set(e, ST_UNIMPLEMENTED, "compression not supported");
	if (p[0] != 0)
		return err_set(e, ST_INVALID_ARGUMENT, "bad message flags 0x%02x", p[0]);
	r->len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	if (r->len > max)
		return err_set(e, ST_RESOURCE_EXHAUSTED,
			       "request message of %u bytes exceeds the limit of %u", r->len, max);
	if (r->len == 0)
		r->complete = 1;
	return 0;
}

/* Grows the body buffer with what arrived rather than to the declared
 * length: a client that announces 16 MiB and sends 5 bytes holds 5 bytes. */
static void reader_store(struct grpc_reader *r, const uint8_t *data, size_t n)
{
	if (r->have + n > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		while (cap < r->have + n)
			cap *= 2;
		if (cap > r->len)
			cap = r->len;
		r->buf = xrealloc(r->buf, cap);
		r->cap = cap;
	}
	memcpy(r->buf + r->have, data, n);
	r->have += n;
	if (r->have == r->len)
		r->complete = 1;
}

int grpc_reader_feed(struct grpc_reader *r, const uint8_t *data, size_t n, uint32_t max, struct err *e)
{
	while (n > 0) {
		if (r->complete)
			return err_set(e, ST_INVALID_ARGUMENT, "more than one request message");
		if (r->prefix_have < GRPC_PREFIX_LEN) {
			size_t k = GRPC_PREFIX_LEN - r->prefix_have;
			if (k > n)
				k = n;
			memcpy(r->prefix + r->prefix_have, data, k);
			r->prefix_have += k;
			data += k;
			n -= k;
			if (r->prefix_have == GRPC_PREFIX_LEN && reader_check_prefix(r, max, e) < 0)
				return -1;
			continue;
		}
		size_t k = r->len - r->have;
		if (k > n)
			k = n;
		reader_store(r, data, k);
		data += k;
		n -= k;
	}
	return 0;
}

int grpc_reader_finish(struct grpc_reader *r, const uint8_t **buf, size_t *len, struct err *e)
{
	if (r->prefix_have == 0)
		return err_set(e, ST_INVALID_ARGUMENT, "request message missing");
	if (!r->complete)
		return err_set(e, ST_INVALID_ARGUMENT, "request message truncated");
	*buf = r->buf;
	*len = r->have;
	return 0;
}

void grpc_reader_release(struct grpc_reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof *r);
}

int grpc_content_type_ok(const uint8_t *v, size_t len)
{
	static const char *const types[] = {"application/grpc", "application/grpc+proto"};
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		size_t tl = strlen(types[i]);
		if (len >= tl && !strncasecmp((const char *)v, types[i], tl) && (len == tl || v[tl] == ';'))
			return 1;
	}
	return 0;
}

char *grpc_percent_encode(const char *msg)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(msg);
	char *out = xmalloc(3 * n + 1), *o = out;
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
		if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = 0;
	return out;
}
