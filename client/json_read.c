/* A strict recursive-descent JSON reader with limits (json_read.h).  The
 * recursion depth is bounded by max_depth, so the C stack is too. */
#include "json_read.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"

const struct json_limits json_default_limits = {
    .max_bytes = 4u << 20,
    .max_depth = 64,
    .max_values = 200000,
};

struct parser {
	const unsigned char *p, *start, *end;
	const struct json_limits *lim;
	size_t depth, values;
	struct err *e;
};

static struct json_value *parse_value(struct parser *ps);

static int fail(struct parser *ps, const char *what)
{
	return err_set(ps->e, ST_INVALID_ARGUMENT, "malformed JSON at byte %zu: %s",
		       (size_t)(ps->p - ps->start), what);
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

/* Consumes the literal word (true, false, null). */
static int expect_word(struct parser *ps, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail(ps, "unexpected character");
	ps->p += n;
	return 0;
}

static int hex4(struct parser *ps, unsigned *out)
{
	unsigned v = 0;
	if (ps->end - ps->p < 4)
		return fail(ps, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		unsigned char c = *ps->p++;
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return fail(ps, "bad hex digit in \\u escape");
	}
	*out = v;
	return 0;
}

/* A \u escape (after the `\u`), surrogate pairs joined; lone surrogates and
 * U+0000 (which would cut the C string short) are refused. */
static int unicode_escape(struct parser *ps, unsigned *cp)
{
	unsigned hi, lo;
	if (hex4(ps, &hi) < 0)
		return -1;
	if (hi >= 0xDC00 && hi <= 0xDFFF)
		return fail(ps, "lone low surrogate");
	if (hi >= 0xD800 && hi <= 0xDBFF) {
		if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
			return fail(ps, "lone high surrogate");
		ps->p += 2;
		if (hex4(ps, &lo) < 0)
			return -1;
		if (lo < 0xDC00 || lo > 0xDFFF)
			return fail(ps, "high surrogate without a low one");
		hi = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
	}
	if (hi == 0)
		return fail(ps, "\\u0000 in a string");
	*cp = hi;
	return 0;
}

static size_t put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), 0 when invalid:
 * overlong forms, surrogates and code points above U+10FFFF are invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t n;
	unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		n = 3;
		if (p[0] == 0xE0)
			lo = 0xA0;
		else if (p[0] == 0xED)
			hi = 0x9F;
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		n = 4;
		if (p[0] == 0xF0)
			lo = 0x90;
		else if (p[0] == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

/* Parses a string (at the opening quote) into a new buffer.  The decoded
 * form is never longer than the source, which sizes the buffer. */
static char *parse_string(struct parser *ps, size_t *len)
{
	const unsigned char *q = ++ps->p;
	while (q < ps->end && *q != '"')
		q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
	if (q >= ps->end) {
		fail(ps, "unterminated string");
		return NULL;
	}
	char *out = xmalloc((size_t)(q - ps->p) + 1);
	size_t n = 0;
	while (*ps->p != '"') {
		unsigned char c = *ps->p;
		if (c < 0x20) {
			fail(ps, "control character in a string");
			goto bad;
		}
		if (c >= 0x80) {
			size_t k = utf8_len(ps->p, ps->end);
			if (k == 0) {
				fail(ps, "invalid UTF-8 in a string");
				goto bad;
			}
			memcpy(out + n, ps->p, k);
			n += k;
			ps->p += k;
			continue;
		}
		ps->p++;
		if (c != '\\') {
			out[n++] = (char)c;
			continue;
		}
		static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
		const char *f = strchr(from, *ps->p);
		if (*ps->p && f) {
			out[n++] = to[f - from];
			ps->p++;
		} else if (*ps->p == 'u') {
			unsigned cp = 0;
			ps->p++;
			if (unicode_escape(ps, &cp) < 0)
				goto bad;
			n += put_utf8(out + n, cp);
		} else {
			fail(ps, "unknown escape");
			goto bad;
		}
	}
	ps->p++;
	out[n] = 0;
	*len = n;
	return out;
bad:
	free(out);
	return NULL;
}

/* number = [-] int [frac] [exp], int without leading zeros. */
static int parse_number(struct parser *ps, struct json_value *v)
{
	const unsigned char *s = ps->p;
	int is_int = 1;
	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
		return fail(ps, "bad number");
	if (*ps->p == '0' && ps->p + 1 < ps->end && ps->p[1] >= '0' && ps->p[1] <= '9')
		return fail(ps, "leading zero in a number");
	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
		ps->p++;
	if (ps->p < ps->end && *ps->p == '.') {
		is_int = 0;
		ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return fail(ps, "bad fraction");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		is_int = 0;
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
			return fail(ps, "bad exponent");
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	/* The grammar is checked: strtoll/strtod read exactly this text. */
	cleanup_free char *text = xasprintf("%.*s", (int)(ps->p - s), (const char *)s);
	v->type = JSON_NUMBER;
	v->u.num.d = strtod(text, NULL);
	if (is_int) {
		errno = 0;
		v->u.num.i = strtoll(text, NULL, 10);
		v->u.num.is_int = errno != ERANGE;
	}
	return 0;
}

static int has_key(const struct json_value *obj, const char *key)
{
	for (size_t i = 0; i < obj->u.obj.n; i++)
		if (strcmp(obj->u.obj.m[i].key, key) == 0)
			return 1;
	return 0;
}

/* Duplicate keys are refused: two readers of one document could otherwise
 * pick different values (first or last) and disagree about a digest. */
static int parse_object(struct parser *ps, struct json_value *v)
{
	v->type = JSON_OBJECT;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return 0;
	}
	for (;;) {
		size_t klen;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '"')
			return fail(ps, "expected a member name");
		const unsigned char *at = ps->p;
		char *key = parse_string(ps, &klen);
		if (!key)
			return -1;
		if (has_key(v, key)) {
			free(key);
			ps->p = at;
			return fail(ps, "duplicate member name");
		}
		v->u.obj.m = xrealloc(v->u.obj.m, (v->u.obj.n + 1) * sizeof *v->u.obj.m);
		struct json_member *m = &v->u.obj.m[v->u.obj.n++];
		m->key = key;
		m->value = NULL;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':')
			return fail(ps, "expected `:`");
		ps->p++;
		if (!(m->value = parse_value(ps)))
			return -1;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			return 0;
		}
		return fail(ps, "expected `,` or `}`");
	}
}

