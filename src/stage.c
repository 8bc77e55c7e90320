/* stage.c: the pipeline's stages as data and judges: each one's answer
 * schema (in the wire dialect of SPEC 10.11), the request it sends, how its
 * JSON answer becomes a YAML plan file (keys in SPEC 3's order), and, for the
 * masterplan, "the plan loads without errors" (warnings never reject it).
 * discover.c runs them. */
#include "stage.h"
#include "answers.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* the answer schemas in the wire dialect of SPEC 10.11: objects closed, every
 * property required, optional ones nullable, the glossary as a list */
#define STR "{\"type\":\"string\"}"
#define NSTR "{\"type\":[\"string\",\"null\"]}"
#define STRS "{\"type\":\"array\",\"items\":" STR "}"
#define OBJ(req, props) "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[" req "],\"properties\":{" props "}}"

static const char questions_schema[] =
	OBJ("\"summary\",\"entities\",\"questions\"",
	    "\"summary\":" STR ",\"entities\":" STRS ",\"questions\":{\"type\":\"array\",\"items\":"
	    OBJ("\"id\",\"text\",\"why\",\"default\"",
		"\"id\":" STR ",\"text\":" STR ",\"why\":" STR ",\"default\":" STR) "}");

static const char discovery_schema[] =
	OBJ("\"domain\",\"summary\",\"stack\",\"bounded_contexts\",\"relationships\",\"glossary\"",
	    "\"domain\":" STR ",\"summary\":" STR ",\"stack\":"
	    OBJ("\"language\",\"framework\",\"storage\",\"tests\"",
		"\"language\":" STR ",\"framework\":" STR ",\"storage\":" STR ",\"tests\":" STR)
	    ",\"bounded_contexts\":{\"type\":\"array\",\"items\":"
	    OBJ("\"name\",\"description\",\"aggregates\",\"services\",\"repositories\"",
		"\"name\":" STR ",\"description\":" STR ",\"aggregates\":{\"type\":\"array\",\"items\":"
		OBJ("\"name\",\"entities\",\"value_objects\",\"invariants\",\"commands\",\"events\"",
		    "\"name\":" STR ",\"entities\":" STRS ",\"value_objects\":" STRS ",\"invariants\":" STRS
		    ",\"commands\":" STRS ",\"events\":" STRS) "},\"services\":" STRS ",\"repositories\":" STRS)
	    "},\"relationships\":{\"type\":\"array\",\"items\":"
	    OBJ("\"from\",\"to\",\"kind\"", "\"from\":" STR ",\"to\":" STR ",\"kind\":" STR)
	    "},\"glossary\":{\"type\":\"array\",\"items\":"
	    OBJ("\"term\",\"definition\"", "\"term\":" STR ",\"definition\":" STR) "}");

static const char masterplan_schema[] =
	OBJ("\"project\",\"phases\",\"milestones\",\"tasks\"",
	    "\"project\":" STR ",\"phases\":{\"type\":\"array\",\"items\":"
	    OBJ("\"id\",\"title\",\"description\"", "\"id\":" STR ",\"title\":" STR ",\"description\":" STR)
	    "},\"milestones\":{\"type\":\"array\",\"items\":"
	    OBJ("\"id\",\"phase\",\"title\"", "\"id\":" STR ",\"phase\":" STR ",\"title\":" STR)
	    "},\"tasks\":{\"type\":\"array\",\"items\":"
	    OBJ("\"id\",\"title\",\"description\",\"milestone\",\"complexity\",\"rule\",\"depends_on\","
		"\"context\",\"outputs\",\"reads\",\"check\",\"subtasks\"",
		"\"id\":" STR ",\"title\":" STR ",\"description\":" STR ",\"milestone\":" STR
		",\"complexity\":{\"type\":\"string\",\"enum\":[\"low\",\"medium\",\"high\"]},\"rule\":" NSTR
		",\"depends_on\":" STRS ",\"context\":" STRS ",\"outputs\":" STRS
		",\"reads\":{\"type\":[\"array\",\"null\"],\"items\":" STR "}"
		",\"check\":{\"type\":[\"array\",\"null\"],\"items\":" STRS "}"
		",\"subtasks\":{\"type\":[\"array\",\"null\"],\"items\":" STR "}") "}");


const struct stage stages[] = {
	{DISCOVER_QUESTIONS, "questions", "plans/questions.yaml", questions_schema, {"plans/request.md"}},
	{DISCOVER_ANSWERS, "answers", "plans/answers.yaml", NULL, {"plans/questions.yaml"}},
	{DISCOVER_DISCOVERY, "discovery", "plans/discovery.yaml", discovery_schema,
	 {"plans/request.md", "plans/questions.yaml", "plans/answers.yaml"}},
	{DISCOVER_MASTERPLAN, "masterplan", "plans/masterplan.yaml", masterplan_schema, {"plans/discovery.yaml"}},
};

