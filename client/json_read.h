/* A small, strict, bounded JSON reader (RFC 8259) for the OCI documents the
 * CLI's import parser reads out of image archives: index.json, image
 * indexes, manifests and configs.  The archive is untrusted input, so the
 * reader is strict where parsers commonly disagree (duplicate keys, lone
 * surrogates, invalid UTF-8, trailing commas, leading zeros: all refused)
 * and bounded in input size, nesting depth and value count.  The result is
 * a tree of json_value nodes. */
#ifndef STRATA_CLIENT_JSON_READ_H
#define STRATA_CLIENT_JSON_READ_H

#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json_member;

struct json_value {
	enum json_type type;
	union {
		int boolean;
		struct {
			int64_t i;  /* the value when is_int */
			int is_int; /* an integer in int64 range, without fraction or exponent */
			double d;
		} num;
		struct {
			char *s; /* NUL-terminated UTF-8; \u0000 is refused, so len == strlen(s) */
			size_t len;
		} str;
		struct {
			struct json_value **v;
			size_t n;
		} arr;
		struct {
			struct json_member *m; /* in document order; keys are unique */
			size_t n;
		} obj;
	} u;
};

struct json_member {
	char *key;
	struct json_value *value;
};

struct json_limits {
	size_t max_bytes;  /* input length */
	size_t max_depth;  /* nested arrays and objects */
	size_t max_values; /* every value, members' values and array elements included */
};

/* Defaults: 4 MiB, depth 64, 200000 values (ample for any manifest). */
extern const struct json_limits json_default_limits;

/* Parses text[0..len) (one document, surrounding whitespace allowed).  lim
 * NULL: the defaults.  Malformed input or an exceeded limit: InvalidArgument
 * naming the byte offset (and the limit); returns NULL. */
struct json_value *json_parse(const char *text, size_t len, const struct json_limits *lim, struct err *e);
void json_free(struct json_value *v);

/* Lookups that tolerate a NULL or wrongly typed v (they return NULL/-1). */
const struct json_value *json_get(const struct json_value *obj, const char *key);
/* The string member key, or NULL when missing or not a string. */
const char *json_get_str(const struct json_value *obj, const char *key);
/* The integer member key: 0, or -1 when missing or not an integer. */
int json_get_int(const struct json_value *obj, const char *key, int64_t *out);
/* The array member key, or NULL when missing or not an array. */
const struct json_value *json_get_arr(const struct json_value *obj, const char *key);

#endif
