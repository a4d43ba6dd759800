#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/args.h"
#include "../common/err.h"
#include "../common/util.h"
#include "../proto/roles.h"
#include "broker.h"
#include "call.h"
#include "connpool.h"
#include "meta.h"
#include "parentlink.h"
#include "services.h"
#include "tenancy.h"

/* ---- histograms ------------------------------------------------------------ */

#define NB_MAX 20
/* Bytes of the exposition per NM_METRICS record (NATIVE_MAX_RECORD is 192 KiB). */
#define METRICS_CHUNK (64 * 1024)

struct hist {
	uint64_t count;
	double sum;
	uint64_t bucket[NB_MAX]; /* observations <= bounds[i], not cumulative */
};

/* Seconds, from a fast Stat to a layer apply of minutes. */
static const double time_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
				     0.5,    1,	    2.5,    5,	   10,	 30,	60,   300};
/* Bytes of a worker's peak resident set: 1 MiB .. 1 GiB. */
static const double rss_bounds[] = {1 << 20,  2 << 20,	 4 << 20,   8 << 20,   16 << 20, 32 << 20,
				    64 << 20, 128 << 20, 256 << 20, 512 << 20, 1 << 30};

static void hist_add(struct hist *h, const double *bounds, size_t nb, double v)
{
	h->count++;
	h->sum += v;
	for (size_t i = 0; i < nb; i++)
		if (v <= bounds[i]) {
			h->bucket[i]++;
			break;
		}
}

/* ---- what is counted ---------------------------------------------------------- */

#define NCODES (ST_UNAVAILABLE + 1)
#define NROLES (ROLE_MAX + 1)

struct method_stats {
	uint64_t calls[NCODES];
	struct hist latency;
};

static struct {
	struct method_stats *methods; /* by method_index() */
	uint64_t jobs[NROLES][JO_N];
	struct hist job_time[NROLES];
	struct hist worker_rss[NROLES];
	uint64_t worker_cpu_us[NROLES];
	uint64_t layer_read[NROLES], layer_written[NROLES];
	struct hist commit;
	int64_t start_sec;
} M;

void metrics_call(const struct method_desc *m, int code, uint64_t ns)
{
	size_t i = method_index(m);
	if (i >= method_count())
		return;
	if (!M.methods)
		M.methods = xcalloc(method_count(), sizeof *M.methods);
	struct method_stats *s = &M.methods[i];
	s->calls[code >= 0 && code < NCODES ? code : ST_UNKNOWN]++;
	hist_add(&s->latency, time_bounds, ARRAY_SIZE(time_bounds), (double)ns / 1e9);
}

void metrics_job(int role, enum job_outcome outcome, uint64_t ns)
{
	if (role < 0 || role >= NROLES || outcome >= JO_N)
		return;
	M.jobs[role][outcome]++;
	if (outcome != JO_REFUSED)
		hist_add(&M.job_time[role], time_bounds, ARRAY_SIZE(time_bounds), (double)ns / 1e9);
}

void metrics_worker(int role, uint64_t peak_rss_bytes, uint64_t cpu_us)
{
	if (role < 0 || role >= NROLES)
		return;
	hist_add(&M.worker_rss[role], rss_bounds, ARRAY_SIZE(rss_bounds), (double)peak_rss_bytes);
	M.worker_cpu_us[role] += cpu_us;
}

void metrics_layer_bytes(int role, uint64_t read, uint64_t written)
{
	if (role < 0 || role >= NROLES)
		return;
	M.layer_read[role] += read;
	M.layer_written[role] += written;
}

void metrics_meta_commit(uint64_t ns)
{
	hist_add(&M.commit, time_bounds, ARRAY_SIZE(time_bounds), (double)ns / 1e9);
}

