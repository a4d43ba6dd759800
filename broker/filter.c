/* containerd's filter language (filters/parser.go, scanner.go, quote.go),
 * accepting and rejecting exactly what containerd does, byte for byte, with
 * two deliberate differences: a regular expression is compiled when the
 * filter is parsed, so an invalid one is InvalidArgument (containerd
 * silently matches nothing), and it is POSIX extended, not RE2 (broker/ere.h,
 * which bounds what one costs).
 *
 * The scanner works on runes like containerd's: a run of field characters
 * [A-Za-z0-9_] is a field; after an operator the next token is a value (any
 * run of non-space characters but ','); '"', '/' and '|' open quoted
 * strings with Go's escapes; ',' and '.' separate; invalid UTF-8 and NUL are
 * illegal everywhere. */
#include "filter.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"
#include "ere.h"
#include "meta.h"

enum op { OP_PRESENT, OP_EQUAL, OP_NOT_EQUAL, OP_MATCHES };

struct selector {
	char **path; /* npath strings, NUL-terminated */
	size_t npath, pathcap;
	size_t pathlen; /* their bytes, with a separator each */
	bool path_nul;	/* a quoted field held a NUL: no object has such a field */
	enum op op;
	char *value; /* vlen bytes (may hold NUL via escapes), NUL-terminated */
	size_t vlen;
	struct ere *re; /* OP_MATCHES */
};

/* All selectors of one filter string must match; an empty string matches. */
struct conj {
	struct selector *sel;
	size_t n, cap;
};

struct filter {
	struct conj *any; /* any one matching is enough; none: everything matches */
	size_t n;
	size_t program; /* instructions of all its regular expressions */
	uint64_t steps; /* what matching may still cost (FILTER_STEPS) */
};

/* ---- scanner --------------------------------------------------------------- */

enum {
	T_EOF = -1,
	T_QUOTED = -2,
	T_VALUE = -3,
	T_FIELD = -4,
	T_SEPARATOR = -5,
	T_OPERATOR = -6,
	T_ILLEGAL = -7,
};

struct scanner {
	const char *in;
	size_t len;
	size_t pos;  /* start of the rune last read */
	size_t ppos; /* end of the rune last read */
	bool value;  /* the next token is a value (an operator came before) */
	const char *err;
};

struct token {
	int kind; /* T_* or a plain rune */
	size_t pos;
	const char *text;
	size_t tlen;
};

/* Go's utf8.DecodeRune: the rune at s, or -1 for an invalid encoding
 * (width 1).  U+FFFD itself also counts as invalid, as containerd's scanner
 * cannot tell it from a decoding error. */
static int32_t decode_rune(const unsigned char *s, size_t n, size_t *w)
{
	*w = 1;
	if (s[0] < 0x80)
		return s[0];
	int need;
	int32_t r, min;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 1, r = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 2, r = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 3, r = s[0] & 0x07, min = 0x10000;
	else
		return -1;
	if ((size_t)need >= n)
		return -1;
	for (int i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		r = (r << 6) | (s[i] & 0x3f);
	}
	if (r < min || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff) || r == 0xfffd)
		return -1;
	*w = (size_t)need + 1;
	return r;
}

static void scan_error(struct scanner *s, const char *msg)
{
	if (!s->err)
		s->err = msg;
}

static int32_t next_rune(struct scanner *s)
{
	if (s->pos >= s->len)
		return T_EOF;
	s->pos = s->ppos;
	if (s->ppos >= s->len)
		return T_EOF;
	size_t w;
	int32_t r = decode_rune((const unsigned char *)s->in + s->ppos, s->len - s->ppos, &w);
	s->ppos += w;
	if (r < 0) {
		scan_error(s, "rune error");
		return T_ILLEGAL;
	}
	if (r == 0) {
		scan_error(s, "unexpected null");
		return T_ILLEGAL;
	}
	return r;
}

static int32_t peek_rune(struct scanner *s)
{
	size_t pos = s->pos, ppos = s->ppos;
	int32_t r = next_rune(s);
	s->pos = pos;
	s->ppos = ppos;
	return r;
}

