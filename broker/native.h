/* The native socket server (proto/native.h): SOCK_SEQPACKET, one record per
 * message, fds with SCM_RIGHTS, caller identified by SO_PEERCRED. */
#ifndef STRATA_NATIVE_SERVER_H
#define STRATA_NATIVE_SERVER_H

#include <stdint.h>
#include "../common/err.h"

struct conn_limits;
/* Native records are read whole, so l->request_bytes is not used. */
int native_server_start(int listen_fd, const struct conn_limits *l, struct err *e);
void native_server_stop(void);

#endif
