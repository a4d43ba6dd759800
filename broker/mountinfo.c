/* Reading /proc/PID/mountinfo.  A line (proc(5)):
 *   36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw
 *   id parent major:minor root mount-point options [optional...] - type source super
 * The kernel escapes space, tab, newline and backslash in paths as \ooo. */
#include "mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../common/util.h"

/* A namespace with a few hundred thousand mounts has tens of MiB; beyond
 * this the broker gives up judging rather than grow without bound. */
#define MOUNTINFO_MAX (64u << 20)

/* Undoes the kernel's \ooo escapes in place. */
static void unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* The next space-separated field of *p, NUL-terminated; NULL at the end. */
static char *field(char **p)
{
	char *s = *p;
	if (!s || !*s)
		return NULL;
	char *sp = strchr(s, ' ');
	if (sp) {
		*sp = '\0';
		*p = sp + 1;
	} else {
		*p = NULL;
	}
	return s;
}

static int parse_line(char *line, struct mnt_entry *m)
{
	char *p = line, *id = field(&p), *parent = field(&p), *devs = field(&p), *root = field(&p),
	     *point = field(&p), *end;
	unsigned major, minor;
	if (!point || root[0] != '/' || point[0] != '/' || !parent)
		return -1;
	errno = 0;
	unsigned long long v = strtoull(id, &end, 10);
	if (errno || *end || end == id || sscanf(devs, "%u:%u", &major, &minor) != 2)
		return -1;
	unescape(root);
	unescape(point);
	*m = (struct mnt_entry){.id = v, .dev = makedev(major, minor), .root = root, .point = point};
	return 0;
}

void mountinfo_parse(struct mountinfo *mi, char *text)
{
	size_t cap = 0;
	*mi = (struct mountinfo){.text = text};
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		struct mnt_entry m;
		if (parse_line(line, &m) < 0)
			continue;
		mi->v = xgrow(mi->v, &cap, mi->n, sizeof *mi->v);
		mi->v[mi->n++] = m;
	}
}

int mountinfo_read(struct mountinfo *mi, pid_t pid, struct err *e)
{
	char path[64];
	if (pid > 0)
		snprintf(path, sizeof path, "/proc/%d/mountinfo", (int)pid);
	else
		snprintf(path, sizeof path, "/proc/self/mountinfo");
	cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, 0, errno, "open `%s`", path);
	size_t len = 0, cap = 65536;
	cleanup_free char *buf = xmalloc(cap);
	for (;;) {
		if (cap - len < 4096 && cap < MOUNTINFO_MAX)
			buf = xrealloc(buf, cap *= 2);
		if (cap - len < 2)
			return err_set(e, ST_RESOURCE_EXHAUSTED, "`%s` is larger than %u bytes", path,
				       MOUNTINFO_MAX);
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_errno(e, 0, errno, "read `%s`", path);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	mountinfo_parse(mi, steal_pointer(&buf));
	return 0;
}

void mountinfo_free(struct mountinfo *mi)
{
	free(mi->v);
	free(mi->text);
	*mi = (struct mountinfo){0};
}

/* Whether mount point `point` is path or one of its ancestors. */
static int covers(const char *point, const char *path)
{
	size_t n = strlen(point);
	if (n == 1)
		return path[0] == '/';
	return !strncmp(point, path, n) && (path[n] == '\0' || path[n] == '/');
}

const struct mnt_entry *mountinfo_covering(const struct mountinfo *mi, const char *path)
{
	const struct mnt_entry *best = NULL;
	for (size_t i = 0; i < mi->n; i++)
		if (covers(mi->v[i].point, path) && (!best || strlen(mi->v[i].point) >= strlen(best->point)))
			best = &mi->v[i];
	return best;
}

int mountinfo_mounted_at(const struct mountinfo *mi, const char *path, uint64_t dev)
{
	for (size_t i = 0; i < mi->n; i++)
		if (!strcmp(mi->v[i].point, path) && (dev == 0 || mi->v[i].dev == dev))
			return 1;
	return 0;
}

const struct mnt_entry *mountinfo_by_id(const struct mountinfo *mi, uint64_t id)
{
	for (size_t i = 0; i < mi->n; i++)
		if (mi->v[i].id == id)
			return &mi->v[i];
	return NULL;
}
