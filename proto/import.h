/* The records the import parser (client/import_parser.c) sends to the
 * `strata import` CLI that forked it, on a SOCK_SEQPACKET socketpair: one
 * fixed struct per record, its type first.  Records go one way only, parser
 * -> CLI; the parser gets everything it needs (the archive, what to look
 * for, the pipe a blob goes into) when it is forked.
 *
 * The parser has read an untrusted archive with libarchive and the JSON
 * reader, so the CLI (often root) treats every record as hostile: the
 * length must be exactly its type's, text fields must be NUL-terminated
 * inside the field, digests must be valid sha256 digests and media types
 * ones strata unpacks, layer records come in order and as many as the
 * image record announced; anything else ends the parser (SIGKILL) and fails
 * the import.  No record carries fds: the parser's policy has no sendmsg.
 *
 * Image job (`import_link.c: import_read_image`): IMPORT_IMAGE, then
 * nlayers IMPORT_LAYER, then end of stream; or IMPORT_FAIL.
 * Blob job (`import_blob_start`): the blob's bytes into the pipe, then
 * IMPORT_BLOB; or IMPORT_FAIL. */
#ifndef STRATA_PROTO_IMPORT_H
#define STRATA_PROTO_IMPORT_H

#include <stdint.h>

#define IMPORT_TEXT_MAX	  480 /* error text, NUL-terminated (ERR_MSG_MAX) */
#define IMPORT_DIGEST_MAX 72  /* "sha256:" + 64 hex digits + NUL (OCI_DIGEST_LEN) */
#define IMPORT_MEDIA_MAX  128 /* a layer media type and its NUL */
/* More layers than any image has (overlay stacks far fewer): bounds what a
 * parser can make the CLI allocate. */
#define IMPORT_MAX_LAYERS 4096

enum import_type {
	/* The manifest chosen for the platform.  Safe: digests are checked,
	 * the platform strings only printed; nlayers is bounded. */
	IMPORT_IMAGE = 1,
	/* Layer `index` of the image, bottom first.  Safe: digest and diff ID
	 * are checked, the media type must be one the daemon's apply knows; the
	 * daemon verifies the blob's digest as it reads it and the CLI compares
	 * the diff ID the daemon computed, so a parser that lies can only make
	 * the import fail (what the archive's author could do anyway). */
	IMPORT_LAYER = 2,
	/* The blob was written whole into the pipe and the pipe closed.  Safe:
	 * a number, compared with the size the CLI expects. */
	IMPORT_BLOB = 3,
	/* The job failed: a status code (checked to be one) and a message,
	 * printed through the CLI's escaping like any text from an archive. */
	IMPORT_FAIL = 4,
};

struct import_image {
	uint32_t type; /* IMPORT_IMAGE */
	uint32_t nlayers;
	char manifest_digest[IMPORT_DIGEST_MAX];
	char config_digest[IMPORT_DIGEST_MAX];
	char os[32], arch[32], variant[32]; /* the config's platform */
};

struct import_layer {
	uint32_t type; /* IMPORT_LAYER */
	uint32_t index;
	int64_t size;
	char digest[IMPORT_DIGEST_MAX];
	char diff_id[IMPORT_DIGEST_MAX];
	char media_type[IMPORT_MEDIA_MAX];
};

struct import_blob {
	uint32_t type; /* IMPORT_BLOB */
	uint32_t pad;
	int64_t bytes;
};

struct import_fail {
	uint32_t type; /* IMPORT_FAIL */
	int32_t code;  /* enum status_code */
	/* 1: the archive is at fault (unreadable, truncated, malformed); 0:
	 * writing the blob into the pipe failed, which only follows from the
	 * daemon's own error. */
	uint32_t archive_fault;
	uint32_t pad;
	char msg[IMPORT_TEXT_MAX];
};

union import_record {
	uint32_t type;
	struct import_image image;
	struct import_layer layer;
	struct import_blob blob;
	struct import_fail fail;
};

#endif
