#include "mounts.h"

#include <stdio.h>
#include <string.h>

#include "../common/util.h"
#include "meta.h"

static char *fs_path(const struct mount_opts *o, uint64_t id)
{
	return xasprintf("%s/%llu/fs", o->snapshots_dir, (unsigned long long)id);
}

static void opt_add(struct mount_spec *m, char *opt)
{
	m->opts = xrealloc(m->opts, (m->nopts + 1) * sizeof *m->opts);
	m->opts[m->nopts++] = opt;
}

static void bind_mount(struct mount_spec *m, char *source, int ro)
{
	m->type = xstrdup("bind");
	m->source = source;
	opt_add(m, xstrdup(ro ? "ro" : "rw"));
	opt_add(m, xstrdup("rbind"));
}

static char *lowerdir_option(const struct mount_opts *o, const uint64_t *parents, size_t n)
{
	size_t cap = 16 + n * (strlen(o->snapshots_dir) + 28), len = 0;
	char *s = xmalloc(cap);
	len += (size_t)snprintf(s, cap, "lowerdir=");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%s/%llu/fs", i ? ":" : "", o->snapshots_dir,
					(unsigned long long)parents[i]);
	return s;
}

size_t mounts_build(const struct mount_opts *o, int kind, uint64_t id, const uint64_t *parents,
		    size_t nparents, struct mount_spec *out)
{
	memset(out, 0, sizeof *out);
	if (nparents == 0) {
		bind_mount(out, fs_path(o, id), kind == KIND_VIEW);
		return 1;
	}
	if (kind != KIND_ACTIVE && nparents == 1) {
		bind_mount(out, fs_path(o, parents[0]), 1);
		return 1;
	}
	out->type = xstrdup("overlay");
	out->source = xstrdup("overlay");
	if (o->index_off)
		opt_add(out, xstrdup("index=off"));
	if (o->userxattr)
		opt_add(out, xstrdup("userxattr"));
	if (kind == KIND_ACTIVE) {
		opt_add(out, xasprintf("workdir=%s/%llu/work", o->snapshots_dir, (unsigned long long)id));
		opt_add(out, xasprintf("upperdir=%s/%llu/fs", o->snapshots_dir, (unsigned long long)id));
	}
	opt_add(out, lowerdir_option(o, parents, nparents));
	return 1;
}

void mounts_free(struct mount_spec *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].type);
		free(m[i].source);
		for (size_t j = 0; j < m[i].nopts; j++)
			free(m[i].opts[j]);
		free(m[i].opts);
	}
}
