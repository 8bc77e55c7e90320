/* unit.h: a tiny TAP runner for the C unit tests.  A test file defines
 * TEST(name) { CHECK(...); CHECK_STR(a, b); } functions and includes this
 * header once; main runs them in order and prints TAP ("ok N - name") and a
 * final "N passed, N failed" line; the exit status is 1 when any failed. */
#ifndef MPBUILD_UNIT_H
#define MPBUILD_UNIT_H

#include <stdio.h>
#include <string.h>

#define UNIT_MAX 256

struct unit_test {
	const char *name;
	void (*fn)(void);
};

static struct unit_test unit_tests[UNIT_MAX];
static int unit_ntests, unit_failed_checks;

static void unit_register(const char *name, void (*fn)(void))
{
	if (unit_ntests < UNIT_MAX)
		unit_tests[unit_ntests++] = (struct unit_test){name, fn};
}

/* define and register a test function */
#define TEST(name)                                                                   \
	static void test_##name(void);                                               \
	__attribute__((constructor)) static void register_##name(void)              \
	{                                                                            \
		unit_register(#name, test_##name);                                   \
	}                                                                            \
	static void test_##name(void)

/* fail the current test (and go on) when c is false */
#define CHECK(c)                                                                     \
	do {                                                                         \
		if (!(c)) {                                                          \
			printf("# %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); \
			unit_failed_checks++;                                        \
		}                                                                    \
	} while (0)

/* fail the current test when strings a and b differ (NULL matches only NULL) */
#define CHECK_STR(a, b)                                                              \
	do {                                                                         \
		const char *unit_a = (a), *unit_b = (b);                             \
		if (!unit_a || !unit_b ? unit_a != unit_b : strcmp(unit_a, unit_b) != 0) { \
			printf("# %s:%d: CHECK_STR(%s, %s) failed\n#   got:  %s\n#   want: %s\n", \
			       __FILE__, __LINE__, #a, #b, unit_a ? unit_a : "(null)", \
			       unit_b ? unit_b : "(null)");                          \
			unit_failed_checks++;                                        \
		}                                                                    \
	} while (0)

int main(void)
{
	int i, passed = 0, failed = 0;

	printf("1..%d\n", unit_ntests);
	for (i = 0; i < unit_ntests; i++) {
		int before = unit_failed_checks;

		unit_tests[i].fn();
		if (unit_failed_checks == before)
			passed++, printf("ok %d - %s\n", i + 1, unit_tests[i].name);
		else
			failed++, printf("not ok %d - %s\n", i + 1, unit_tests[i].name);
		fflush(stdout);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

#endif
