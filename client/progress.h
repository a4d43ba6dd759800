/* The progress line of a long CLI command on a terminal (apply, diff):
 * `WHAT: 12.0 MiB[ of 40.0 MiB (30%)], 8.1 MiB/s, 1234 entries`, redrawn in
 * place at most ten times a second, on stderr only when it is a terminal. */
#ifndef STRATA_CLIENT_PROGRESS_H
#define STRATA_CLIENT_PROGRESS_H

#include <stdint.h>

struct progress {
	int on; /* stderr is a terminal */
	const char *what;
	int64_t total; /* < 0: unknown */
	uint64_t start_ns, last_ns;
	int drawn;
};

void progress_init(struct progress *p, const char *what, int64_t total);
void progress_draw(struct progress *p, int64_t bytes, int64_t entries);
/* Erases the line, if one was drawn. */
void progress_clear(struct progress *p);

#endif
