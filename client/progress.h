/* The progress line of a long CLI command on a terminal (apply, diff):
 * `WHAT: 12.0 MiB of 40.0 MiB (30%), 8.1 MiB/s, ETA 0:03, 1234 entries`
 * (without a total: `WHAT: 12.0 MiB, 8.1 MiB/s, 1234 entries`), redrawn in
 * place at most ten times a second, on stderr only when it is a terminal.
 * The line always fits the terminal's width (read at each redraw): the
 * entries, the rate and the byte counts go first, then WHAT is shortened,
 * so that it never wraps and \r always returns to its start. */
#ifndef STRATA_CLIENT_PROGRESS_H
#define STRATA_CLIENT_PROGRESS_H

#include <stddef.h>
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

/* The line for width columns (at most width - 1 of them, plain ASCII
 * apart from WHAT's own UTF-8) into buf; secs since the start.  Returns
 * its length. */
size_t progress_line(char *buf, size_t len, int width, const char *what, int64_t bytes, int64_t total,
		     int64_t entries, double secs);

#endif
