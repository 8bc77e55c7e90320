/* plan.c: YAML nodes -> the typed plan, with every check of SPEC section 3.
 * Each problem is reported as file:line:col: error: ... and loading goes on
 * so that one run of `mpbuild check` shows all of them. */
#include "plan.h"
#include "load.h"
#include "confine.h"
#include "hash.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int id_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '.' || *s == '-'))
			return 0;
	return 1;
}

static void load_questions(struct plan *p)
{
	static const char *const keys[] = {"version", "summary", "entities", "questions"};
	static const char *const qkeys[] = {"id", "text", "why", "default"};
	struct ld L = {p, "plans/questions.yaml"};
	struct ynode *r, *qs;
	struct htab seen = {0};
	struct ydoc *d;
	size_t i, n;
	int missing;
	const char **ents;

	if (!(d = ld_load_doc(p, "plans/questions.yaml", &missing)))
		return;
	p->have_questions = 1;
	if (!(r = ld_doc_root(&L, d)))
		return;
	ld_check_keys(&L, r, "plans/questions.yaml", keys, LEN(keys));
	ld_get_str(&L, r, "summary", 0, "plans/questions.yaml");
	ents = ld_get_strs(&L, r, "entities", &n, "plans/questions.yaml");
	free(ents);
	qs = ymap_get(r, "questions");
	if (yis_null(qs) || !ld_want(&L, qs, Y_SEQ, "'questions'"))
		return;
	p->questions = xcalloc(qs->n + 1, sizeof(*p->questions));
	for (i = 0; i < qs->n; i++) {
		struct ynode *q = qs->kids[i];
		struct question *o = &p->questions[p->nquestions];

		if (!ld_want(&L, q, Y_MAP, "a question"))
			continue;
		ld_check_keys(&L, q, "a question", qkeys, LEN(qkeys));
		o->node = q;
		o->id = ld_get_str(&L, q, "id", 1, "a question");
		o->text = ld_get_str(&L, q, "text", 1, "a question");
		o->why = ld_get_str(&L, q, "why", 0, "a question");
		o->def = ld_get_str(&L, q, "default", 0, "a question");
		if (!o->id)
			continue;
		if (htab_put(&seen, o->id, o))
			yerror(L.file, ymap_get(q, "id"), "duplicate question id '%s'", o->id);
		p->nquestions++;
	}
	htab_free(&seen);
}

static void load_answers(struct plan *p)
{
	static const char *const keys[] = {"version", "answers"};
	struct ld L = {p, "plans/answers.yaml"};
	struct ynode *r, *a;
	struct ydoc *d;
	int missing;
	size_t i, j;

	if (!(d = ld_load_doc(p, "plans/answers.yaml", &missing)))
		return;
	p->have_answers = 1;
	if (!(r = ld_doc_root(&L, d)))
		return;
	ld_check_keys(&L, r, "plans/answers.yaml", keys, LEN(keys));
	a = ymap_get(r, "answers");
	if (yis_null(a) || !ld_want(&L, a, Y_MAP, "'answers'"))
		return;
	p->answers = a;
	for (i = 0; i < a->n; i += 2) {
		const char *id = a->kids[i]->str;
		const char **ids;
		const char *near;

		if (a->kids[i + 1]->kind != Y_SCALAR)
			yerror(L.file, a->kids[i + 1], "the answer to %s must be a string, not %s", id,
			       ykind_name(a->kids[i + 1]));
		if (!p->have_questions)
			continue;
		for (j = 0; j < p->nquestions; j++)
			if (strcmp(p->questions[j].id, id) == 0)
				break;
		if (j < p->nquestions)
			continue;
		ids = xcalloc(p->nquestions + 1, sizeof(*ids));
		for (j = 0; j < p->nquestions; j++)
			ids[j] = p->questions[j].id;
		near = closest(id, ids, p->nquestions);
		if (near)
			yerror(L.file, a->kids[i], "answer to unknown question '%s' (did you mean '%s'?)", id, near);
		else
			yerror(L.file, a->kids[i], "answer to unknown question '%s'", id);
		free(ids);
	}
}

