/* test_layout.c: the canonical order of a task's dependency interfaces (a
 * post-order walk that takes the dependency with the most dependencies
 * first, so a list begins with its first dependency's list and that
 * dependency) and where layer 4's breakpoints
 * go (the deepest prefix shared with another task of the rule and model,
 * then those the API's lookback would not reach). */
#include "unit.h"
#include "helpers.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"

/* A <- B <- C; A <- D; E and F depend on C and D (in either order); G, a C
 * header, on C; H on G and B */
static const char plan_text[] =
	"version: 1\n"
	"tasks:\n"
	"  - {id: A, title: A, outputs: [a.py]}\n"
	"  - {id: B, title: B, depends_on: [A], outputs: [b.py]}\n"
	"  - {id: C, title: C, depends_on: [B], outputs: [c.py]}\n"
	"  - {id: D, title: D, depends_on: [A], outputs: [d.py]}\n"
	"  - {id: E, title: E, depends_on: [D, C], outputs: [e.py]}\n"
	"  - {id: F, title: F, depends_on: [C, D], outputs: [f.py]}\n"
	"  - {id: G, title: G, depends_on: [C], outputs: [g.h]}\n"
	"  - {id: H, title: H, depends_on: [G, B], outputs: [h.py]}\n";

static char *dir;

static struct plan *load(void)
{
	return load_plan_text(plan_text, &dir);
}

static void unload(struct plan *p)
{
	unload_plan(p, dir);
}

static const struct task *task(const struct plan *p, const char *id)
{
	size_t i;

	for (i = 0; i < p->ntasks; i++)
		if (strcmp(p->tasks[i].id, id) == 0)
			return &p->tasks[i];
	return NULL;
}

/* t's list as "A B C" (static) */
static const char *ids(struct layout *l, const struct plan *p, const char *id)
{
	static char out[256];
	size_t list[16], n = layout_deps(l, task(p, id), list), i;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, p->tasks[list[i]].id);
	}
	return out;
}

TEST(a_list_begins_with_its_largest_dependency_list)
{
	struct plan *p = load();
	struct layout *l;

	CHECK(p != NULL);
	if (!p)
		return;
	l = layout_open(p);
	CHECK_STR(ids(l, p, "A"), "");
	CHECK_STR(ids(l, p, "C"), "A B");
	/* C depends on two tasks, D on one: C's list and C first, whatever
	 * depends_on says, so E and F see the same bytes */
	CHECK_STR(ids(l, p, "E"), "A B C D");
	CHECK_STR(ids(l, p, "F"), "A B C D");
	/* G, of another rule, depends on more than B: its walk comes first */
	CHECK_STR(ids(l, p, "H"), "A B C G");
	CHECK_STR(ids(l, p, "G"), "A B C");
	layout_close(l);
	unload(p);
}

TEST(every_list_begins_with_a_dependency_list_and_that_dependency)
{
	struct plan *p = load();
	struct layout *l;
	size_t i, j, k;

	CHECK(p != NULL);
	if (!p)
		return;
	l = layout_open(p);
	for (i = 0; i < p->ntasks; i++) {
		const struct task *t = &p->tasks[i];
		size_t list[16], n = layout_deps(l, t, list), found = 0;

		for (j = 0; j < t->ndeps && !found; j++) {
			size_t sub[16], m = layout_deps(l, t->deps[j], sub);

			found = m < n && list[m] == t->deps[j]->index;
			for (k = 0; found && k < m; k++)
				found = list[k] == sub[k];
		}
		CHECK(found || !t->ndeps);
		if (!found && t->ndeps)
			printf("# %s\n", t->id);
	}
	layout_close(l);
	unload(p);
}

TEST(breakpoints_end_shared_prefixes_the_deepest_first)
{
	struct plan *p = load();
	struct layout *l;
	size_t list[16], n, marks[3], nm;

	CHECK(p != NULL);
	if (!p)
		return;
	l = layout_open(p);
	/* E's list A B C D, one block each: every prefix is shared (with F, and
	 * shorter ones with C and H), and the deepest one's lookback reaches
	 * the others */
	{
		size_t ends[] = {1, 2, 3, 4};

		n = layout_deps(l, task(p, "E"), list);
		CHECK(n == 4);
		nm = layout_marks(l, task(p, "E"), list, ends, n, marks, 3);
		CHECK(nm == 1 && marks[0] == 4);
	}
	/* blocks far apart: a prefix more than LAYOUT_LOOKBACK blocks before a
	 * breakpoint gets one of its own, at most max in all */
	{
		size_t ends[] = {1, 2, 3 + LAYOUT_LOOKBACK, 4 + 2 * LAYOUT_LOOKBACK};

		nm = layout_marks(l, task(p, "E"), list, ends, n, marks, 3);
		CHECK(nm == 3 && marks[0] == ends[3] && marks[1] == ends[2] && marks[2] == ends[1]);
		nm = layout_marks(l, task(p, "E"), list, ends, n, marks, 2);
		CHECK(nm == 2 && marks[0] == ends[3] && marks[1] == ends[2]);
	}
	/* B shows nothing (a task whose interface is empty): the boundary after
	 * it is the one after A */
	{
		size_t ends[] = {1, 1, 2 + LAYOUT_LOOKBACK, 3 + LAYOUT_LOOKBACK};

		nm = layout_marks(l, task(p, "E"), list, ends, n, marks, 3);
		CHECK(nm == 2 && marks[0] == ends[3] && marks[1] == 1);
	}
	/* H's whole list is its own: the breakpoint ends A B C, which E, F and
	 * C's dependents share, not H's tail */
	{
		size_t ends[] = {1, 2, 3, 4};

		n = layout_deps(l, task(p, "H"), list);
		nm = layout_marks(l, task(p, "H"), list, ends, n, marks, 3);
		CHECK(nm == 1 && marks[0] == 3);
	}
	/* G is the only task of its rule: nothing it could write is read */
	{
		size_t ends[] = {1, 2, 3};

		n = layout_deps(l, task(p, "G"), list);
		CHECK(n == 3);
		nm = layout_marks(l, task(p, "G"), list, ends, n, marks, 3);
		CHECK(nm == 0);
	}
	layout_close(l);
	unload(p);
}
