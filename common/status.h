/* gRPC status codes as containerd's errdefs maps them (errdefs/grpc.go).
 * containerd classifies a failure only by this code, so every error that
 * crosses a front door carries one. */
#ifndef STRATA_STATUS_H
#define STRATA_STATUS_H

enum status_code {
	ST_OK = 0,
	ST_CANCELLED = 1,
	ST_UNKNOWN = 2,
	ST_INVALID_ARGUMENT = 3,
	ST_DEADLINE_EXCEEDED = 4,
	ST_NOT_FOUND = 5,
	ST_ALREADY_EXISTS = 6,
	ST_PERMISSION_DENIED = 7,
	ST_RESOURCE_EXHAUSTED = 8,
	ST_FAILED_PRECONDITION = 9,
	ST_ABORTED = 10,
	ST_OUT_OF_RANGE = 11,
	ST_UNIMPLEMENTED = 12,
	ST_INTERNAL = 13,
	ST_UNAVAILABLE = 14,
};

const char *status_name(int code);

#endif
