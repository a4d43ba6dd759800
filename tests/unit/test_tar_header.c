/* common/tar_header: headers and PAX records read back by libarchive, the
 * reader strata and most tools use. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/tar_header.h"
#include "run_suite.h"

/* An archive of one entry, its headers from tar_entry_headers, then
 * (for a regular file of less than 8 GiB) its size in 'd' bytes and the
 * end; read by libarchive, whose entry is in *ent.  Returns the reader
 * (free it), NULL when libarchive fails. */
static struct archive *read_one(const struct tar_hdr *x, struct archive_entry **ent)
{
	static char buf[64 * TAR_BLOCK];
	memset(buf, 0, sizeof buf);
	size_t len = tar_entry_headers(buf, sizeof buf, x);
	ck_assert_uint_eq(len % TAR_BLOCK, 0);
	ck_assert_uint_le(len, sizeof buf);
	/* sizing alone gives the same length and writes nothing */
	ck_assert_uint_eq(tar_entry_headers(NULL, 0, x), len);
	ck_assert_uint_eq(tar_entry_headers(buf, len - 1, x), len);
	uint64_t data = x->type == '0' && !(x->size >> 33) ? x->size : 0;
	ck_assert_uint_le(len + data + 2 * TAR_BLOCK, sizeof buf);
	memset(buf + len, 'd', data);
	len += (data + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK + 2 * TAR_BLOCK;
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK ||
	    archive_read_next_header(a, ent) != ARCHIVE_OK) {
		archive_read_free(a);
		return NULL;
	}
	return a;
}

START_TEST(fields_read_back)
{
	struct tar_hdr x = {.name = "etc/hosts",
			    .type = '0',
			    .mode = 04755,
			    .uid = 1000,
			    .gid = 2000,
			    .size = 700,
			    .mtime = 1600000000};
	struct archive_entry *en;
	struct archive *a = read_one(&x, &en);
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(archive_entry_pathname(en), "etc/hosts");
	ck_assert_int_eq(archive_entry_filetype(en), AE_IFREG);
	ck_assert_int_eq(archive_entry_perm(en), 04755);
	ck_assert_int_eq(archive_entry_uid(en), 1000);
	ck_assert_int_eq(archive_entry_gid(en), 2000);
	ck_assert_int_eq(archive_entry_size(en), 700);
	ck_assert_int_eq(archive_entry_mtime(en), 1600000000);
	ck_assert(!archive_entry_uname(en) || !*archive_entry_uname(en)); /* numeric owners only */
	archive_read_free(a);

	struct tar_hdr l = {.name = "bin/sh", .link = "dash", .type = '2', .mode = 0777};
	a = read_one(&l, &en);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(archive_entry_filetype(en), AE_IFLNK);
	ck_assert_str_eq(archive_entry_symlink(en), "dash");
	archive_read_free(a);

	/* device numbers past the 7 octal digits: GNU base-256 */
	struct tar_hdr d = {
	    .name = "dev/big", .type = '3', .mode = 0600, .major = 1u << 22, .minor = 0xfffff};
	a = read_one(&d, &en);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(archive_entry_filetype(en), AE_IFCHR);
	ck_assert_uint_eq(archive_entry_rdevmajor(en), 1u << 22);
	ck_assert_uint_eq(archive_entry_rdevminor(en), 0xfffff);
	archive_read_free(a);
}
END_TEST

/* Names up to 100 bytes go in the name field, longer ones are split at a
 * slash into prefix and name where both fit, and the rest need a PAX
 * path record (the flag says so). */
START_TEST(names_split_or_need_pax)
{
	char name[300];
	struct {
		size_t dir, base; /* a name "d...d/b...b" (dir 0: no slash) */
		int pax;
	} cases[] = {{0, 100, 0},  {0, 101, 1},	  {155, 100, 0}, {156, 10, 1},
		     {20, 101, 1}, {154, 100, 0}, {40, 60, 0}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = 0;
		if (cases[i].dir) {
			memset(name, 'p', cases[i].dir);
			n = cases[i].dir;
			name[n++] = '/';
		}
		memset(name + n, 'b', cases[i].base);
		name[n + cases[i].base] = 0;
		struct tar_hdr x = {.name = name, .type = '0', .mode = 0644};
		char h[TAR_BLOCK];
		int long_name = 0;
		tar_header_fill(h, &x, &long_name);
		ck_assert_msg(long_name == cases[i].pax, "case %zu: needs pax %d, want %d", i, long_name,
			      cases[i].pax);
		struct archive_entry *en;
		struct archive *a = read_one(&x, &en);
		ck_assert_ptr_nonnull(a);
		ck_assert_str_eq(archive_entry_pathname(en), name);
		archive_read_free(a);
	}
}
END_TEST

