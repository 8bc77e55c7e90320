/* test_diff.c: unified diffs as diff -u writes them (hunk headers, context,
 * merged and separate hunks, empty sides, a missing final newline), and on
 * random texts: applying the diff to the old text gives the new one, and the
 * edit script is as short as the longest common subsequence allows. */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "diff.h"

static char *udiff(const char *a, const char *b, int ctx, size_t *hunks)
{
	struct buffer out = {0};
	size_t h = diff_unified(a, strlen(a), b, strlen(b), "a/x", "b/x", ctx, &out);

	if (hunks)
		*hunks = h;
	return out.len ? buf_take(&out) : xstrdup("");
}

#define CHECK_DIFF(a, b, want)                          \
	do {                                            \
		char *got_ = udiff(a, b, 3, NULL);      \
		CHECK_STR(got_, want);                  \
		free(got_);                             \
	} while (0)

TEST(equal_texts_give_nothing)
{
	size_t h = 9;
	char *d = udiff("a\nb\n", "a\nb\n", 3, &h);

	CHECK_STR(d, "");
	CHECK(h == 0);
	free(d);
	d = udiff("", "", 3, &h);
	CHECK_STR(d, "");
	CHECK(h == 0);
	free(d);
}

TEST(one_change_and_an_addition_at_the_end)
{
	CHECK_DIFF("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\n", "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\n",
		   "--- a/x\n+++ b/x\n"
		   "@@ -1,7 +1,7 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n"
		   "@@ -11,3 +11,4 @@\n k\n l\n m\n+n\n");
}

TEST(changes_six_lines_apart_share_a_hunk_seven_do_not)
{
	CHECK_DIFF("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "1\n2\n3\nX\n5\n6\n7\n8\n9\nY\n",
		   "--- a/x\n+++ b/x\n@@ -1,10 +1,10 @@\n 1\n 2\n 3\n-4\n+X\n 5\n 6\n 7\n 8\n 9\n-10\n+Y\n");
	CHECK_DIFF("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "1\nX\n3\n4\n5\n6\n7\n8\n9\n10\nY\n12\n",
		   "--- a/x\n+++ b/x\n@@ -1,5 +1,5 @@\n 1\n-2\n+X\n 3\n 4\n 5\n"
		   "@@ -8,5 +8,5 @@\n 8\n 9\n 10\n-11\n+Y\n 12\n");
}

TEST(empty_sides_name_the_line_before)
{
	CHECK_DIFF("", "x\ny\n", "--- a/x\n+++ b/x\n@@ -0,0 +1,2 @@\n+x\n+y\n");
	CHECK_DIFF("x\ny\n", "", "--- a/x\n+++ b/x\n@@ -1,2 +0,0 @@\n-x\n-y\n");
	CHECK_DIFF("a\nb\nc\n", "b\nc\n", "--- a/x\n+++ b/x\n@@ -1,3 +1,2 @@\n-a\n b\n c\n");
	CHECK_DIFF("a\n", "a\nb\n", "--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n a\n+b\n");
}

TEST(a_missing_final_newline_is_a_difference_and_is_marked)
{
	CHECK_DIFF("x\ny", "x\ny\n", "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+y\n");
	CHECK_DIFF("x\n", "x\ny", "--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n x\n+y\n\\ No newline at end of file\n");
}

TEST(context_zero_and_labels)
{
	struct buffer out = {0};

	diff_unified("a\nb\nc\n", 6, "a\nB\nc\n", 6, "a/plans/discovery.yaml", "b/plans/discovery.yaml", 0, &out);
	CHECK_STR(buf_str(&out), "--- a/plans/discovery.yaml\n+++ b/plans/discovery.yaml\n@@ -2 +2 @@\n-b\n+B\n");
	buf_free(&out);
}

/* the lines of s, each with its newline when it has one */
static size_t split(const char *s, const char **at, size_t *len, size_t max)
{
	size_t n = 0;

	while (*s && n < max) {
		size_t l = strcspn(s, "\n");

		at[n] = s;
		len[n++] = l + (s[l] == '\n');
		s += l + (s[l] == '\n');
	}
	return n;
}

