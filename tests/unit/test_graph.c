/* test_graph.c: what target names select (tasks, milestones, phases, all,
 * pipeline targets, rule:NAME, unknown names with a close match), the build order
 * (dependencies first, deterministic), and the dot output. */
#include "unit.h"
#include "helpers.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

/* P1: M1 {T-001, T-002}; P2: M2 {T-003, T-004}; T-005 in no milestone.
 * T-002 <- T-001; T-003 <- T-002; T-004 <- T-001; T-005 <- T-003, T-004 */
static const char plan_text[] =
	"version: 1\n"
	"phases:\n"
	"  - {id: P1, title: Core}\n"
	"  - {id: P2, title: Program}\n"
	"milestones:\n"
	"  - {id: M1, phase: P1, title: Library}\n"
	"  - {id: M2, phase: P2, title: \"The \\\"main\\\" program\"}\n"
	"tasks:\n"
	"  - {id: T-001, title: Tokenizer, milestone: M1, outputs: [a.c]}\n"
	"  - {id: T-002, title: Counter, milestone: M1, depends_on: [T-001], outputs: [b.c]}\n"
	"  - {id: T-005, title: Docs, depends_on: [T-003, T-004], outputs: [README.md]}\n"
	"  - {id: T-003, title: Main, milestone: M2, depends_on: [T-002], outputs: [main.c]}\n"
	"  - {id: T-004, title: \"Say \\\"hi\\\"\", milestone: M2, depends_on: [T-001], outputs: [hi.c]}\n";

static char *dir;

static struct plan *load_plan(void)
{
	return load_plan_text(plan_text, &dir);
}

static void unload(struct plan *p)
{
	unload_plan(p, dir);
}

/* the ids selected by names, as "T-001 T-002"; rc and pipeline bits out */
static char *select_ids(struct plan *p, const char *names, int *rc, unsigned *pipe, char **err)
{
	char *copy = xstrdup(names), *args[16], *tok;
	unsigned char *sel = xcalloc(p->ntasks + 1, 1);
	struct buffer b = {0};
	size_t n = 0, i;

	for (tok = strtok(copy, " "); tok && n < LEN(args); tok = strtok(NULL, " "))
		args[n++] = tok;
	capture_begin();
	*rc = graph_select(p, args, n, sel, pipe);
	*err = capture_end();
	for (i = 0; i < p->ntasks; i++)
		if (sel[i])
			buf_printf(&b, "%s%s", b.len ? " " : "", p->tasks[i].id);
	free(sel);
	free(copy);
	return buf_take(&b);
}

static void want_select(struct plan *p, const char *names, const char *want, unsigned want_pipe)
{
	int rc;
	unsigned pipe = 99;
	char *err, *got = select_ids(p, names, &rc, &pipe, &err);

	if (strcmp(got, want) != 0)
		printf("# select \"%s\"\n", names);
	CHECK_STR(got, want);
	CHECK(rc == 0 && pipe == want_pipe);
	CHECK_STR(err, "");
	free(got);
	free(err);
}

TEST(select)
{
	struct plan *p = load_plan();

	CHECK(p != NULL);
	if (!p)
		return;
	want_select(p, "", "T-001 T-002 T-005 T-003 T-004", 0);
	want_select(p, "all", "T-001 T-002 T-005 T-003 T-004", 0);
	want_select(p, "T-001", "T-001", 0);
	want_select(p, "T-003", "T-001 T-002 T-003", 0);
	want_select(p, "T-005", "T-001 T-002 T-005 T-003 T-004", 0);
	want_select(p, "T-004 T-002", "T-001 T-002 T-004", 0);
	want_select(p, "M1", "T-001 T-002", 0);
	want_select(p, "M2", "T-001 T-002 T-003 T-004", 0);     /* with what they need */
	want_select(p, "P1", "T-001 T-002", 0);
	want_select(p, "P2", "T-001 T-002 T-003 T-004", 0);
	want_select(p, "discovery", "", 1u << 2);
	want_select(p, "questions masterplan T-001", "T-001", 1u | 1u << 3);
	/* rule:NAME: the tasks of the rule (chosen by their outputs here) with what they need */
	want_select(p, "rule:c", "T-001 T-002 T-003 T-004", 0);
	want_select(p, "rule:docs", "T-001 T-002 T-005 T-003 T-004", 0);
	want_select(p, "rule:python", "", 0);
	unload(p);
}

TEST(select_unknown)
{
	struct plan *p = load_plan();
	int rc;
	unsigned pipe;
	char *err, *got;

	CHECK(p != NULL);
	if (!p)
		return;
	got = select_ids(p, "T-0003", &rc, &pipe, &err);
	CHECK(rc == -1);
	CHECK_STR(err, "mpbuild: unknown target 'T-0003' (did you mean T-003?)\n");
	free(got);
	free(err);
	got = select_ids(p, "M3", &rc, &pipe, &err);
	CHECK(rc == -1);
	CHECK(strstr(err, "unknown target 'M3' (did you mean M1?)") != NULL);
	free(got);
	free(err);
	got = select_ids(p, "rule:cc", &rc, &pipe, &err);
	CHECK(rc == -1);
	CHECK_STR(err, "mpbuild: unknown rule 'cc' in target 'rule:cc' (did you mean rule:c?)\n");
	free(got);
	free(err);
	got = select_ids(p, "rule:", &rc, &pipe, &err);
	CHECK(rc == -1 && strstr(err, "unknown rule '' in target 'rule:'") != NULL);
	free(got);
	free(err);
	got = select_ids(p, "dicovery", &rc, &pipe, &err);
	CHECK(rc == -1 && strstr(err, "(did you mean discovery?)") != NULL);
	free(got);
	free(err);
	got = select_ids(p, "zzzzzzzzzz", &rc, &pipe, &err);
	CHECK(rc == -1);
	CHECK_STR(err, "mpbuild: unknown target 'zzzzzzzzzz'\n");
	free(got);
	free(err);
	/* every unknown name is reported; the known ones are still selected */
	got = select_ids(p, "T-002 nope1 nope2", &rc, &pipe, &err);
	CHECK(rc == -1 && strstr(err, "'nope1'") && strstr(err, "'nope2'"));
	CHECK_STR(got, "T-001 T-002");
	free(got);
	free(err);
	unload(p);
}

