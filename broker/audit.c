/* The audit trail (broker/audit.h). */
#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/status.h"
#include "../common/tenant.h"
#include "../common/util.h"
#include "call.h"

static int audit_fd = -1;

void audit_init(int fd)
{
	audit_fd = fd;
}

/* A growing line. */
struct line {
	char *s;
	size_t n, cap;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->n + n + 1 > l->cap) {
		l->cap = (l->n + n + 1) * 2;
		l->s = xrealloc(l->s, l->cap);
	}
	memcpy(l->s + l->n, s, n);
	l->n += n;
	l->s[l->n] = '\0';
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* s quoted: printable ASCII as it is but for " and \, the rest as \xNN, so
 * that a key can neither break the line nor pass for another field. */
static void put_quoted(struct line *l, const char *s)
{
	put(l, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put(l, esc, 2);
		} else if (*p >= 0x20 && *p < 0x7f) {
			put(l, (const char *)p, 1);
		} else {
			snprintf(esc, sizeof esc, "\\x%02x", *p);
			put(l, esc, 4);
		}
	}
	put(l, "\"", 1);
}

void audit_arg(struct call *c, const char *field, const char *value)
{
	struct line l = {c->audit_args, c->audit_args ? strlen(c->audit_args) : 0,
			 c->audit_args ? strlen(c->audit_args) + 1 : 0};
	puts_(&l, " ");
	puts_(&l, field);
	puts_(&l, "=");
	put_quoted(&l, value ? value : "");
	c->audit_args = l.s;
}

/* What an audit line keeps: every call that may change something, and every
 * refusal, of any call. */
static int worth_a_line(const struct call *c, int code)
{
	return c->m->changes || code == ST_PERMISSION_DENIED || code == ST_RESOURCE_EXHAUSTED;
}

void audit_end(const struct call *c, int code, const char *msg)
{
	if (!worth_a_line(c, code))
		return;
	struct timespec ts;
	struct tm tm;
	char head[160];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(head, sizeof head, "time=%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(head + n, sizeof head - n, ".%03ldZ uid=%u gid=%u pid=%d tenant=", ts.tv_nsec / 1000000,
		 (unsigned)c->peer_uid, (unsigned)c->peer_gid, (int)c->peer_pid);
	struct line l = {0};
	puts_(&l, head);
	puts_(&l, c->tenant ? c->tenant->name : "-");
	puts_(&l, " method=");
	puts_(&l, c->m->name);
	if (c->audit_args)
		puts_(&l, c->audit_args);
	puts_(&l, " code=");
	puts_(&l, status_name(code));
	puts_(&l, " msg=");
	put_quoted(&l, msg);
	log_info("audit: %s", l.s); /* the log cuts a long line; the file has it whole */
	if (audit_fd >= 0) {
		put(&l, "\n", 1);
		/* O_APPEND: one write is one line, whoever else appends. */
		if (write(audit_fd, l.s, l.n) != (ssize_t)l.n)
			log_warn("audit: the audit file lost a line: %m");
	}
	free(l.s);
}