static void str_list_field(struct ld *L, const struct ynode *m, const char *key, const char *what)
{
	size_t n;

	free(ld_get_strs(L, m, key, &n, what));
}

/* the aggregates of bounded context c: each a mapping with a name and lists */
static void load_aggregates(struct ld *L, const struct ynode *c)
{
	static const char *const akeys[] = {"name", "entities", "value_objects", "invariants", "commands", "events"};
	struct ynode *ag = ymap_get(c, "aggregates");
	size_t j, k;

	if (yis_null(ag) || !ld_want(L, ag, Y_SEQ, "'aggregates'"))
		return;
	for (j = 0; j < ag->n; j++) {
		struct ynode *a = ag->kids[j];

		if (!ld_want(L, a, Y_MAP, "an aggregate"))
			continue;
		ld_check_keys(L, a, "an aggregate", akeys, LEN(akeys));
		ld_get_str(L, a, "name", 1, "an aggregate");
		for (k = 1; k < LEN(akeys); k++)
			str_list_field(L, a, akeys[k], "an aggregate");
	}
}

/* the bounded contexts list v into D->contexts, each name into names once */
static void load_contexts(struct ld *L, struct discovery *D, const struct ynode *v, struct htab *names)
{
	static const char *const ckeys[] = {"name", "description", "aggregates", "services", "repositories"};
	size_t i;

	D->contexts = xcalloc(v->n + 1, sizeof(*D->contexts));
	for (i = 0; i < v->n; i++) {
		struct ynode *c = v->kids[i];
		const char *name;

		if (!ld_want(L, c, Y_MAP, "a bounded context"))
			continue;
		ld_check_keys(L, c, "a bounded context", ckeys, LEN(ckeys));
		name = ld_get_str(L, c, "name", 1, "a bounded context");
		ld_get_str(L, c, "description", 0, "a bounded context");
		str_list_field(L, c, "services", "a bounded context");
		str_list_field(L, c, "repositories", "a bounded context");
		load_aggregates(L, c);
		if (!name)
			continue;
		if (htab_put(names, name, c))
			yerror(L->file, ymap_get(c, "name"), "duplicate bounded context '%s'", name);
		D->contexts[D->ncontexts].name = name;
		D->contexts[D->ncontexts].node = c;
		D->ncontexts++;
	}
}

/* the relationships list v into D->rels; both ends must name a context of names */
static void load_relationships(struct ld *L, struct discovery *D, const struct ynode *v, const struct htab *names)
{
	static const char *const rkeys[] = {"from", "to", "kind"};
	const char **cn = xcalloc(D->ncontexts + 1, sizeof(*cn));
	size_t i, j;

	for (i = 0; i < D->ncontexts; i++)
		cn[i] = D->contexts[i].name;
	D->rels = xcalloc(v->n + 1, sizeof(*D->rels));
	for (i = 0; i < v->n; i++) {
		struct ynode *rel = v->kids[i];
		struct relationship *o = &D->rels[D->nrels];
		const char *ends[2];

		if (!ld_want(L, rel, Y_MAP, "a relationship"))
			continue;
		ld_check_keys(L, rel, "a relationship", rkeys, LEN(rkeys));
		ends[0] = o->from = ld_get_str(L, rel, "from", 1, "a relationship");
		ends[1] = o->to = ld_get_str(L, rel, "to", 1, "a relationship");
		ld_get_str(L, rel, "kind", 0, "a relationship");
		o->node = rel;
		for (j = 0; j < 2; j++) {
			const char *near;

			if (!ends[j] || htab_get(names, ends[j]))
				continue;
			near = closest(ends[j], cn, D->ncontexts);
			if (near)
				yerror(L->file, ymap_get(rel, j ? "to" : "from"),
				       "relationship names unknown bounded context '%s' (did you mean '%s'?)", ends[j], near);
			else
				yerror(L->file, ymap_get(rel, j ? "to" : "from"),
				       "relationship names unknown bounded context '%s'", ends[j]);
		}
		if (o->from && o->to)
			D->nrels++;
	}
	free(cn);
}

