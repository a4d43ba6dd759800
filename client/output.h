/* The CLI's output: a small JSON writer (one document on stdout), human
 * formatting of sizes and times, and the printers shared by several
 * commands (mounts, snapshot info). */
#ifndef STRATA_CLIENT_OUTPUT_H
#define STRATA_CLIENT_OUTPUT_H

#include <stdint.h>
#include <stdio.h>
#include "../proto/api.h"

typedef Containerd__Services__Snapshots__V1__Info snap_info_msg;
typedef Containerd__Types__Mount mount_msg;

/* JSON writer: tracks commas and nesting; keys are NULL inside arrays and at
 * the top level.  Strings are escaped; bytes that are not UTF-8 become
 * U+FFFD so that the document always parses. */
struct jw {
	FILE *f;
	size_t depth, cap;
	unsigned char *first; /* per level: nothing written yet */
};

void jw_init(struct jw *w, FILE *f);
void jw_obj_begin(struct jw *w, const char *key);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w, const char *key);
void jw_arr_end(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *v);
void jw_int(struct jw *w, const char *key, int64_t v);
void jw_bool(struct jw *w, const char *key, int v);
/* Ends the document with a newline and frees the writer. */
void jw_finish(struct jw *w);
/* Writes s as a JSON string literal (quotes included). */
void json_write_string(FILE *f, const char *s);

/* Human text: control characters (a snapshot name is client-chosen) are
 * shown as \xNN, never sent to the terminal. */
void out_text(FILE *f, const char *s);
/* Columns out_text() takes for s (for aligned tables). */
int out_text_width(const char *s);

/* "512 B", "1.2 MiB" */
void format_size(char *buf, size_t len, int64_t bytes);
/* RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as protobuf's JSON. */
void format_time(char *buf, size_t len, int64_t sec, int32_t nsec);

/* "active", "view", "committed": human and JSON output alike. */
const char *kind_name(int kind);

/* One line per mount: `type source options` (options comma-separated). */
void print_mounts_human(FILE *f, mount_msg *const *m, size_t n);
/* {"mounts":[{"type","source","target","options":[...]}]} */
void print_mounts_json(FILE *f, mount_msg *const *m, size_t n);

void print_info_human(FILE *f, const snap_info_msg *i);
/* The Info message's fields under containerd's names (snake_case), kind
 * in lower case. */
void jw_info(struct jw *w, const char *key, const snap_info_msg *i);

/* --format: a template in the style of docker's, nerdctl's and podman's
 * Go templates, the subset a snapshot needs: text with `{{.Name}}`,
 * `{{.Parent}}`, `{{.Kind}}`, `{{.Created}}`, `{{.Updated}}`, `{{.Labels}}`
 * (K=V,K=V) and `{{json .}}` or `{{json .Labels}}`; `\t` and `\n` in the text
 * are a tab and a newline, as docker reads them.  One line per snapshot. */
enum info_field {
	IF_TEXT,
	IF_NAME,
	IF_PARENT,
	IF_KIND,
	IF_CREATED,
	IF_UPDATED,
	IF_LABELS,
	IF_JSON,
	IF_JSON_LABELS,
};
struct info_format {
	struct info_part {
		enum info_field field;
		char *text; /* IF_TEXT */
	} * parts;
	size_t n;
};
/* Compiles tmpl; -1 with a message in err (for a usage error). */
int info_format_parse(const char *tmpl, struct info_format *f, char *err, size_t errlen);
void info_format_print(FILE *out, const struct info_format *f, const snap_info_msg *i);
void info_format_free(struct info_format *f);

#endif
