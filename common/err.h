/* Error objects: a fallible function takes `struct err *e` last, fills it and
 * returns -1 (or NULL).  The message names the operation and the object in
 * backticks; the code is the gRPC status the broker answers with. */
#ifndef STRATA_ERR_H
#define STRATA_ERR_H

#include "status.h"

#define ERR_MSG_MAX 480

struct err {
	int code; /* enum status_code */
	char msg[ERR_MSG_MAX];
};

/* Sets *e (when e is not NULL) and returns -1. */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like err_set, appending ": strerror(errnum)"; the code is derived from
 * errnum (ENOENT -> NotFound, EEXIST -> AlreadyExists, ...) unless code != 0;
 * ENOSPC and EDQUOT are always ResourceExhausted. */
int err_errno(struct err *e, int code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prefixes an existing message with more context, keeping its code. */
int err_wrap(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int status_from_errno(int errnum);
/* The inverse, for errors that cross the ipc as errno values. */
int errno_from_status(int code);

#endif