static void load_discovery(struct plan *p)
{
	static const char *const keys[] = {"version", "domain", "summary", "stack", "bounded_contexts",
					   "relationships", "glossary"};
	static const char *const skeys[] = {"language", "framework", "storage", "tests"};
	struct ld L = {p, "plans/discovery.yaml"};
	struct discovery *D = &p->disc;
	struct ynode *r, *v;
	struct ydoc *d;
	struct htab names = {0};
	int missing;
	size_t i;

	if (!(d = ld_load_doc(p, "plans/discovery.yaml", &missing)))
		return;
	p->have_discovery = 1;
	if (!(r = ld_doc_root(&L, d)))
		return;
	ld_check_keys(&L, r, "plans/discovery.yaml", keys, LEN(keys));
	D->domain = ymap_get(r, "domain");
	if (D->domain && !yis_null(D->domain))
		ld_want(&L, D->domain, Y_SCALAR, "'domain'");
	D->summary = ymap_get(r, "summary");
	if (D->summary && !yis_null(D->summary))
		ld_want(&L, D->summary, Y_SCALAR, "'summary'");
	D->stack = ymap_get(r, "stack");
	if (D->stack && !yis_null(D->stack) && ld_want(&L, D->stack, Y_MAP, "'stack'")) {
		ld_check_keys(&L, D->stack, "'stack'", skeys, LEN(skeys));
		for (i = 0; i < LEN(skeys); i++)
			ld_get_str(&L, D->stack, skeys[i], 0, "'stack'");
	}
	D->glossary = ymap_get(r, "glossary");
	if (D->glossary && !yis_null(D->glossary) && ld_want(&L, D->glossary, Y_MAP, "'glossary'"))
		for (i = 1; i < D->glossary->n; i += 2)
			if (D->glossary->kids[i]->kind != Y_SCALAR)
				yerror(L.file, D->glossary->kids[i], "glossary entries must be strings, not %s",
				       ykind_name(D->glossary->kids[i]));
	v = ymap_get(r, "bounded_contexts");
	if (!yis_null(v) && ld_want(&L, v, Y_SEQ, "'bounded_contexts'"))
		load_contexts(&L, D, v, &names);
	v = ymap_get(r, "relationships");
	if (!yis_null(v) && ld_want(&L, v, Y_SEQ, "'relationships'"))
		load_relationships(&L, D, v, &names);
	htab_free(&names);
}

const char *plan_path_problem(const char *path)
{
	const char *s = path, *e;

	if (!*path)
		return "is empty";
	if (path[0] == '/')
		return "is absolute";
	if (strchr(path, '\\'))
		return "contains a backslash";
	if (path[strlen(path) - 1] == '/')
		return "ends with '/'";
	for (; *s; s = *e ? e + 1 : e) {
		e = strchr(s, '/');
		if (!e)
			e = s + strlen(s);
		if (e == s)
			return *e ? "has an empty component" : "ends with '/'";
		if ((e - s == 1 && s[0] == '.') || (e - s == 2 && s[0] == '.' && s[1] == '.'))
			return "is not normalised (has '.' or '..')";
	}
	for (s = path; *s; s = *s ? s + 1 : s)
		if ((unsigned char)*s < 0x20)
			return "contains a control character";
	return confine_reserved(path);
}

/* record id in the shared namespace, reporting a duplicate */
static void add_id(struct ld *L, struct htab *all, const char *id, struct ynode *at, void *what)
{
	if (!id_ok(id)) {
		yerror(L->file, at, "invalid id '%s' (ids match [A-Za-z][A-Za-z0-9_.-]*)", id);
		return;
	}
	if (htab_get(all, id))
		yerror(L->file, at, "duplicate id '%s'", id);
	else
		htab_put(all, id, what);
}

