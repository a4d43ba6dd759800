/* OCI documents through jansson, with strata's limits (oci_json.h).
 *
 * jansson refuses by default what the import must refuse: invalid UTF-8
 * (overlong forms, surrogates, beyond U+10FFFF), lone surrogate escapes,
 * \u0000 (no JSON_ALLOW_NUL), data after the document (no
 * JSON_DISABLE_EOF_CHECK), and a document that is no object or array (no
 * JSON_DECODE_ANY: OCI documents are objects).  JSON_REJECT_DUPLICATES adds
 * duplicate keys: two readers of one document could otherwise pick
 * different values (first or last) and disagree about a digest.
 *
 * An integer outside int64 makes jansson refuse the whole document, where a
 * reader could take it as a non-integer number: the OCI numbers (sizes)
 * are int64, so no valid document has one.
 *
 * jansson's nesting limit is compiled in (JSON_PARSER_MAX_DEPTH, 2048 in
 * Debian), and it has no limit on values: both of strata's limits are
 * checked by a walk of the parsed tree, which stops at the first value
 * beyond them.  Parsing a whole document first costs at most about 320 MiB
 * (4 MiB of empty objects: 1.4 million hash tables), within the parser's
 * address-space limit (1 GiB); a refused tree is freed before the next
 * document is read, and the trees kept are within the limits. */
#include "oci_json.h"

#include <stdint.h>
#include <sys/random.h>
#include <unistd.h>

#include "../common/util.h"

void oci_json_seed(void)
{
	uint32_t seed = 0;
	if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
		seed = (uint32_t)(now_ns_monotonic() ^ (uint64_t)getpid());
	/* 0 would ask jansson to seed itself; once seeded, this does nothing. */
	json_object_seed(seed ? seed : 1);
}

static int too_deep(struct err *e)
{
	return err_set(e, ST_INVALID_ARGUMENT, "JSON nesting deeper than the limit of %d",
		       OCI_JSON_MAX_DEPTH);
}

/* Counts v and what it holds into *values; v is at depth (0: the document). */
static int check_limits(json_t *v, size_t depth, size_t *values, struct err *e)
{
	if (++*values > OCI_JSON_MAX_VALUES)
		return err_set(e, ST_INVALID_ARGUMENT, "JSON has more values than the limit of %d",
			       OCI_JSON_MAX_VALUES);
	if (!json_is_array(v) && !json_is_object(v))
		return 0;
	if (depth >= OCI_JSON_MAX_DEPTH)
		return too_deep(e);
	for (size_t i = 0; i < json_array_size(v); i++)
		if (check_limits(json_array_get(v, i), depth + 1, values, e) < 0)
			return -1;
	for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it))
		if (check_limits(json_object_iter_value(it), depth + 1, values, e) < 0)
			return -1;
	return 0;
}

/* jansson's message may quote up to 20 bytes of the document ("near
 * '...'"): anything but printable ASCII becomes '?', so that an archive
 * cannot write control sequences to the terminal through an error. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

json_t *oci_json_parse(const char *text, size_t len, struct err *e)
{
	json_error_t je;
	size_t values = 0;
	if (len > OCI_JSON_MAX_BYTES) {
		err_set(e, ST_INVALID_ARGUMENT, "JSON document of %zu bytes exceeds the limit of %u", len,
			OCI_JSON_MAX_BYTES);
		return NULL;
	}
	json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!v) {
		if (json_error_code(&je) == json_error_stack_overflow)
			too_deep(e);
		else {
			printable(je.text);
			err_set(e, ST_INVALID_ARGUMENT, "malformed JSON at byte %d: %s", je.position,
				je.text);
		}
		return NULL;
	}
	if (check_limits(v, 0, &values, e) < 0) {
		json_decref(v);
		return NULL;
	}
	return v;
}
