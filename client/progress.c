#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "output.h"
#include "../common/util.h"

/* Redraws are limited to ten a second: a fast layer sends many records. */
#define PROGRESS_INTERVAL_NS 100000000ull

void progress_init(struct progress *p, const char *what, int64_t total)
{
	memset(p, 0, sizeof *p);
	p->on = isatty(STDERR_FILENO);
	p->what = what;
	p->total = total;
	p->start_ns = now_ns_monotonic();
}

void progress_draw(struct progress *p, int64_t read, int64_t entries)
{
	uint64_t now = now_ns_monotonic();
	if (!p->on || (p->drawn && now - p->last_ns < PROGRESS_INTERVAL_NS))
		return;
	char done[32], total[32], rate[32];
	double secs = (double)(now - p->start_ns) / 1e9;
	format_size(done, sizeof done, read);
	format_size(rate, sizeof rate, secs > 0.05 ? (int64_t)((double)read / secs) : 0);
	fputs("\r\033[K", stderr);
	out_text(stderr, p->what);
	if (p->total > 0) {
		format_size(total, sizeof total, p->total);
		fprintf(stderr, ": %s of %s (%d%%)", done, total, (int)(read * 100 / p->total));
	} else {
		fprintf(stderr, ": %s", done);
	}
	fprintf(stderr, ", %s/s, %lld entries", rate, (long long)entries);
	fflush(stderr);
	p->drawn = 1;
	p->last_ns = now;
}

void progress_clear(struct progress *p)
{
	if (p->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
}
