/* The 512-byte POSIX ustar header, as the layers strata writes (the diff
 * worker's tar writer) and the OCI archives it exports use it: numeric
 * owners only (uname and gname empty), fields that do not fit written as
 * 0 for a PAX record to carry.  Reading tar is libarchive's. */
#ifndef STRATA_TAR_HEADER_H
#define STRATA_TAR_HEADER_H

#include <stddef.h>
#include <stdint.h>

#define TAR_BLOCK 512

struct tar_hdr {
	const char *name;
	const char *link; /* hard or symbolic link target, or NULL */
	char type;	  /* '0' file, '1' hard link, '2' symlink, '3'-'6', 'x' PAX */
	unsigned mode;	  /* permission, setuid, setgid and sticky bits */
	uint64_t uid, gid, size;
	int64_t mtime;
	unsigned major, minor;
};

/* Writes x's header into h (TAR_BLOCK bytes).  A name longer than 100
 * bytes is split into ustar's prefix and name at a slash, as Go's
 * tar.Writer does; when it cannot be, *name_needs_pax is set and the
 * field holds its first 100 bytes (a PAX path record must precede the
 * header).  Ids past 7 octal digits, a size or mtime past 11 and a link
 * target past 100 bytes are the PAX records' too (their fields hold 0 or
 * the first 100 bytes); device numbers past the octal field are written
 * in GNU base-256, which libarchive and Go read. */
void tar_header_fill(char *h, const struct tar_hdr *x, int *name_needs_pax);

/* The header (TAR_BLOCK bytes into h) of the PAX extended header that
 * carries records_len bytes of records for the entry called name. */
void tar_pax_header_fill(char *h, const char *name, size_t records_len);

/* The PAX record "LEN KEY=VALUE\n" (LEN counting its own digits): its
 * length, written to out only when out has room for it (out may be NULL
 * to size it).  No NUL follows. */
size_t tar_pax_record(char *out, size_t cap, const char *key, const void *val, size_t vlen);

/* The PAX records of the fields of x that its header cannot hold, in key
 * order (gid, linkpath, mtime, path when name_needs_pax, size, uid; all
 * sort after the SCHILY.xattr records a writer puts first): their length,
 * written to out only when out has room for all of them. */
size_t tar_pax_fields(char *out, size_t cap, const struct tar_hdr *x, int name_needs_pax);

/* The headers of an entry without xattrs: x's header, preceded by a PAX
 * header (its records padded to the block) when tar_pax_fields has any.
 * Written to out only when out has room for all of them; returns their
 * length either way (a multiple of TAR_BLOCK). */
size_t tar_entry_headers(char *out, size_t cap, const struct tar_hdr *x);

#endif
