/* The native socket server (proto/native.h): SOCK_SEQPACKET, one record per
 * message, fds with SCM_RIGHTS, caller identified by SO_PEERCRED. */
#ifndef STRATA_NATIVE_SERVER_H
#define STRATA_NATIVE_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include "call.h"
#include "../common/err.h"
#include "../proto/native.h"

struct conn_limits;
/* Native records are read whole, so l->request_bytes is not used. */
int native_server_start(int listen_fd, const struct conn_limits *l, struct err *e);
void native_server_stop(void);

/* The request of one received record: header h and its n payload bytes,
 * with nfds fds (surplus: more than a record may carry).  Returns the
 * method, *req its unpacked request; or NULL and e the status the client
 * gets.  Touches nothing else, so a fuzzer reaches every rule
 * (tests/fuzz/fuzz_native.c). */
const struct method_desc *native_request_decode(const struct native_req *h, const unsigned char *payload,
						size_t n, size_t nfds, int surplus, ProtobufCMessage **req,
						struct err *e);

#endif
