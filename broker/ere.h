/* POSIX extended regular expressions, as glibc's regcomp(REG_EXTENDED |
 * REG_NOSUB) reads them in the C locale, matched in time linear in the
 * subject and memory linear in the expression.
 *
 * glibc's regex is no fit for a client's pattern in the broker: regcomp
 * expands every bounded repetition, so a 20-byte `(a{0,32767}){0,32767}`
 * allocates until the host runs out of memory, and regexec builds a DFA
 * lazily and keeps every state, so `^.*a.{20}$` over a few labels of 4 KiB
 * takes minutes and gigabytes, all in the broker's one event loop.  Here
 * the program is bounded when compiled (ERE_MAX_PROGRAM instructions), and
 * a match runs it as a Thompson NFA: at most one thread per instruction at
 * each byte of the subject, no state kept between bytes or matches.
 *
 * Syntax (glibc's, C locale: bytes): `|`, `(...)`, `*`, `+`, `?`, `{m}`,
 * `{m,}`, `{m,n}`, `{,n}` (counts to 32767), `.`, bracket expressions with
 * ranges, [:class:], [=c=] and [.c.], `^` and `$` anywhere, GNU's `\w \W
 * \s \S \b \B \< \> \` \'`, and `\c` for a literal c.  One difference:
 * back-references (`\1`..`\9`), which no automaton can match in linear
 * time, are refused (as RE2, containerd's engine, refuses them). */
#ifndef STRATA_ERE_H
#define STRATA_ERE_H

#include <stddef.h>
#include <stdint.h>

/* Instructions one expression may compile to; each costs at most one
 * thread step per subject byte. */
#define ERE_MAX_PROGRAM 16384
/* Groups and repetitions one inside another. */
#define ERE_MAX_NESTING 1000

struct ere;

/* Compiles pattern; NULL with a reason in why (as regerror's) when it is
 * invalid or larger than the limits. */
struct ere *ere_compile(const char *pattern, char *why, size_t whylen);
/* 1 when some part of subject (len bytes) matches, else 0; -1 when that
 * takes more than *steps instructions run (each at most once per subject
 * byte).  *steps is lowered by what the match took.  Uses scratch memory of
 * re: one match at a time. */
int ere_match(struct ere *re, const char *subject, size_t len, uint64_t *steps);
/* The instructions re runs: what a match costs per subject byte, at most. */
size_t ere_program_size(const struct ere *re);
void ere_free(struct ere *re);

#endif