static int parse_array(struct parser *ps, struct json_value *v)
{
	v->type = JSON_ARRAY;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return 0;
	}
	for (;;) {
		struct json_value *el = parse_value(ps);
		if (!el)
			return -1;
		v->u.arr.v = xrealloc(v->u.arr.v, (v->u.arr.n + 1) * sizeof *v->u.arr.v);
		v->u.arr.v[v->u.arr.n++] = el;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			return 0;
		}
		return fail(ps, "expected `,` or `]`");
	}
}

static int parse_into(struct parser *ps, struct json_value *v)
{
	if (ps->p >= ps->end)
		return fail(ps, "unexpected end of input");
	switch (*ps->p) {
	case '{':
	case '[':
		if (ps->depth >= ps->lim->max_depth)
			return err_set(ps->e, ST_INVALID_ARGUMENT,
				       "JSON nesting deeper than the limit of %zu at byte %zu",
				       ps->lim->max_depth, (size_t)(ps->p - ps->start));
		ps->depth++;
		int rc = *ps->p == '{' ? parse_object(ps, v) : parse_array(ps, v);
		ps->depth--;
		return rc;
	case '"':
		v->type = JSON_STRING;
		v->u.str.s = parse_string(ps, &v->u.str.len);
		return v->u.str.s ? 0 : -1;
	case 't':
		v->type = JSON_BOOL;
		v->u.boolean = 1;
		return expect_word(ps, "true");
	case 'f':
		v->type = JSON_BOOL;
		return expect_word(ps, "false");
	case 'n':
		return expect_word(ps, "null");
	default:
		return parse_number(ps, v);
	}
}

static struct json_value *parse_value(struct parser *ps)
{
	skip_ws(ps);
	if (++ps->values > ps->lim->max_values) {
		err_set(ps->e, ST_INVALID_ARGUMENT, "JSON has more values than the limit of %zu",
			ps->lim->max_values);
		return NULL;
	}
	struct json_value *v = xcalloc(1, sizeof *v);
	if (parse_into(ps, v) < 0) {
		json_free(v);
		return NULL;
	}
	return v;
}

struct json_value *json_parse(const char *text, size_t len, const struct json_limits *lim, struct err *e)
{
	struct parser ps = {.p = (const unsigned char *)text,
			    .start = (const unsigned char *)text,
			    .end = (const unsigned char *)text + len,
			    .lim = lim ? lim : &json_default_limits,
			    .e = e};
	if (len > ps.lim->max_bytes) {
		err_set(e, ST_INVALID_ARGUMENT, "JSON document of %zu bytes exceeds the limit of %zu", len,
			ps.lim->max_bytes);
		return NULL;
	}
	struct json_value *v = parse_value(&ps);
	if (!v)
		return NULL;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		fail(&ps, "trailing data after the document");
		json_free(v);
		return NULL;
	}
	return v;
}

void json_free(struct json_value *v)
{
	if (!v)
		return;
	if (v->type == JSON_STRING) {
		free(v->u.str.s);
	} else if (v->type == JSON_ARRAY) {
		for (size_t i = 0; i < v->u.arr.n; i++)
			json_free(v->u.arr.v[i]);
		free(v->u.arr.v);
	} else if (v->type == JSON_OBJECT) {
		for (size_t i = 0; i < v->u.obj.n; i++) {
			free(v->u.obj.m[i].key);
			json_free(v->u.obj.m[i].value);
		}
		free(v->u.obj.m);
	}
	free(v);
}

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->u.obj.n; i++)
		if (strcmp(obj->u.obj.m[i].key, key) == 0)
			return obj->u.obj.m[i].value;
	return NULL;
}

const char *json_get_str(const struct json_value *obj, const char *key)
{
	const struct json_value *v = json_get(obj, key);
	return v && v->type == JSON_STRING ? v->u.str.s : NULL;
}

int json_get_int(const struct json_value *obj, const char *key, int64_t *out)
{
	const struct json_value *v = json_get(obj, key);
	if (!v || v->type != JSON_NUMBER || !v->u.num.is_int)
		return -1;
	*out = v->u.num.i;
	return 0;
}

const struct json_value *json_get_arr(const struct json_value *obj, const char *key)
{
	const struct json_value *v = json_get(obj, key);
	return v && v->type == JSON_ARRAY ? v : NULL;
}