/* unicode.IsSpace */
static bool is_space(int32_t r)
{
	switch (r) {
	case '\t':
	case '\n':
	case '\v':
	case '\f':
	case '\r':
	case ' ':
	case 0x85:
	case 0xa0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202f:
	case 0x205f:
	case 0x3000:
		return true;
	}
	return r >= 0x2000 && r <= 0x200a;
}

static bool is_field_rune(int32_t r)
{
	return r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9');
}

static bool is_quote_rune(int32_t r)
{
	return r == '"' || r == '/' || r == '|';
}

static bool is_operator_rune(int32_t r)
{
	return r == '=' || r == '!' || r == '~';
}

/* containerd's isValueRune: graphic, not a space, not ','.  Outside ASCII
 * this approximates unicode.IsGraphic by excluding C1 controls and the
 * common format characters (U+200B..U+200F, U+2060..U+206F, U+FEFF). */
static bool is_value_rune(int32_t r)
{
	if (r < 0 || r == ',' || is_space(r))
		return false;
	if (r < 0x80)
		return r > 0x20 && r < 0x7f;
	if (r < 0xa0 || (r >= 0x200b && r <= 0x200f) || (r >= 0x2060 && r <= 0x206f) || r == 0xfeff)
		return false;
	return true;
}

static int digit_val(int32_t r)
{
	if (r >= '0' && r <= '9')
		return r - '0';
	if (r >= 'a' && r <= 'f')
		return r - 'a' + 10;
	if (r >= 'A' && r <= 'F')
		return r - 'A' + 10;
	return 16;
}

static int32_t scan_digits(struct scanner *s, int32_t r, int base, int n, bool *legal)
{
	while (n > 0 && digit_val(r) < base) {
		r = next_rune(s);
		n--;
	}
	*legal = n == 0;
	if (n > 0)
		scan_error(s, "illegal numeric escape sequence");
	return r;
}

/* After a backslash: returns the rune that follows the escape. */
static int32_t scan_escape(struct scanner *s, int32_t quote, bool *legal)
{
	int32_t r = next_rune(s);
	*legal = false;
	if (r == quote || (r > 0 && r < 0x80 && strchr("abfnrtv\\", (int)r))) {
		*legal = true;
		return next_rune(s);
	}
	if (r >= '0' && r <= '7')
		return scan_digits(s, r, 8, 3, legal);
	if (r == 'x')
		return scan_digits(s, next_rune(s), 16, 2, legal);
	if (r == 'u')
		return scan_digits(s, next_rune(s), 16, 4, legal);
	if (r == 'U')
		return scan_digits(s, next_rune(s), 16, 8, legal);
	scan_error(s, "illegal escape sequence");
	return r;
}

static bool scan_quoted(struct scanner *s, int32_t quote)
{
	bool ok = true;
	int32_t r = next_rune(s);
	while (r != quote) {
		if (r == '\n' || r < 0) {
			scan_error(s, "quoted literal not terminated");
			return false;
		}
		if (r == '\\') {
			bool legal;
			r = scan_escape(s, quote, &legal);
			ok = ok && legal;
		} else {
			r = next_rune(s);
		}
	}
	return ok;
}

static void scan_while(struct scanner *s, bool (*pred)(int32_t))
{
	while (pred(peek_rune(s)))
		next_rune(s);
}

static struct token scan(struct scanner *s)
{
	int32_t r = next_rune(s);
	size_t pos = s->pos;
	while (r >= 0 && is_space(r)) {
		r = next_rune(s);
		pos = s->pos;
	}
	struct token t = {.kind = r, .pos = s->pos, .text = ""};
	if (r < 0)
		return t;
	t.pos = pos;
	t.text = s->in + pos;
	if (is_quote_rune(r)) {
		t.kind = scan_quoted(s, r) ? T_QUOTED : T_ILLEGAL;
	} else if (r == ',' || r == '.') {
		s->value = false;
		t.kind = T_SEPARATOR;
	} else if (is_operator_rune(r)) {
		scan_while(s, is_operator_rune);
		s->value = true;
		t.kind = T_OPERATOR;
	} else if (s->value) {
		scan_while(s, is_value_rune);
		s->value = false;
		t.kind = T_VALUE;
	} else if (is_field_rune(r)) {
		scan_while(s, is_field_rune);
		t.kind = T_FIELD;
	} else {
		t.pos = s->pos;
		t.text = "";
		return t;
	}
	t.tlen = s->ppos - pos;
	return t;
}

