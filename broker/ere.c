/* ere.h: a parser to a tree, the tree compiled to a program, and the
 * program run as a Thompson NFA (Pike's VM without submatches).
 *
 * Nodes live in one array and name their children by index; a
 * concatenation or an alternation lists its children as siblings, so only
 * groups and repetitions nest, and every recursion below is bounded by
 * ERE_MAX_NESTING. */
#include "ere.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/util.h"

#define ERE_DUP_MAX 32767 /* glibc's RE_DUP_MAX */
#define NONE	    (-1)

enum node_kind { N_EMPTY, N_SET, N_ASSERT, N_CAT, N_ALT, N_REPEAT };

/* Zero-width assertions: where, between two bytes, a match may pass. */
enum assertion { A_BEGIN, A_END, A_WORD_EDGE, A_NOT_WORD_EDGE, A_WORD_START, A_WORD_END };

struct node {
	uint8_t kind;	/* enum node_kind */
	uint8_t assert; /* N_ASSERT: enum assertion */
	int child;	/* N_CAT, N_ALT: the first; N_REPEAT: the repeated one */
	int next;	/* the next sibling in its N_CAT or N_ALT */
	int set;	/* N_SET: index in sets */
	int min, max;	/* N_REPEAT; max NONE: no bound */
};

struct byteset {
	uint8_t bit[32];
};

enum op { I_SET, I_ASSERT, I_SPLIT, I_JMP, I_MATCH };

struct inst {
	uint8_t op;	/* enum op */
	uint8_t assert; /* I_ASSERT */
	int x, y;	/* I_SPLIT: both ways; I_JMP: x */
	struct byteset set;
};

struct ere {
	struct inst *prog;
	size_t n;
	/* Scratch for ere_match: two thread lists, the closure's stack, and
	 * the generation that marks each instruction visited at a position. */
	int *cur, *next, *stack;
	uint32_t *seen, gen;
	uint64_t steps; /* instructions run by this match so far */
};

/* ---- bytes ------------------------------------------------------------------ */

