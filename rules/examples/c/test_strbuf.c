/* test_strbuf.c: unit tests of strbuf.c.  Prints "file:line: check failed:
 * EXPR" for each failed check and exits 1 if any failed, else 0.  Clean under
 * -fsanitize=address,undefined. */
#include "strbuf.h"

#include <stdio.h>
#include <string.h>

static int failed;

#define CHECK(expr)                                                                  \
	do {                                                                         \
		if (!(expr)) {                                                       \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
			failed = 1;                                                  \
		}                                                                    \
	} while (0)

static void test_empty(void)
{
	struct strbuf sb = STRBUF_INIT;

	CHECK(sb.len == 0);
	CHECK(strcmp(sb_str(&sb), "") == 0);
	sb_free(&sb);
	CHECK(sb.data == NULL);
}

static void test_append(void)
{
	struct strbuf sb = STRBUF_INIT;

	CHECK(sb_puts(&sb, "word") == 0);
	CHECK(sb_add(&sb, " and more", 4) == 0);
	CHECK(sb.len == 8);
	CHECK(strcmp(sb_str(&sb), "word and") == 0);
	CHECK(sb_add(&sb, NULL, 0) == 0);
	CHECK(sb.len == 8);
	sb_free(&sb);
}

static void test_growth(void)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i;

	for (i = 0; i < 100000; i++)
		CHECK(sb_add(&sb, "x", 1) == 0);
	CHECK(sb.len == 100000);
	CHECK(sb.cap > sb.len);
	CHECK(sb.data[sb.len] == '\0');
	sb_free(&sb);
}

int main(void)
{
	test_empty();
	test_append();
	test_growth();
	return failed;
}
