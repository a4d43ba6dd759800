/* broker/idset.c: every add, has and del agrees with a plain array of
 * flags, through growth, deletions that shift probe runs back, and
 * shrinking; ids in sequence (as the broker hands them out) and random. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "broker/idset.h"
#include "run_suite.h"

#define RANGE 5000

/* The set holds exactly the ids flagged in `in` (1..RANGE). */
static size_t mismatches(const struct idset *s, const unsigned char *in)
{
	size_t bad = 0, n = 0;
	for (uint64_t id = 1; id <= RANGE; id++) {
		bad += idset_has(s, id) != in[id];
		n += in[id];
	}
	return bad + (n != s->n);
}

START_TEST(random_operations_agree_with_a_flag_array)
{
	struct idset s = {0};
	static unsigned char in[RANGE + 1];
	srand(7);
	for (int round = 0; round < 200; round++) {
		/* Waves: mostly adds, then mostly deletions, so that the table
		 * grows, fills with probe runs, and shrinks again. */
		int add_pct = round % 2 ? 25 : 75;
		for (int k = 0; k < 2000; k++) {
			uint64_t id = 1 + (uint64_t)rand() % RANGE;
			if (rand() % 100 < add_pct) {
				idset_add(&s, id);
				in[id] = 1;
			} else {
				idset_del(&s, id);
				in[id] = 0;
			}
		}
		ck_assert_uint_eq(mismatches(&s, in), 0);
		ck_assert_uint_le(s.n * 4, s.cap * 3);
	}
	idset_free(&s);
}
END_TEST

START_TEST(ids_in_sequence_come_and_go)
{
	struct idset s = {0};
	const uint64_t n = 200000;
	for (uint64_t id = 1; id <= n; id++)
		idset_add(&s, id);
	idset_add(&s, 7); /* twice: still one */
	ck_assert_uint_eq(s.n, n);
	size_t missing = 0;
	for (uint64_t id = 1; id <= n; id++)
		missing += !idset_has(&s, id);
	ck_assert_uint_eq(missing, 0);
	ck_assert(!idset_has(&s, n + 1));
	/* Every other one goes: the rest are all still found. */
	for (uint64_t id = 2; id <= n; id += 2)
		idset_del(&s, id);
	size_t wrong = 0;
	for (uint64_t id = 1; id <= n; id++)
		wrong += idset_has(&s, id) != (id % 2 == 1);
	ck_assert_uint_eq(wrong, 0);
	ck_assert_uint_eq(s.n, n / 2);
	/* All gone: the table is back to its smallest. */
	for (uint64_t id = 1; id <= n; id += 2)
		idset_del(&s, id);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_uint_le(s.cap, 16);
	idset_free(&s);
}
END_TEST

START_TEST(the_empty_set_and_id_zero)
{
	struct idset s = {0};
	ck_assert(!idset_has(&s, 1));
	idset_del(&s, 1);
	idset_add(&s, 0); /* not an id: ignored */
	ck_assert_uint_eq(s.n, 0);
	ck_assert(!idset_has(&s, 0));
	idset_add(&s, UINT64_MAX);
	ck_assert(idset_has(&s, UINT64_MAX));
	ck_assert(!idset_has(&s, 0));
	idset_free(&s);
	ck_assert_ptr_null(s.v);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("idset");
	TCase *tc = tcase_create("idset");
	tcase_add_test(tc, random_operations_agree_with_a_flag_array);
	tcase_add_test(tc, ids_in_sequence_come_and_go);
	tcase_add_test(tc, the_empty_set_and_id_zero);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
