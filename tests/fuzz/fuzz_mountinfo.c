/* libFuzzer target over a mount table as the broker reads it from
 * /proc/PID/mountinfo of a client that attached a mount (broker/mountsvc.c):
 * the kernel writes the lines, but the mount points in them are paths the
 * client chose.  mountinfo_parse() (broker/mountinfo.c), then the lookups
 * the broker makes of a mount point.
 * Input: the table's text. */
#include <string.h>

#include "broker/mountinfo.h"
#include "common/util.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {"/", "/mnt", "/mnt/a b", "/run/strata/m", "/tmp/x/y"};
	char *text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct mountinfo mi;
	mountinfo_parse(&mi, text);
	for (size_t i = 0; i < mi.n; i++)
		if (mi.v[i].root[0] != '/' || mi.v[i].point[0] != '/')
			fuzz_fail("entry %zu has a relative root or mount point", i);
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		const struct mnt_entry *m = mountinfo_covering(&mi, paths[i]);
		if (m && strncmp(m->point, paths[i], strlen(m->point)))
			fuzz_fail("`%s` is not below the mount point `%s` said to cover it", paths[i],
				  m->point);
		mountinfo_mounted_at(&mi, paths[i], 0);
	}
	if (mi.n)
		mountinfo_by_id(&mi, mi.v[mi.n - 1].id);
	mountinfo_free(&mi);
	return 0;
}
