#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *log_role = "stratad";
static int log_level = LOG_INFO_;
static int log_is_off;

void log_init(const char *role, int level)
{
	log_role = role;
	log_level = level;
}

void log_off(void)
{
	log_is_off = 1;
}

__attribute__((format(printf, 2, 0))) static void log_v(int level, const char *fmt, va_list ap)
{
	static const char *names[] = {"error", "warning", "info", "debug"};
	char line[1024];
	int n = snprintf(line, sizeof line, "%s[%d]: %s: ", log_role, (int)getpid(), names[level]);
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	size_t len = (m < 0) ? (size_t)n : (size_t)n + (size_t)m;
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	line[len++] = '\n';
	/* One write per line so that lines of several processes never interleave. */
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

void log_msg(int level, const char *fmt, ...)
{
	if (level > log_level || log_is_off)
		return;
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	log_v(level, fmt, ap);
	va_end(ap);
	errno = saved;
}

void die(const char *fmt, ...)
{
	if (!log_is_off) {
		va_list ap;
		va_start(ap, fmt);
		log_v(LOG_ERR_, fmt, ap);
		va_end(ap);
	}
	_exit(1);
}
