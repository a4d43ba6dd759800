/* Mount holds: which snapshots are handed out as mount fds, to whom, and
 * when a hold of an attached mount (`strata mount`) ends without its owner.
 *
 * A hold belongs to the uid that asked for the mount (SO_PEERCRED).  One
 * without a path ends when its connection closes.  One with a path (the
 * client attaches the mount there) outlives the connection and the broker
 * (it is in the metadata), and ends when its owner or root releases it by
 * path (mountsvc.c), or when its mount is provably gone: checked at start-up
 * and at Cleanup, for holds whose connection has closed (until then the
 * client may still be attaching).
 *
 * "Provably gone".  The broker is unprivileged and sees one mount table: its
 * own, /proc/self/mountinfo.  The client may be in another mount namespace
 * (a container, `unshare -m`), and under systemd the broker's namespace is
 * a private copy of the host's (PrivateMounts=) with its own /tmp and an
 * empty /home (PrivateTmp=, ProtectHome=), and /proc hides other users'
 * processes (ProtectProc=invisible).  A path with nothing mounted in the
 * broker's table proves nothing by itself.  So a hold records (hold->ns) the
 * broker namespace in which a mount at its path provably shows, and only
 * there does an empty path end it.  The proof is one of:
 *  (a) at Mount, the mount holding the path's place in the client's table
 *      (/proc/PID/mountinfo, readable without privilege unless /proc hides
 *      the client) is in the broker's table too, with the same id, mount
 *      point and root: a mount is in exactly one namespace, so both are one
 *      namespace seen from the same root;
 *  (b) once the connection closed (the client attaches before it closes),
 *      the broker sees a mount at the path in its own table: the client's
 *      mount or a copy propagated from it, which goes when the client's
 *      goes (unmounts propagate as mounts do).  Mounts hidden under the
 *      broker's own /tmp or /home still show in its mountinfo.
 * "A mount at the path" is any mount there for a bind (its st_dev need not
 * be the one mountinfo shows, e.g. on btrfs), and one of the overlay's own
 * device for an overlay, whose device is its own.  A broker restarted in
 * another namespace (a restart of the service) starts with no proof and
 * looks again (b).
 *
 * Limits.  "Gone" means attached nowhere in that namespace: a mount
 * detached lazily (umount -l) while processes still use it, or moved
 * elsewhere (mount --move), counts as gone.  A hold the broker can never
 * judge (a client in another namespace, or hidden by ProtectProc that exits
 * without attaching, or unmounted while a restarted service was down) stays
 * until its owner or root releases it: `strata umount DIR` does so even when
 * DIR no longer exists. */
#include "holds.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/log.h"
#include "../common/util.h"
#include "broker.h"
#include "meta.h"
#include "mountinfo.h"
#include "services.h"

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x4000U
#endif

static struct hold *holds;
static uint64_t next_hold;

struct hold *hold_add(const struct hold *tmpl)
{
	struct hold *h = xmalloc(sizeof *h);
	*h = *tmpl;
	h->id = ++next_hold;
	h->path = tmpl->path ? xstrdup(tmpl->path) : NULL;
	h->next = holds;
	holds = h;
	return h;
}

struct hold *hold_first(void)
{
	return holds;
}

