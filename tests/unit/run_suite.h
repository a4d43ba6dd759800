/* The end of every unit suite's main(): run the suite's cases and turn
 * the count of failures into the exit status that `make check` reads.
 * Check forks each case unless CK_FORK=no is set, so a case that crashes
 * fails alone. Include it after check.h. */
#ifndef STRATA_TESTS_RUN_SUITE_H
#define STRATA_TESTS_RUN_SUITE_H

#include <stdlib.h>

/* Runs every case of s and frees it; EXIT_SUCCESS only when none failed. */
static inline int run_suite(Suite *s)
{
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