/* ---- JSON answers -> YAML trees ---- */

/* SPEC 3 key order; one ranking serves every object of the plan files */
static const char *const key_order[] = {
	"version", "project", "domain", "id", "name", "from", "to", "kind", "summary", "entities",
	"value_objects", "invariants", "commands", "events", "questions", "stack", "language", "framework",
	"storage", "tests", "bounded_contexts", "relationships", "glossary", "phases", "milestones", "tasks",
	"phase", "title", "text", "why", "default", "description", "aggregates", "services", "repositories",
	"milestone", "complexity", "model", "rule", "depends_on", "context", "outputs", "reads", "check", "subtasks",
};

int stage_exists(const char *root, const char *rel)
{
	char *p = path_join(root, rel);
	int r = path_exists(p);

	free(p);
	return r;
}

/* read root/rel into b; -1 with a message */
static int stage_slurp(const char *root, const char *rel, struct buffer *b)
{
	char *p = path_join(root, rel);
	int r = read_file(p, b, YAML_MAX_FILE);

	if (r < 0)
		error("%s: cannot read: %s", rel, strerror(errno));
	free(p);
	return r;
}

/* the phase instructions: the project's rules/phases/NAME.md, else the built-in one */
int stage_phase_text(const char *root, const char *name, struct buffer *b)
{
	char *rel = xasprintf("rules/phases/%s.md", name);
	char *p = path_join(root, rel);
	int r = read_file(p, b, 1u << 20);

	if (r < 0) {
		free(p);
		p = xasprintf("%s/phases/%s.md", plan_builtin_rules(), name);
		buf_reset(b);
		if ((r = read_file(p, b, 1u << 20)) < 0)
			error("cannot read the phase instructions %s: %s (set MPBUILD_RULES to the built-in rules directory)",
			      p, strerror(errno));
	}
	free(rel);
	free(p);
	return r;
}

static size_t rank(const char *k)
{
	size_t i;

	for (i = 0; i < LEN(key_order); i++)
		if (strcmp(k, key_order[i]) == 0)
			return i;
	return LEN(key_order);
}

static int keycmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t rx = rank(x), ry = rank(y);

	return rx != ry ? (rx < ry ? -1 : 1) : strcmp(x, y);
}

static struct ynode *to_yaml(json_t *v, int depth);

/* the glossary's [{term, definition}] back into a mapping */
static struct ynode *glossary_map(json_t *a)
{
	struct ynode *m = ynode_new(Y_MAP);
	size_t i;
	json_t *e;

	json_array_foreach(a, i, e) {
		const char *t = json_string_value(json_object_get(e, "term"));
		const char *d = json_string_value(json_object_get(e, "definition"));

		if (t && d)
			ymap_put(m, t, ynode_str(d, 0));
	}
	return m;
}

static struct ynode *to_yaml(json_t *v, int depth)
{
	struct ynode *n;
	char num[64];
	size_t i, nk = 0;

	if (depth > YAML_MAX_DEPTH)
		return ynode_str("null", 1);
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char **keys = xcalloc(json_object_size(v) + 1, sizeof(*keys));
		const char *k;
		json_t *x;

		json_object_foreach(v, k, x)
			keys[nk++] = k;
		qsort(keys, nk, sizeof(*keys), keycmp);
		n = ynode_new(Y_MAP);
		for (i = 0; i < nk; i++) {
			x = json_object_get(v, keys[i]);
			if (json_is_null(x))
				continue;       /* an optional field left out */
			if (strcmp(keys[i], "glossary") == 0 && json_is_array(x))
				ymap_put(n, keys[i], glossary_map(x));
			else
				ymap_put(n, keys[i], to_yaml(x, depth + 1));
		}
		free(keys);
		return n;
	}
	case JSON_ARRAY: {
		json_t *x;

		n = ynode_new(Y_SEQ);
		json_array_foreach(v, i, x)
			ynode_add(n, to_yaml(x, depth + 1));
		return n;
	}
	case JSON_STRING:
		return ynode_str(json_string_value(v), 0);
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return ynode_str(num, 1);
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		return ynode_str(num, 1);
	case JSON_TRUE:
		return ynode_str("true", 1);
	case JSON_FALSE:
		return ynode_str("false", 1);
	default:
		return ynode_str("null", 1);
	}
}

