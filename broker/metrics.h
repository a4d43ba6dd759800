/* The broker's metrics, in Prometheus text exposition format 0.0.4: served
 * over HTTP on metrics_address (broker/metrics_http.c) and to root's
 * native connection (`strata metrics`).
 *
 * Everything is counted by the event loop's thread, in plain integers: the
 * committer thread's work is timed by the loop (broker/durable.c), so no
 * counter is shared between threads.  Rendering walks the counters, the
 * job table and the metadata store at the time of the scrape. */
#ifndef STRATA_METRICS_H
#define STRATA_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct method_desc;

/* How a job ended, for strata_jobs_total{outcome}. */
enum job_outcome {
	JO_OK = 0,
	JO_FAILED,	 /* the worker reported a failure, or exited badly */
	JO_SECCOMP,	 /* killed by its seccomp policy (SIGSYS) */
	JO_KILLED,	 /* killed by another signal (e.g. out of memory) */
	JO_TIMEOUT,	 /* past job_timeout or job_idle_timeout */
	JO_CANCELLED,	 /* its client went away */
	JO_REFUSED,	 /* not started: max_queued_jobs (the daemon's or a tenant's) */
	JO_SPAWN_FAILED, /* the spawner could not start its worker */
	JO_N
};

/* A call ended with status code, ns after it began. */
void metrics_call(const struct method_desc *m, int code, uint64_t ns);
/* A job of role ended so, ns after it was started (0: never started). */
void metrics_job(int role, enum job_outcome outcome, uint64_t ns);
/* A worker of role was reaped: its peak resident set and CPU time. */
void metrics_worker(int role, uint64_t peak_rss_bytes, uint64_t cpu_us);
/* An apply (extract) or diff job's stream: bytes it read and wrote. */
void metrics_layer_bytes(int role, uint64_t read, uint64_t written);
/* A metadata batch was committed (synced), ns after it was handed over. */
void metrics_meta_commit(uint64_t ns);

/* The broker starts serving: its start time. */
void metrics_started(void);
/* The whole exposition, malloc'ed, with its length; NULL when out of memory. */
char *metrics_render(size_t *len);

#endif
