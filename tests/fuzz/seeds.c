/* Writes the seed corpora of the fuzz targets (`make fuzz-seeds`): a few
 * valid inputs each, made with strata's own encoders (protobuf-c, the ipc
 * structs, the gRPC prefix, libarchive) and its own files (the embedded
 * policies, the default configuration), in each target's input format
 * (the comment at the top of tests/fuzz/fuzz_NAME.c).
 * Usage: fuzz-seeds DIR   (writes DIR/NAME/SEED) */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "broker/call.h"
#include "broker/grpc_wire.h"
#include "common/config.h"
#include "common/layer.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/util.h"
#include "policy/policy.h"
#include "proto/ipc.h"
#include "proto/native.h"
#include "proto/roles.h"

static const char *dir;

/* ---- output ------------------------------------------------------------------- */

/* Bytes gathered for one seed. */
struct buf {
	uint8_t *p;
	size_t n;
};

static void put(struct buf *b, const void *data, size_t n)
{
	b->p = xrealloc(b->p, b->n + n + 1);
	memcpy(b->p + b->n, data, n);
	b->n += n;
}

static void put_byte(struct buf *b, uint8_t c)
{
	put(b, &c, 1);
}

static void put_str(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* Writes b as DIR/target/name and empties it. */
static void seed(const char *target, const char *name, struct buf *b)
{
	cleanup_free char *d = xasprintf("%s/%s", dir, target);
	cleanup_free char *path = xasprintf("%s/%s", d, name);
	if ((mkdir(dir, 0755) < 0 && errno != EEXIST) || (mkdir(d, 0755) < 0 && errno != EEXIST))
		die("mkdir `%s`: %m", d);
	FILE *f = fopen(path, "wx");
	if (!f || (b->n && fwrite(b->p, b->n, 1, f) != 1) || fclose(f) != 0)
		die("write `%s`: %m", path);
	free(b->p);
	*b = (struct buf){0};
}

__attribute__((format(printf, 3, 4))) static void seed_text(const char *target, const char *name,
							    const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;
	va_start(ap, fmt);
	char *s;
	if (vasprintf(&s, fmt, ap) < 0)
		die("out of memory");
	va_end(ap);
	put_str(&b, s);
	free(s);
	seed(target, name, &b);
}

/* ---- requests: native and gRPC ---------------------------------------------------- */

/* A field's value by its name: what a client would plausibly send. */
static const char *value_for(const char *field)
{
	static const struct {
		const char *field, *value;
	} values[] = {
	    {"key", "k8s.io/1/sha256:0123abcd"},
	    {"name", "k8s.io/2/sha256:4567ef01"},
	    {"parent", "k8s.io/0/base"},
	    {"digest", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	    {"media_type", "application/vnd.oci.image.layer.v1.tar+gzip"},
	    {"type", "overlay"},
	    {"source", "overlay"},
	    {"options", "lowerdir=/var/lib/strata/snapshots/2/fs:/var/lib/strata/snapshots/1/fs"},
	    {"filters", "kind==committed,labels.\"containerd.io/gc.root\""},
	    {"paths", "labels.containerd.io/gc.root"},
	    {"ref", "strata-diff-1"},
	    {"target", "/mnt/strata"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(values); i++)
		if (!strcmp(values[i].field, field))
			return values[i].value;
	return "x";
}

static ProtobufCMessage *msg_new(const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = xcalloc(1, d->sizeof_message);
	d->message_init(m);
	return m;
}

/* Appends v to the repeated field f of m. */
static void append(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const void *v, size_t size)
{
	size_t *n = (size_t *)((char *)m + f->quantifier_offset);
	void **arr = (void **)((char *)m + f->offset);
	*arr = xrealloc(*arr, (*n + 1) * size);
	memcpy((char *)*arr + *n * size, v, size);
	(*n)++;
}

static ProtobufCMessage *msg_fill(const ProtobufCMessageDescriptor *d, int depth);

/* One value of field f: a string by its name, a number, a message filled
 * in turn.  Map entries (key, value) get two labels. */
static void field_fill(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, int depth)
{
	char *field = (char *)m + f->offset;
	int repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
	if (f->type == PROTOBUF_C_TYPE_STRING) {
		char *s = xstrdup(value_for(f->name));
		if (repeated)
			append(m, f, &s, sizeof s);
		else
			memcpy(field, &s, sizeof s);
	} else if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth < 3) {
		const ProtobufCMessageDescriptor *sub = f->descriptor;
		for (int k = 0; k < (repeated ? 2 : 1); k++) {
			ProtobufCMessage *v = msg_fill(sub, depth + 1);
			if (sub->n_fields == 2 && !strcmp(sub->fields[0].name, "key") &&
			    sub->fields[0].type == PROTOBUF_C_TYPE_STRING) {
				char **key = (char **)((char *)v + sub->fields[0].offset);
				free(*key);
				*key = xstrdup(k ? "containerd.io/gc.root" : "containerd.io/snapshot.ref");
			}
			if (repeated)
				append(m, f, &v, sizeof v);
			else
				memcpy(field, &v, sizeof v);
		}
	} else if (!repeated && (f->type == PROTOBUF_C_TYPE_INT64 || f->type == PROTOBUF_C_TYPE_UINT64)) {
		uint64_t v = 4096;
		memcpy(field, &v, sizeof v);
	} else if (!repeated && (f->type == PROTOBUF_C_TYPE_INT32 || f->type == PROTOBUF_C_TYPE_UINT32 ||
				 f->type == PROTOBUF_C_TYPE_BOOL)) {
		uint32_t v = 1;
		memcpy(field, &v, sizeof v);
	}
}

static ProtobufCMessage *msg_fill(const ProtobufCMessageDescriptor *d, int depth)
{
	ProtobufCMessage *m = msg_new(d);
	for (unsigned i = 0; i < d->n_fields; i++)
		if (!(d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
			field_fill(m, &d->fields[i], depth);
	return m;
}

static void put_packed(struct buf *b, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	cleanup_free uint8_t *p = xmalloc(len + 1);
	protobuf_c_message_pack(m, p);
	put(b, p, len);
}

/* fuzz_native: fd byte, native_req, message. */
static void native_seed(const struct method_desc *m, const ProtobufCMessage *req, const char *name)
{
	struct buf b = {0};
	struct native_req h = {.magic = NATIVE_MAGIC,
			       .method = m->id,
			       .id = 1,
			       .len = (uint32_t)protobuf_c_message_get_packed_size(req)};
	put_byte(&b, (uint8_t)m->nfds);
	put(&b, &h, sizeof h);
	put_packed(&b, req);
	seed("native", name, &b);
}

/* fuzz_grpc: method id, chunk size, limit, content-type, prefixed message. */
static void grpc_seed(const struct method_desc *m, const ProtobufCMessage *req, const char *name)
{
	static const char ctype[] = "application/grpc+proto";
	struct buf b = {0};
	uint8_t prefix[GRPC_PREFIX_LEN];
	grpc_prefix_encode(prefix, (uint32_t)protobuf_c_message_get_packed_size(req));
	put_byte(&b, (uint8_t)m->id);
	put_byte(&b, 15); /* DATA chunks of 16 bytes */
	put_byte(&b, 0);
	put_byte(&b, sizeof ctype - 1);
	put_str(&b, ctype);
	put(&b, prefix, sizeof prefix);
	put_packed(&b, req);
	seed("grpc", name, &b);
}

/* fuzz_client: method id, fd count, native_resp, payload. */
static void client_seed(const struct method_desc *m, uint32_t kind, uint32_t code, struct buf *payload,
			const char *name)
{
	struct buf b = {0};
	struct native_resp h = {
	    .magic = NATIVE_MAGIC, .kind = kind, .id = 1, .code = code, .len = (uint32_t)payload->n};
	put_byte(&b, (uint8_t)m->id);
	put_byte(&b, m->id == NM_MOUNT && kind == NATIVE_DATA); /* the mount fd */
	put(&b, &h, sizeof h);
	put(&b, payload->p, payload->n);
	free(payload->p);
	*payload = (struct buf){0};
	seed("client", name, &b);
}

static void request_seeds(void)
{
	for (uint32_t id = 0; id < 256; id++) {
		const struct method_desc *m = method_by_id(id);
		if (!m)
			continue;
		const char *method = strrchr(m->req->name, '.') + 1;
		ProtobufCMessage *empty = msg_new(m->req), *full = msg_fill(m->req, 0);
		cleanup_free char *n1 = xasprintf("%s-empty", method), *n2 = xasprintf("%s", method);
		native_seed(m, empty, n1);
		native_seed(m, full, n2);
		if (m->grpc_path) {
			grpc_seed(m, empty, n1);
			grpc_seed(m, full, n2);
		}
		protobuf_c_message_free_unpacked(empty, NULL);
		protobuf_c_message_free_unpacked(full, NULL);

		struct buf p = {0};
		ProtobufCMessage *resp = msg_fill(m->resp, 0);
		put_packed(&p, resp);
		protobuf_c_message_free_unpacked(resp, NULL);
		cleanup_free char *n3 = xasprintf("%s-reply", method), *n4 = xasprintf("%s-status", method);
		client_seed(m, NATIVE_DATA, 0, &p, n3);
		put_str(&p, "snapshot `k8s.io/1/sha256:0123abcd`: not found");
		client_seed(m, NATIVE_STATUS, ST_NOT_FOUND, &p, n4);
	}
}

/* ---- ipc ------------------------------------------------------------------------- */

/* fuzz_ipc: channel byte (+ enable_probe), fd count, record. */
static void ipc_seed(uint32_t type, const void *body, int enable_probe, const char *name)
{
	enum ipc_channel ch = IPC_CH_PARENT;
	while (!ipc_type_on(type, ch))
		ch++;
	struct ipc_hdr h = {.type = type, .len = (uint32_t)ipc_type_len(type)};
	struct buf b = {0};
	put_byte(&b, (uint8_t)((ch - 1) | (enable_probe ? 0x80 : 0)));
	put_byte(&b, (uint8_t)ipc_type_fds(type));
	put(&b, &h, sizeof h);
	put(&b, body, h.len);
	seed("ipc", name, &b);
}

/* A SPAWN the spawner serves, of every role a SPAWN may name. */
static void spawn_seeds(void)
{
	for (const struct role_info *r = role_first(); r; r = role_next(r)) {
		if (r->process != PROC_WORKER)
			continue;
		struct ipc_spawn s = {.job_id = 9, .target = 100, .role = (uint32_t)r->role};
		if (r->role == ROLE_PROBE)
			s.probe_role = ROLE_USAGE, s.probe_syscall = -1;
		if (r->lowers == LOWERS_ANY)
			s.nlower = 2, s.lower[0] = 50, s.lower[1] = 20;
		if (r->role == ROLE_DIFF) {
			s.nlower = 3, s.nleft = 2, s.lower[0] = 5, s.lower[1] = 100, s.lower[2] = 7;
			s.flags = IPC_SPAWN_DIFF_RESTART, s.diff_compression = 1;
			s.diff_has_epoch = 1, s.diff_epoch = 1700000000;
		}
		if (r->role == ROLE_MOUNT) {
			s.flags = IPC_SPAWN_MOUNT_OWN | IPC_SPAWN_MOUNT_RW | IPC_SPAWN_MOUNT_IDMAP;
			s.nuid_map = s.ngid_map = 1;
			s.uid_map[0] = s.gid_map[0] = (struct ipc_id_range){0, 100000, 65536};
		}
		cleanup_free char *name = xasprintf("spawn-%s", r->name);
		ipc_seed(r->input != INPUT_NONE ? IPC_SPAWN_INPUT : IPC_SPAWN, &s, r->role == ROLE_PROBE,
			 name);
	}
}

static void ipc_seeds(void)
{
	static const char hex[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	union ipc_body b;
	for (uint32_t t = 1; t <= IPC_TYPE_MAX; t++) {
		if (ipc_type_len(t) == (size_t)-1 || t == IPC_SPAWN || t == IPC_SPAWN_INPUT)
			continue;
		memset(&b, 0, sizeof b);
		switch (t) {
		case IPC_SNAP_CREATE:
			b.snap_create = (struct ipc_snap_create){.id = 7, .parent_id = 3, .active = 1};
			break;
		case IPC_SNAP_DROP:
			b.snap_drop = (struct ipc_snap_drop){.id = 7, .kind = SNAPDIR_LIVE};
			break;
		case IPC_SNAP_ENTRY:
			b.snap_entry = (struct ipc_snap_entry){.id = 7, .kind = SNAPDIR_RM};
			break;
		case IPC_OPEN_BLOB:
			memcpy(b.open_blob.hex, hex, 64);
			break;
		case IPC_INGEST_OPEN:
			memcpy(b.ingest.name, hex, 64);
			ipc_set_text(b.ingest.ref, "strata-diff-1");
			break;
		case IPC_INGEST_ABORT:
			memcpy(b.ingest.name, hex, 64);
			break;
		case IPC_PUBLISH:
			b.publish = (struct ipc_publish){.job_id = 9, .size = 4096};
			memcpy(b.publish.name, hex, 64);
			memcpy(b.publish.digest, hex, 64);
			break;
		case IPC_REPLY:
			ipc_set_text(b.reply.msg, "snapdir: `7`: exists");
			b.reply.errnum = EEXIST;
			break;
		case IPC_JOB_FAIL:
			ipc_set_text(b.job_fail.msg, "extract: `a/b`: not a directory");
			b.job_fail.code = ST_INVALID_ARGUMENT;
			break;
		case IPC_SPAWN_FAILED:
			ipc_set_text(b.spawn_failed.msg, "start worker: too many workers running");
			b.spawn_failed.job_id = 9;
			break;
		default:
			/* A job id, a size: the first word of every other body. */
			b.job_kill.job_id = ipc_type_len(t) >= sizeof(uint64_t) ? 9 : 0;
		}
		cleanup_free char *name = xasprintf("%s", ipc_type_name(t));
		for (char *p = name; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		ipc_seed(t, &b, 0, name);
	}
	spawn_seeds();
}

/* ---- archives: layers and OCI image archives ------------------------------------- */

struct tar_entry {
	const char *name;
	unsigned type;	  /* AE_IFREG, AE_IFDIR, AE_IFLNK; AE_IFREG with link: a hard link */
	const char *data; /* a file's bytes, or a link's target */
	const char *link; /* hard link target */
};

static la_ssize_t tar_write(struct archive *a, void *ctx, const void *data, size_t n)
{
	put(ctx, data, n);
	return (la_ssize_t)n;
}

/* A tar (format and filter as libarchive names them) of the entries into b,
 * with fixed owners and times so that the seeds are the same every time. */
static void put_tar(struct buf *b, const char *format, const char *filter, const struct tar_entry *ents,
		    size_t n)
{
	struct archive *a = archive_write_new();
	if (archive_write_set_format_by_name(a, format) != ARCHIVE_OK ||
	    (filter && archive_write_add_filter_by_name(a, filter) != ARCHIVE_OK) ||
	    (filter && !strcmp(filter, "gzip") &&
	     archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK) ||
	    archive_write_set_bytes_per_block(a, 512) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open(a, b, NULL, tar_write, NULL) != ARCHIVE_OK)
		die("archive %s %s: %s", format, filter ? filter : "", archive_error_string(a));
	for (size_t i = 0; i < n; i++) {
		const struct tar_entry *t = &ents[i];
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, t->name);
		archive_entry_set_filetype(e, t->type);
		archive_entry_set_perm(e, t->type == AE_IFDIR ? 0755 : 0644);
		archive_entry_set_mtime(e, 1700000000, 0);
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
		size_t len = t->type == AE_IFREG && t->data && !t->link ? strlen(t->data) : 0;
		if (t->type == AE_IFLNK)
			archive_entry_set_symlink(e, t->data);
		if (t->link)
			archive_entry_set_hardlink(e, t->link);
		archive_entry_set_size(e, (la_int64_t)len);
		if (archive_write_header(a, e) != ARCHIVE_OK ||
		    (len && archive_write_data(a, t->data, len) != (la_ssize_t)len))
			die("archive `%s`: %s", t->name, archive_error_string(a));
		archive_entry_free(e);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		die("archive: %s", archive_error_string(a));
	archive_write_free(a);
}

/* fuzz_extract: a layer with a directory, a file, a symlink, a hard link
 * and whiteouts (a file's and an opaque directory's). */
static void extract_seeds(void)
{
	static const struct tar_entry layer[] = {
	    {"d/", AE_IFDIR, NULL, NULL},	    {"d/e/", AE_IFDIR, NULL, NULL},
	    {"d/f", AE_IFREG, "hi\n", NULL},	    {"d/l", AE_IFLNK, "f", NULL},
	    {"d/h", AE_IFREG, NULL, "d/f"},	    {"d/e/.wh.x", AE_IFREG, "", NULL},
	    {"d/.wh..wh..opq", AE_IFREG, "", NULL},
	};
	struct buf b = {0};
	put_tar(&b, "ustar", NULL, layer, ARRAY_SIZE(layer));
	seed("extract", "plain.tar", &b);
	put_tar(&b, "pax", "gzip", layer, ARRAY_SIZE(layer));
	seed("extract", "pax.tgz", &b);
	put_tar(&b, "gnutar", "zstd", layer, ARRAY_SIZE(layer));
	seed("extract", "gnu.tzst", &b);
}

static char *digest_of(const char *s)
{
	unsigned char md[32];
	char d[DIGEST_LEN + 1];
	sha256(s, strlen(s), md);
	digest_format(d, md);
	return xstrdup(d);
}

#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX    "application/vnd.oci.image.index.v1+json"
#define MT_CONFIG   "application/vnd.oci.image.config.v1+json"
#define MT_LAYER    "application/vnd.oci.image.layer.v1.tar"

/* fuzz_oci.  Documents: "@j" and "#j" name document j's digest and size.
 * Raw: an archive as `ctr images export` writes one, with real digests. */
static void oci_seeds(void)
{
	static const char config_fmt[] =
	    "{\"architecture\":\"%s\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":"
	    "[\"sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef\"]}}";
	static const char manifest_fmt[] =
	    "{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\","
	    "\"config\":{\"mediaType\":\"" MT_CONFIG "\",\"digest\":\"%s\",\"size\":%s},"
	    "\"layers\":[{\"mediaType\":\"" MT_LAYER "\",\"digest\":\"%s\",\"size\":%s}]}";
	static const char index_fmt[] =
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{\"mediaType\":"
	    "\"%s\",\"digest\":\"%s\",\"size\":%s%s}]}";
	static const char platform[] = ",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}";
	static const char layer[] = "layer bytes";
	struct buf b = {0};

	/* index.json -> manifest -> config and layer */
	cleanup_free char *config = xasprintf(config_fmt, "amd64");
	cleanup_free char *manifest = xasprintf(manifest_fmt, "@2", "#2", "@3", "#3");
	cleanup_free char *index = xasprintf(index_fmt, MT_INDEX, MT_MANIFEST, "@1", "#1", platform);
	put_byte(&b, 0);
	put(&b, index, strlen(index) + 1);
	put(&b, manifest, strlen(manifest) + 1);
	put(&b, config, strlen(config) + 1);
	put_str(&b, layer);
	seed("oci", "manifest", &b);

	/* index.json -> image index -> manifest -> config, arm64, gzip */
	cleanup_free char *nested = xasprintf(index_fmt, MT_INDEX, MT_INDEX, "@1", "#1", "");
	cleanup_free char *inner = xasprintf(index_fmt, MT_INDEX, MT_MANIFEST, "@2", "#2",
					     ",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}");
	cleanup_free char *manifest2 = xasprintf(manifest_fmt, "@3", "#3", "@3", "#3");
	cleanup_free char *config2 = xasprintf(config_fmt, "arm64");
	put_byte(&b, 2 | 8);
	put(&b, nested, strlen(nested) + 1);
	put(&b, inner, strlen(inner) + 1);
	put(&b, manifest2, strlen(manifest2) + 1);
	put_str(&b, config2);
	seed("oci", "nested-index", &b);

	/* raw: the first image with its real digests and sizes */
	cleanup_free char *dl = digest_of(layer), *dc = digest_of(config);
	cleanup_free char *sl = xasprintf("%zu", strlen(layer)), *sc = xasprintf("%zu", strlen(config));
	cleanup_free char *man = xasprintf(manifest_fmt, dc, sc, dl, sl);
	cleanup_free char *dm = digest_of(man), *sm = xasprintf("%zu", strlen(man));
	cleanup_free char *idx = xasprintf(index_fmt, MT_INDEX, MT_MANIFEST, dm, sm, platform);
	cleanup_free char *nl = xasprintf("blobs/sha256/%s", dl + 7),
			  *nc = xasprintf("blobs/sha256/%s", dc + 7);
	cleanup_free char *nm = xasprintf("blobs/sha256/%s", dm + 7);
	const struct tar_entry ents[] = {
	    {"oci-layout", AE_IFREG, "{\"imageLayoutVersion\":\"1.0.0\"}", NULL},
	    {"index.json", AE_IFREG, idx, NULL},
	    {"blobs/", AE_IFDIR, NULL, NULL},
	    {"blobs/sha256/", AE_IFDIR, NULL, NULL},
	    {nm, AE_IFREG, man, NULL},
	    {nc, AE_IFREG, config, NULL},
	    {nl, AE_IFREG, layer, NULL},
	};
	put_byte(&b, 1);
	put_tar(&b, "paxr", NULL, ents, ARRAY_SIZE(ents));
	seed("oci", "archive.tar", &b);
}

/* ---- text: configuration, policies, filters, mount tables ------------------------- */

static void text_seeds(void)
{
	/* Every setting at its default, under [strata]. */
	struct buf b = {0};
	put_str(&b, "[strata]\n");
	for (size_t k = 0; k < config_nsettings; k++) {
		cleanup_free char *line =
		    xasprintf("%s = %s\n", config_settings[k].key, config_settings[k].def);
		put_str(&b, line);
	}
	seed("config", "defaults", &b);
	seed_text("config", "top-level",
		  "; flags win over this file\nroot = /srv/strata\nmax_jobs = 2\n"
		  "log_level = debug\nseccomp_log = yes\ncontent_root =\n");

	for (const struct policy_text *t = policy_texts; t->name; t++)
		seed_text("policy", t->name, "%s", t->text);

	seed_text("filter", "one", "kind==committed,labels.\"containerd.io/gc.root\"");
	/* Two filter strings: either matches. */
	put_str(&b, "name~=^k8s\\.io/[0-9]+/");
	put_byte(&b, 0);
	put_str(&b, "parent!=\"\",labels.a.b==c");
	seed("filter", "any-of", &b);
	seed_text("filter", "quoted", "labels.\"a\\x2eb\"==/c\\u00e9/,\"name\"");

	seed_text("mountinfo", "table",
		  "22 1 0:21 / / rw,relatime shared:1 - overlay overlay rw,lowerdir=/l,upperdir=/u\n"
		  "30 22 0:25 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
		  "41 22 8:1 /var/lib/strata/snapshots/3/fs /mnt/a\\040b rw - ext4 /dev/sda1 rw\n"
		  "42 41 0:40 / /mnt/a\\040b/c\\134d rw - overlay overlay rw\n");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	request_seeds();
	ipc_seeds();
	extract_seeds();
	oci_seeds();
	text_seeds();
	return 0;
}
