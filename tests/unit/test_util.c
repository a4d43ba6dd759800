/* common/util.c's xgrow: appends keep what was there, the array doubles
 * (so n appends cost O(n) copying, however long a peer or a layer makes
 * it), and a size past the address space dies instead of wrapping. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/util.h"
#include "run_suite.h"

START_TEST(appends_keep_their_elements_and_grow_by_doubling)
{
	uint32_t *v = NULL;
	size_t cap = 0, n = 0, grown = 0, short_room = 0, wrong = 0;
	const size_t total = (size_t)1 << 20;
	while (n < total) {
		size_t before = cap;
		v = xgrow(v, &cap, n, sizeof *v);
		short_room += cap <= n;
		grown += cap != before;
		v[n] = (uint32_t)(n * 2654435761u);
		n++;
	}
	for (size_t i = 0; i < total; i++)
		wrong += v[i] != (uint32_t)(i * 2654435761u);
	ck_assert_uint_eq(short_room, 0);
	ck_assert_uint_eq(wrong, 0);
	/* from 8 to 2^20 by doubling: 18 growths; growing by one would be 2^20 */
	ck_assert_uint_le(grown, 18);
	/* and never more than twice what is held */
	ck_assert_uint_le(cap, 2 * total);
	free(v);
}
END_TEST

START_TEST(room_already_there_is_left_alone)
{
	size_t cap = 0;
	char *p = xgrow(NULL, &cap, 0, 1);
	ck_assert_uint_eq(cap, 8);
	char *q = xgrow(p, &cap, 7, 1);
	ck_assert_ptr_eq(q, p);
	ck_assert_uint_eq(cap, 8);
	free(q);
}
END_TEST

/* A count whose bytes do not fit in size_t ends the process (out of
 * memory), never a short allocation written past. */
START_TEST(a_size_past_the_address_space_dies)
{
	log_off();
	size_t cap = SIZE_MAX / 8;
	void *p = xgrow(NULL, &cap, SIZE_MAX / 8, 16);
	free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("xgrow");
	tcase_add_test(tc, appends_keep_their_elements_and_grow_by_doubling);
	tcase_add_test(tc, room_already_there_is_left_alone);
	tcase_add_exit_test(tc, a_size_past_the_address_space_dies, 1);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
