/* The parent's check of a request from the broker on ctl (IPC_CH_PARENT):
 * every field of its body, as far as the body alone decides.  The broker
 * is untrusted here; anything this refuses is a protocol violation and ends
 * the broker.  What needs the parent's state (READY only once, INGEST_ABORT
 * only of an ingest strata created) stays with parent.c. */
#ifndef STRATA_CTLCHECK_H
#define STRATA_CTLCHECK_H

#include "../proto/ipc.h"

/* NULL when the body of m (a type ipc_recv admitted at IPC_CH_PARENT) is
 * one the parent may serve, else what is wrong with it. */
const char *ctl_check(const struct ipc_msg *m);

#endif
