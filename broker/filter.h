/* containerd's filter syntax (filters/parser.go):
 *   filter   := selector ("," selector)*        all selectors must match (AND)
 *   selector := fieldpath [op value]             no op: the field is present
 *   op       := "==" | "!=" | "~="               ~= is a regular expression
 *   fieldpath:= field ("." field)*               field: identifier or quoted
 *   value    := quoted | run of characters up to "," or space
 * Several filter strings match when any one of them does (OR); none: all match.
 * Regular expressions are POSIX extended (broker/ere.h), containerd's are RE2. */
#ifndef STRATA_FILTER_H
#define STRATA_FILTER_H

#include <stddef.h>
#include "../common/err.h"

struct filter;

/* Looks up a field path of obj; returns 1 and sets *value when present. */
typedef int (*filter_field_fn)(const void *obj, const char *const *path, size_t npath, const char **value);

/* What one filter may cost: instructions of its regular expressions in all
 * (memory), and steps of matching over all the objects it is matched
 * against (time: about a second of the broker's loop at most).  A step is
 * an instruction of a regular expression run at one byte; every selector
 * matched costs a few more, for its field and value, so that thousands of
 * plain selectors over thousands of snapshots are bounded too. */
#define FILTER_MAX_PROGRAM 65536
#define FILTER_STEPS	   100000000ull

/* InvalidArgument with the position on a syntax error. */
int filter_parse(const char *const *strs, size_t n, struct filter **out, struct err *e);
/* 1 when obj matches, else 0; -1 once matching has cost FILTER_STEPS over
 * all the objects matched so far. */
int filter_match(struct filter *f, filter_field_fn field, const void *obj);
void filter_free(struct filter *f);

/* Adaptor for struct snap_info: name, parent, kind, labels.KEY. */
int filter_snapshot_field(const void *snap_info, const char *const *path, size_t npath, const char **value);

#endif
