/* The audit trail: one line for every call that changes something, and for
 * every call refused (PermissionDenied, ResourceExhausted), whatever it
 * was:
 *   audit: time=2026-12-05T01:02:03.456Z uid=1001 gid=1001 pid=4242
 *          tenant=ci method=Prepare key="base" parent="" code=OK msg=""
 * (one line; strings quoted, with \" \\ and \xNN for anything not
 * printable).  It goes to the log at info level and, with the setting
 * audit_log, to that file too (the parent opens it; the broker only
 * appends to the fd). */
#ifndef STRATA_AUDIT_H
#define STRATA_AUDIT_H

struct call;

/* fd: the audit file, or -1 for the log alone. */
void audit_init(int fd);
/* What the call is about, as the client named it (before its keys move to
 * the tenant's keyspace): field = value, appended for the line. */
void audit_arg(struct call *c, const char *field, const char *value);
/* The call ends with code and msg: its line, when it is one to keep. */
void audit_end(const struct call *c, int code, const char *msg);

#endif