/* ---- unquoting (quote.go) ------------------------------------------------- */

static size_t put_utf8(char *b, int32_t r)
{
	if (r >= 0xd800 && r <= 0xdfff)
		r = 0xfffd; /* what Go's utf8.EncodeRune writes for a surrogate */
	if (r < 0x80) {
		b[0] = (char)r;
		return 1;
	}
	if (r < 0x800) {
		b[0] = (char)(0xc0 | (r >> 6));
		b[1] = (char)(0x80 | (r & 0x3f));
		return 2;
	}
	if (r < 0x10000) {
		b[0] = (char)(0xe0 | (r >> 12));
		b[1] = (char)(0x80 | ((r >> 6) & 0x3f));
		b[2] = (char)(0x80 | (r & 0x3f));
		return 3;
	}
	b[0] = (char)(0xf0 | (r >> 18));
	b[1] = (char)(0x80 | ((r >> 12) & 0x3f));
	b[2] = (char)(0x80 | ((r >> 6) & 0x3f));
	b[3] = (char)(0x80 | (r & 0x3f));
	return 4;
}

static bool hex_run(const char *s, int n, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		int d = digit_val((unsigned char)s[i]);
		if (d >= 16)
			return false;
		*v = (*v << 4) | (uint32_t)d;
	}
	return true;
}

/* One escape after a backslash at s (len bytes left); appends to out. */
static bool unquote_escape(const char **sp, size_t *len, char quote, char *out, size_t *o)
{
	const char *s = *sp;
	if (*len < 2)
		return false;
	char c = s[1];
	size_t used = 2;
	uint32_t v;
	const char *simple = strchr("abfnrtv\\", c);
	if (c && simple) {
		static const char map[] = "\a\b\f\n\r\t\v\\";
		out[(*o)++] = map[simple - "abfnrtv\\"];
	} else if (c == 'x' || c == 'u' || c == 'U') {
		int n = c == 'x' ? 2 : c == 'u' ? 4 : 8;
		if (*len < 2 + (size_t)n || !hex_run(s + 2, n, &v))
			return false;
		used += (size_t)n;
		/* Go keeps runes in an int32: eight hex digits above 7fffffff make
		 * a negative rune, which containerd writes as its low byte. */
		if (c == 'x' || v < 0x80 || v > 0x7fffffff)
			out[(*o)++] = (char)(v & 0xff);
		else if (v > 0x10ffff)
			return false;
		else
			*o += put_utf8(out + *o, (int32_t)v);
	} else if (c >= '0' && c <= '7') {
		if (*len < 4)
			return false;
		v = (uint32_t)(c - '0');
		for (int j = 2; j < 4; j++) {
			if (s[j] < '0' || s[j] > '7')
				return false;
			v = (v << 3) | (uint32_t)(s[j] - '0');
		}
		if (v > 255)
			return false;
		used = 4;
		out[(*o)++] = (char)v;
	} else if (c == quote && (c == '"' || c == '/' || c == '|')) {
		out[(*o)++] = c;
	} else {
		return false;
	}
	*sp = s + used;
	*len -= used;
	return true;
}

/* Unquotes text (with its quotes) into a new string of *olen bytes. */
static char *unquote(const char *text, size_t n, size_t *olen)
{
	if (n < 2 || text[0] != text[n - 1])
		return NULL;
	char quote = text[0];
	const char *s = text + 1;
	size_t len = n - 2, o = 0;
	if (memchr(s, '\n', len))
		return NULL;
	/* Escapes never grow: at most 4 bytes out of at least 6 in (\U...). */
	char *out = xmalloc(len + 1);
	while (len > 0) {
		if (*s == quote) {
			free(out);
			return NULL;
		}
		if (*s != '\\') {
			out[o++] = *s++;
			len--;
		} else if (!unquote_escape(&s, &len, quote, out, &o)) {
			free(out);
			return NULL;
		}
	}
	out[o] = '\0';
	*olen = o;
	return out;
}

