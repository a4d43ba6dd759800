/* The JSON documents of OCI image archives (index.json, image indexes,
 * manifests, configs), read with jansson in the import parser
 * (import_parser.h).  The archive is untrusted, so the reading is strict
 * where parsers commonly disagree (duplicate keys, invalid UTF-8, lone
 * surrogates, \u0000, trailing data: all refused) and bounded in size,
 * nesting depth and value count. */
#ifndef STRATA_CLIENT_OCI_JSON_H
#define STRATA_CLIENT_OCI_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "../common/err.h"

/* A document's bytes, its nested arrays and objects, and its values (every
 * one: the document, members' values and array elements). */
#define OCI_JSON_MAX_BYTES  (4u << 20)
#define OCI_JSON_MAX_DEPTH  64
#define OCI_JSON_MAX_VALUES 200000

/* Seeds jansson's hash function from getrandom().  Unseeded, jansson seeds
 * itself at its first object: it opens /dev/urandom, and when that fails
 * (as it does in the parser) mixes the time with getpid(), which the
 * parser's seccomp policy does not allow.  The CLI calls this before it
 * forks a parser, which inherits the seed and so makes neither call. */
void oci_json_seed(void);

/* Parses text[0..len), one object or array (surrounding whitespace
 * allowed).  Malformed input or an exceeded limit: NULL, InvalidArgument
 * naming the byte offset or the limit.  Release with json_decref(). */
json_t *oci_json_parse(const char *text, size_t len, struct err *e);

#endif
