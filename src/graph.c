/* graph.c: what a target name means, in what order tasks build, and the plan
 * drawn as Graphviz dot.  Cycles were rejected when the plan loaded. */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

const char *const graph_pipeline[4] = {"questions", "answers", "discovery", "masterplan"};

/* mark t and everything it depends on (iteratively: plans can be deep) */
static void mark_closure(const struct plan *p, struct task *t, unsigned char *sel)
{
	struct task **stack;
	size_t n = 0;

	if (sel[t->index])
		return;
	stack = xcalloc(p->ntasks + 1, sizeof(*stack));
	sel[t->index] = 1;
	stack[n++] = t;
	while (n > 0) {
		struct task *c = stack[--n];
		size_t i;

		for (i = 0; i < c->ndeps; i++) {
			struct task *d = c->deps[i];

			if (d && !sel[d->index]) {
				sel[d->index] = 1;
				stack[n++] = d;
			}
		}
	}
	free(stack);
}

/* rule:NAME: the tasks of the rule and what they need */
static int select_rule(const struct plan *p, const char *name, unsigned char *sel)
{
	const struct rule *r = plan_rule(p, name);
	const char **names, *near;
	size_t i;

	if (r) {
		for (i = 0; i < p->ntasks; i++)
			if (p->tasks[i].r == r)
				mark_closure(p, &p->tasks[i], sel);
		return 0;
	}
	names = xcalloc(p->nrules + 1, sizeof(*names));
	for (i = 0; i < p->nrules; i++)
		names[i] = p->rules[i].name;
	near = closest(name, names, p->nrules);
	if (near)
		error("unknown rule '%s' in target 'rule:%s' (did you mean rule:%s?)", name, name, near);
	else
		error("unknown rule '%s' in target 'rule:%s' (the rules are in rules/ and the built-in rules)", name, name);
	free(names);
	return -1;
}

int graph_select(const struct plan *p, char **names, size_t n, unsigned char *sel, unsigned *pipeline)
{
	size_t i, j, k;
	int rc = 0;

	*pipeline = 0;
	if (n == 0) {
		for (i = 0; i < p->ntasks; i++)
			sel[i] = 1;
		return 0;
	}
	for (i = 0; i < n; i++) {
		const char *name = names[i];
		struct task *t;
		int found = 0;

		if (strcmp(name, "all") == 0) {
			for (j = 0; j < p->ntasks; j++)
				sel[j] = 1;
			continue;
		}
		for (j = 0; j < LEN(graph_pipeline); j++)
			if (strcmp(name, graph_pipeline[j]) == 0) {
				*pipeline |= 1u << j;
				found = 1;
			}
		if (found)
			continue;
		if (strncmp(name, "rule:", 5) == 0) {
			if (select_rule(p, name + 5, sel) < 0)
				rc = -1;
			continue;
		}
		if ((t = plan_task(p, name))) {
			mark_closure(p, t, sel);
			continue;
		}
		for (j = 0; j < p->nmilestones; j++) {
			if (strcmp(p->milestones[j].id, name) != 0)
				continue;
			found = 1;
			for (k = 0; k < p->ntasks; k++)
				if (p->tasks[k].milestone_index == j)
					mark_closure(p, &p->tasks[k], sel);
		}
		for (j = 0; j < p->nphases; j++) {
			if (strcmp(p->phases[j].id, name) != 0)
				continue;
			found = 1;
			for (k = 0; k < p->ntasks; k++) {
				size_t m = p->tasks[k].milestone_index;

				if (m != (size_t)-1 && p->milestones[m].phase_index == j)
					mark_closure(p, &p->tasks[k], sel);
			}
		}
		if (!found) {
			size_t nc = p->ntasks + p->nmilestones + p->nphases + LEN(graph_pipeline) + 1, c = 0;
			const char **cands = xcalloc(nc, sizeof(*cands)), *near;

			for (j = 0; j < p->ntasks; j++)
				cands[c++] = p->tasks[j].id;
			for (j = 0; j < p->nmilestones; j++)
				cands[c++] = p->milestones[j].id;
			for (j = 0; j < p->nphases; j++)
				cands[c++] = p->phases[j].id;
			for (j = 0; j < LEN(graph_pipeline); j++)
				cands[c++] = graph_pipeline[j];
			cands[c++] = "all";
			near = closest(name, cands, c);
			if (near)
				error("unknown target '%s' (did you mean %s?)", name, near);
			else
				error("unknown target '%s'", name);
			free(cands);
			rc = -1;
		}
	}
	return rc;
}

size_t graph_order(const struct plan *p, const unsigned char *sel, struct task **order)
{
	unsigned char *done = xcalloc(p->ntasks + 1, 1);
	struct task **stack = xcalloc(p->ntasks + 1, sizeof(*stack));
	size_t *next = xcalloc(p->ntasks + 1, sizeof(*next));
	size_t i, n = 0, depth;

	/* depth-first post-order, visiting dependencies in their listed order */
	for (i = 0; i < p->ntasks; i++) {
		if (!sel[i] || done[i])
			continue;
		depth = 0;
		stack[depth] = &p->tasks[i];
		next[depth++] = 0;
		done[i] = 1;
		while (depth > 0) {
			struct task *t = stack[depth - 1];

			if (next[depth - 1] < t->ndeps) {
				struct task *d = t->deps[next[depth - 1]++];

				if (d && !done[d->index]) {
					done[d->index] = 1;
					stack[depth] = d;
					next[depth++] = 0;
				}
			} else {
				order[n++] = t;
				depth--;
			}
		}
	}
	free(done);
	free(stack);
	free(next);
	return n;
}

static void dot_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void dot_node(FILE *f, const struct task *t, const char *indent)
{
	fprintf(f, "%s", indent);
	dot_str(f, t->id);
	fputs(" [label=", f);
	{
		char *label = xasprintf("%s\n%s", t->id, t->title ? t->title : "");

		dot_str(f, label);
		free(label);
	}
	fputs("];\n", f);
}

void graph_dot(const struct plan *p, const unsigned char *sel, FILE *f)
{
	size_t i, j;

	fputs("digraph mpbuild {\n\trankdir=LR;\n\tnode [shape=box];\n", f);
	for (j = 0; j < p->nmilestones; j++) {
		int any = 0;

		for (i = 0; i < p->ntasks; i++) {
			if (!sel[i] || p->tasks[i].milestone_index != j)
				continue;
			if (!any) {
				fprintf(f, "\tsubgraph \"cluster_%s\" {\n\t\tlabel=", p->milestones[j].id);
				{
					char *label = xasprintf("%s %s", p->milestones[j].id,
								p->milestones[j].title ? p->milestones[j].title : "");

					dot_str(f, label);
					free(label);
				}
				fputs(";\n", f);
				any = 1;
			}
			dot_node(f, &p->tasks[i], "\t\t");
		}
		if (any)
			fputs("\t}\n", f);
	}
	for (i = 0; i < p->ntasks; i++)
		if (sel[i] && p->tasks[i].milestone_index == (size_t)-1)
			dot_node(f, &p->tasks[i], "\t");
	for (i = 0; i < p->ntasks; i++) {
		const struct task *t = &p->tasks[i];

		if (!sel[i])
			continue;
		for (j = 0; j < t->ndeps; j++) {
			fputc('\t', f);
			dot_str(f, t->deps[j]->id);
			fputs(" -> ", f);
			dot_str(f, t->id);
			fputs(";\n", f);
		}
	}
	fputs("}\n", f);
}