/* ---- the exposition ------------------------------------------------------------- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the format asks (backslash, quote, newline). */
static void label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* labels: "" or `a="x",b="y"` (already escaped). */
static void hist_print(FILE *f, const char *name, const char *labels, const struct hist *h,
		       const double *bounds, size_t nb)
{
	uint64_t cum = 0;
	const char *sep = labels[0] ? "," : "";
	for (size_t i = 0; i < nb; i++) {
		cum += h->bucket[i];
		fprintf(f, "%s_bucket{%s%sle=\"%.10g\"} %llu\n", name, labels, sep, bounds[i],
			(unsigned long long)cum);
	}
	fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)h->count);
	fprintf(f, "%s_sum%s%s%s %.15g\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "", h->sum);
	fprintf(f, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "",
		(unsigned long long)h->count);
}

/* "containerd.services.snapshots.v1.Snapshots" and "Prepare" from the gRPC
 * path; strata's native-only methods are "strata.v1.Strata". */
static void method_labels(const struct method_desc *m, char *buf, size_t len)
{
	const char *p = m->grpc_path;
	const char *slash = p ? strrchr(p, '/') : NULL;
	if (p && slash && slash > p + 1)
		snprintf(buf, len, "service=\"%.*s\",method=\"%s\"", (int)(slash - p - 1), p + 1, slash + 1);
	else
		snprintf(buf, len, "service=\"strata.v1.Strata\",method=\"%s\"", m->name);
}

static void render_calls(FILE *f)
{
	char labels[256];
	family(f, "strata_calls_total", "counter",
	       "Calls finished, by service, method and gRPC status code (both front doors).");
	for (size_t i = 0; M.methods && i < method_count(); i++) {
		method_labels(method_at(i), labels, sizeof labels);
		for (int c = 0; c < NCODES; c++)
			if (M.methods[i].calls[c])
				fprintf(f, "strata_calls_total{%s,code=\"%s\"} %llu\n", labels,
					status_name(c), (unsigned long long)M.methods[i].calls[c]);
	}
	family(f, "strata_call_duration_seconds", "histogram",
	       "Time from a call's request to its answer, by service and method.");
	for (size_t i = 0; M.methods && i < method_count(); i++)
		if (M.methods[i].latency.count) {
			method_labels(method_at(i), labels, sizeof labels);
			hist_print(f, "strata_call_duration_seconds", labels, &M.methods[i].latency,
				   time_bounds, ARRAY_SIZE(time_bounds));
		}
}

/* One histogram per role that has observations. */
static void role_hists(FILE *f, const char *name, const struct hist *h, const double *bounds, size_t nb)
{
	char labels[64];
	for (int r = 1; r < NROLES; r++)
		if (h[r].count) {
			snprintf(labels, sizeof labels, "role=\"%s\"", worker_role_name(r));
			hist_print(f, name, labels, &h[r], bounds, nb);
		}
}

