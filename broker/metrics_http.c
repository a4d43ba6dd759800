/* The metrics endpoint: HTTP/1.x `GET /metrics` on the socket the parent
 * bound for metrics_address (or systemd passed), answered with the
 * Prometheus text exposition and closed.
 *
 * A scraper is not a client of the snapshot service: it gets nothing but
 * the exposition, and costs the broker little whatever it sends.  At most
 * HTTP_CONNS connections at once (a newer one is closed at once), a request
 * head of at most HTTP_HEAD bytes (else 431), HTTP_DEADLINE_MS from accept
 * to the last byte sent (else the connection is closed), one request per
 * connection, and the response is rendered only once the head is whole. */
#include "metrics_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "loop.h"
#include "metrics.h"

#define HTTP_CONNS	 16
#define HTTP_HEAD	 8192
#define HTTP_DEADLINE_MS 10000
#define HTTP_SWEEP_MS	 1000

struct hconn {
	int fd;
	struct loop_src *src;
	uint64_t deadline_ms;
	char head[HTTP_HEAD];
	size_t head_len;
	char *out; /* the response, once the request is read */
	size_t out_len, out_off;
	int draining; /* sent: reading what the client still sends, until it closes */
	int used;
};

static struct {
	int listen_fd;
	struct hconn conns[HTTP_CONNS];
	unsigned open;
	struct loop_timer *sweep;
} H = {.listen_fd = -1};

static void hconn_close(struct hconn *c)
{
	loop_remove(c->src);
	close(c->fd);
	free(c->out);
	*c = (struct hconn){.fd = -1};
	H.open--;
}

static void respond(struct hconn *c, const char *status, const char *type, const char *extra,
		    const char *body, size_t body_len, int head_only)
{
	char *hdr = NULL;
	int n = asprintf(
	    &hdr, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
	    status, type, body_len, extra);
	if (n < 0) {
		hconn_close(c);
		return;
	}
	size_t blen = head_only ? 0 : body_len;
	c->out = xmalloc((size_t)n + blen);
	memcpy(c->out, hdr, (size_t)n);
	if (blen)
		memcpy(c->out + n, body, blen);
	free(hdr);
	c->out_len = (size_t)n + blen;
	c->out_off = 0;
	loop_modify(c->src, EPOLLOUT);
}

static void respond_text(struct hconn *c, const char *status, const char *extra, const char *text)
{
	respond(c, status, "text/plain; charset=utf-8", extra, text, strlen(text), 0);
}

/* The request head is whole (it ends with an empty line): answer it. */
static void serve(struct hconn *c)
{
	char method[16], target[256], version[16];
	c->head[c->head_len] = '\0';
	char *eol = strstr(c->head, "\r\n");
	if (eol)
		*eol = '\0';
	if (sscanf(c->head, "%15s %255s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) || (version[7] != '0' && version[7] != '1') || version[8]) {
		return respond_text(c, "400 Bad Request", "",
				    "a request line `GET /metrics HTTP/1.1` was expected\n");
	}
	int head_only = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !head_only) {
		return respond_text(c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
				    "only GET is served\n");
	}
	char *query = strchr(target, '?');
	if (query)
		*query = '\0';
	if (strcmp(target, "/metrics")) {
		return respond_text(c, "404 Not Found", "", "the metrics are at /metrics\n");
	}
	size_t len;
	char *body = metrics_render(&len);
	if (!body)
		return respond_text(c, "503 Service Unavailable", "", "out of memory\n");
	respond(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", "", body, len, head_only);
	free(body);
}

static void on_conn(void *ctx, uint32_t events)
{
	struct hconn *c = ctx;
	if (c->draining) {
		/* Closing with unread bytes would reset the connection and lose
		 * the response (a 431 answered before the head ended): what
		 * comes is read and dropped until the client closes, or the
		 * deadline. */
		char sink[4096];
		ssize_t n;
		while ((n = read(c->fd, sink, sizeof sink)) > 0)
			;
		if (n == 0 || errno != EAGAIN)
			hconn_close(c);
		return;
	}
	if (c->out) {
		while (c->out_off < c->out_len) {
			ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
			if (n < 0 && errno == EAGAIN)
				return;
			if (n <= 0) {
				hconn_close(c);
				return;
			}
			c->out_off += (size_t)n;
		}
		shutdown(c->fd, SHUT_WR);
		c->draining = 1;
		loop_modify(c->src, EPOLLIN);
		return;
	}
	for (;;) {
		if (c->head_len >= HTTP_HEAD - 1) {
			return respond_text(c, "431 Request Header Fields Too Large", "",
					    "the request head is too long\n");
		}
		ssize_t n = read(c->fd, c->head + c->head_len, HTTP_HEAD - 1 - c->head_len);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			hconn_close(c); /* gone, or half a request and no more */
			return;
		}
		c->head_len += (size_t)n;
		c->head[c->head_len] = '\0';
		/* Bare LF line ends are accepted, as most servers do. */
		if (strstr(c->head, "\r\n\r\n") || strstr(c->head, "\n\n"))
			return serve(c);
	}
}

static void sweep(void *unused)
{
	uint64_t now = now_ns_monotonic() / 1000000;
	for (size_t i = 0; i < HTTP_CONNS; i++)
		if (H.conns[i].used && now >= H.conns[i].deadline_ms)
			hconn_close(&H.conns[i]);
	if (H.open)
		loop_timer_arm(H.sweep, HTTP_SWEEP_MS);
}

static void on_accept(void *ctx, uint32_t events)
{
	for (int k = 0; k < HTTP_CONNS; k++) {
		int fd = accept4(H.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("metrics: accept: %m");
			return;
		}
		struct hconn *c = NULL;
		for (size_t i = 0; i < HTTP_CONNS && !c; i++)
			if (!H.conns[i].used)
				c = &H.conns[i];
		if (!c) {
			/* Every slot taken (each lives HTTP_DEADLINE_MS at most). */
			close(fd);
			continue;
		}
		*c = (struct hconn){
		    .fd = fd, .used = 1, .deadline_ms = now_ns_monotonic() / 1000000 + HTTP_DEADLINE_MS};
		if (!(c->src = loop_add(fd, EPOLLIN, on_conn, c))) {
			close(fd);
			*c = (struct hconn){.fd = -1};
			continue;
		}
		H.open++;
		loop_timer_arm(H.sweep, HTTP_SWEEP_MS);
	}
}

int metrics_http_start(int listen_fd, struct err *e)
{
	H.listen_fd = listen_fd;
	if (set_nonblock(listen_fd, 1) < 0)
		return err_errno(e, ST_INTERNAL, errno, "metrics: listening socket");
	if (!(H.sweep = loop_timer_new(sweep, NULL)))
		return err_errno(e, ST_INTERNAL, errno, "metrics: timer");
	if (!loop_add(listen_fd, EPOLLIN, on_accept, NULL))
		return err_errno(e, ST_INTERNAL, errno, "metrics: watch the listening socket");
	return 0;
}
