#include "tar_header.h"

#include <stdio.h>
#include <string.h>

/* Octal, zero-padded, NUL-terminated in a field of w bytes; 0 if v does
 * not fit in w - 1 digits. */
static int put_octal(char *f, size_t w, uint64_t v)
{
	if (w < 22 && v >> (3 * (w - 1)))
		return 0;
	snprintf(f, w, "%0*llo", (int)(w - 1), (unsigned long long)v);
	return 1;
}

/* GNU base-256 for device numbers past the octal field (PAX has no
 * record for them); libarchive and Go read it. */
static void put_base256(char *f, size_t w, uint64_t v)
{
	memset(f, 0, w);
	for (size_t i = w; i-- > 1 && v; v >>= 8)
		f[i] = (char)(v & 0xff);
	f[0] = (char)0x80;
}

static void checksum(char *h)
{
	unsigned sum = 0;
	memset(h + 148, ' ', 8);
	for (int i = 0; i < TAR_BLOCK; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	h[155] = ' ';
}

/* Splits name into ustar's prefix (155) and name (100) at a slash, as
 * Go's tar.Writer does before it falls back to a PAX path record. */
static int split_name(const char *name, size_t *pfx)
{
	size_t n = strlen(name);
	if (n <= 100) {
		*pfx = 0;
		return 1;
	}
	for (size_t i = n - 1; i > 0; i--) {
		if (name[i] != '/' || i > 155)
			continue;
		if (n - i - 1 == 0 || n - i - 1 > 100)
			return 0;
		*pfx = i;
		return 1;
	}
	return 0;
}

void tar_header_fill(char *h, const struct tar_hdr *x, int *name_needs_pax)
{
	memset(h, 0, TAR_BLOCK);
	size_t pfx = 0, n = strlen(x->name);
	if (split_name(x->name, &pfx)) {
		if (pfx) {
			memcpy(h + 345, x->name, pfx);
			memcpy(h, x->name + pfx + 1, n - pfx - 1);
		} else {
			memcpy(h, x->name, n);
		}
	} else {
		memcpy(h, x->name, 100); /* readers take the PAX path */
		*name_needs_pax = 1;
	}
	put_octal(h + 100, 8, x->mode & 07777);
	if (!put_octal(h + 108, 8, x->uid))
		put_octal(h + 108, 8, 0);
	if (!put_octal(h + 116, 8, x->gid))
		put_octal(h + 116, 8, 0);
	if (!put_octal(h + 124, 12, x->size))
		put_octal(h + 124, 12, 0);
	if (x->mtime < 0 || !put_octal(h + 136, 12, (uint64_t)x->mtime))
		put_octal(h + 136, 12, 0);
	h[156] = x->type;
	if (x->link)
		memcpy(h + 157, x->link, strnlen(x->link, 100));
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	if (!put_octal(h + 329, 8, x->major))
		put_base256(h + 329, 8, x->major);
	if (!put_octal(h + 337, 8, x->minor))
		put_base256(h + 337, 8, x->minor);
	checksum(h);
}

size_t tar_pax_record(char *out, size_t cap, const char *key, const void *val, size_t vlen)
{
	size_t body = 1 + strlen(key) + 1 + vlen + 1, len = body + 1;
	while (len < body + (size_t)snprintf(NULL, 0, "%zu", len))
		len++;
	len = body + (size_t)snprintf(NULL, 0, "%zu", len);
	if (!out || cap < len)
		return len;
	char num[24];
	size_t nd = (size_t)snprintf(num, sizeof num, "%zu", len), kl = strlen(key);
	memcpy(out, num, nd);
	out[nd] = ' ';
	memcpy(out + nd + 1, key, kl);
	out[nd + 1 + kl] = '=';
	memcpy(out + nd + 2 + kl, val, vlen);
	out[len - 1] = '\n';
	return len;
}

void tar_pax_header_fill(char *h, const char *name, size_t records_len)
{
	/* Name: PaxHeaders.0/BASE cut to the field; readers ignore it. */
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	char pname[101];
	snprintf(pname, sizeof pname, "PaxHeaders.0/%s", base);
	struct tar_hdr p = {.name = pname, .type = 'x', .mode = 0644, .size = records_len};
	int unused = 0;
	tar_header_fill(h, &p, &unused);
}

static size_t pax_num(char *out, const char *key, int64_t v)
{
	char s[24];
	int n = snprintf(s, sizeof s, "%lld", (long long)v);
	return tar_pax_record(out, SIZE_MAX, key, s, (size_t)n);
}

/* The records at out (each at the end of the ones before), or only their
 * length when out is NULL. */
static size_t pax_fields(char *out, const struct tar_hdr *x, int name_needs_pax)
{
	size_t n = 0;
#define AT (out ? out + n : NULL)
	if (x->gid >> 21)
		n += pax_num(AT, "gid", (int64_t)x->gid);
	if (x->link && strlen(x->link) > 100)
		n += tar_pax_record(AT, SIZE_MAX, "linkpath", x->link, strlen(x->link));
	if (x->mtime < 0 || (uint64_t)x->mtime >> 33)
		n += pax_num(AT, "mtime", x->mtime);
	if (name_needs_pax)
		n += tar_pax_record(AT, SIZE_MAX, "path", x->name, strlen(x->name));
	if (x->size >> 33)
		n += pax_num(AT, "size", (int64_t)x->size);
	if (x->uid >> 21)
		n += pax_num(AT, "uid", (int64_t)x->uid);
#undef AT
	return n;
}

size_t tar_pax_fields(char *out, size_t cap, const struct tar_hdr *x, int name_needs_pax)
{
	size_t len = pax_fields(NULL, x, name_needs_pax);
	if (out && cap >= len)
		pax_fields(out, x, name_needs_pax);
	return len;
}

size_t tar_entry_headers(char *out, size_t cap, const struct tar_hdr *x)
{
	char h[TAR_BLOCK];
	int name_needs_pax = 0;
	tar_header_fill(h, x, &name_needs_pax);
	size_t plen = tar_pax_fields(NULL, 0, x, name_needs_pax);
	size_t pad = (TAR_BLOCK - plen % TAR_BLOCK) % TAR_BLOCK;
	size_t total = (plen ? TAR_BLOCK + plen + pad : 0) + TAR_BLOCK;
	if (!out || cap < total)
		return total;
	char *p = out;
	if (plen) {
		tar_pax_header_fill(p, x->name, plen);
		p += TAR_BLOCK;
		p += tar_pax_fields(p, plen, x, name_needs_pax);
		memset(p, 0, pad);
		p += pad;
	}
	memcpy(p, h, TAR_BLOCK);
	return total;
}