/* a reference to an id of one kind, with a close match from names[0..n) */
static void bad_ref(struct ld *L, const struct ynode *at, const char *who, const char *kind, const char *id,
		    const char *const *names, size_t n)
{
	const char *near = closest(id, names, n);

	if (near)
		yerror(L->file, at, "%s refers to unknown %s '%s' (did you mean '%s'?)", who, kind, id, near);
	else
		yerror(L->file, at, "%s refers to unknown %s '%s'", who, kind, id);
}

static struct argv *get_checks(struct ld *L, const struct ynode *m, size_t *n, const char *who)
{
	struct ynode *v = ymap_get(m, "check");
	struct argv *out;
	size_t i;

	*n = 0;
	if (yis_null(v))
		return NULL;
	if (v->kind != Y_SEQ) {
		yerror(L->file, v, "'check' of %s must be a list of commands, not %s", who, ykind_name(v));
		return NULL;
	}
	out = xcalloc(v->n + 1, sizeof(*out));
	for (i = 0; i < v->n; i++) {
		struct ynode *c = v->kids[i];

		if (c->kind != Y_SEQ || c->n == 0) {
			yerror(L->file, c, "each check of %s must be a non-empty list of words (an argv), not %s",
			       who, c->kind == Y_SEQ ? "an empty list" : ykind_name(c));
			continue;
		}
		ld_get_words(L, c, &out[(*n)++]);
	}
	return out;
}

/* print the cycle through t (found by the caller's DFS) as A -> B -> A */
static void report_cycle(struct ld *L, struct task **path, size_t n, struct task *again)
{
	struct buffer b = {0};
	size_t i = 0;

	while (i < n && path[i] != again)
		i++;
	for (; i < n; i++)
		buf_printf(&b, "%s -> ", path[i]->id);
	buf_puts(&b, again->id);
	yerror(L->file, again->node, "dependency cycle: %s", buf_str(&b));
	buf_free(&b);
}

/* iterative DFS over depends_on; reports each cycle once */
static void find_cycles(struct ld *L, struct plan *p)
{
	unsigned char *mark = xcalloc(p->ntasks + 1, 1);   /* 0 new, 1 on path, 2 done */
	struct task **path = xcalloc(p->ntasks + 1, sizeof(*path));
	size_t *next = xcalloc(p->ntasks + 1, sizeof(*next));
	size_t i, depth;

	for (i = 0; i < p->ntasks; i++) {
		if (mark[i])
			continue;
		depth = 0;
		path[depth] = &p->tasks[i];
		next[depth] = 0;
		mark[i] = 1;
		depth++;
		while (depth > 0) {
			struct task *t = path[depth - 1];

			if (next[depth - 1] < t->ndeps && t->deps) {
				struct task *d = t->deps[next[depth - 1]++];

				if (!d)
					continue;
				if (mark[d->index] == 1) {
					report_cycle(L, path, depth, d);
				} else if (mark[d->index] == 0) {
					mark[d->index] = 1;
					path[depth] = d;
					next[depth] = 0;
					depth++;
				}
			} else {
				mark[t->index] = 2;
				depth--;
			}
		}
	}
	free(mark);
	free(path);
	free(next);
}

/* the phases of masterplan root r: ids into all, index + 1 into phases */
static void load_phases(struct ld *L, struct plan *p, struct ynode *r, struct htab *all, struct htab *phases)
{
	static const char *const phkeys[] = {"id", "title", "description"};
	struct ynode *v;
	size_t i;

	v = ymap_get(r, "phases");
	if (!yis_null(v) && ld_want(L, v, Y_SEQ, "'phases'")) {
		p->phases = xcalloc(v->n + 1, sizeof(*p->phases));
		for (i = 0; i < v->n; i++) {
			struct ynode *e = v->kids[i];
			struct phase *o = &p->phases[p->nphases];

			if (!ld_want(L, e, Y_MAP, "a phase"))
				continue;
			ld_check_keys(L, e, "a phase", phkeys, LEN(phkeys));
			o->id = ld_get_str(L, e, "id", 1, "a phase");
			o->title = ld_get_str(L, e, "title", 0, "a phase");
			o->description = ld_get_str(L, e, "description", 0, "a phase");
			o->node = e;
			if (!o->id)
				continue;
			add_id(L, all, o->id, ymap_get(e, "id"), o);
			htab_put(phases, o->id, (void *)(p->nphases + 1));
			p->nphases++;
		}
	}
}

