#include "ctlcheck.h"

#include <string.h>

#include "../common/hex.h"
#include "../proto/roles.h"

const char *ctl_check(const struct ipc_msg *m)
{
	const union ipc_body *b = &m->body;
	switch (m->type) {
	case IPC_SNAP_CREATE:
		if (b->snap_create.id == 0 || b->snap_create.active > 1 || b->snap_create.pad ||
		    b->snap_create.parent_id == b->snap_create.id)
			return "SNAP_CREATE with a bad id or flag";
		return NULL;
	case IPC_SNAP_DROP:
		if (b->snap_drop.id == 0 ||
		    (b->snap_drop.kind != SNAPDIR_LIVE && b->snap_drop.kind != SNAPDIR_NEW) ||
		    b->snap_drop.pad)
			return "SNAP_DROP with a bad id or kind";
		return NULL;
	case IPC_OPEN_BLOB:
		/* The name of a blob is built from the digest alone. */
		return hex_sha256_valid(b->open_blob.hex) ? NULL : "OPEN_BLOB with a malformed digest";
	case IPC_INGEST_OPEN:
	case IPC_INGEST_ABORT:
		/* The ref is only written into a file, as text; an abort has none. */
		if (!hex_sha256_valid(b->ingest.name) || !memchr(b->ingest.ref, '\0', sizeof b->ingest.ref) ||
		    !ipc_zeroed(b->ingest.pad, sizeof b->ingest.pad) ||
		    (m->type == IPC_INGEST_ABORT && b->ingest.ref[0]))
			return "INGEST with a malformed name or ref";
		return NULL;
	default:
		/* READY, SNAP_LIST and PING have no body. */
		return NULL;
	}
}
