/* All generated protocol headers in one place. */
#ifndef STRATA_PROTO_API_H
#define STRATA_PROTO_API_H

#include "github.com/containerd/containerd/api/services/diff/v1/diff.pb-c.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "github.com/containerd/containerd/api/types/descriptor.pb-c.h"
#include "github.com/containerd/containerd/api/types/mount.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "strata/v1/strata.pb-c.h"

#endif
