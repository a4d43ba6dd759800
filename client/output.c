/* The CLI's output formats.  JSON is written by hand (no new dependency):
 * a writer that knows where commas go, and a string escaper that always
 * produces valid UTF-8. */
#include "output.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "../common/util.h"

void jw_init(struct jw *w, FILE *f)
{
	w->f = f;
	w->depth = 0;
	w->cap = 16;
	w->first = xmalloc(w->cap);
	w->first[0] = 1;
}

/* Writes the comma (when needed) and the key of the next value. */
static void jw_prefix(struct jw *w, const char *key)
{
	if (!w->first[w->depth])
		fputc(',', w->f);
	w->first[w->depth] = 0;
	if (key) {
		json_write_string(w->f, key);
		fputc(':', w->f);
	}
}

static void jw_push(struct jw *w, const char *key, char open)
{
	jw_prefix(w, key);
	fputc(open, w->f);
	if (++w->depth == w->cap) {
		w->cap *= 2;
		w->first = xrealloc(w->first, w->cap);
	}
	w->first[w->depth] = 1;
}

static void jw_pop(struct jw *w, char close)
{
	fputc(close, w->f);
	if (w->depth > 0)
		w->depth--;
}

void jw_obj_begin(struct jw *w, const char *key)
{
	jw_push(w, key, '{');
}

void jw_obj_end(struct jw *w)
{
	jw_pop(w, '}');
}

void jw_arr_begin(struct jw *w, const char *key)
{
	jw_push(w, key, '[');
}

void jw_arr_end(struct jw *w)
{
	jw_pop(w, ']');
}

void jw_str(struct jw *w, const char *key, const char *v)
{
	jw_prefix(w, key);
	json_write_string(w->f, v ? v : "");
}

void jw_int(struct jw *w, const char *key, int64_t v)
{
	jw_prefix(w, key);
	fprintf(w->f, "%" PRId64, v);
}

void jw_bool(struct jw *w, const char *key, int v)
{
	jw_prefix(w, key);
	fputs(v ? "true" : "false", w->f);
}

void jw_finish(struct jw *w)
{
	fputc('\n', w->f);
	free(w->first);
	w->first = NULL;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void json_write_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	fputc('"', f);
	while (*s) {
		size_t n = utf8_len(s);
		if (n == 0) {
			fputs("\\ufffd", f);
			s++;
			continue;
		}
		if (n > 1) {
			fwrite(s, 1, n, f);
			s += n;
			continue;
		}
		switch (*s) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (*s < 0x20 || *s == 0x7f)
				fprintf(f, "\\u%04x", *s);
			else
				fputc(*s, f);
		}
		s++;
	}
	fputc('"', f);
}

void out_text(FILE *f, const char *str)
{
	for (const unsigned char *s = (const unsigned char *)(str ? str : ""); *s; s++) {
		if (*s < 0x20 || *s == 0x7f)
			fprintf(f, "\\x%02x", *s);
		else
			fputc(*s, f);
	}
}

int out_text_width(const char *str)
{
	int w = 0;
	for (const unsigned char *s = (const unsigned char *)(str ? str : ""); *s; s++)
		w += (*s < 0x20 || *s == 0x7f) ? 4 : ((*s & 0xc0) != 0x80); /* UTF-8: count lead bytes */
	return w;
}

void format_size(char *buf, size_t len, int64_t bytes)
{
	static const char *units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	if (bytes < 1024) {
		snprintf(buf, len, "%" PRId64 " B", bytes);
		return;
	}
	double v = (double)bytes / 1024;
	size_t u = 0;
	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
}