/* Values past the octal fields read back from PAX records, the records
 * in key order; a long link target too. */
START_TEST(big_values_come_from_pax_records)
{
	char link[300];
	memset(link, 't', 200);
	link[200] = 0;
	struct tar_hdr x = {.name = "f",
			    .type = '1',
			    .mode = 0644,
			    .uid = 1ull << 32,
			    .gid = 3000000,
			    .size = 1ull << 34,
			    .mtime = -5,
			    .link = link};
	char h[TAR_BLOCK];
	int long_name = 0;
	tar_header_fill(h, &x, &long_name);
	ck_assert_int_eq(long_name, 0);
	ck_assert_str_eq(h + 108, "0000000"); /* uid: the record's */
	ck_assert_str_eq(h + 124, "00000000000");
	char rec[600];
	size_t n = tar_pax_fields(rec, sizeof rec, &x, 0);
	ck_assert_uint_eq(tar_pax_fields(NULL, 0, &x, 0), n);
	rec[n] = 0;
	const char *keys[] = {" gid=3000000\n", " linkpath=", " mtime=-5\n", " size=17179869184\n",
			      " uid=4294967296\n"};
	const char *at = rec;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *k = strstr(at, keys[i]);
		ck_assert_msg(k != NULL, "record `%s` missing or out of order in `%s`", keys[i], rec);
		at = k;
	}
	struct archive_entry *en;
	struct archive *a = read_one(&x, &en);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(archive_entry_uid(en), 1ll << 32);
	ck_assert_int_eq(archive_entry_gid(en), 3000000);
	ck_assert_int_eq(archive_entry_mtime(en), -5);
	ck_assert_str_eq(archive_entry_hardlink(en), link);
	archive_read_free(a);

	/* The size record alone: an exported blob of 8 GiB or more. */
	struct tar_hdr blob = {.name = "blobs/sha256/aa", .type = '0', .mode = 0644, .size = 9ull << 30};
	ck_assert_uint_eq(tar_entry_headers(NULL, 0, &blob), 3 * TAR_BLOCK);
	a = read_one(&blob, &en);
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(archive_entry_pathname(en), "blobs/sha256/aa");
	ck_assert_int_eq(archive_entry_size(en), 9ll << 30);
	archive_read_free(a);
}
END_TEST

/* A record's length counts its own digits: right where that count grows
 * (9 to 10, 99 to 100, 999 to 1000 bytes); nothing is written without
 * room for all of it. */
START_TEST(record_lengths_count_their_digits)
{
	static char val[2000], rec[2100];
	memset(val, 'v', sizeof val);
	for (size_t vlen = 0; vlen < sizeof val; vlen++) {
		size_t len = tar_pax_record(NULL, 0, "k", val, vlen);
		memset(rec, 'x', sizeof rec);
		ck_assert_uint_eq(tar_pax_record(rec, len - 1, "k", val, vlen), len);
		ck_assert_int_eq(rec[0], 'x');
		ck_assert_uint_eq(tar_pax_record(rec, len, "k", val, vlen), len);
		ck_assert_uint_eq(strtoul(rec, NULL, 10), len);
		ck_assert_int_eq(rec[len - 1], '\n');
		ck_assert_int_eq(rec[len], 'x');
		ck_assert(!memcmp(strchr(rec, ' '), " k=", 3));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tar_header");
	TCase *tc = tcase_create("ustar");
	tcase_add_test(tc, fields_read_back);
	tcase_add_test(tc, names_split_or_need_pax);
	tcase_add_test(tc, big_values_come_from_pax_records);
	tcase_add_test(tc, record_lengths_count_their_digits);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
