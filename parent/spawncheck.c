#include "spawncheck.h"

#include "../common/hex.h"
#include "../proto/roles.h"
#include "idmap.h"

/* Each rule of the IPC_SPAWN_* flags that is about the flags themselves
 * (which role may carry which is the role table's). */
static const char *flags_invalid(const struct ipc_spawn *s)
{
	/* A read-write mount is of the snapshot's own upperdir. */
	if ((s->flags & IPC_SPAWN_MOUNT_RW) && !(s->flags & IPC_SPAWN_MOUNT_OWN))
		return "SPAWN with bad flags: MOUNT_RW without MOUNT_OWN";
	/* The in-use probe asks about the upperdir alone, never idmapped. */
	if ((s->flags & IPC_SPAWN_MOUNT_INUSE) &&
	    (!(s->flags & IPC_SPAWN_MOUNT_RW) || (s->flags & IPC_SPAWN_MOUNT_IDMAP) || s->nlower))
		return "SPAWN with bad flags: MOUNT_INUSE needs MOUNT_RW, no idmap and no lower layer";
	/* A layer whose lowers come at commit has none yet. */
	if ((s->flags & IPC_SPAWN_EXTRACT_REBASE) && s->nlower)
		return "SPAWN with bad flags: EXTRACT_REBASE with lower layers";
	/* A second diff attempt is one on the general path. */
	if ((s->flags & IPC_SPAWN_DIFF_RESTART) && !s->nleft)
		return "SPAWN with bad flags: DIFF_RESTART without a left tree";
	if ((s->flags & IPC_SPAWN_MOUNT_IDMAP) ? !idmap_valid(s) : (s->nuid_map || s->ngid_map))
		return "SPAWN with a bad id map";
	return NULL;
}

static const char *probe_invalid(const struct ipc_spawn *s, int enable_probe)
{
	if (s->role != ROLE_PROBE)
		return s->probe_role || s->probe_syscall || s->probe_hold_ms
			   ? "SPAWN with probe fields for a non-probe role"
			   : NULL;
	if (!enable_probe)
		return "SPAWN of a probe without enable_probe";
	const struct role_info *p = role_info((int)s->probe_role);
	if (!p || !p->probed)
		return "SPAWN of a probe for an unknown role";
	if (s->probe_syscall < -1 || s->probe_syscall > 4095 || s->probe_hold_ms > PROBE_MAX_HOLD_MS)
		return "SPAWN of a probe with a bad syscall or hold time";
	return NULL;
}

/* Extract reads lower layers for the metadata of parent directories a layer
 * does not carry; diff's general path reads two merged trees; mount builds
 * an overlay of them; remove deletes a batch (lower[] are the snapshots
 * after the target). */
static const char *lowers_invalid(const struct role_info *r, const struct ipc_spawn *s)
{
	if (s->nlower > IPC_MAX_LOWER)
		return "SPAWN with a bad target or lower count";
	if (s->nlower && r->lowers == LOWERS_NONE)
		return "SPAWN with lower layers for a role that takes none";
	if (r->lowers == LOWERS_TREES ? s->nleft > s->nlower || (s->nlower && !s->nleft) : s->nleft != 0)
		return "SPAWN with a bad left tree";
	/* The left tree may hold the target (a diff against the target's own
	 * child, or itself); the target's parents may not. */
	for (uint32_t i = 0; i < s->nlower; i++)
		if (s->lower[i] == 0 || (s->lower[i] == s->target && i < s->nlower - s->nleft))
			return "SPAWN with a bad lower layer";
	return NULL;
}

const char *spawn_check(uint32_t type, const struct ipc_spawn *s, int enable_probe)
{
	const struct role_info *r = role_info((int)s->role);
	const char *bad;
	if (s->job_id == 0)
		return "SPAWN with a zero or duplicate job id";
	if (!r || r->process != PROC_WORKER)
		return "SPAWN of an unknown role";
	if (s->target == 0)
		return "SPAWN with a bad target or lower count";
	if (s->pad)
		return "SPAWN with a bad left tree";
	if (s->flags & ~r->flags)
		return "SPAWN with bad flags for its role";
	if ((bad = flags_invalid(s)) || (bad = probe_invalid(s, enable_probe)) ||
	    (bad = lowers_invalid(r, s)))
		return bad;
	if ((type == IPC_SPAWN_INPUT) != (r->input != INPUT_NONE))
		return "SPAWN with an fd for a role that takes none, or without one";
	if (s->role != ROLE_DIFF && (s->diff_compression || s->diff_has_epoch || s->diff_epoch))
		return "SPAWN with diff options for another role";
	if (s->diff_compression > 2 || s->diff_has_epoch > 1)
		return "SPAWN with bad diff options";
	return NULL;
}

const char *publish_check(const struct ipc_publish *p)
{
	if (p->job_id == 0)
		return "PUBLISH with a zero or duplicate job id";
	if (!hex_sha256_valid(p->name) || !hex_sha256_valid(p->digest) || !ipc_zeroed(p->pad, sizeof p->pad))
		return "PUBLISH with a malformed name or digest";
	return NULL;
}