void format_time(char *buf, size_t len, int64_t sec, int32_t nsec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char frac[16] = "";
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, len, "%" PRId64, sec);
		return;
	}
	if (nsec > 0 && nsec < 1000000000) {
		if (nsec % 1000000 == 0)
			snprintf(frac, sizeof frac, ".%03d", nsec / 1000000);
		else if (nsec % 1000 == 0)
			snprintf(frac, sizeof frac, ".%06d", nsec / 1000);
		else
			snprintf(frac, sizeof frac, ".%09d", nsec);
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

const char *kind_name(int kind)
{
	switch (kind) {
	case CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__VIEW:
		return "view";
	case CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__ACTIVE:
		return "active";
	case CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__COMMITTED:
		return "committed";
	default:
		return "unknown";
	}
}

void print_mounts_human(FILE *f, mount_msg *const *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out_text(f, m[i]->type);
		fputc(' ', f);
		out_text(f, m[i]->source);
		for (size_t j = 0; j < m[i]->n_options; j++) {
			fputc(j ? ',' : ' ', f);
			out_text(f, m[i]->options[j]);
		}
		fputc('\n', f);
	}
}

void print_mounts_json(FILE *f, mount_msg *const *m, size_t n)
{
	struct jw w;
	jw_init(&w, f);
	jw_obj_begin(&w, NULL);
	jw_arr_begin(&w, "mounts");
	for (size_t i = 0; i < n; i++) {
		jw_obj_begin(&w, NULL);
		jw_str(&w, "type", m[i]->type);
		jw_str(&w, "source", m[i]->source);
		jw_str(&w, "target", m[i]->target);
		jw_arr_begin(&w, "options");
		for (size_t j = 0; j < m[i]->n_options; j++)
			jw_str(&w, NULL, m[i]->options[j]);
		jw_arr_end(&w);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_finish(&w);
}

static void format_ts(char *buf, size_t len, const Google__Protobuf__Timestamp *ts)
{
	if (ts)
		format_time(buf, len, ts->seconds, ts->nanos);
	else
		snprintf(buf, len, "-");
}

void print_info_human(FILE *f, const snap_info_msg *i)
{
	char created[64], updated[64];
	format_ts(created, sizeof created, i->created_at);
	format_ts(updated, sizeof updated, i->updated_at);
	fputs("name:    ", f);
	out_text(f, i->name);
	fputs("\nparent:  ", f);
	out_text(f, i->parent && *i->parent ? i->parent : "-");
	fprintf(f, "\nkind:    %s\ncreated: %s\nupdated: %s\nlabels:", kind_name(i->kind), created, updated);
	if (i->n_labels == 0)
		fputs("  -", f);
	for (size_t j = 0; j < i->n_labels; j++) {
		fputs("\n  ", f);
		out_text(f, i->labels[j]->key);
		fputc('=', f);
		out_text(f, i->labels[j]->value);
	}
	fputc('\n', f);
}

void jw_info(struct jw *w, const char *key, const snap_info_msg *i)
{
	char ts[64];
	jw_obj_begin(w, key);
	jw_str(w, "name", i->name);
	jw_str(w, "parent", i->parent);
	jw_str(w, "kind", kind_name(i->kind));
	if (i->created_at) {
		format_ts(ts, sizeof ts, i->created_at);
		jw_str(w, "created_at", ts);
	}
	if (i->updated_at) {
		format_ts(ts, sizeof ts, i->updated_at);
		jw_str(w, "updated_at", ts);
	}
	jw_obj_begin(w, "labels");
	for (size_t j = 0; j < i->n_labels; j++)
		jw_str(w, i->labels[j]->key, i->labels[j]->value);
	jw_obj_end(w);
	jw_obj_end(w);
}

static void add_part(struct info_format *f, enum info_field field, const char *text, size_t len)
{
	if (field == IF_TEXT && len == 0)
		return;
	f->parts = xrealloc(f->parts, (f->n + 1) * sizeof *f->parts);
	f->parts[f->n].field = field;
	f->parts[f->n].text = NULL;
	if (field == IF_TEXT) {
		/* docker's formatter turns the two characters \t and \n into
		 * a tab and a newline. */
		char *t = xmalloc(len + 1), *o = t;
		for (size_t k = 0; k < len; k++) {
			if (text[k] == '\\' && k + 1 < len && (text[k + 1] == 't' || text[k + 1] == 'n')) {
				*o++ = text[k + 1] == 't' ? '\t' : '\n';
				k++;
			} else {
				*o++ = text[k];
			}
		}
		*o = 0;
		f->parts[f->n].text = t;
	}
	f->n++;
}

int info_format_parse(const char *tmpl, struct info_format *f, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		enum info_field field;
	} fields[] = {{".Name", IF_NAME},	{".Parent", IF_PARENT},		 {".Kind", IF_KIND},
		      {".Created", IF_CREATED}, {".Updated", IF_UPDATED},	 {".Labels", IF_LABELS},
		      {"json .", IF_JSON},	{"json .Labels", IF_JSON_LABELS}};
	memset(f, 0, sizeof *f);
	const char *p = tmpl;
	for (;;) {
		const char *open = strstr(p, "{{");
		if (!open) {
			add_part(f, IF_TEXT, p, strlen(p));
			return 0;
		}
		add_part(f, IF_TEXT, p, (size_t)(open - p));
		const char *close = strstr(open + 2, "}}");
		if (!close) {
			snprintf(err, errlen, "--format: `{{` without `}}`");
			break;
		}
		/* {{ .Name }} as well as {{.Name}} */
		const char *a = open + 2, *b = close;
		while (a < b && *a == ' ')
			a++;
		while (b > a && b[-1] == ' ')
			b--;
		size_t k, len = (size_t)(b - a);
		for (k = 0; k < ARRAY_SIZE(fields); k++)
			if (strlen(fields[k].name) == len && strncmp(fields[k].name, a, len) == 0)
				break;
		if (k == ARRAY_SIZE(fields)) {
			snprintf(
			    err, errlen,
			    "--format: unknown field `%.*s` (known: .Name .Parent .Kind .Created .Updated "
			    ".Labels, json ., json .Labels)",
			    (int)(len > 64 ? 64 : len), a);
			break;
		}
		add_part(f, fields[k].field, NULL, 0);
		p = close + 2;
	}
	info_format_free(f);
	return -1;
}

