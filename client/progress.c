#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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

/* The terminal's columns; $COLUMNS, else 80, when it does not say. */
static int term_width(void)
{
	struct winsize ws;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	const char *c = getenv("COLUMNS");
	int n = c ? atoi(c) : 0;
	return n > 0 ? n : 80;
}

static void format_eta(char *buf, size_t len, double secs)
{
	long s = (long)(secs + 0.5);
	if (s >= 3600)
		snprintf(buf, len, "ETA %ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, len, "ETA %ld:%02ld", s / 60, s % 60);
}

/* WHAT as shown: control bytes as `?`, cut to cols columns (a cut shows
 * as `..`); UTF-8 sequences stay whole. */
static size_t put_what(char *out, size_t cap, const char *what, int cols)
{
	const unsigned char *s = (const unsigned char *)what;
	int total = 0;
	for (const unsigned char *q = s; *q; q++)
		total += (*q & 0xc0) != 0x80;
	int keep = total <= cols ? total : cols - 2;
	size_t o = 0;
	for (int c = 0; *s && o + 5 < cap;) {
		if ((*s & 0xc0) != 0x80 && c++ == keep)
			break;
		out[o++] = (*s < 0x20 || *s == 0x7f) ? '?' : (char)*s;
		s++;
	}
	if (total > cols && cols >= 2 && o + 3 < cap) {
		out[o++] = '.';
		out[o++] = '.';
	}
	out[o] = 0;
	return o;
}

/* Appends ", " (unless first) and part to tail. */
static void add(char *tail, size_t len, const char *part)
{
	size_t n = strlen(tail);
	snprintf(tail + n, len - n, "%s%s", n ? ", " : "", part);
}

size_t progress_line(char *buf, size_t len, int width, const char *what, int64_t bytes, int64_t total,
		     int64_t entries, double secs)
{
	char done[32], all[32], rate[48], eta[32], count[40], amount[96], tail[256];
	int known = total > 0;
	double r = secs > 0.05 ? (double)bytes / secs : 0;
	format_size(done, sizeof done, bytes);
	format_size(rate, sizeof rate, (int64_t)r);
	strcat(rate, "/s");
	snprintf(count, sizeof count, "%lld entries", (long long)entries);
	if (known) {
		format_size(all, sizeof all, total);
		if (r > 0)
			format_eta(eta, sizeof eta, (double)(total > bytes ? total - bytes : 0) / r);
		else
			snprintf(eta, sizeof eta, "ETA -:--");
	}
	int cols = width > 1 ? width - 1 : 1; /* the last column would wrap on some terminals */
	int whatw = 0;
	for (const unsigned char *q = (const unsigned char *)what; *q; q++)
		whatw += (*q & 0xc0) != 0x80;
	/* The parts, dropped in this order as the width asks: the entries,
	 * the rate, the byte counts (the percentage and the ETA stay); WHAT
	 * keeps 8 columns (or all it has) before a part goes. */
	for (int drop = 0; drop <= 3; drop++) {
		int pct = known ? (int)(bytes * 100 / total) : 0;
		if (known && drop < 3)
			snprintf(amount, sizeof amount, "%s of %s (%d%%)", done, all, pct);
		else if (known)
			snprintf(amount, sizeof amount, "%d%%", pct);
		else
			snprintf(amount, sizeof amount, "%s", done);
		tail[0] = 0;
		add(tail, sizeof tail, amount);
		if (drop < 2)
			add(tail, sizeof tail, rate);
		if (known)
			add(tail, sizeof tail, eta);
		if (drop < 1)
			add(tail, sizeof tail, count);
		if ((int)strlen(tail) + 2 + (whatw < 8 ? whatw : 8) <= cols)
			break;
	}
	int room = cols - (int)strlen(tail) - 2;
	if (room < 3) { /* no room for WHAT: the tail alone, cut if it must be */
		snprintf(buf, len, "%.*s", cols, tail);
		return strlen(buf);
	}
	size_t o = put_what(buf, len, what, room);
	snprintf(buf + o, len - o, ": %s", tail);
	return strlen(buf);
}

void progress_draw(struct progress *p, int64_t read, int64_t entries)
{
	uint64_t now = now_ns_monotonic();
	if (!p->on || (p->drawn && now - p->last_ns < PROGRESS_INTERVAL_NS))
		return;
	char line[512];
	progress_line(line, sizeof line, term_width(), p->what, read, p->total, entries,
		      (double)(now - p->start_ns) / 1e9);
	/* Written over the old line, then the rest of it erased: no flicker,
	 * nothing stale. */
	fprintf(stderr, "\r%s\033[K", line);
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
