#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *status_name(int code)
{
	static const char *names[] = {
	    "OK",	"Canceled",	 "Unknown",	     "InvalidArgument",	  "DeadlineExceeded",
	    "NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
	    "Aborted",	"OutOfRange",	 "Unimplemented",    "Internal",	  "Unavailable",
	};
	if (code < 0 || code >= (int)(sizeof names / sizeof names[0]))
		return "Unknown";
	return names[code];
}

int status_from_errno(int errnum)
{
	switch (errnum) {
	case ENOENT:
		return ST_NOT_FOUND;
	case EEXIST:
		return ST_ALREADY_EXISTS;
	case EINVAL:
	case ENAMETOOLONG:
		return ST_INVALID_ARGUMENT;
	case EPERM:
	case EACCES:
		return ST_PERMISSION_DENIED;
	case ENOSPC:
	case EDQUOT:
	case ENOMEM:
	case EMFILE:
	case ENFILE:
		return ST_RESOURCE_EXHAUSTED;
	case ENOTEMPTY:
	case EBUSY:
		return ST_FAILED_PRECONDITION;
	case ENOSYS:
	case EOPNOTSUPP:
		return ST_UNIMPLEMENTED;
	case EAGAIN:
		return ST_UNAVAILABLE;
	default:
		return ST_INTERNAL;
	}
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->code = code;
	return -1;
}

int err_errno(struct err *e, int code, int errnum, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof e->msg)
		snprintf(e->msg + n, sizeof e->msg - (size_t)n, ": %s", strerror(errnum));
	e->code = code ? code : status_from_errno(errnum);
	/* A full file system is never the caller's bug, whatever else the
	 * caller would call a failure there: a client retries it later. */
	if (errnum == ENOSPC || errnum == EDQUOT)
		e->code = ST_RESOURCE_EXHAUSTED;
	return -1;
}

int err_wrap(struct err *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	char prefix[ERR_MSG_MAX], old[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	/* Truncation is fine: the front of the message says the most. */
	int n = snprintf(e->msg, sizeof e->msg, "%.200s: ", prefix);
	if (n > 0 && (size_t)n < sizeof e->msg)
		snprintf(e->msg + n, sizeof e->msg - (size_t)n, "%.*s", (int)(sizeof e->msg - (size_t)n - 1),
			 old);
	return -1;
}

int errno_from_status(int code)
{
	switch (code) {
	case ST_NOT_FOUND:
		return ENOENT;
	case ST_ALREADY_EXISTS:
		return EEXIST;
	case ST_INVALID_ARGUMENT:
		return EINVAL;
	case ST_PERMISSION_DENIED:
		return EACCES;
	case ST_RESOURCE_EXHAUSTED:
		return ENOSPC;
	case ST_FAILED_PRECONDITION:
		return ENOTEMPTY;
	case ST_UNIMPLEMENTED:
		return ENOSYS;
	case ST_UNAVAILABLE:
		return EAGAIN;
	default:
		return EIO;
	}
}
