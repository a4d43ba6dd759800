/* export KEY ARCHIVE: writes committed snapshot KEY and its ancestors as an
 * OCI image archive (the tar `strata import` and `ctr images import` read).
 *
 * The parent chain is walked with Stat; each snapshot's layer (gzip, against
 * its own parent) is written by the daemon's diff worker into an unlinked
 * temp file this CLI opened (NM_DIFF_LAYER, as `strata diff`), hashed here
 * and checked against the digest the daemon reports; then the config,
 * manifest and index are built and everything goes into ARCHIVE.tmp.XXXXXX,
 * renamed over ARCHIVE only when complete.  The bytes are deterministic:
 * compact JSON in a fixed key order, tar entries in a fixed order with
 * mtime 0 and numeric owner 0:0, so exporting the same chain twice gives
 * the same archive and the same manifest digest. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "oci_archive.h"
#include "../common/layer.h"
#include "../common/sha256.h"
#include "../common/sort.h"
#include "../common/tar_header.h"
#include "../common/util.h"

typedef Containerd__Services__Snapshots__V1__StatSnapshotRequest stat_req;
typedef Containerd__Services__Snapshots__V1__StatSnapshotResponse stat_resp;
typedef Strata__V1__DiffLayerRequest diff_req;
typedef Strata__V1__DiffLayerResponse diff_resp;

#define MEDIA_LAYER    "application/vnd.oci.image.layer.v1.tar+gzip"
#define MEDIA_CONFIG   "application/vnd.oci.image.config.v1+json"
#define MEDIA_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_INDEX    "application/vnd.oci.image.index.v1+json"

/* A parent chain longer than this is a loop (or not worth an image). */
#define MAX_CHAIN 1024
#define COPY_BUF  65536

struct export_layer {
	char *name; /* the snapshot */
	int fd;	    /* unlinked temp file holding the compressed layer */
	char digest[OCI_DIGEST_LEN], diff_id[OCI_DIGEST_LEN];
	int64_t size;
};

/* A JSON document and its digest. */
struct export_doc {
	char *data;
	size_t len;
	char digest[OCI_DIGEST_LEN];
};

struct export
{
	struct export_layer *layers; /* root first */
	size_t n;
	struct export_doc config, manifest, index;
	const char *name; /* --name: the image reference, or NULL */
};

static void doc_digest(struct export_doc *d)
{
	unsigned char md[32];
	sha256(d->data, d->len, md);
	digest_format(d->digest, md);
}

/* The sha256 and size of the whole of fd (from offset 0). */
static int fd_digest(int fd, char out[OCI_DIGEST_LEN], int64_t *size, struct err *e)
{
	unsigned char buf[COPY_BUF], md[32];
	struct sha256_ctx ctx;
	int64_t total = 0;
	sha256_init(&ctx);
	for (;;) {
		ssize_t r = pread(fd, buf, sizeof buf, total);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_errno(e, 0, errno, "read the layer's temp file");
		if (r == 0)
			break;
		sha256_update(&ctx, buf, (size_t)r);
		total += r;
	}
	sha256_final(&ctx, md);
	digest_format(out, md);
	*size = total;
	return 0;
}

/* KEY's Info: its parent ("" at the root, copied) and kind. */
static int stat_snapshot(struct cli *cli, const char *key, char **parent, int *kind, struct err *e)
{
	stat_req req = CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
	ProtobufCMessage *out;
	req.snapshotter = CLI_SNAPSHOTTER;
	req.key = (char *)key;
	if (cli_unary(cli, NM_STAT, &req.base,
		      &containerd__services__snapshots__v1__stat_snapshot_response__descriptor, &out,
		      e) < 0) {
		if (out)
			protobuf_c_message_free_unpacked(out, NULL);
		return err_wrap(e, "stat `%s`", key);
	}
	const snap_info_msg *i = out ? ((stat_resp *)out)->info : NULL;
	if (!i) {
		if (out)
			protobuf_c_message_free_unpacked(out, NULL);
		return err_set(e, ST_INTERNAL, "the daemon sent no info for `%s`", key);
	}
	*parent = xstrdup(i->parent ? i->parent : "");
	*kind = i->kind;
	protobuf_c_message_free_unpacked(out, NULL);
	return 0;
}