/* the milestones of masterplan root r: ids into all, index + 1 into miles;
 * each names a phase of phases */
static void load_milestones(struct ld *L, struct plan *p, struct ynode *r, struct htab *all, struct htab *phases,
			    struct htab *miles)
{
	static const char *const mkeys[] = {"id", "phase", "title", "description"};
	struct ynode *v;
	size_t i, j;

	v = ymap_get(r, "milestones");
	if (!yis_null(v) && ld_want(L, v, Y_SEQ, "'milestones'")) {
		p->milestones = xcalloc(v->n + 1, sizeof(*p->milestones));
		for (i = 0; i < v->n; i++) {
			struct ynode *e = v->kids[i];
			struct milestone *o = &p->milestones[p->nmilestones];

			if (!ld_want(L, e, Y_MAP, "a milestone"))
				continue;
			ld_check_keys(L, e, "a milestone", mkeys, LEN(mkeys));
			o->id = ld_get_str(L, e, "id", 1, "a milestone");
			o->phase = ld_get_str(L, e, "phase", 0, "a milestone");
			o->title = ld_get_str(L, e, "title", 0, "a milestone");
			o->description = ld_get_str(L, e, "description", 0, "a milestone");
			o->node = e;
			if (!o->id)
				continue;
			add_id(L, all, o->id, ymap_get(e, "id"), o);
			htab_put(miles, o->id, (void *)(p->nmilestones + 1));
			o->phase_index = (size_t)-1;
			if (o->phase) {
				size_t ix = (size_t)htab_get(phases, o->phase);

				if (ix) {
					o->phase_index = ix - 1;
				} else {
					const char **pn = xcalloc(p->nphases + 1, sizeof(*pn));

					for (j = 0; j < p->nphases; j++)
						pn[j] = p->phases[j].id;
					char who[160];

					snprintf(who, sizeof(who), "milestone %s", o->id);
					bad_ref(L, ymap_get(e, "phase"), who, "phase", o->phase, pn, p->nphases);
					free(pn);
				}
			}
			p->nmilestones++;
		}
	}
}

/* one task entry e of the masterplan into the next slot of p->tasks (its id
 * into all); 1 when it takes the slot, 0 when it has no usable id */