static void set_add(struct byteset *s, int c)
{
	s->bit[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static int set_has(const struct byteset *s, unsigned char c)
{
	return s->bit[c >> 3] >> (c & 7) & 1;
}

/* The C locale's classes, as glibc's regcomp knows them: ASCII only. */
static int in_class(const char *name, int c)
{
	int upper = c >= 'A' && c <= 'Z', lower = c >= 'a' && c <= 'z', digit = c >= '0' && c <= '9';
	int alpha = upper || lower, space = c == ' ' || (c >= '\t' && c <= '\r');
	int print = c >= 0x20 && c < 0x7f;
	if (!strcmp(name, "alpha"))
		return alpha;
	if (!strcmp(name, "upper"))
		return upper;
	if (!strcmp(name, "lower"))
		return lower;
	if (!strcmp(name, "digit"))
		return digit;
	if (!strcmp(name, "alnum"))
		return alpha || digit;
	if (!strcmp(name, "xdigit"))
		return digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
	if (!strcmp(name, "space"))
		return space;
	if (!strcmp(name, "blank"))
		return c == ' ' || c == '\t';
	if (!strcmp(name, "print"))
		return print;
	if (!strcmp(name, "graph"))
		return print && c != ' ';
	if (!strcmp(name, "punct"))
		return print && c != ' ' && !alpha && !digit;
	if (!strcmp(name, "cntrl"))
		return c < 0x20 || c == 0x7f;
	return -1;
}

static int is_word(int c)
{
	return c == '_' || in_class("alnum", c) == 1;
}

static void add_class(struct byteset *s, const char *name)
{
	for (int c = 1; c < 256; c++)
		if (in_class(name, c) == 1)
			set_add(s, c);
}

/* Every byte but NUL, which no subject holds, outside s. */
static void complement(struct byteset *s)
{
	for (int i = 0; i < 32; i++)
		s->bit[i] = (uint8_t)~s->bit[i];
	s->bit[0] &= (uint8_t)~1u;
}

/* ---- parsing ------------------------------------------------------------------ */

struct parser {
	const unsigned char *s;
	size_t pos, len;
	int groups; /* open groups: a `)` closes one, else it is a byte */
	int depth;
	struct node *nodes;
	size_t nnodes, cap;
	struct byteset *sets;
	size_t nsets, setcap;
	const char *err;
};

/* Nodes a pattern may make: at most a few per instruction it compiles to,
 * bar empty groups, which this bounds. */
#define MAX_NODES (4 * ERE_MAX_PROGRAM)

static int fail(struct parser *p, const char *why)
{
	if (!p->err)
		p->err = why;
	return NONE;
}

static int node_new(struct parser *p, int kind)
{
	if (p->nnodes >= MAX_NODES)
		return fail(p, "Regular expression too big");
	p->nodes = xgrow(p->nodes, &p->cap, p->nnodes, sizeof *p->nodes);
	p->nodes[p->nnodes] = (struct node){.kind = (uint8_t)kind, .child = NONE, .next = NONE, .set = NONE};
	return (int)p->nnodes++;
}

static int set_node(struct parser *p, const struct byteset *s)
{
	int n = node_new(p, N_SET);
	if (n == NONE)
		return NONE;
	p->sets = xgrow(p->sets, &p->setcap, p->nsets, sizeof *p->sets);
	p->sets[p->nsets] = *s;
	p->nodes[n].set = (int)p->nsets++;
	return n;
}

static int byte_node(struct parser *p, int c)
{
	struct byteset s = {0};
	set_add(&s, c);
	return set_node(p, &s);
}

static int assert_node(struct parser *p, int what)
{
	int n = node_new(p, N_ASSERT);
	if (n != NONE)
		p->nodes[n].assert = (uint8_t)what;
	return n;
}

static int peek(const struct parser *p)
{
	return p->pos < p->len ? p->s[p->pos] : -1;
}

/* After `[` and `:`, `=` or `.`: the name up to `kind]`, in name. */
static int bracket_name(struct parser *p, int kind, char *name, size_t size)
{
	size_t start = p->pos + 2, end = start;
	while (end + 1 < p->len && !(p->s[end] == kind && p->s[end + 1] == ']'))
		end++;
	if (end + 1 >= p->len)
		return fail(p, "Unmatched [, [^, [:, [., or [=");
	if (end - start >= size) {
		return fail(p, kind == ':' ? "Invalid character class name" : "Invalid collation character");
	}
	memcpy(name, p->s + start, end - start);
	name[end - start] = '\0';
	p->pos = end + 2;
	return 0;
}

/* One element of a bracket expression: a byte (plain or `[.c.]`, *ranged
 * set when it may bound a range), or a class or `[=c=]` added to s. */
static int bracket_element(struct parser *p, struct byteset *s, int *c, int *may_range)
{
	int k = p->pos + 1 < p->len && p->s[p->pos] == '[' ? p->s[p->pos + 1] : 0;
	char name[16];
	*may_range = 1;
	if (k != ':' && k != '=' && k != '.') {
		*c = p->s[p->pos++];
		return 0;
	}
	if (bracket_name(p, k, name, sizeof name) < 0)
		return NONE;
	if (k == ':') {
		if (in_class(name, 'a') < 0)
			return fail(p, "Invalid character class name");
		add_class(s, name);
		*c = NONE;
		*may_range = 0;
		return 0;
	}
	if (strlen(name) != 1)
		return fail(p, "Invalid collation character");
	*c = (unsigned char)name[0];
	*may_range = k == '.';
	return 0;
}

static int bracket(struct parser *p)
{
	struct byteset s = {0};
	int negate = 0, first = 1;
	p->pos++; /* [ */
	if (peek(p) == '^') {
		negate = 1;
		p->pos++;
	}
	for (;; first = 0) {
		if (p->pos >= p->len)
			return fail(p, "Unmatched [, [^, [:, [., or [=");
		if (p->s[p->pos] == ']' && !first) {
			p->pos++;
			break;
		}
		int lo, hi, may_range, hi_may_range;
		if (bracket_element(p, &s, &lo, &may_range) < 0)
			return NONE;
		int dash = p->pos + 1 < p->len && p->s[p->pos] == '-' && p->s[p->pos + 1] != ']';
		if (!dash) {
			if (lo != NONE)
				set_add(&s, lo);
			continue;
		}
		p->pos++; /* - */
		if (!may_range || bracket_element(p, &s, &hi, &hi_may_range) < 0 || !hi_may_range || hi < lo)
			return fail(p, "Invalid range end");
		/* glibc: a range's end cannot start another one (a-c-e). */
		if (p->pos + 1 < p->len && p->s[p->pos] == '-' && p->s[p->pos + 1] != ']')
			return fail(p, "Invalid range end");
		for (int c = lo; c <= hi; c++)
			set_add(&s, c);
	}
	if (negate)
		complement(&s);
	s.bit[0] &= (uint8_t)~1u;
	return set_node(p, &s);
}

/* After `\`: a byte, a GNU class or assertion; back-references refused. */
static int escape(struct parser *p, int *repeatable)
{
	struct byteset s = {0};
	if (p->pos + 1 >= p->len)
		return fail(p, "Trailing backslash");
	int c = p->s[p->pos + 1];
	p->pos += 2;
	*repeatable = 1;
	switch (c) {
	case 'w':
	case 'W':
		for (int b = 1; b < 256; b++)
			if (is_word(b))
				set_add(&s, b);
		if (c == 'W')
			complement(&s);
		return set_node(p, &s);
	case 's':
	case 'S':
		add_class(&s, "space");
		if (c == 'S')
			complement(&s);
		return set_node(p, &s);
	}
	static const char assertions[] = "bB<>`'";
	static const int what[] = {A_WORD_EDGE, A_NOT_WORD_EDGE, A_WORD_START, A_WORD_END, A_BEGIN, A_END};
	const char *a = strchr(assertions, c);
	if (a) {
		*repeatable = 0;
		return assert_node(p, what[a - assertions]);
	}
	if (c >= '1' && c <= '9')
		return fail(p, "Back-references are not supported");
	return byte_node(p, c);
}

static int parse_alternation(struct parser *p);

static int atom(struct parser *p, int *repeatable)
{
	int c = p->s[p->pos];
	*repeatable = 1;
	switch (c) {
	case '(': {
		if (++p->depth > ERE_MAX_NESTING)
			return fail(p, "Regular expression nests too deeply");
		p->pos++;
		p->groups++;
		int n = parse_alternation(p);
		p->groups--;
		p->depth--;
		if (n == NONE)
			return NONE;
		if (peek(p) != ')')
			return fail(p, "Unmatched ( or \\(");
		p->pos++;
		return n;
	}
	case '*':
	case '+':
	case '?':
	case '{':
		return fail(p, "Invalid preceding regular expression");
	case '^':
	case '$':
		p->pos++;
		*repeatable = 0;
		return assert_node(p, c == '^' ? A_BEGIN : A_END);
	case '.': {
		struct byteset s = {0};
		p->pos++;
		complement(&s);
		return set_node(p, &s);
	}
	case '[':
		return bracket(p);
	case '\\':
		return escape(p, repeatable);
	default:
		p->pos++;
		return byte_node(p, c);
	}
}

/* A count of an interval: digits, or -1 when there are none. */
static int count(struct parser *p)
{
	int n = -1;
	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		n = (n < 0 ? 0 : n) * 10 + (p->s[p->pos++] - '0');
		if (n > ERE_DUP_MAX)
			n = ERE_DUP_MAX + 1;
	}
	return n;
}

/* After an atom's `{`: {m}, {m,}, {m,n} or {,n}, as glibc reads them. */
static int interval(struct parser *p, int *min, int *max)
{
	p->pos++; /* { */
	*min = count(p);
	*max = *min;
	if (peek(p) == ',') {
		p->pos++;
		*max = count(p);
		if (*min < 0)
			*min = 0;
	} else if (*min < 0) {
		return fail(p, peek(p) < 0 ? "Unmatched \\{" : "Invalid content of \\{\\}");
	}
	if (peek(p) < 0)
		return fail(p, "Unmatched \\{");
	if (peek(p) != '}')
		return fail(p, "Invalid content of \\{\\}");
	p->pos++;
	if (*max > ERE_DUP_MAX || *min > ERE_DUP_MAX)
		return fail(p, "Regular expression too big");
	if (*max >= 0 && *max < *min)
		return fail(p, "Invalid content of \\{\\}");
	return 0;
}

/* An atom and the repetitions that follow it (a** and a{2}* are fine). */
static int repetition(struct parser *p)
{
	int repeatable, n = atom(p, &repeatable);
	int depth = p->depth;
	while (n != NONE) {
		int c = peek(p), min, max;
		if (c == '*' || c == '+' || c == '?') {
			p->pos++;
			min = c == '+';
			max = c == '?' ? 1 : NONE;
		} else if (c == '{') {
			if (interval(p, &min, &max) < 0)
				return NONE;
		} else {
			break;
		}
		if (!repeatable)
			return fail(p, "Invalid preceding regular expression");
		if (++p->depth > ERE_MAX_NESTING)
			return fail(p, "Regular expression nests too deeply");
		int r = node_new(p, N_REPEAT);
		if (r == NONE)
			return NONE;
		p->nodes[r].child = n;
		p->nodes[r].min = min;
		p->nodes[r].max = max;
		n = r;
	}
	p->depth = depth;
	return n;
}

/* Children linked as siblings under one N_CAT or N_ALT node. */
static int list_node(struct parser *p, int kind, int *last, int child)
{
	if (*last == NONE) {
		int n = node_new(p, kind);
		if (n == NONE)
			return NONE;
		p->nodes[n].child = child;
		*last = child;
		return n;
	}
	p->nodes[*last].next = child;
	*last = child;
	return 0;
}

static int concatenation(struct parser *p)
{
	int cat = NONE, last = NONE;
	for (;;) {
		int c = peek(p);
		if (c < 0 || c == '|' || (c == ')' && p->groups > 0))
			break;
		int n = repetition(p);
		if (n == NONE)
			return NONE;
		int made = list_node(p, N_CAT, &last, n);
		if (made == NONE)
			return NONE;
		if (cat == NONE)
			cat = made;
	}
	return cat == NONE ? node_new(p, N_EMPTY) : cat;
}

static int parse_alternation(struct parser *p)
{
	int alt = NONE, last = NONE;
	for (;;) {
		int n = concatenation(p);
		if (n == NONE)
			return NONE;
		if (peek(p) != '|' && alt == NONE)
			return n;
		int made = list_node(p, N_ALT, &last, n);
		if (made == NONE)
			return NONE;
		if (alt == NONE)
			alt = made;
		if (peek(p) != '|')
			return alt;
		p->pos++;
	}
}

/* ---- compiling ------------------------------------------------------------------ */

#define TOO_BIG (ERE_MAX_PROGRAM + 1)

static size_t add_sizes(size_t a, size_t b)
{
	return a + b > TOO_BIG ? TOO_BIG : a + b;
}

static size_t times(size_t a, size_t k)
{
	return a && k > TOO_BIG / a ? TOO_BIG : a * k;
}

/* Instructions node compiles to (TOO_BIG: more than the limit). */
static size_t size_of(const struct parser *p, int n)
{
	const struct node *d = &p->nodes[n];
	size_t s = 0;
	switch (d->kind) {
	case N_EMPTY:
		return 0;
	case N_SET:
	case N_ASSERT:
		return 1;
	case N_CAT:
	case N_ALT:
		for (int c = d->child; c != NONE; c = p->nodes[c].next)
			s = add_sizes(s, add_sizes(size_of(p, c),
						   d->kind == N_ALT && p->nodes[c].next != NONE ? 2 : 0));
		return s;
	default: /* N_REPEAT */
		s = size_of(p, d->child);
		if (d->max == NONE)
			return d->min == 0 ? add_sizes(s, 2) : add_sizes(times(s, (size_t)d->min), 1);
		return add_sizes(times(s, (size_t)d->min), times(add_sizes(s, 1), (size_t)(d->max - d->min)));
	}
}

struct emitter {
	const struct parser *p;
	struct inst *prog;
	size_t n;
};

static size_t emit_op(struct emitter *e, int op)
{
	e->prog[e->n] = (struct inst){.op = (uint8_t)op};
	return e->n++;
}

static void emit(struct emitter *e, int n)
{
	const struct node *d = &e->p->nodes[n];
	size_t at;
	switch (d->kind) {
	case N_EMPTY:
		return;
	case N_SET:
		at = emit_op(e, I_SET);
		e->prog[at].set = e->p->sets[d->set];
		return;
	case N_ASSERT:
		at = emit_op(e, I_ASSERT);
		e->prog[at].assert = d->assert;
		return;
	case N_CAT:
		for (int c = d->child; c != NONE; c = e->p->nodes[c].next)
			emit(e, c);
		return;
	case N_ALT: {
		/* split L1, L2; L1: a; jmp end; L2: split ... ; last; end: the
		 * jumps are chained through their x and patched at the end. */
		size_t jumps = SIZE_MAX;
		for (int c = d->child; c != NONE; c = e->p->nodes[c].next) {
			if (e->p->nodes[c].next == NONE) {
				emit(e, c);
				break;
			}
			size_t split = emit_op(e, I_SPLIT);
			e->prog[split].x = (int)e->n;
			emit(e, c);
			size_t jmp = emit_op(e, I_JMP);
			e->prog[jmp].x = (int)jumps;
			jumps = jmp;
			e->prog[split].y = (int)e->n;
		}
		while (jumps != SIZE_MAX) {
			size_t prev = (size_t)e->prog[jumps].x;
			e->prog[jumps].x = (int)e->n;
			jumps = prev;
		}
		return;
	}
	default: /* N_REPEAT */
		break;
	}
	int k = d->max == NONE && d->min > 0 ? d->min - 1 : d->min;
	for (int i = 0; i < k; i++)
		emit(e, d->child);
	if (d->max == NONE && d->min == 0) { /* L: split body, end; body; jmp L */
		size_t split = emit_op(e, I_SPLIT);
		e->prog[split].x = (int)e->n;
		emit(e, d->child);
		size_t jmp = emit_op(e, I_JMP);
		e->prog[jmp].x = (int)split;
		e->prog[split].y = (int)e->n;
	} else if (d->max == NONE) { /* L: body; split L, end */
		size_t body = e->n;
		emit(e, d->child);
		size_t split = emit_op(e, I_SPLIT);
		e->prog[split].x = (int)body;
		e->prog[split].y = (int)e->n;
	} else {
		for (int i = d->min; i < d->max; i++) { /* split body, end; body */
			size_t split = emit_op(e, I_SPLIT);
			e->prog[split].x = (int)e->n;
			emit(e, d->child);
			e->prog[split].y = (int)e->n;
		}
	}
}

struct ere *ere_compile(const char *pattern, char *why, size_t whylen)
{
	struct parser p = {.s = (const unsigned char *)pattern, .len = strlen(pattern)};
	int root = parse_alternation(&p);
	size_t size = root == NONE ? 0 : add_sizes(size_of(&p, root), 1);
	if (root != NONE && size > ERE_MAX_PROGRAM)
		fail(&p, "Regular expression too big");
	if (p.err) {
		snprintf(why, whylen, "%s", p.err);
		free(p.nodes);
		free(p.sets);
		return NULL;
	}
	struct ere *re = xcalloc(1, sizeof *re);
	struct emitter e = {.p = &p, .prog = xcalloc(size, sizeof *re->prog)};
	emit(&e, root);
	emit_op(&e, I_MATCH);
	free(p.nodes);
	free(p.sets);
	re->prog = e.prog;
	re->n = e.n;
	re->cur = xcalloc(re->n, sizeof *re->cur);
	re->next = xcalloc(re->n, sizeof *re->next);
	re->stack = xcalloc(re->n, sizeof *re->stack);
	re->seen = xcalloc(re->n, sizeof *re->seen);
	return re;
}

void ere_free(struct ere *re)
{
	if (!re)
		return;
	free(re->prog);
	free(re->cur);
	free(re->next);
	free(re->stack);
	free(re->seen);
	free(re);
}

size_t ere_program_size(const struct ere *re)
{
	return re->n;
}

/* ---- matching -------------------------------------------------------------------- */

static int holds(int what, const unsigned char *s, size_t len, size_t pos)
{
	int before = pos > 0 && is_word(s[pos - 1]), after = pos < len && is_word(s[pos]);
	switch (what) {
	case A_BEGIN:
		return pos == 0;
	case A_END:
		return pos == len;
	case A_WORD_EDGE:
		return before != after;
	case A_NOT_WORD_EDGE:
		return before == after;
	case A_WORD_START:
		return !before && after;
	default: /* A_WORD_END */
		return before && !after;
	}
}

static uint32_t next_generation(struct ere *re)
{
	if (++re->gen == 0) {
		memset(re->seen, 0, re->n * sizeof *re->seen);
		re->gen = 1;
	}
	return re->gen;
}

/* Follows every way from pc that consumes no byte, at pos: the byte sets
 * reached go to list; 1 when the match is reached. */
static int closure(struct ere *re, int pc, int *list, size_t *nlist, const unsigned char *s, size_t len,
		   size_t pos)
{
	size_t sp = 0;
	if (re->seen[pc] == re->gen)
		return 0;
	re->seen[pc] = re->gen;
	re->stack[sp++] = pc;
	while (sp > 0) {
		const struct inst *in = &re->prog[re->stack[--sp]];
		int to[2], nto = 0;
		re->steps++;
		switch (in->op) {
		case I_MATCH:
			return 1;
		case I_SET:
			list[(*nlist)++] = (int)(in - re->prog);
			break;
		case I_ASSERT:
			if (holds(in->assert, s, len, pos))
				to[nto++] = (int)(in - re->prog) + 1;
			break;
		case I_JMP:
			to[nto++] = in->x;
			break;
		default: /* I_SPLIT */
			to[nto++] = in->x;
			to[nto++] = in->y;
		}
		for (int i = 0; i < nto; i++)
			if (re->seen[to[i]] != re->gen) {
				re->seen[to[i]] = re->gen;
				re->stack[sp++] = to[i];
			}
	}
	return 0;
}

/* The match itself; -1 once it has run more than limit instructions. */
static int run(struct ere *re, const unsigned char *s, size_t len, uint64_t limit)
{
	size_t ncur = 0;
	next_generation(re);
	if (closure(re, 0, re->cur, &ncur, s, len, 0))
		return 1;
	for (size_t pos = 0; pos < len; pos++) {
		size_t nnext = 0;
		if (re->steps > limit)
			return -1;
		next_generation(re);
		for (size_t i = 0; i < ncur; i++)
			if (set_has(&re->prog[re->cur[i]].set, s[pos]) &&
			    closure(re, re->cur[i] + 1, re->next, &nnext, s, len, pos + 1))
				return 1;
		/* Unanchored: a match may also start at the next byte. */
		if (closure(re, 0, re->next, &nnext, s, len, pos + 1))
			return 1;
		int *t = re->cur;
		re->cur = re->next;
		re->next = t;
		ncur = nnext;
	}
	return 0;
}

int ere_match(struct ere *re, const char *subject, size_t len, uint64_t *steps)
{
	re->steps = 0;
	int m = run(re, (const unsigned char *)subject, len, *steps);
	if (m < 0 || re->steps > *steps) {
		*steps = 0;
		return -1;
	}
	*steps -= re->steps;
	return m;
}