static void labels_json(FILE *out, const snap_info_msg *i)
{
	struct jw w;
	jw_init(&w, out);
	jw_obj_begin(&w, NULL);
	for (size_t j = 0; j < i->n_labels; j++)
		jw_str(&w, i->labels[j]->key, i->labels[j]->value);
	jw_obj_end(&w);
	free(w.first); /* no newline: the template goes on */
}

void info_format_print(FILE *out, const struct info_format *f, const snap_info_msg *i)
{
	char ts[64];
	for (size_t k = 0; k < f->n; k++) {
		switch (f->parts[k].field) {
		case IF_TEXT:
			fputs(f->parts[k].text, out);
			break;
		case IF_NAME:
			out_text(out, i->name);
			break;
		case IF_PARENT:
			out_text(out, i->parent);
			break;
		case IF_KIND:
			fputs(kind_name(i->kind), out);
			break;
		case IF_CREATED:
		case IF_UPDATED: {
			const Google__Protobuf__Timestamp *t =
			    f->parts[k].field == IF_CREATED ? i->created_at : i->updated_at;
			format_ts(ts, sizeof ts, t);
			fputs(ts, out);
			break;
		}
		case IF_LABELS:
			for (size_t j = 0; j < i->n_labels; j++) {
				if (j)
					fputc(',', out);
				out_text(out, i->labels[j]->key);
				fputc('=', out);
				out_text(out, i->labels[j]->value);
			}
			break;
		case IF_JSON: {
			struct jw w;
			jw_init(&w, out);
			jw_info(&w, NULL, i);
			free(w.first);
			break;
		}
		case IF_JSON_LABELS:
			labels_json(out, i);
			break;
		}
	}
	fputc('\n', out);
}

void info_format_free(struct info_format *f)
{
	for (size_t k = 0; k < f->n; k++)
		free(f->parts[k].text);
	free(f->parts);
	memset(f, 0, sizeof *f);
}
