#include "overlay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "../common/util.h"

int mount_clone(const char *path, uint64_t attrs, struct err *e)
{
	int tree = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
	if (tree < 0)
		return err_errno(e, ST_INTERNAL, errno, "overlay: clone `%s`", path);
	struct mount_attr attr = {.attr_set = attrs};
	if (attrs && mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) {
		err_errno(e, ST_INTERNAL, errno, "overlay: set attributes of `%s`", path);
		close(tree);
		return -1;
	}
	return tree;
}

/* Kernels before 6.8 know only the one `lowerdir` string, colon-separated. */
static int set_lowerdir_string(int fs, const struct overlay_spec *o, struct err *e)
{
	size_t len = 1;
	for (size_t i = 0; i < o->nlayers; i++)
		len += strlen(o->layers[i]) + 1;
	cleanup_free char *all = xmalloc(len);
	char *p = all;
	for (size_t i = 0; i < o->nlayers; i++) {
		if (strpbrk(o->layers[i], ":,\\"))
			return err_set(e, ST_INTERNAL, "overlay: layer path `%s` has a separator",
				       o->layers[i]);
		p = stpcpy(p, o->layers[i]);
		*p++ = i + 1 < o->nlayers ? ':' : '\0';
	}
	if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", all, 0) < 0)
		return err_errno(e, ST_INTERNAL, errno, "overlay: lowerdir of %zu layers", o->nlayers);
	return 0;
}

static int configure(int fs, const struct overlay_spec *o, struct err *e)
{
	for (size_t i = 0; i < o->nlayers; i++) {
		if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", o->layers[i], 0) == 0)
			continue;
		if (errno == EINVAL && i == 0)
			return set_lowerdir_string(fs, o, e);
		return err_errno(e, ST_INTERNAL, errno, "overlay: lower layer `%s`", o->layers[i]);
	}
	return 0;
}

int overlay_open(const struct overlay_spec *o, struct err *e)
{
	if (!o->nlayers) {
		if (!o->upper)
			return err_set(e, ST_INTERNAL, "overlay: no layers");
		return mount_clone(o->upper, o->clone_keeps_attrs ? 0 : o->attrs, e);
	}
	if (o->nlayers == 1 && !o->upper)
		return mount_clone(o->layers[0], o->clone_keeps_attrs ? 0 : o->attrs, e);
	int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return err_errno(e, ST_INTERNAL, errno, "overlay: fsopen");
	int rc = configure(fs, o, e);
	/* index=off as the snapshotter's own mounts: with it on, overlay
	 * refuses layers another overlay mount uses as its upperdir. */
	if (rc == 0 && o->upper &&
	    (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", o->upper, 0) < 0 ||
	     fsconfig(fs, FSCONFIG_SET_STRING, "workdir", o->work, 0) < 0 ||
	     fsconfig(fs, FSCONFIG_SET_STRING, "index", "off", 0) < 0))
		rc = err_errno(e, ST_INTERNAL, errno, "overlay: upperdir `%s`", o->upper);
	if (rc == 0 && fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		rc = err_errno(e, ST_INTERNAL, errno, "overlay: create over %zu layers", o->nlayers);
	int mnt = rc == 0 ? fsmount(fs, FSMOUNT_CLOEXEC, (unsigned)o->attrs) : -1;
	if (rc == 0 && mnt < 0)
		rc = err_errno(e, ST_INTERNAL, errno, "overlay: fsmount");
	close(fs);
	return rc < 0 ? -1 : mnt;
}