/* Fills ex->layers with KEY and its ancestors, root first. */
static int walk_chain(struct cli *cli, const char *key, struct export *ex, struct err *e)
{
	char *name = xstrdup(key);
	ex->layers = xmalloc(MAX_CHAIN * sizeof *ex->layers);
	while (*name) {
		char *parent = NULL;
		int kind = 0;
		if (ex->n == MAX_CHAIN) {
			free(name);
			return err_set(e, ST_FAILED_PRECONDITION,
				       "the parent chain of `%s` is longer than %d", key, MAX_CHAIN);
		}
		if (stat_snapshot(cli, name, &parent, &kind, e) < 0) {
			free(name);
			return -1;
		}
		if (kind != CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__COMMITTED) {
			free(parent);
			err_set(e, ST_FAILED_PRECONDITION, "`%s` is %s, not committed", name,
				kind_name(kind));
			free(name);
			return -1;
		}
		ex->layers[ex->n++] = (struct export_layer){.name = name, .fd = -1};
		name = parent;
	}
	free(name);
	for (size_t i = 0; i < ex->n / 2; i++) { /* root first */
		struct export_layer t = ex->layers[i];
		ex->layers[i] = ex->layers[ex->n - 1 - i];
		ex->layers[ex->n - 1 - i] = t;
	}
	return 0;
}

/* An unlinked file in $TMPDIR (else /tmp): nothing to clean up on failure. */
static int temp_file(struct err *e)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	if (!dir || !*dir)
		dir = "/tmp";
	if ((size_t)snprintf(path, sizeof path, "%s/strata-export.XXXXXX", dir) >= sizeof path)
		return err_set(e, ST_INVALID_ARGUMENT, "TMPDIR `%s` is too long", dir);
	int fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, 0, errno, "create a temp file in `%s`", dir);
	unlink(path);
	return fd;
}

struct diff_result {
	diff_resp *done;
};

static int on_record(const ProtobufCMessage *msg, struct client_record *r, void *ctx, struct err *e)
{
	struct diff_result *res = ctx;
	if (!((const diff_resp *)msg)->done || res->done)
		return 0; /* progress */
	/* client_call() frees msg after we return: unpack our own copy. */
	res->done = (diff_resp *)protobuf_c_message_unpack(&strata__v1__diff_layer_response__descriptor, NULL,
							   r->len, r->payload);
	if (!res->done)
		return err_set(e, ST_INTERNAL, "cannot decode `DiffLayerResponse` from the daemon");
	return 0;
}

/* Has the daemon write l's layer into a temp file, then checks that the
 * file's digest and size are what it reports. */
static int diff_layer(struct cli *cli, struct export_layer *l, struct err *e)
{
	diff_req req = STRATA__V1__DIFF_LAYER_REQUEST__INIT;
	struct diff_result res = {NULL};
	req.key = l->name;
	req.parent = "";
	req.media_type = MEDIA_LAYER;
	if ((l->fd = temp_file(e)) < 0)
		return -1;
	if (cli_connect(cli, e) < 0 ||
	    client_call(&cli->conn, NM_DIFF_LAYER, &req.base, &l->fd, 1,
			&strata__v1__diff_layer_response__descriptor, on_record, &res, e) < 0)
		goto fail;
	if (!res.done) {
		err_set(e, ST_INTERNAL, "the diff of `%s` ended without a result", l->name);
		goto fail;
	}
	if (!digest_valid(res.done->digest) || !digest_valid(res.done->diff_id)) {
		err_set(e, ST_INTERNAL, "the daemon sent a malformed digest for `%s`", l->name);
		goto fail;
	}
	snprintf(l->diff_id, sizeof l->diff_id, "%s", res.done->diff_id);
	if (fd_digest(l->fd, l->digest, &l->size, e) < 0)
		goto fail;
	if (strcmp(l->digest, res.done->digest) != 0 || l->size != res.done->size) {
		err_set(e, ST_INTERNAL,
			"the layer of `%s` is %s (%lld bytes) but the daemon reported %s (%lld)", l->name,
			l->digest, (long long)l->size, res.done->digest, (long long)res.done->size);
		goto fail;
	}
	protobuf_c_message_free_unpacked(&res.done->base, NULL);
	return 0;
fail:
	if (res.done)
		protobuf_c_message_free_unpacked(&res.done->base, NULL);
	return err_wrap(e, "diff `%s`", l->name);
}

