/* libFuzzer target over containerd's filter language as the broker reads a
 * List request's filters: filter_parse() (broker/filter.c) over one or more
 * filter strings, then filter_match() of the parsed filter against a few
 * snapshots through filter_snapshot_field(), as svc_list does.
 * Input: the filter strings, separated by NUL bytes (a protobuf string
 * holds none). */
#include <string.h>

#include "broker/filter.h"
#include "broker/meta.h"
#include "common/util.h"
#include "fuzz.h"

#define MAX_STRS 8

/* Snapshots as the metadata holds them: labels sorted, values not empty. */
static struct label labels_a[] = {
    {"containerd.io/gc.root", "2024-01-01T00:00:00Z"},
    {"containerd.io/snapshot.ref", "sha256:0123abcd"},
    {"a.b", "c"},
};
static struct label labels_b[] = {{"", "empty key"}, {"x", "\xc3\xa9t\xc3\xa9"}};
static struct snap_info snaps[] = {
    {.name = "k8s.io/1/sha256:0123abcd", .kind = KIND_COMMITTED, .nlabels = 3, .labels = labels_a},
    {.name = "view-1",
     .parent = "k8s.io/1/sha256:0123abcd",
     .kind = KIND_VIEW,
     .nlabels = 2,
     .labels = labels_b},
    {.name = "", .parent = "", .kind = KIND_ACTIVE},
    {.name = "odd kind", .kind = 7},
    {.name = NULL, .kind = KIND_ACTIVE}, /* a long name, set below */
};

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct label *)a)->key, ((const struct label *)b)->key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int sorted;
	if (!sorted) {
		qsort(labels_a, ARRAY_SIZE(labels_a), sizeof *labels_a, label_cmp);
		qsort(labels_b, ARRAY_SIZE(labels_b), sizeof *labels_b, label_cmp);
		/* What an expression costs to match grows with the subject. */
		static char long_name[1024];
		for (size_t i = 0; i < sizeof long_name - 1; i++)
			long_name[i] = "ab/:.-"[i % 6];
		snaps[ARRAY_SIZE(snaps) - 1].name = long_name;
		sorted = 1;
	}
	char *strs[MAX_STRS];
	size_t n = 0;
	for (size_t off = 0; n < MAX_STRS && off <= size; n++) {
		const uint8_t *nul = memchr(data + off, 0, size - off);
		size_t len = nul ? (size_t)(nul - (data + off)) : size - off;
		strs[n] = xmalloc(len + 1);
		memcpy(strs[n], data + off, len);
		strs[n][len] = '\0';
		off += len + 1;
	}
	struct filter *f = NULL;
	struct err e = {0};
	if (filter_parse((const char *const *)strs, n, &f, &e) < 0) {
		fuzz_check_refusal("filter_parse", &e);
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(snaps); i++)
			filter_match(f, filter_snapshot_field, &snaps[i]);
		filter_free(f);
	}
	for (size_t i = 0; i < n; i++)
		free(strs[i]);
	return 0;
}