/* apply a unified diff made by diff_unified to a; NULL when it does not apply */
static char *apply(const char *a, const char *d)
{
	const char **al = xcalloc(strlen(a) + 1, sizeof(*al)), *p;
	size_t *alen = xcalloc(strlen(a) + 1, sizeof(*alen)), na = split(a, al, alen, strlen(a) + 1), next = 0;
	struct buffer out = {0};

	p = *d ? strchr(strchr(d, '\n') + 1, '\n') + 1 : d;   /* past --- and +++ */
	while (*p) {
		size_t start, count = 1;

		if (sscanf(p, "@@ -%zu,%zu", &start, &count) < 1)
			goto bad;
		if (count == 0)
			start++;        /* an empty range names the line before */
		for (; next + 1 < start && next < na; next++)
			buf_add(&out, al[next], alen[next]);
		p = strchr(p, '\n') + 1;
		while (*p && *p != '@') {
			const char *e = strchr(p, '\n');
			int nonl = strncmp(e + 1, "\\ No newline", 12) == 0;
			size_t n = (size_t)(e - p) - 1 + !nonl;

			if (*p == ' ' || *p == '-') {
				if (next >= na || alen[next] != n || memcmp(al[next], p + 1, n) != 0)
					goto bad;
				next++;
			}
			if (*p == ' ' || *p == '+')
				buf_add(&out, p + 1, n);
			p = nonl ? strchr(e + 1, '\n') + 1 : e + 1;
		}
	}
	for (; next < na; next++)
		buf_add(&out, al[next], alen[next]);
	free(al);
	free(alen);
	return out.len ? buf_take(&out) : xstrdup("");
bad:
	free(al);
	free(alen);
	buf_free(&out);
	return NULL;
}

/* a random text of up to n lines from a small alphabet (many repeats) */
static char *random_text(unsigned *seed, int n)
{
	struct buffer b = {0};
	int i, lines = (int)(rand_r(seed) % (unsigned)(n + 1));

	for (i = 0; i < lines; i++)
		buf_printf(&b, "%c\n", 'a' + (int)(rand_r(seed) % 4));
	if (lines && rand_r(seed) % 5 == 0)
		b.len--;        /* no final newline */
	return b.len ? buf_take(&b) : xstrdup("");
}

/* the length of a longest common subsequence of the lines of a and b */
static size_t lcs(const char *a, const char *b, size_t *na, size_t *nb)
{
	const char *al[64], *bl[64];
	size_t alen[64], blen[64], i, j, best;
	size_t (*t)[65] = xcalloc(65, sizeof(*t));

	*na = split(a, al, alen, 64);
	*nb = split(b, bl, blen, 64);
	for (i = 1; i <= *na; i++)
		for (j = 1; j <= *nb; j++)
			t[i][j] = alen[i - 1] == blen[j - 1] && memcmp(al[i - 1], bl[j - 1], alen[i - 1]) == 0
				  ? t[i - 1][j - 1] + 1
				  : t[i - 1][j] > t[i][j - 1] ? t[i - 1][j] : t[i][j - 1];
	best = t[*na][*nb];
	free(t);
	return best;
}

TEST(random_texts_round_trip_with_a_shortest_script)
{
	unsigned seed = 4;
	int i, bad = 0;

	for (i = 0; i < 3000 && bad < 5; i++) {
		char *a = random_text(&seed, 30), *b = random_text(&seed, 30);
		char *d = udiff(a, b, (int)(seed % 4), NULL), *got = apply(a, d);
		size_t edits = 0, na, nb, k = lcs(a, b, &na, &nb);
		const char *p;

		for (p = d; *p; p = strchr(p, '\n') + 1)
			if ((*p == '-' || *p == '+') && strncmp(p, "---", 3) != 0 && strncmp(p, "+++", 3) != 0)
				edits++;
		if (!got || strcmp(got, b) != 0 || edits != na + nb - 2 * k) {
			printf("# a=[%s] b=[%s]\n# diff:\n%s# applied: [%s] edits %zu, lcs %zu\n", a, b, d,
			       got ? got : "(does not apply)", edits, k);
			bad++;
		}
		free(a);
		free(b);
		free(d);
		free(got);
	}
	CHECK(bad == 0);
}

TEST(a_large_text_with_scattered_changes)
{
	struct buffer a = {0}, b = {0};
	char *d, *got;
	size_t hunks, i;

	for (i = 0; i < 20000; i++) {
		buf_printf(&a, "line %zu\n", i);
		buf_printf(&b, i % 1000 == 7 ? "changed %zu\n" : "line %zu\n", i);
	}
	{
		struct buffer out = {0};

		hunks = diff_unified(a.data, a.len, b.data, b.len, "a/x", "b/x", 3, &out);
		d = buf_take(&out);
	}
	CHECK(hunks == 20);
	got = apply(buf_str(&a), d);
	CHECK(got && strcmp(got, buf_str(&b)) == 0);
	free(got);
	free(d);
	buf_free(&a);
	buf_free(&b);
}

TEST(very_different_large_texts_stay_fast_and_correct)
{
	struct buffer a = {0}, b = {0}, out = {0};
	char *got;
	size_t i;

	for (i = 0; i < 30000; i++) {
		buf_printf(&a, "old %zu\n", i);
		buf_printf(&b, i % 2 ? "new %zu\n" : "old %zu\n", i * 7 % 30011);
	}
	CHECK(diff_unified(a.data, a.len, b.data, b.len, "a/x", "b/x", 3, &out) > 0);
	got = apply(buf_str(&a), buf_str(&out));
	CHECK(got && strcmp(got, buf_str(&b)) == 0);
	free(got);
	buf_free(&out);
	buf_free(&a);
	buf_free(&b);
}
