/* libFuzzer target over the extraction engine: arbitrary bytes as a layer
 * (any compression), applied for real to a directory on tmpfs, with a
 * canary next to it.  Anything but a clean success or a clean error is a
 * finding: a sanitizer report, or abort() when the canary changed or a
 * failure came without a message or status.  Run as root: chown, mknod
 * and trusted xattrs need it. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fuzz.h"
#include "worker/extract.h"

static char g_dir[64];
static int g_target = -1, g_lower = -1, g_in = -1;
static struct stat g_canary;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static void teardown(void)
{
	nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	snprintf(g_dir, sizeof g_dir, "/dev/shm/strata-fuzz-%d", (int)getpid());
	char p[128];
	if (mkdir(g_dir, 0755) < 0)
		abort();
	atexit(teardown);
	snprintf(p, sizeof p, "%s/target", g_dir);
	mkdir(p, 0755);
	g_target = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(p, sizeof p, "%s/lower", g_dir);
	mkdir(p, 0755);
	g_lower = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	mkdirat(g_lower, "a", 0700);
	mkdirat(g_lower, "etc", 0750);
	snprintf(p, sizeof p, "%s/canary", g_dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "canary", 6) != 6)
		abort();
	close(fd);
	lstat(p, &g_canary);
	g_in = memfd_create("layer", MFD_CLOEXEC);
	if (g_target < 0 || g_lower < 0 || g_in < 0)
		abort();
}

static void check_canary(void)
{
	char p[128];
	struct stat st;
	snprintf(p, sizeof p, "%s/canary", g_dir);
	if (lstat(p, &st) < 0 || st.st_ino != g_canary.st_ino || st.st_mode != g_canary.st_mode ||
	    st.st_uid != g_canary.st_uid || st.st_size != 6 || st.st_nlink != 1 ||
	    st.st_mtim.tv_sec != g_canary.st_mtim.tv_sec || st.st_mtim.tv_nsec != g_canary.st_mtim.tv_nsec) {
		fprintf(stderr, "fuzz_extract: the canary outside the target changed\n");
		abort();
	}
	int n = 0;
	DIR *d = opendir(g_dir);
	for (struct dirent *de; d && (de = readdir(d));)
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	if (n != 3) {
		fprintf(stderr, "fuzz_extract: a name appeared next to the target\n");
		abort();
	}
}

static void empty_target(void)
{
	DIR *d = fdopendir(dup(g_target));
	if (!d)
		abort();
	struct err e = {0};
	for (struct dirent *de; (de = readdir(d));) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    xw_remove(g_target, de->d_name, &e) < 0) {
			fprintf(stderr, "fuzz_extract: cleanup: %s\n", e.msg);
			abort();
		}
	}
	closedir(d);
	fremovexattr(g_target, "trusted.overlay.opaque");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (g_target < 0)
		setup();
	if (ftruncate(g_in, 0) < 0 || pwrite(g_in, data, size, 0) != (ssize_t)size ||
	    lseek(g_in, 0, SEEK_SET) < 0)
		abort();
	struct extract_limits lim;
	extract_limits_default(&lim);
	lim.single_thread = 1; /* faster iterations; the ring is exercised by the unit tests */
	lim.max_bytes = 64 << 20;
	lim.max_entries = 2000;
	lim.max_file = 8 << 20;
	struct extract_result res;
	struct err e = {0};
	if (extract_layer(g_in, g_target, &g_lower, 1, &lim, NULL, NULL, &res, &e) < 0 &&
	    (e.code == ST_OK || !e.msg[0])) {
		fprintf(stderr, "fuzz_extract: failure without a status or message\n");
		abort();
	}
	check_canary();
	empty_target();
	return 0;
}
