/* common/sort.c: every element size (below, at and past its swap chunk),
 * every small length, and the orders a sort finds hardest (sorted,
 * reversed, all equal, few distinct keys), checked element by element
 * against a plain insertion sort. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/sort.h"
#include "run_suite.h"

/* An element of `size` bytes: its key in the first 4 bytes (or the first
 * byte for size 1), the rest a pattern that must travel with the key. */
static size_t esize;

static uint32_t key_of(const unsigned char *p)
{
	if (esize == 1)
		return p[0];
	uint32_t k;
	memcpy(&k, p, sizeof k);
	return k;
}

static int cmp_key(const void *a, const void *b)
{
	uint32_t x = key_of(a), y = key_of(b);
	return x < y ? -1 : x > y;
}

/* The orders tried: random, sorted, reversed, all equal, three keys. */
#define ORDERS 5

static uint32_t key_at(int order, size_t i, size_t n)
{
	switch (order) {
	case 0:
		return (uint32_t)rand();
	case 1:
		return (uint32_t)i;
	case 2:
		return (uint32_t)(n - i);
	case 3:
		return 7;
	default:
		return (uint32_t)(rand() % 3);
	}
}

static void fill(unsigned char *v, size_t n, int order, unsigned seed)
{
	srand(seed);
	for (size_t i = 0; i < n; i++) {
		uint32_t k = key_at(order, i, n);
		unsigned char *p = v + i * esize;
		if (esize == 1) {
			p[0] = (unsigned char)k;
			continue;
		}
		memcpy(p, &k, sizeof k);
		for (size_t j = sizeof k; j < esize; j++)
			p[j] = (unsigned char)(k * 31 + j);
	}
}

static void insertion_sort(unsigned char *v, size_t n)
{
	unsigned char *t = malloc(esize);
	for (size_t i = 1; i < n; i++) {
		memcpy(t, v + i * esize, esize);
		size_t j = i;
		while (j > 0 && cmp_key(v + (j - 1) * esize, t) > 0) {
			memcpy(v + j * esize, v + (j - 1) * esize, esize);
			j--;
		}
		memcpy(v + j * esize, t, esize);
	}
	free(t);
}

START_TEST(sorts_like_insertion_sort)
{
	static const size_t sizes[] = {1, 4, 8, 24, 64, 65, 200};
	static const size_t lengths[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100, 1000, 4097};
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		esize = sizes[s];
		for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
			size_t n = lengths[l];
			for (int order = 0; order < ORDERS; order++) {
				unsigned char *a = malloc(n * esize + 1), *b = malloc(n * esize + 1);
				fill(a, n, order, (unsigned)(n * 7 + s));
				memcpy(b, a, n * esize);
				sort_array(a, n, esize, cmp_key);
				insertion_sort(b, n);
				/* Equal keys carry equal bytes, so the arrays are
				 * equal whatever the order among equals. */
				ck_assert_msg(!memcmp(a, b, n * esize), "size %zu, length %zu, order %d",
					      esize, n, order);
				free(a);
				free(b);
			}
		}
	}
}
END_TEST

static int by_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(strings_in_byte_order)
{
	const char *names[] = {"b", "a", "ab", "", "ba", "a", "z", "A", "\xc3\xa9", "aa", ".wh.x"};
	size_t n = sizeof names / sizeof names[0];
	sort_array(names, n, sizeof names[0], by_strcmp);
	for (size_t i = 1; i < n; i++)
		ck_assert_int_le(strcmp(names[i - 1], names[i]), 0);
	ck_assert_str_eq(names[0], "");
	ck_assert_str_eq(names[n - 1], "\xc3\xa9");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sort");
	TCase *tc = tcase_create("sort");
	tcase_add_test(tc, sorts_like_insertion_sort);
	tcase_add_test(tc, strings_in_byte_order);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