struct hold **hold_find(uint64_t id)
{
	struct hold **pp = &holds;
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

struct hold **hold_at(const char *path)
{
	struct hold **pp = &holds;
	while (*pp && !((*pp)->path && !strcmp((*pp)->path, path)))
		pp = &(*pp)->next;
	return pp;
}

void hold_drop(struct hold **pp)
{
	struct hold *h = *pp;
	struct err e;
	*pp = h->next;
	if (h->path && meta_hold_del(broker.meta, h->path, &e) < 0)
		log_warn("mount hold at `%s`: %s", h->path, e.msg);
	free(h->path);
	free(h);
}

int hold_save(const struct hold *h, struct err *e)
{
	struct meta_hold mh = {.path = h->path,
			       .id = h->snap,
			       .uid = (uint32_t)h->uid,
			       .flags = h->rw ? META_HOLD_RW : 0,
			       .dev = h->dev,
			       .ns = h->ns};
	return meta_hold_put(broker.meta, &mh, e);
}

unsigned mount_holds(uint64_t snapshot_id)
{
	unsigned n = 0;
	for (struct hold *h = holds; h; h = h->next)
		n += h->snap == snapshot_id || snapshot_id == 0;
	return n;
}

unsigned mount_holds_rw(uint64_t snapshot_id)
{
	unsigned n = 0;
	for (struct hold *h = holds; h; h = h->next)
		n += h->snap == snapshot_id && h->rw;
	return n;
}

void mount_holds_name(uint64_t snapshot_id, int rw_only, char *buf, size_t len)
{
	size_t off = 0;
	unsigned shown = 0, more = 0;
	buf[0] = '\0';
	for (struct hold *h = holds; h; h = h->next) {
		if (h->snap != snapshot_id || (rw_only && !h->rw))
			continue;
		if (shown == 3) {
			more++;
			continue;
		}
		int n = h->path ? snprintf(buf + off, len - off, "%sat `%s`", shown ? ", " : "", h->path)
				: snprintf(buf + off, len - off, "%sa mount fd of pid %d", shown ? ", " : "",
					   (int)h->pid);
		shown++;
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += (size_t)n;
	}
	if (more)
		snprintf(buf + off, len - off, " and %u more", more);
}

/* The namespace's id: the unique id of the mount at the broker's root
 * (never reused, and a mount is in one namespace), or where the kernel
 * has no such id, the namespace's inode number. */
uint64_t holds_own_ns(void)
{
	struct statx stx;
	struct stat st;
	if (statx(AT_FDCWD, "/", 0, STATX_MNT_ID_UNIQUE, &stx) == 0 && (stx.stx_mask & STATX_MNT_ID_UNIQUE))
		return stx.stx_mnt_id;
	return stat("/proc/self/ns/mnt", &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* Proof (a) in the comment at the top. */
uint64_t holds_client_shares_view(pid_t pid, const char *path)
{
	struct mountinfo theirs, ours;
	if (pid <= 0 || mountinfo_read(&theirs, pid, NULL) < 0)
		return 0;
	if (mountinfo_read(&ours, 0, NULL) < 0) {
		mountinfo_free(&theirs);
		return 0;
	}
	const struct mnt_entry *t = mountinfo_covering(&theirs, path);
	const struct mnt_entry *o = t ? mountinfo_by_id(&ours, t->id) : NULL;
	int same = o && !strcmp(o->point, t->point) && !strcmp(o->root, t->root) && o->dev == t->dev;
	mountinfo_free(&theirs);
	mountinfo_free(&ours);
	return same ? holds_own_ns() : 0;
}

/* Proof (b): something is mounted at h's path in the broker's namespace. */
static void hold_seen(struct hold *h, uint64_t ns)
{
	struct err e;
	if (h->ns == ns)
		return;
	h->ns = ns;
	if (hold_save(h, &e) < 0)
		log_warn("mount hold at `%s`: %s", h->path, e.msg);
}

unsigned mount_holds_of(const void *owner)
{
	unsigned n = 0;
	for (struct hold *h = holds; h; h = h->next)
		n += h->conn == owner;
	return n;
}

void mount_holds_owner_gone(void *owner)
{
	struct mountinfo mi = {0};
	uint64_t ns = 0;
	int have = 0;
	for (struct hold **pp = &holds; *pp;) {
		struct hold *h = *pp;
		if (h->conn != owner) {
			pp = &h->next;
			continue;
		}
		if (!h->path) {
			hold_drop(pp);
			continue;
		}
		h->conn = NULL;
		if (!have && (ns = holds_own_ns()) != 0 && mountinfo_read(&mi, 0, NULL) == 0)
			have = 1;
		if (have && mountinfo_mounted_at(&mi, h->path, h->dev))
			hold_seen(h, ns);
		pp = &h->next;
	}
	if (have)
		mountinfo_free(&mi);
}

/* Attached mounts' holds whose connection has closed. */
static unsigned orphans(void)
{
	unsigned n = 0;
	for (struct hold *h = holds; h; h = h->next)
		n += h->path && !h->conn;
	return n;
}

static void hold_loaded(const struct meta_hold *mh, void *ctx)
{
	(void)ctx;
	hold_add(&(struct hold){.snap = mh->id,
				.uid = (uid_t)mh->uid,
				.rw = (mh->flags & META_HOLD_RW) != 0,
				.path = (char *)mh->path,
				.dev = mh->dev,
				.ns = mh->ns});
}

void mount_holds_load(void)
{
	struct err e;
	if (meta_holds_walk(broker.meta, hold_loaded, NULL, &e) < 0)
		return log_warn("mount holds: %s", e.msg);
	mount_holds_sweep("start-up");
	if (orphans())
		log_info("mount holds: %u attached mounts still held", orphans());
}

unsigned mount_holds_sweep(const char *when)
{
	struct mountinfo mi;
	struct err e;
	unsigned ended = 0;
	uint64_t ns;
	if (!orphans())
		return 0;
	if (!(ns = holds_own_ns()) || mountinfo_read(&mi, 0, &e) < 0) {
		log_warn("%s: mount holds not checked: %s", when, ns ? e.msg : "no mount namespace id");
		return 0;
	}
	for (struct hold **pp = &holds; *pp;) {
		struct hold *h = *pp;
		if (!h->path || h->conn) {
			pp = &h->next;
		} else if (mountinfo_mounted_at(&mi, h->path, h->dev)) {
			hold_seen(h, ns);
			pp = &h->next;
		} else if (h->ns == ns) {
			log_info("%s: nothing is mounted at `%s` any more: its hold of snapshot %llu ends",
				 when, h->path, (unsigned long long)h->snap);
			hold_drop(pp);
			ended++;
		} else {
			pp = &h->next;
		}
	}
	mountinfo_free(&mi);
	return ended;
}