static int load_task(struct ld *L, struct plan *p, struct ynode *e, struct htab *all)
{
	static const char *const tkeys[] = {"id", "title", "description", "milestone", "complexity", "model",
					    "rule", "depends_on", "context", "outputs", "reads", "check", "subtasks"};
	static const char *const cplx[] = {"low", "medium", "high"};
	struct task *t = &p->tasks[p->ntasks];
	char who[160];
	size_t j;

	if (!ld_want(L, e, Y_MAP, "a task"))
		return 0;
	ld_check_keys(L, e, "a task", tkeys, LEN(tkeys));
	t->node = e;
	t->id = ld_get_str(L, e, "id", 1, "a task");
	if (!t->id)
		return 0;
	snprintf(who, sizeof(who), "task %s", t->id);
	t->title = ld_get_str(L, e, "title", 1, who);
	t->description = ld_get_str(L, e, "description", 0, who);
	t->milestone = ld_get_str(L, e, "milestone", 0, who);
	t->complexity = "medium";
	if (ymap_get(e, "complexity") && !yis_null(ymap_get(e, "complexity"))) {
		const char *c = ld_get_str(L, e, "complexity", 0, who);

		for (j = 0; c && j < LEN(cplx); j++)
			if (strcmp(c, cplx[j]) == 0)
				break;
		if (c && j == LEN(cplx)) {
			const char *near = closest(c, cplx, LEN(cplx));

			yerror(L->file, ymap_get(e, "complexity"),
			       "complexity of %s must be low, medium or high, not '%s'%s%s%s", who, c,
			       near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
		} else if (c) {
			t->complexity = cplx[j];
		}
	}
	t->model = ld_get_str(L, e, "model", 0, who);
	t->rule = ld_get_str(L, e, "rule", 0, who);
	t->depends_on = ld_get_strs(L, e, "depends_on", &t->ndeps, who);
	t->dep_nodes = ymap_get(e, "depends_on");
	t->has_context = ymap_get(e, "context") && !yis_null(ymap_get(e, "context"));
	t->context = ld_get_strs(L, e, "context", &t->ncontext, who);
	t->outputs = ld_get_strs(L, e, "outputs", &t->noutputs, who);
	t->reads = ld_get_strs(L, e, "reads", &t->nreads, who);
	t->check = get_checks(L, e, &t->ncheck, who);
	free(ld_get_strs(L, e, "subtasks", &j, who));
	t->index = p->ntasks;
	t->milestone_index = (size_t)-1;
	add_id(L, all, t->id, ymap_get(e, "id"), t);
	if (htab_get(all, t->id) == t)
		htab_put(&p->ids, t->id, t);
	return 1;
}

/* the files of task t (who names it in messages): outputs declared once and
 * where outputs may go, reads: where files may be, and its rule */
static void check_task_files(struct ld *L, struct plan *p, struct task *t, const char *who, const char **rnames)
{
	size_t j;

	if (t->noutputs == 0)
		yerror(L->file, t->node, "%s declares no outputs", who);
	for (j = 0; j < t->nreads; j++) {
		const char *why = plan_path_problem(t->reads[j]);

		if (why)
			yerror(L->file, ymap_get(t->node, "reads")->kids[j], "file '%s' that %s reads %s", t->reads[j], who,
			       why);
	}
	for (j = 0; j < t->noutputs; j++) {
		const char *why = plan_path_problem(t->outputs[j]);
		struct task *other;

		if (why) {
			yerror(L->file, ymap_get(t->node, "outputs")->kids[j], "output '%s' of %s %s",
			       t->outputs[j], who, why);
			continue;
		}
		other = htab_get(&p->outputs, t->outputs[j]);
		if (other)
			yerror(L->file, ymap_get(t->node, "outputs")->kids[j],
			       "output '%s' of %s is already declared by task %s", t->outputs[j], who, other->id);
		else
			htab_put(&p->outputs, t->outputs[j], t);
	}
	if (t->rule) {
		t->r = plan_rule(p, t->rule);
		if (!t->r)
			bad_ref(L, ymap_get(t->node, "rule"), who, "rule", t->rule, rnames, p->nrules);
	} else if (t->noutputs) {
		t->r = rule_for_output(p, t->outputs[0]);
		if (!t->r)
			yerror(L->file, t->node, "no rule matches output '%s' of %s (set 'rule:' or add rules/generic.yaml)",
			       t->outputs[0], who);
	}
}

/* the tasks list of masterplan root r into p->tasks, their ids into all */
static void load_tasks(struct ld *L, struct plan *p, struct ynode *r, struct htab *all)
{
	struct ynode *v = ymap_get(r, "tasks");
	size_t i;

	if (yis_null(v)) {
		yerror(L->file, r, "plans/masterplan.yaml has no 'tasks'");
	} else if (ld_want(L, v, Y_SEQ, "'tasks'")) {
		p->tasks = xcalloc(v->n + 1, sizeof(*p->tasks));
		for (i = 0; i < v->n; i++) {
			if (load_task(L, p, v->kids[i], all))
				p->ntasks++;
		}
	}
}

/* t->milestone_index from the milestone task t (who) names, index + 1 in miles */
static void link_milestone(struct ld *L, struct plan *p, struct task *t, const char *who, struct htab *miles)
{
	size_t ix, j;
	const char **mn;

	if (!t->milestone)
		return;
	ix = (size_t)htab_get(miles, t->milestone);
	if (ix) {
		t->milestone_index = ix - 1;
		return;
	}
	mn = xcalloc(p->nmilestones + 1, sizeof(*mn));
	for (j = 0; j < p->nmilestones; j++)
		mn[j] = p->milestones[j].id;
	bad_ref(L, ymap_get(t->node, "milestone"), who, "milestone", t->milestone, mn, p->nmilestones);
	free(mn);
}

/* t->deps from depends_on: each a known task, not t itself, listed once
 * (names: every task id, for a close match) */
static void link_deps(struct ld *L, struct plan *p, struct task *t, const char *who, const char **names)
{
	size_t j, k;

	t->deps = xcalloc(t->ndeps + 1, sizeof(*t->deps));
	for (j = 0; j < t->ndeps; j++) {
		struct task *dt = htab_get(&p->ids, t->depends_on[j]);

		t->deps[j] = dt;
		if (!dt) {
			bad_ref(L, t->dep_nodes->kids[j], who, "task", t->depends_on[j], names, p->ntasks);
		} else if (dt == t) {
			yerror(L->file, t->dep_nodes->kids[j], "%s depends on itself", who);
		} else {
			for (k = 0; k < j && t->deps[k] != dt; k++)
				;
			if (k < j)
				yerror(L->file, t->dep_nodes->kids[j], "%s lists %s twice in depends_on", who, dt->id);
		}
	}
}

/* each bounded context task t (who) names is one of discovery's, in ctx */
static void check_task_contexts(struct ld *L, struct plan *p, struct task *t, const char *who, struct htab *ctx)
{
	size_t j, k;

	for (j = 0; j < t->ncontext; j++) {
		const char **cn;

		if (htab_get(ctx, t->context[j]))
			continue;
		cn = xcalloc(p->disc.ncontexts + 1, sizeof(*cn));
		for (k = 0; k < p->disc.ncontexts; k++)
			cn[k] = p->disc.contexts[k].name;
		bad_ref(L, ymap_get(t->node, "context")->kids[j], who, "bounded context", t->context[j], cn,
			p->disc.ncontexts);
		free(cn);
	}
}

/* a file cannot also be a directory: no output lies under another ('a' and 'a/b') */
static void check_nested_outputs(struct ld *L, struct plan *p)
{
	size_t i, j;

	for (i = 0; i < p->ntasks; i++) {
		struct task *t = &p->tasks[i];

		for (j = 0; j < t->noutputs; j++) {
			char *o = xstrdup(t->outputs[j]), *s;

			while ((s = strrchr(o, '/')) != NULL) {
				struct task *other;

				*s = '\0';
				other = htab_get(&p->outputs, o);
				if (other) {
					yerror(L->file, ymap_get(t->node, "outputs")->kids[j],
					       "output '%s' of task %s is inside '%s', an output of task %s: a file cannot be a directory",
					       t->outputs[j], t->id, o, other->id);
					break;
				}
			}
			free(o);
		}
	}
}

static void load_masterplan(struct plan *p, int strict)
{
	static const char *const keys[] = {"version", "project", "phases", "milestones", "tasks"};
	struct ld L = {p, "plans/masterplan.yaml"};
	struct htab all = {0}, phases = {0}, miles = {0}, ctx = {0};
	const char **names = NULL, **rnames;
	struct ynode *r;
	struct ydoc *d;
	int missing, before = yaml_errors;
	size_t i;

	if (!(d = ld_load_doc(p, "plans/masterplan.yaml", &missing)))
		return;
	p->have_masterplan = 1;
	if (!(r = ld_doc_root(&L, d)))
		return;
	ld_check_keys(&L, r, "plans/masterplan.yaml", keys, LEN(keys));
	p->project = ld_get_str(&L, r, "project", 0, "plans/masterplan.yaml");
	load_phases(&L, p, r, &all, &phases);
	load_milestones(&L, p, r, &all, &phases, &miles);
	for (i = 0; i < p->disc.ncontexts; i++)
		htab_put(&ctx, p->disc.contexts[i].name, &p->disc.contexts[i]);
	load_tasks(&L, p, r, &all);
	/* references, now that every id is known */
	names = xcalloc(p->ntasks + 1, sizeof(*names));
	for (i = 0; i < p->ntasks; i++)
		names[i] = p->tasks[i].id;
	rnames = xcalloc(p->nrules + 1, sizeof(*rnames));
	for (i = 0; i < p->nrules; i++)
		rnames[i] = p->rules[i].name;
	for (i = 0; i < p->ntasks; i++) {
		struct task *t = &p->tasks[i];
		char who[160];

		snprintf(who, sizeof(who), "task %s", t->id);
		link_milestone(&L, p, t, who, &miles);
		link_deps(&L, p, t, who, names);
		if (p->have_discovery)
			check_task_contexts(&L, p, t, who, &ctx);
		if (strict && !t->has_context && p->disc.ncontexts > 1)
			ywarning(L.file, t->node, "%s has no 'context:'; its prompt includes every bounded context", who),
			p->warnings++;
		check_task_files(&L, p, t, who, rnames);
	}
	check_nested_outputs(&L, p);
	if (yaml_errors == before)
		find_cycles(&L, p);
	free(names);
	free(rnames);
	htab_free(&all);
	htab_free(&phases);
	htab_free(&miles);
	htab_free(&ctx);
}

/* plan_load, with the masterplan's bytes from data when it is not NULL */
static struct plan *load(const char *root, const char *data, size_t len)
{
	struct plan *p = xcalloc(1, sizeof(*p));
	int before = yaml_errors;
	char *req = path_join(root, "plans/request.md");

	p->root = xstrdup(root);
	p->have_request = path_exists(req);
	free(req);
	settings_load(p);
	settings_from_env(p);
	rules_load(p);
	load_questions(p);
	load_answers(p);
	load_discovery(p);
	p->candidate = data;
	p->candidate_len = len;
	load_masterplan(p, 1);
	p->candidate = NULL;
	if (yaml_errors != before) {
		plan_free(p);
		return NULL;
	}
	return p;
}

struct plan *plan_load(const char *root)
{
	return load(root, NULL, 0);
}

struct plan *plan_load_candidate(const char *root, const char *data, size_t len)
{
	return load(root, data ? data : "", len);
}

void plan_free(struct plan *p)
{
	size_t i, j;

	if (!p)
		return;
	for (i = 0; i < p->ntasks; i++) {
		struct task *t = &p->tasks[i];

		free(t->depends_on);
		free(t->context);
		free(t->outputs);
		free(t->reads);
		for (j = 0; j < t->ncheck; j++)
			free(t->check[j].v);
		free(t->check);
		free(t->deps);
	}
	free(p->tasks);
	free(p->phases);
	free(p->milestones);
	for (i = 0; i < p->nrules; i++)
		rule_clear(&p->rules[i]);
	free(p->rules);
	free(p->questions);
	free(p->disc.contexts);
	free(p->disc.rels);
	free(p->settings.prices);
	htab_free(&p->ids);
	htab_free(&p->outputs);
	for (i = 0; i < p->ndocs; i++)
		ydoc_free(p->docs[i]);
	free(p->docs);
	free(p->root);
	free(p);
}

struct task *plan_task(const struct plan *p, const char *id)
{
	return htab_get(&p->ids, id);
}

struct model_choice plan_task_model(const struct plan *p, const struct task *t)
{
	struct model_choice m = {0};

	if (t->model) {
		m.model = t->model;
		return m;
	}
	if (strcmp(t->complexity, "low") == 0)
		return p->settings.low;
	if (strcmp(t->complexity, "high") == 0)
		return p->settings.high;
	return p->settings.medium;
}