static void render_jobs(FILE *f)
{
	static const char *const outcomes[JO_N] = {[JO_OK] = "ok",
						   [JO_FAILED] = "failed",
						   [JO_SECCOMP] = "seccomp_killed",
						   [JO_KILLED] = "killed",
						   [JO_TIMEOUT] = "timeout",
						   [JO_CANCELLED] = "cancelled",
						   [JO_REFUSED] = "refused",
						   [JO_SPAWN_FAILED] = "spawn_failed"};
	family(f, "strata_jobs_total", "counter",
	       "Worker jobs ended, by role and outcome (seccomp kills, timeouts and refusals at "
	       "max_queued_jobs apart).");
	for (int r = 1; r < NROLES; r++)
		for (int o = 0; o < JO_N; o++)
			if (M.jobs[r][o])
				fprintf(f, "strata_jobs_total{role=\"%s\",outcome=\"%s\"} %llu\n",
					worker_role_name(r), outcomes[o], (unsigned long long)M.jobs[r][o]);
	family(f, "strata_job_duration_seconds", "histogram", "Time from a job's start to its end, by role.");
	role_hists(f, "strata_job_duration_seconds", M.job_time, time_bounds, ARRAY_SIZE(time_bounds));
	family(f, "strata_worker_peak_rss_bytes", "histogram", "Peak resident set of each worker, by role.");
	role_hists(f, "strata_worker_peak_rss_bytes", M.worker_rss, rss_bounds, ARRAY_SIZE(rss_bounds));
	family(f, "strata_worker_cpu_seconds_total", "counter",
	       "CPU time (user and system) of workers, by role.");
	for (int r = 1; r < NROLES; r++)
		if (M.worker_rss[r].count)
			fprintf(f, "strata_worker_cpu_seconds_total{role=\"%s\"} %.6f\n", worker_role_name(r),
				(double)M.worker_cpu_us[r] / 1e6);
	family(f, "strata_jobs_running", "gauge", "Jobs whose worker runs (or is being started).");
	fprintf(f, "strata_jobs_running %u\n", job_running());
	family(f, "strata_jobs_queued", "gauge", "Jobs waiting for a worker (max_jobs, tenants' max_jobs).");
	fprintf(f, "strata_jobs_queued %u\n", job_queued());
}

static void render_layers(FILE *f)
{
	static const struct {
		int role;
		const char *op;
	} ops[] = {{ROLE_EXTRACT, "apply"}, {ROLE_DIFF, "diff"}};
	family(f, "strata_layer_read_bytes_total", "counter",
	       "Bytes read by layer jobs: apply reads the layer as given (compressed), diff the tar it "
	       "writes.");
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		fprintf(f, "strata_layer_read_bytes_total{op=\"%s\"} %llu\n", ops[i].op,
			(unsigned long long)M.layer_read[ops[i].role]);
	family(f, "strata_layer_written_bytes_total", "counter",
	       "Bytes written by layer jobs: apply the uncompressed tar, diff the layer (compressed).");
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		fprintf(f, "strata_layer_written_bytes_total{op=\"%s\"} %llu\n", ops[i].op,
			(unsigned long long)M.layer_written[ops[i].role]);
}

/* ---- snapshots by tenant and kind, counted from the store at each scrape ---- */

struct kind_count {
	uint64_t *n; /* [tenant][4] */
	uint64_t unowned[4];
};

static int count_kind(const struct snap_info *s, void *ctx)
{
	struct kind_count *k = ctx;
	int kind = s->kind >= 0 && s->kind < 4 ? s->kind : 0;
	const struct tenant *t = tenancy_owner(s->name);
	if (t)
		k->n[tenancy_index(t) * 4 + (size_t)kind]++;
	else
		k->unowned[kind]++;
	return 0;
}

static void render_snapshots(FILE *f)
{
	static const char *const kinds[4] = {"unknown", "view", "active", "committed"};
	size_t nt = tenancy_ntenants();
	struct kind_count k = {.n = xcalloc(nt ? nt * 4 : 1, sizeof *k.n)};
	struct err e = {0};
	int rc = meta_walk(broker.meta, count_kind, &k, &e);
	family(f, "strata_snapshots", "gauge", "Snapshots in the store, by tenant and kind.");
	for (size_t t = 0; rc == 0 && t < nt; t++) {
		const struct tenant *tn = tenancy_tenant_at(t);
		for (int kind = 1; kind < 4; kind++) {
			fputs("strata_snapshots{tenant=\"", f);
			label_value(f, tn->name);
			fprintf(f, "\",kind=\"%s\"} %llu\n", kinds[kind],
				(unsigned long long)k.n[t * 4 + kind]);
		}
	}
	family(f, "strata_snapshots_unreadable", "gauge",
	       "1 when this scrape could not read the snapshots from the store (strata_snapshots is "
	       "left out).");
	fprintf(f, "strata_snapshots_unreadable %d\n", rc < 0);
	free(k.n);
}