/* the plan file's bytes for an answer object: version: 1 first, then the answer */
int stage_render(const char *answer, struct buffer *out, char **why)
{
	json_error_t je;
	json_t *j = json_loads(answer, JSON_PRESERVE_ORDER, &je);
	struct ynode *doc, *body;
	size_t i;
	int r;

	if (!j || !json_is_object(j)) {
		*why = xasprintf("the answer is not a JSON object: %s", j ? "another type" : je.text);
		json_decref(j);
		return -1;
	}
	body = to_yaml(j, 0);
	json_decref(j);
	doc = ynode_new(Y_MAP);
	ymap_put(doc, "version", ynode_str("1", 1));
	for (i = 0; i + 1 < body->n; i += 2)
		if (strcmp(body->kids[i]->str, "version") != 0) {
			ynode_add(doc, body->kids[i]);
			ynode_add(doc, body->kids[i + 1]);
			body->kids[i] = body->kids[i + 1] = NULL;
		}
	for (i = 0; i < body->n; i++)
		ynode_free(body->kids[i]);
	body->n = 0;
	ynode_free(body);
	r = yaml_write(out, doc);
	ynode_free(doc);
	if (r < 0)
		*why = xstrdup("the answer cannot be written as YAML");
	return r;
}

/* the task layer of a stage */
int stage_request(const char *root, const struct plan *p, const struct stage *s, struct buffer *l4)
{
	size_t i;

	buf_printf(l4, "Target: %s\n", s->name);
	/* its inputs, each whole under its name */
	for (i = 0; i < LEN(s->inputs) && s->inputs[i]; i++) {
		buf_printf(l4, "\n# %s\n\n", s->inputs[i]);
		if (stage_slurp(root, s->inputs[i], l4) < 0)
			return -1;
	}
	if (s->bit == DISCOVER_MASTERPLAN) {
		buf_puts(l4, "\n# Rules (rule: NAME; by default the first output's file name picks one)\n\n"
			     "Each rule's planning note says what its tasks assume (language level, test framework, "
			     "build targets, what its checks look like). Plan with them: a task entry that says "
			     "otherwise wins for that task, then the project's stack, then the rule's defaults.\n\n");
		for (i = 0; i < p->nrules; i++) {
			const char *note = p->rules[i].planning, *line;
			size_t j;

			buf_printf(l4, "- %s:", p->rules[i].name);
			for (j = 0; j < p->rules[i].nmatch; j++)
				buf_printf(l4, " %s", p->rules[i].match[j]);
			buf_putc(l4, '\n');
			/* the note, indented under its rule */
			for (line = note; line && *line; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != 0))
				buf_printf(l4, "  %.*s\n", (int)strcspn(line, "\n"), line);
		}
	}
	return 0;
}

/* the masterplan's extra checks beyond plan_load: what a task must carry */
static void masterplan_gaps(const struct plan *p, struct buffer *errs)
{
	size_t i;

	for (i = 0; i < p->ntasks; i++) {
		const struct task *t = &p->tasks[i];

		if (!t->title || !*t->title)
			buf_printf(errs, "plans/masterplan.yaml: task %s has no title\n", t->id);
		if (!t->description || !*t->description)
			buf_printf(errs, "plans/masterplan.yaml: task %s has no description\n", t->id);
		if (!t->noutputs)
			buf_printf(errs, "plans/masterplan.yaml: task %s has no outputs\n", t->id);
	}
	if (!p->ntasks)
		buf_puts(errs, "plans/masterplan.yaml: the plan has no tasks\n");
}

/* judge a candidate masterplan (the rendered answer, not in the tree): the
 * errors of every check plan_load and masterplan_gaps make go to dg->errors,
 * its warnings (a task without context:, SPEC 10.4) to dg->warnings; only
 * errors reject it.  0 when it passes */
int stage_judge_masterplan(const char *root, const struct buffer *plan, struct diag *dg)
{
	struct diag *was = diag_capture(dg);
	struct plan *np = plan_load_candidate(root, plan->data, plan->len);

	diag_capture(was);
	if (np)
		masterplan_gaps(np, &dg->errors);
	else if (!dg->errors.len)
		buf_puts(&dg->errors, "plans/masterplan.yaml: the plan does not load\n");
	plan_free(np);
	return dg->errors.len ? -1 : 0;
}

/* 1 when stage s can be made: its inputs exist (and every question has an
 * answer); else 0, with the message for a named or missing file in *why */
int stage_inputs_ready(const char *root, const struct plan *p, const struct stage *s, const char **why)
{
	*why = NULL;
	if (s->bit == DISCOVER_QUESTIONS && !p->have_request)
		*why = "plans/request.md: no such file; write what you want built there (or mpbuild init DIR \"request\")";
	else if (s->bit == DISCOVER_DISCOVERY && !p->have_questions)
		*why = "plans/questions.yaml: no such file; mpbuild questions asks for it";
	else if (s->bit == DISCOVER_DISCOVERY && answers_missing(p))
		*why = "plans/answers.yaml: questions have no answer; run mpbuild answers";
	else if (s->bit == DISCOVER_MASTERPLAN && !stage_exists(root, "plans/discovery.yaml"))
		*why = "plans/discovery.yaml: no such file; mpbuild discovery writes it";
	return *why == NULL;
}
