#include "requests.h"

#include <string.h>

#include "broker/convert.h"
#include "broker/filter.h"
#include "common/util.h"
#include "fuzz.h"

/* A map<string,string> entry: exactly the layout convert.h reads. */
static int is_label_entry(const ProtobufCMessageDescriptor *d)
{
	return d->n_fields == 2 && !strcmp(d->fields[0].name, "key") && !strcmp(d->fields[1].name, "value") &&
	       d->fields[0].type == PROTOBUF_C_TYPE_STRING && d->fields[1].type == PROTOBUF_C_TYPE_STRING;
}

/* The labels as a request handler copies them, then as a reply carries
 * them: the same keys and values in the same order. */
static void labels_round_trip(void *const *entries, size_t n)
{
	struct label *l = labels_from_entries(entries, n);
	struct snap_info s = {.name = "fuzz", .kind = KIND_ACTIVE, .nlabels = n, .labels = l};
	SnapInfoMsg *m = info_msg_new(&s);
	size_t len = protobuf_c_message_get_packed_size(&m->base);
	cleanup_free uint8_t *buf = xmalloc(len ? len : 1);
	if (protobuf_c_message_pack(&m->base, buf) != len)
		fuzz_fail("an Info packs to another length than it said");
	SnapInfoMsg *back = containerd__services__snapshots__v1__info__unpack(NULL, len, buf);
	if (!back || back->n_labels != n)
		fuzz_fail("an Info of %zu labels does not read back", n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(back->labels[i]->key, l[i].key) || strcmp(back->labels[i]->value, l[i].value))
			fuzz_fail("label %zu changed on its way through the broker", i);
	containerd__services__snapshots__v1__info__free_unpacked(back, NULL);
	info_msg_free(m);
	labels_free(l, n);
}

/* A message field's value: a pointer, and the count of a repeated one. */
static void *member(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f, size_t *n)
{
	const char *base = (const char *)msg;
	*n = 1;
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		memcpy(n, base + f->quantifier_offset, sizeof *n);
	else if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		 *(const uint32_t *)(base + f->quantifier_offset) != f->id)
		*n = 0;
	void *v;
	memcpy(&v, base + f->offset, sizeof v);
	return v;
}

static void walk(const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		size_t n;
		void *v = member(msg, f, &n);
		if (!v || !n)
			continue;
		if (f->label != PROTOBUF_C_LABEL_REPEATED) {
			walk(v);
		} else if (is_label_entry(f->descriptor)) {
			labels_round_trip(v, n);
		} else {
			for (size_t k = 0; k < n; k++)
				walk(((ProtobufCMessage **)v)[k]);
		}
	}
}

void fuzz_request_convert(const ProtobufCMessage *req)
{
	walk(req);
	if (req->descriptor == &containerd__services__snapshots__v1__list_snapshots_request__descriptor) {
		const Containerd__Services__Snapshots__V1__ListSnapshotsRequest *r = (const void *)req;
		struct filter *f = NULL;
		struct err e = {0};
		if (filter_parse((const char *const *)r->filters, r->n_filters, &f, &e) < 0)
			fuzz_check_refusal("filter_parse", &e);
		filter_free(f);
	}
}
