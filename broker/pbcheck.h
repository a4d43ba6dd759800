/* The strings of a protobuf request, checked on the wire before protobuf-c
 * unpacks it.  protobuf-c hands strings back as NUL-terminated char *, so a
 * key "a\0b" would reach a service as "a": every string field, in nested
 * messages and map entries too, must be valid UTF-8 (as protobuf's string
 * type requires) without a NUL.  Pure, for the unit tests. */
#ifndef STRATA_PBCHECK_H
#define STRATA_PBCHECK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>
#include "../common/err.h"

/* 0 when every string field of the message of type d in buf is valid UTF-8
 * without NUL; else InvalidArgument naming the field (a message that does
 * not parse as protobuf is InvalidArgument too). */
int pb_check_strings(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len, struct err *e);

/* 1 when s[0..n) is valid UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF) and holds no NUL. */
int pb_string_ok(const uint8_t *s, size_t n);

#endif