static void render_meta(FILE *f)
{
	uint64_t used, max;
	meta_size(broker.meta, &used, &max);
	family(f, "strata_metadata_size_bytes", "gauge",
	       "Bytes of the metadata store (ROOT/meta/data.mdb) in use, free pages included.");
	fprintf(f, "strata_metadata_size_bytes %llu\n", (unsigned long long)used);
	family(f, "strata_metadata_max_bytes", "gauge",
	       "The metadata store's largest size (meta_max_bytes).");
	fprintf(f, "strata_metadata_max_bytes %llu\n", (unsigned long long)max);
	family(f, "strata_metadata_commit_duration_seconds", "histogram",
	       "Time to commit and sync one batch of metadata changes.");
	hist_print(f, "strata_metadata_commit_duration_seconds", "", &M.commit, time_bounds,
		   ARRAY_SIZE(time_bounds));
}

static void render_process(FILE *f)
{
	family(f, "strata_build_info", "gauge", "Always 1: the daemon's version.");
	fprintf(f, "strata_build_info{version=\"%s\"} 1\n", STRATA_VERSION);
	family(f, "process_start_time_seconds", "gauge",
	       "When the broker, the process that serves the calls and these metrics, started: seconds "
	       "since the epoch.");
	fprintf(f, "process_start_time_seconds %lld\n", (long long)M.start_sec);
	struct conn_pool_stats st[CONN_POOLS_MAX];
	size_t n = conn_pool_stats(st, ARRAY_SIZE(st));
	family(f, "strata_connections", "gauge", "Client connections open, by front door.");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "strata_connections{door=\"%s\"} %u\n", st[i].door, st[i].open);
	family(f, "strata_connections_closed_total", "counter",
	       "Connections refused or closed by a limit, by front door and reason: refused "
	       "(max_connections, max_connections_per_user), evicted (idle, to make room), idle "
	       "(idle_timeout).");
	for (size_t i = 0; i < n; i++)
		fprintf(f,
			"strata_connections_closed_total{door=\"%s\",reason=\"refused\"} %llu\n"
			"strata_connections_closed_total{door=\"%s\",reason=\"evicted\"} %llu\n"
			"strata_connections_closed_total{door=\"%s\",reason=\"idle\"} %llu\n",
			st[i].door, (unsigned long long)st[i].refused_conns, st[i].door,
			(unsigned long long)st[i].evicted, st[i].door, (unsigned long long)st[i].timed_out);
	family(f, "strata_requests_refused_total", "counter",
	       "Requests refused at max_request_bytes (ResourceExhausted), by front door.");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "strata_requests_refused_total{door=\"%s\"} %llu\n", st[i].door,
			(unsigned long long)st[i].refused_bytes);
}

void metrics_started(void)
{
	int32_t ns;
	now_realtime(&M.start_sec, &ns);
}

char *metrics_render(size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	render_process(f);
	render_calls(f);
	render_jobs(f);
	render_layers(f);
	render_snapshots(f);
	render_meta(f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* NM_METRICS: the exposition in chunks a native record holds.  It shows
 * every tenant's counts: for the default tenant (root, containerd) only. */
void svc_metrics(struct call *c)
{
	if (tenancy_index(c->tenant) != 0)
		return call_fail(c, ST_PERMISSION_DENIED,
				 "metrics: only root and the default tenant's users may read them");
	size_t len;
	char *text = metrics_render(&len);
	if (!text)
		return call_fail(c, ST_RESOURCE_EXHAUSTED, "metrics: out of memory");
	for (size_t off = 0; off < len; off += METRICS_CHUNK) {
		Strata__V1__MetricsResponse r = STRATA__V1__METRICS_RESPONSE__INIT;
		r.text.data = (uint8_t *)text + off;
		r.text.len = len - off < METRICS_CHUNK ? len - off : METRICS_CHUNK;
		call_send(c, &r.base);
	}
	free(text);
	call_reply(c, NULL);
}