static void jw_descriptor(struct jw *w, const char *key, const char *media, const char *digest, int64_t size)
{
	jw_obj_begin(w, key);
	jw_str(w, "mediaType", media);
	jw_str(w, "digest", digest);
	jw_int(w, "size", size);
}

/* The tag of a reference (`latest` of `docker.io/library/busybox:latest`),
 * or the reference itself when it has none (a digest reference included). */
static const char *oci_ref_tag(const char *ref)
{
	const char *slash = strrchr(ref, '/'), *colon = strrchr(ref, ':');
	if (strchr(ref, '@') || !colon || (slash && colon < slash))
		return ref;
	return colon + 1;
}

/* Builds config, manifest and index (compact JSON, fixed key order). */
static void build_docs(struct export *ex)
{
	struct oci_platform p;
	struct jw w;
	FILE *f;
	oci_default_platform(&p);

	f = open_memstream(&ex->config.data, &ex->config.len);
	jw_init(&w, f);
	jw_obj_begin(&w, NULL);
	jw_str(&w, "architecture", p.arch);
	jw_str(&w, "os", p.os);
	jw_obj_begin(&w, "rootfs");
	jw_str(&w, "type", "layers");
	jw_arr_begin(&w, "diff_ids");
	for (size_t i = 0; i < ex->n; i++)
		jw_str(&w, NULL, ex->layers[i].diff_id);
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_obj_begin(&w, "config");
	jw_obj_end(&w);
	jw_obj_end(&w);
	jw_finish(&w);
	fclose(f);
	doc_digest(&ex->config);

	f = open_memstream(&ex->manifest.data, &ex->manifest.len);
	jw_init(&w, f);
	jw_obj_begin(&w, NULL);
	jw_int(&w, "schemaVersion", 2);
	jw_str(&w, "mediaType", MEDIA_MANIFEST);
	jw_descriptor(&w, "config", MEDIA_CONFIG, ex->config.digest, (int64_t)ex->config.len);
	jw_obj_end(&w);
	jw_arr_begin(&w, "layers");
	for (size_t i = 0; i < ex->n; i++) {
		jw_descriptor(&w, NULL, MEDIA_LAYER, ex->layers[i].digest, ex->layers[i].size);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_finish(&w);
	fclose(f);
	doc_digest(&ex->manifest);

	f = open_memstream(&ex->index.data, &ex->index.len);
	jw_init(&w, f);
	jw_obj_begin(&w, NULL);
	jw_int(&w, "schemaVersion", 2);
	jw_str(&w, "mediaType", MEDIA_INDEX);
	jw_arr_begin(&w, "manifests");
	jw_descriptor(&w, NULL, MEDIA_MANIFEST, ex->manifest.digest, (int64_t)ex->manifest.len);
	if (ex->name) {
		/* What `ctr images import` and `strata import` name the image by:
		 * containerd's own annotation (the full reference) and the OCI
		 * one (the tag), as containerd's exporter writes them. */
		jw_obj_begin(&w, "annotations");
		jw_str(&w, "io.containerd.image.name", ex->name);
		jw_str(&w, "org.opencontainers.image.ref.name", oci_ref_tag(ex->name));
		jw_obj_end(&w);
	}
	jw_obj_begin(&w, "platform");
	jw_str(&w, "architecture", p.arch);
	jw_str(&w, "os", p.os);
	jw_obj_end(&w);
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_finish(&w);
	fclose(f);
}

/* The archive's file while it is written (its temp name, for errors). */
struct tarout {
	int fd;
	const char *tmp;
};

static int out(struct tarout *o, const void *buf, size_t len, struct err *e)
{
	if (write_all(o->fd, buf, len) < 0)
		return err_errno(e, 0, errno, "write `%s`", o->tmp);
	return 0;
}

/* Zeros up to the next block boundary after len bytes of data. */
static int pad(struct tarout *o, uint64_t len, struct err *e)
{
	static const char zeros[TAR_BLOCK];
	return out(o, zeros, (TAR_BLOCK - len % TAR_BLOCK) % TAR_BLOCK, e);
}

/* One tar entry with fixed metadata: mtime 0, owner 0:0, no names (a
 * blob of 8 GiB or more has its size in a PAX record). */
static int entry_begin(struct tarout *o, const char *path, int dir, int64_t size, struct err *e)
{
	struct tar_hdr x = {.name = path,
			    .type = dir ? '5' : '0',
			    .mode = dir ? 0755 : 0644,
			    .size = dir ? 0 : (uint64_t)size};
	char h[3 * TAR_BLOCK]; /* this file's names fit ustar's fields: only a size record */
	size_t n = tar_entry_headers(h, sizeof h, &x);
	if (n > sizeof h)
		return err_set(e, ST_INTERNAL, "`%s`: a name too long for the archive", path);
	return out(o, h, n, e);
}

static int add_doc(struct tarout *o, const char *path, const char *data, size_t len, struct err *e)
{
	if (entry_begin(o, path, 0, (int64_t)len, e) < 0 || out(o, data, len, e) < 0)
		return -1;
	return pad(o, len, e);
}

static void blob_path(char *buf, size_t len, const char *digest)
{
	snprintf(buf, len, "blobs/sha256/%s", digest + 7);
}

static int add_layer(struct tarout *o, const struct export_layer *l, struct err *e)
{
	static unsigned char buf[COPY_BUF];
	char path[128];
	int64_t off = 0;
	blob_path(path, sizeof path, l->digest);
	if (entry_begin(o, path, 0, l->size, e) < 0)
		return -1;
	while (off < l->size) {
		size_t want = l->size - off < (int64_t)sizeof buf ? (size_t)(l->size - off) : sizeof buf;
		ssize_t r = pread(l->fd, buf, want, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? err_errno(e, 0, errno, "read the layer of `%s`", l->name)
				     : err_set(e, ST_INTERNAL, "the layer of `%s` shrank", l->name);
		if (out(o, buf, (size_t)r, e) < 0)
			return -1;
		off += r;
	}
	return pad(o, (uint64_t)l->size, e);
}

static int by_digest(const void *x, const void *y)
{
	return strcmp(((const struct export_layer *)x)->digest, ((const struct export_layer *)y)->digest);
}

/* The entries: oci-layout, index.json, the directories, then the blobs
 * sorted by digest (a layer appearing twice is stored once). */
static int write_entries(struct tarout *o, const struct export *ex, struct err *e)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	char path[128];
	if (add_doc(o, "oci-layout", layout, sizeof layout - 1, e) < 0 ||
	    add_doc(o, "index.json", ex->index.data, ex->index.len, e) < 0 ||
	    entry_begin(o, "blobs/", 1, 0, e) < 0 || entry_begin(o, "blobs/sha256/", 1, 0, e) < 0)
		return -1;
	struct {
		const char *digest;
		const struct export_doc *doc;
		const struct export_layer *layer;
	} blobs[MAX_CHAIN + 2];
	struct export_layer *sorted = xmalloc(ex->n * sizeof *sorted);
	memcpy(sorted, ex->layers, ex->n * sizeof *sorted);
	sort_array(sorted, ex->n, sizeof *sorted, by_digest);
	size_t nb = 0, li = 0;
	const struct export_doc *docs[2] = {&ex->config, &ex->manifest};
	if (strcmp(docs[0]->digest, docs[1]->digest) > 0) {
		docs[0] = &ex->manifest;
		docs[1] = &ex->config;
	}
	/* merge the two sorted lists */
	for (size_t di = 0; di < 2 || li < ex->n;) {
		if (li < ex->n && (di == 2 || strcmp(sorted[li].digest, docs[di]->digest) < 0)) {
			if (!nb || strcmp(blobs[nb - 1].digest, sorted[li].digest) != 0)
				blobs[nb++] = (typeof(blobs[0])){sorted[li].digest, NULL, &sorted[li]};
			li++;
		} else {
			blobs[nb++] = (typeof(blobs[0])){docs[di]->digest, docs[di], NULL};
			di++;
		}
	}
	int r = 0;
	for (size_t i = 0; i < nb && r == 0; i++) {
		blob_path(path, sizeof path, blobs[i].digest);
		r = blobs[i].doc ? add_doc(o, path, blobs[i].doc->data, blobs[i].doc->len, e)
				 : add_layer(o, blobs[i].layer, e);
	}
	free(sorted);
	return r;
}

/* Writes the archive into a temp file next to path, renamed over it when
 * complete: a failed export leaves no partial archive behind. */
static int write_archive(const struct export *ex, const char *path, struct err *e)
{
	size_t n = strlen(path) + sizeof ".tmp.XXXXXX";
	cleanup_free char *tmp = xmalloc(n);
	snprintf(tmp, n, "%s.tmp.XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, 0, errno, "create `%s`", tmp);
	fchmod(fd, 0644);
	struct tarout o = {.fd = fd, .tmp = tmp};
	static const char end[2 * TAR_BLOCK]; /* the end: two zero blocks, as Go's tar.Writer */
	int r = -1;
	if (write_entries(&o, ex, e) == 0 && out(&o, end, sizeof end, e) == 0) {
		if (fsync(fd) < 0)
			err_errno(e, 0, errno, "sync `%s`", tmp);
		else if (rename(tmp, path) < 0)
			err_errno(e, 0, errno, "rename `%s` to `%s`", tmp, path);
		else
			r = 0;
	}
	close(fd);
	if (r < 0)
		unlink(tmp);
	return r;
}

static void export_free(struct export *ex)
{
	for (size_t i = 0; i < ex->n; i++) {
		free(ex->layers[i].name);
		if (ex->layers[i].fd >= 0)
			close(ex->layers[i].fd);
	}
	free(ex->layers);
	free(ex->config.data);
	free(ex->manifest.data);
	free(ex->index.data);
}

static int export(struct cli *cli, const char *key, const char *path, const char *name)
{
	struct export ex = {.name = name};
	struct err e;
	int rc = CLI_OK;
	if (walk_chain(cli, key, &ex, &e) < 0) {
		rc = cli_fail(cli, key, &e);
		goto out;
	}
	for (size_t i = 0; i < ex.n; i++)
		if (diff_layer(cli, &ex.layers[i], &e) < 0) {
			rc = cli_fail(cli, key, &e);
			goto out;
		}
	build_docs(&ex);
	if (write_archive(&ex, path, &e) < 0) {
		rc = cli_fail(cli, path, &e);
		goto out;
	}
	if (cli->json) {
		struct jw w;
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_str(&w, "manifest", ex.manifest.digest);
		jw_str(&w, "config", ex.config.digest);
		jw_arr_begin(&w, "layers");
		for (size_t i = 0; i < ex.n; i++) {
			jw_obj_begin(&w, NULL);
			jw_str(&w, "snapshot", ex.layers[i].name);
			jw_str(&w, "digest", ex.layers[i].digest);
			jw_str(&w, "diff_id", ex.layers[i].diff_id);
			jw_int(&w, "size", ex.layers[i].size);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
		jw_obj_end(&w);
		jw_finish(&w);
	} else {
		printf("%s\n", ex.manifest.digest);
	}
out:
	export_free(&ex);
	return rc;
}

static int run_export(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc = cli_parse(cli, &cli_cmd_export, argc, argv, CLI_OPT_NAME, 2, 2, &a);
	if (rc == CLI_OK && !a.help) {
		if (!*a.pos[0] || !*a.pos[1])
			rc = cli_usage(cli, "KEY and ARCHIVE must not be empty");
		else
			rc = export(cli, a.pos[0], a.pos[1], a.name);
	}
	cli_args_free(&a);
	return rc;
}

const struct cli_cmd cli_cmd_export = {
    .name = "export",
    .synopsis = "KEY ARCHIVE [--name REF]",
    .summary = "write committed snapshot KEY and its parents as an OCI image archive",
    .help =
	"Each snapshot from the root up to KEY becomes one gzip layer (its changes\n"
	"against its parent, written by the daemon as `strata diff`).  ARCHIVE (a tar:\n"
	"oci-layout, index.json, blobs/sha256/...) is written to ARCHIVE.tmp.XXXXXX and\n"
	"renamed into place when complete.  The image config has this machine's\n"
	"architecture, os linux and the layers' diff IDs; mtimes are 0 and owners 0:0,\n"
	"so the same chain always gives the same bytes.  Layers are staged in $TMPDIR.\n"
	"--name REF: the image's name (io.containerd.image.name, and its tag as\n"
	"org.opencontainers.image.ref.name), which `ctr images import` needs to create\n"
	"an image.\n"
	"Prints the manifest digest.\n"
	"--json: {\"manifest\",\"config\",\"layers\":[{\"snapshot\",\"digest\",\"diff_id\",\"size\"}]}.\n",
    .run = run_export,
};
