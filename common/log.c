#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *log_role = "stratad";
static int log_level = LOG_INFO_;
static int log_format = LOG_FORMAT_TEXT;
static int log_is_off;
static int log_journal; /* stderr is the journal: priority prefixes, no time */

/* systemd sets JOURNAL_STREAM to the device and inode of the stream it
 * connected stderr to (systemd.exec(5)); a stderr redirected since is not
 * the journal. */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *role, int level)
{
	log_role = role;
	log_level = level;
	log_journal = stderr_is_journal();
}

void log_set_format(int format)
{
	log_format = format;
}

void log_off(void)
{
	log_is_off = 1;
}

/* ---- a bounded line --------------------------------------------------------
 * Units (a byte, an escape) go in whole while they fit below lim, and none
 * after the first that did not; the end of the line (a closing quote, the
 * brace, the newline) has the room above lim. */

#define LINE_MAX_ 8192
#define LINE_TAIL 8

struct line {
	char s[LINE_MAX_];
	size_t n, lim;
	int full;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->full || l->n + n > l->lim) {
		l->full = 1;
		return;
	}
	memcpy(l->s + l->n, s, n);
	l->n += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* The tail: past lim, into the room kept for it. */
static void put_tail(struct line *l, const char *s)
{
	size_t n = strlen(s);
	if (l->n + n > sizeof l->s)
		n = sizeof l->s - l->n;
	memcpy(l->s + l->n, s, n);
	l->n += n;
}

/* Length of the valid UTF-8 sequence at s (of n bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf; /* bounds of the second byte */
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* Text: control characters as \xNN, everything else as it is. */
static void put_text(struct line *l, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof esc, "\\x%02x", *p);
			put(l, esc, 4);
		} else {
			put(l, (const char *)p, 1);
		}
	}
}

/* A text field's value: bare when it is one plain word, else quoted as the
 * audit trail quotes (\" \\ and \xNN for anything not printable ASCII), so
 * that it cannot pass for another field. */
static void put_text_value(struct line *l, const char *s)
{
	const char *plain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:/-";
	if (*s && strspn(s, plain) == strlen(s))
		return puts_(l, s);
	put(l, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\')
			snprintf(esc, sizeof esc, "\\%c", *p);
		else if (*p >= 0x20 && *p < 0x7f)
			snprintf(esc, sizeof esc, "%c", *p);
		else
			snprintf(esc, sizeof esc, "\\x%02x", *p);
		puts_(l, esc);
	}
	put(l, "\"", 1);
}

/* A JSON string's contents (RFC 8259): \" \\, control characters and DEL
 * as \u00NN, valid UTF-8 as it is, each byte of invalid UTF-8 (a key is any
 * bytes) as U+FFFD, so that every line parses. */
static void put_json(struct line *l, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	while (n) {
		char esc[8];
		size_t len = utf8_len(p, n);
		if (len == 0) {
			put(l, "\\ufffd", 6);
			len = 1;
		} else if (*p == '"' || *p == '\\') {
			snprintf(esc, sizeof esc, "\\%c", *p);
			put(l, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof esc, "\\u%04x", *p);
			put(l, esc, 6);
		} else {
			put(l, (const char *)p, len);
		}
		p += len;
		n -= len;
	}
}

/* ,"key":"value".  A pair whose key does not fit is left out; a value cut
 * short is closed, so that a cut line still parses. */
static void put_json_pair(struct line *l, const char *key, const char *value)
{
	size_t start = l->n;
	put(l, ",\"", 2);
	put_json(l, key);
	put(l, "\":\"", 3);
	if (l->full) {
		l->n = start;
		return;
	}
	put_json(l, value);
	put_tail(l, "\"");
}

/* RFC 3339 in UTC with milliseconds: 2026-12-05T07:01:02.345Z.  Civil date
 * from days since the epoch (H. Hinnant's algorithm), so that no time zone
 * file is read: the confined broker logs too. */
static void format_time(char out[64])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t secs = ts.tv_sec, days = secs / 86400, rem = secs % 86400;
	if (rem < 0)
		rem += 86400, days--;
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = yoe + era * 400 + (m <= 2);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, (int)m, (int)d, (int)(rem / 3600),
		 (int)(rem / 60 % 60), (int)(rem % 60), (int)(ts.tv_nsec / 1000000));
}

static const char *const level_names[] = {"error", "warning", "info", "debug"};

__attribute__((format(printf, 4, 0))) static void log_v(int level, const struct log_field *f, size_t nf,
							const char *fmt, va_list ap)
{
	static const char prefixes[][4] = {"<3>", "<4>", "<6>", "<7>"};
	char msg[2048], head[160], when[64];
	int saved = errno;
	vsnprintf(msg, sizeof msg, fmt, ap);
	errno = saved;
	struct line *l = &(struct line){.lim = LINE_MAX_ - LINE_TAIL};
	if (log_journal)
		puts_(l, prefixes[level]);
	format_time(when);
	if (log_format == LOG_FORMAT_JSON) {
		snprintf(head, sizeof head, "{\"time\":\"%s\",\"level\":\"%s\",\"role\":\"%s\",\"pid\":%d",
			 when, level_names[level], log_role, (int)getpid());
		puts_(l, head);
		put_json_pair(l, "msg", msg);
		for (size_t i = 0; i < nf; i++)
			put_json_pair(l, f[i].key, f[i].value ? f[i].value : "");
		put_tail(l, "}");
	} else {
		snprintf(head, sizeof head, "%s%s%s[%d]: %s: ", log_journal ? "" : when,
			 log_journal ? "" : " ", log_role, (int)getpid(), level_names[level]);
		puts_(l, head);
		put_text(l, msg);
		for (size_t i = 0; i < nf; i++) {
			put(l, " ", 1);
			put_text(l, f[i].key);
			put(l, "=", 1);
			put_text_value(l, f[i].value ? f[i].value : "");
		}
	}
	put_tail(l, "\n");
	/* One write per line so that lines of several processes never interleave. */
	ssize_t w = write(STDERR_FILENO, l->s, l->n);
	(void)w;
}

void log_msg(int level, const char *fmt, ...)
{
	if (level > log_level || log_is_off)
		return;
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	log_v(level, NULL, 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void log_fields(int level, const struct log_field *fields, size_t n, const char *fmt, ...)
{
	if (level > log_level || log_is_off)
		return;
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	log_v(level, fields, n, fmt, ap);
	va_end(ap);
	errno = saved;
}

void die(const char *fmt, ...)
{
	if (!log_is_off) {
		va_list ap;
		va_start(ap, fmt);
		log_v(LOG_ERR_, NULL, 0, fmt, ap);
		va_end(ap);
	}
	_exit(1);
}
