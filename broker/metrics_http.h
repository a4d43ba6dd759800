/* HTTP `GET /metrics` on the metrics listening socket (broker/metrics_http.c). */
#ifndef STRATA_METRICS_HTTP_H
#define STRATA_METRICS_HTTP_H

#include "../common/err.h"

int metrics_http_start(int listen_fd, struct err *e);

#endif