/* the order as ids */
static char *order_ids(struct plan *p, const char *names)
{
	struct task **order = xcalloc(p->ntasks + 1, sizeof(*order));
	unsigned char *sel = xcalloc(p->ntasks + 1, 1);
	char *copy = xstrdup(names), *args[16], *tok;
	struct buffer b = {0};
	size_t n = 0, i, k;
	unsigned pipe;

	for (tok = strtok(copy, " "); tok && n < LEN(args); tok = strtok(NULL, " "))
		args[n++] = tok;
	graph_select(p, args, n, sel, &pipe);
	k = graph_order(p, sel, order);
	for (i = 0; i < k; i++)
		buf_printf(&b, "%s%s", i ? " " : "", order[i]->id);
	/* each task comes after all of its dependencies */
	for (i = 0; i < k; i++) {
		size_t j, m;

		for (j = 0; j < order[i]->ndeps; j++) {
			for (m = 0; m < i; m++)
				if (order[m] == order[i]->deps[j])
					break;
			CHECK(m < i);
		}
	}
	free(order);
	free(sel);
	free(copy);
	return buf_take(&b);
}

TEST(order)
{
	struct plan *p = load_plan();
	char *a, *b;

	CHECK(p != NULL);
	if (!p)
		return;
	a = order_ids(p, "");
	b = order_ids(p, "");
	CHECK_STR(a, "T-001 T-002 T-003 T-004 T-005");
	CHECK_STR(a, b);
	free(a);
	free(b);
	a = order_ids(p, "T-004 T-003");
	CHECK_STR(a, "T-001 T-002 T-003 T-004");
	free(a);
	a = order_ids(p, "M1");
	CHECK_STR(a, "T-001 T-002");
	free(a);
	a = order_ids(p, "discovery");
	CHECK_STR(a, "");
	free(a);
	unload(p);
}

static char *dot(struct plan *p, const char *names)
{
	unsigned char *sel = xcalloc(p->ntasks + 1, 1);
	char *copy = xstrdup(names), *args[16], *tok, *out = NULL;
	size_t n = 0, len = 0;
	unsigned pipe;
	FILE *f = open_memstream(&out, &len);

	for (tok = strtok(copy, " "); tok && n < LEN(args); tok = strtok(NULL, " "))
		args[n++] = tok;
	graph_select(p, args, n, sel, &pipe);
	graph_dot(p, sel, f);
	fclose(f);
	free(sel);
	free(copy);
	return out;
}

TEST(dot_output)
{
	struct plan *p = load_plan();
	char *a, *b;

	CHECK(p != NULL);
	if (!p)
		return;
	a = dot(p, "");
	b = dot(p, "");
	CHECK_STR(a, b);
	CHECK(strncmp(a, "digraph mpbuild {\n", 18) == 0);
	CHECK(strlen(a) > 2 && strcmp(a + strlen(a) - 2, "}\n") == 0);
	CHECK(strstr(a, "\tsubgraph \"cluster_M1\" {\n\t\tlabel=\"M1 Library\";\n") != NULL);
	CHECK(strstr(a, "\tsubgraph \"cluster_M2\" {\n\t\tlabel=\"M2 The \\\"main\\\" program\";\n") != NULL);
	CHECK(strstr(a, "\t\t\"T-001\" [label=\"T-001\\nTokenizer\"];\n") != NULL);
	CHECK(strstr(a, "\t\t\"T-004\" [label=\"T-004\\nSay \\\"hi\\\"\"];\n") != NULL);
	/* a task in no milestone sits outside the clusters */
	CHECK(strstr(a, "\n\t\"T-005\" [label=\"T-005\\nDocs\"];\n") != NULL);
	CHECK(strstr(a, "\t\"T-001\" -> \"T-002\";\n") != NULL);
	CHECK(strstr(a, "\t\"T-003\" -> \"T-005\";\n") != NULL);
	CHECK(strstr(a, "\t\"T-004\" -> \"T-005\";\n") != NULL);
	free(a);
	free(b);
	/* only the selection, and no empty cluster */
	a = dot(p, "T-002");
	CHECK(strstr(a, "cluster_M1") != NULL && strstr(a, "cluster_M2") == NULL);
	CHECK(strstr(a, "T-003") == NULL && strstr(a, "T-005") == NULL);
	CHECK(strstr(a, "\t\"T-001\" -> \"T-002\";\n") != NULL);
	free(a);
	unload(p);
}
