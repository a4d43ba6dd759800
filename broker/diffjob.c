/* A diff job, for both doors (the native diff, containerd's Diff): which
 * path the worker takes, and a second attempt when the fast path gives up.
 *
 * Fast path: the right tree is one layer on top of the left one, and that
 * layer (an overlay upperdir) alone is the diff.  General path: both trees
 * are merged (read-only overlays in the worker's view) and compared.  An
 * upperdir that overlay wrote with redirect_dir or metacopy on holds
 * references into lower layers instead of their content: the fast path says
 * so (Aborted) and the job runs again on the general path, whose worker
 * first empties the output (a regular file; a pipe cannot be restarted). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/util.h"
#include "broker.h"
#include "parentlink.h"
#include "services.h"

struct diff_job {
	struct job_spec spec; /* the general path's, kept for a restart */
	uint64_t *general;    /* its layer list */
	int restarted;
	job_done_fn done;
	job_progress_fn progress;
	void *ctx;
};

int diff_trees_fast(const uint64_t *right, size_t nr, const uint64_t *left, size_t nl)
{
	return nr == nl + 1 && !memcmp(right + 1, left, nl * sizeof *left);
}

/* The general path's layer list into spec: right's parents, then left. */
static int general_spec(struct job_spec *spec, const uint64_t *right, size_t nr, const uint64_t *left,
			size_t nl, uint64_t **buf, struct err *e)
{
	if (nr - 1 + nl > IPC_MAX_LOWER)
		return err_set(e, ST_INVALID_ARGUMENT, "diff: %zu layers in the two trees: at most %d",
			       nr + nl, IPC_MAX_LOWER + 1);
	*buf = xcalloc(nr - 1 + nl + 1, sizeof **buf);
	memcpy(*buf, right + 1, (nr - 1) * sizeof **buf);
	memcpy(*buf + nr - 1, left, nl * sizeof **buf);
	spec->target = right[0];
	spec->lower = *buf;
	spec->nlower = nr - 1 + nl;
	spec->nleft = nl;
	return 0;
}

static void diff_job_free(struct diff_job *d)
{
	if (d->spec.input_fd >= 0)
		close(d->spec.input_fd);
	free(d->general);
	free(d);
}

static void diff_job_progress(void *ctx, uint64_t tar_bytes, uint64_t entries)
{
	struct diff_job *d = ctx;
	if (d->progress)
		d->progress(d->ctx, tar_bytes, entries);
}

static struct job *start(struct diff_job *d, const struct job_spec *spec, struct err *e);

static void diff_job_done(void *ctx, const struct job_result *res, const struct err *e)
{
	struct diff_job *d = ctx;
	struct err se = {0};
	if (e && e->code == ST_ABORTED && !d->restarted) {
		log_info("diff: %s; comparing the merged trees instead", e->msg);
		d->restarted = 1;
		if (start(d, &d->spec, &se))
			return;
		e = &se;
	}
	d->done(d->ctx, res, e);
	diff_job_free(d);
}

static struct job *start(struct diff_job *d, const struct job_spec *spec, struct err *e)
{
	struct job_spec s = *spec;
	s.diff_restart = d->restarted;
	struct job *j = job_start(&s, NULL, diff_job_done, d, e);
	if (j)
		job_on_progress(j, diff_job_progress);
	return j;
}

int diff_job_start(const struct job_spec *base, const uint64_t *right, size_t nr, const uint64_t *left,
		   size_t nl, job_done_fn done, job_progress_fn progress, void *ctx, struct err *e)
{
	struct diff_job *d = xcalloc(1, sizeof *d);
	*d = (struct diff_job){.spec = *base, .done = done, .progress = progress, .ctx = ctx};
	/* Its own copy of the output, for a second attempt after the caller
	 * closed its own. */
	if ((d->spec.input_fd = fcntl(base->input_fd, F_DUPFD_CLOEXEC, 0)) < 0) {
		free(d);
		return err_errno(e, ST_INTERNAL, errno, "diff: duplicate the output");
	}
	if (general_spec(&d->spec, right, nr, left, nl, &d->general, e) < 0) {
		diff_job_free(d);
		return -1;
	}
	struct job_spec first = d->spec;
	if (diff_trees_fast(right, nr, left, nl)) {
		first.lower = NULL;
		first.nlower = first.nleft = 0;
	}
	if (!start(d, &first, e)) {
		diff_job_free(d);
		return -1;
	}
	return 0;
}