/* ---- parser ------------------------------------------------------------- */

struct parser {
	struct scanner sc;
	struct err *e;
	size_t *program; /* the filter's regular expressions' instructions so far */
};

/* containerd's parseError: the input with the offending byte marked. */
__attribute__((format(printf, 3, 4))) static int parse_fail(struct parser *p, size_t pos, const char *fmt,
							    ...)
{
	char msg[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	const char *in = p->sc.in;
	int len = (int)p->sc.len;
	if (pos < p->sc.len)
		return err_set(p->e, ST_INVALID_ARGUMENT,
			       "filters: parse error at offset %zu: [%.*s >|%c|< %.*s]: %s", pos, (int)pos,
			       in, in[pos], len - (int)pos - 1, in + pos + 1, msg);
	return err_set(p->e, ST_INVALID_ARGUMENT, "filters: parse error at offset %zu: [%.*s]: %s", pos, len,
		       in, msg);
}

static char *quoted(struct parser *p, const struct token *t, bool alt_quotes, size_t *len)
{
	if (!alt_quotes && t->text[0] != '"') {
		parse_fail(p, t->pos, "invalid quote encountered");
		return NULL;
	}
	char *s = unquote(t->text, t->tlen, len);
	if (!s)
		parse_fail(p, t->pos, "unquoting failed: quote syntax error");
	return s;
}

static int field(struct parser *p, struct selector *sel)
{
	struct token t = scan(&p->sc);
	char *f;
	size_t len;
	if (t.kind == T_FIELD) {
		f = xmalloc(t.tlen + 1);
		memcpy(f, t.text, t.tlen);
		f[t.tlen] = '\0';
		len = t.tlen;
	} else if (t.kind == T_QUOTED) {
		if (!(f = quoted(p, &t, false, &len)))
			return -1;
	} else if (t.kind == T_ILLEGAL) {
		return parse_fail(p, t.pos, "%s", p->sc.err ? p->sc.err : "illegal input");
	} else {
		return parse_fail(p, t.pos, "expected field or quoted");
	}
	if (strlen(f) != len)
		sel->path_nul = true;
	sel->path = xgrow(sel->path, &sel->pathcap, sel->npath, sizeof *sel->path);
	sel->path[sel->npath++] = f;
	sel->pathlen += len + 1;
	return 0;
}

static int fieldpath(struct parser *p, struct selector *sel)
{
	if (field(p, sel) < 0)
		return -1;
	while (peek_rune(&p->sc) == '.') {
		scan(&p->sc); /* the separator */
		if (field(p, sel) < 0)
			return -1;
	}
	return 0;
}

static int operator(struct parser *p, struct selector *sel)
{
	struct token t = scan(&p->sc);
	if (t.kind == T_ILLEGAL)
		return parse_fail(p, t.pos, "%s", p->sc.err ? p->sc.err : "illegal input");
	if (t.kind != T_OPERATOR)
		return parse_fail(p, t.pos, "expected an operator (\"==\"|\"!=\"|\"~=\")");
	if (t.tlen == 2 && memcmp(t.text, "==", 2) == 0)
		sel->op = OP_EQUAL;
	else if (t.tlen == 2 && memcmp(t.text, "!=", 2) == 0)
		sel->op = OP_NOT_EQUAL;
	else if (t.tlen == 2 && memcmp(t.text, "~=", 2) == 0)
		sel->op = OP_MATCHES;
	else
		return parse_fail(p, t.pos, "unsupported operator \"%.*s\"", (int)(t.tlen > 16 ? 16 : t.tlen),
				  t.text);
	return 0;
}

static int value(struct parser *p, struct selector *sel)
{
	struct token t = scan(&p->sc);
	if (t.kind == T_VALUE || t.kind == T_FIELD) {
		sel->value = xmalloc(t.tlen + 1);
		memcpy(sel->value, t.text, t.tlen);
		sel->value[t.tlen] = '\0';
		sel->vlen = t.tlen;
		return 0;
	}
	if (t.kind == T_QUOTED)
		return (sel->value = quoted(p, &t, sel->op == OP_MATCHES, &sel->vlen)) ? 0 : -1;
	if (t.kind == T_ILLEGAL)
		return parse_fail(p, t.pos, "%s", p->sc.err ? p->sc.err : "illegal input");
	return parse_fail(p, t.pos, "expected value or quoted");
}

static int compile_regex(struct parser *p, struct selector *sel)
{
	if (strlen(sel->value) != sel->vlen)
		return err_set(p->e, ST_INVALID_ARGUMENT, "filters: regular expression holds a NUL byte");
	char why[128];
	if (!(sel->re = ere_compile(sel->value, why, sizeof why)))
		return err_set(p->e, ST_INVALID_ARGUMENT, "filters: invalid regular expression `%.200s`: %s",
			       sel->value, why);
	if ((*p->program += ere_program_size(sel->re)) > FILTER_MAX_PROGRAM)
		return err_set(p->e, ST_INVALID_ARGUMENT,
			       "filters: regular expressions of more than %d instructions in all",
			       FILTER_MAX_PROGRAM);
	return 0;
}

static int selector(struct parser *p, struct selector *sel)
{
	if (fieldpath(p, sel) < 0)
		return -1;
	int32_t r = peek_rune(&p->sc);
	if (r == ',' || r == T_EOF) {
		sel->op = OP_PRESENT;
		return 0;
	}
	return operator(p, sel) < 0 || value(p, sel) < 0 ? -1 : 0;
}

static void selector_free(struct selector *sel)
{
	for (size_t i = 0; i < sel->npath; i++)
		free(sel->path[i]);
	free(sel->path);
	free(sel->value);
	ere_free(sel->re);
}

static void conj_free(struct conj *c)
{
	for (size_t i = 0; i < c->n; i++)
		selector_free(&c->sel[i]);
	free(c->sel);
}

static struct selector *conj_add(struct conj *c)
{
	c->sel = xgrow(c->sel, &c->cap, c->n, sizeof *c->sel);
	memset(&c->sel[c->n], 0, sizeof c->sel[c->n]);
	return &c->sel[c->n++];
}

/* selectors := selector ("," selector)* */
static int parse_one(const char *s, struct conj *c, size_t *program, struct err *e)
{
	struct parser p = {.sc = {.in = s, .len = strlen(s)}, .e = e, .program = program};
	if (!s[0])
		return 0; /* containerd: the empty filter matches everything */
	if (selector(&p, conj_add(c)) < 0)
		return -1;
	for (;;) {
		int32_t r = peek_rune(&p.sc);
		if (r == T_EOF)
			break;
		if (r != ',') {
			if (r < 0 || r > 0x7e || r < 0x20)
				return parse_fail(&p, p.sc.ppos, "unexpected input: U+%04X",
						  (unsigned)(r < 0 ? 0xfffd : r));
			return parse_fail(&p, p.sc.ppos, "unexpected input: %c", (char)r);
		}
		scan(&p.sc);
		if (selector(&p, conj_add(c)) < 0)
			return -1;
	}
	/* Syntax first, as containerd reports it; then the expressions. */
	for (size_t i = 0; i < c->n; i++)
		if (c->sel[i].op == OP_MATCHES && compile_regex(&p, &c->sel[i]) < 0)
			return -1;
	return 0;
}

int filter_parse(const char *const *strs, size_t n, struct filter **out, struct err *e)
{
	struct filter *f = xcalloc(1, sizeof *f);
	f->any = xcalloc(n + 1, sizeof *f->any);
	f->steps = FILTER_STEPS;
	for (size_t i = 0; i < n; i++) {
		f->n = i + 1;
		if (parse_one(strs[i] ? strs[i] : "", &f->any[i], &f->program, e) < 0) {
			filter_free(f);
			return -1;
		}
	}
	*out = f;
	return 0;
}

void filter_free(struct filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		conj_free(&f->any[i]);
	free(f->any);
	free(f);
}

/* ---- matching (filter.go) ------------------------------------------------ */

/* What a selector costs besides its regular expression, in the steps of
 * FILTER_STEPS (an instruction of an expression, about 10 ns here): a
 * field lookup (a path joined, a binary search of the labels) and the
 * comparison of the value, measured at 40-50 ns for a label selector. */
#define SELECTOR_STEPS 5

static uint64_t selector_cost(const struct selector *sel, size_t vlen)
{
	return SELECTOR_STEPS + sel->pathlen / 16 + (vlen + sel->vlen) / 32;
}

/* 1 or 0; -1 when matching has run out of steps. */
static int selector_match(const struct selector *sel, filter_field_fn field_of, const void *obj,
			  uint64_t *steps)
{
	const char *v = NULL;
	bool present = !sel->path_nul && field_of(obj, (const char *const *)sel->path, sel->npath, &v);
	if (!present || !v)
		v = ""; /* containerd's adaptors give "" with present == false */
	size_t vlen = strlen(v);
	uint64_t cost = selector_cost(sel, sel->op == OP_MATCHES ? 0 : vlen);
	if (*steps < cost) {
		*steps = 0;
		return -1;
	}
	*steps -= cost;
	if (sel->op == OP_PRESENT)
		return present;
	bool equal = vlen == sel->vlen && memcmp(v, sel->value, sel->vlen) == 0;
	switch (sel->op) {
	case OP_PRESENT:
		return present;
	case OP_EQUAL:
		return present && equal;
	case OP_NOT_EQUAL:
		return !equal; /* a missing field is "", so it differs from any other value */
	case OP_MATCHES:
		return ere_match(sel->re, v, vlen, steps);
	}
	return false;
}

int filter_match(struct filter *f, filter_field_fn field_of, const void *obj)
{
	if (!f || f->n == 0)
		return 1;
	for (size_t i = 0; i < f->n; i++) {
		const struct conj *c = &f->any[i];
		size_t j = 0;
		int m = 1;
		while (j < c->n && (m = selector_match(&c->sel[j], field_of, obj, &f->steps)) == 1)
			j++;
		if (m < 0)
			return -1;
		if (j == c->n)
			return 1;
	}
	return 0;
}

/* ---- snapshots (containerd's adaptSnapshot) --------------------------------- */

static int label_cmp(const void *key, const void *l)
{
	return strcmp(key, ((const struct label *)l)->key);
}

int filter_snapshot_field(const void *obj, const char *const *path, size_t npath, const char **value)
{
	const struct snap_info *s = obj;
	if (npath == 0)
		return 0;
	if (strcmp(path[0], "kind") == 0) {
		if (s->kind != KIND_ACTIVE && s->kind != KIND_VIEW && s->kind != KIND_COMMITTED)
			return 0;
		*value = snap_kind_name(s->kind);
		return 1;
	}
	if (strcmp(path[0], "name") == 0) {
		*value = s->name ? s->name : "";
		return 1;
	}
	if (strcmp(path[0], "parent") == 0) {
		*value = s->parent ? s->parent : ""; /* present even when empty, as containerd */
		return 1;
	}
	if (strcmp(path[0], "labels") != 0 || s->nlabels == 0)
		return 0;
	/* checkMap: the rest of the path joined with "." is the key. */
	size_t len = 0;
	for (size_t i = 1; i < npath; i++)
		len += strlen(path[i]) + 1;
	cleanup_free char *key = xmalloc(len + 1);
	key[0] = '\0';
	for (size_t i = 1, o = 0; i < npath; i++) {
		size_t n = strlen(path[i]);
		if (i > 1)
			key[o++] = '.';
		memcpy(key + o, path[i], n + 1);
		o += n;
	}
	const struct label *l = bsearch(key, s->labels, s->nlabels, sizeof *s->labels, label_cmp);
	if (!l)
		return 0;
	*value = l->value;
	return 1;
}
