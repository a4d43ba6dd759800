#include "convert.h"

#include <string.h>

#include "../common/util.h"

struct label *labels_from_entries(void *const *entries, size_t n)
{
	struct label *l = xcalloc(n ? n : 1, sizeof *l);
	for (size_t i = 0; i < n; i++) {
		const struct pb_label_entry *en = entries[i];
		l[i].key = xstrdup(en->key ? en->key : "");
		l[i].value = xstrdup(en->value ? en->value : "");
	}
	return l;
}

void labels_free(struct label *l, size_t n)
{
	for (size_t i = 0; l && i < n; i++) {
		free(l[i].key);
		free(l[i].value);
	}
	free(l);
}

static Google__Protobuf__Timestamp *timestamp_new(int64_t sec, int32_t nsec)
{
	Google__Protobuf__Timestamp *t = xmalloc(sizeof *t);
	google__protobuf__timestamp__init(t);
	t->seconds = sec;
	t->nanos = nsec;
	return t;
}

SnapInfoMsg *info_msg_new(const struct snap_info *s)
{
	SnapInfoMsg *m = xmalloc(sizeof *m);
	containerd__services__snapshots__v1__info__init(m);
	m->name = xstrdup(s->name);
	m->parent = xstrdup(s->parent ? s->parent : "");
	m->kind = (Containerd__Services__Snapshots__V1__Kind)s->kind;
	m->created_at = timestamp_new(s->created_sec, s->created_nsec);
	m->updated_at = timestamp_new(s->updated_sec, s->updated_nsec);
	m->n_labels = s->nlabels;
	m->labels = xcalloc(s->nlabels ? s->nlabels : 1, sizeof *m->labels);
	for (size_t i = 0; i < s->nlabels; i++) {
		Containerd__Services__Snapshots__V1__Info__LabelsEntry *en = xmalloc(sizeof *en);
		containerd__services__snapshots__v1__info__labels_entry__init(en);
		en->key = xstrdup(s->labels[i].key);
		en->value = xstrdup(s->labels[i].value);
		m->labels[i] = en;
	}
	return m;
}

void info_msg_free(SnapInfoMsg *m)
{
	if (!m)
		return;
	free(m->name);
	free(m->parent);
	free(m->created_at);
	free(m->updated_at);
	for (size_t i = 0; i < m->n_labels; i++) {
		free(m->labels[i]->key);
		free(m->labels[i]->value);
		free(m->labels[i]);
	}
	free(m->labels);
	free(m);
}

MountMsg **mount_msgs_new(const struct mount_spec *m, size_t n)
{
	MountMsg **out = xcalloc(n ? n : 1, sizeof *out);
	for (size_t i = 0; i < n; i++) {
		MountMsg *mm = xmalloc(sizeof *mm);
		containerd__types__mount__init(mm);
		/* The strings stay owned by the mount specs. */
		mm->type = m[i].type;
		mm->source = m[i].source;
		mm->n_options = m[i].nopts;
		mm->options = m[i].opts;
		out[i] = mm;
	}
	return out;
}

void mount_msgs_free(MountMsg **m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i]);
	free(m);
}
