/* Walks a protobuf message's wire bytes with its descriptor (pbcheck.h).
 *
 * Only what protobuf-c will turn into a char * matters: a length-delimited
 * field whose number the descriptor names as a string.  A field of message
 * type is walked with that message's descriptor (map entries are messages
 * with a key and a value field, so maps are covered); bytes, packed scalars
 * and unknown fields are skipped.  A field sent with another wire type than
 * its own is left to protobuf-c, which refuses it. */
#include "pbcheck.h"

#define PB_MAX_DEPTH 32 /* nested messages; containerd's requests nest 3 deep */

int pb_string_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i - 1 < k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*p == end)
			return -1;
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

static int walk(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end, int depth,
		struct err *e)
{
	if (depth > PB_MAX_DEPTH)
		return err_set(e, ST_INVALID_ARGUMENT, "`%s` nests deeper than %d messages", d->name,
			       PB_MAX_DEPTH);
	while (p < end) {
		uint64_t tag, n;
		if (read_varint(&p, end, &tag) < 0)
			goto malformed;
		switch (tag & 7) {
		case 0:
			if (read_varint(&p, end, &n) < 0)
				goto malformed;
			continue;
		case 1:
			n = 8;
			break;
		case 5:
			n = 4;
			break;
		case 2:
			if (read_varint(&p, end, &n) < 0)
				goto malformed;
			break;
		default: /* groups: protobuf-c has none */
			goto malformed;
		}
		if (n > (uint64_t)(end - p))
			goto malformed;
		const ProtobufCFieldDescriptor *f =
		    tag >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3))
					   : NULL;
		if (f && (tag & 7) == 2) {
			if (f->type == PROTOBUF_C_TYPE_STRING && !pb_string_ok(p, (size_t)n))
				return err_set(e, ST_INVALID_ARGUMENT,
					       "`%s.%s` is not valid UTF-8 or holds a NUL byte", d->name,
					       f->name);
			if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    walk(f->descriptor, p, p + n, depth + 1, e) < 0)
				return -1;
		}
		p += n;
	}
	return 0;
malformed:
	return err_set(e, ST_INVALID_ARGUMENT, "cannot decode `%s`", d->name);
}

int pb_check_strings(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len, struct err *e)
{
	return len == 0 ? 0 : walk(d, buf, buf + len, 0, e);
}
