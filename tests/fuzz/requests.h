/* What the broker makes of a request message before it reaches the
 * metadata, for the targets of the two front doors (fuzz_native.c,
 * fuzz_grpc.c): every label map through broker/convert.c and back out in
 * an Info as the broker answers, and a List's filters through
 * broker/filter.c. */
#ifndef STRATA_FUZZ_REQUESTS_H
#define STRATA_FUZZ_REQUESTS_H

#include <protobuf-c/protobuf-c.h>

void fuzz_request_convert(const ProtobufCMessage *req);

#endif
