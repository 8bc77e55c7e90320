/* prompt.c: the four layers of a request.  Layers 1-3 are rendered once per
 * run and must stay byte-identical across tasks and runs (that is what makes
 * the provider's prompt cache hit); layer 4 is the task's own.  For the key,
 * layer 4 is hashed with dependency outputs by content hash, so a no-op never
 * reads them; only a call renders their bytes. */
#include "prompt.h"

#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXAMPLE_MAX (256u << 10)   /* bytes of one example file shown in a rule layer */
#define DEP_MAX (4u << 20)         /* bytes of one dependency output shown to a task */

const char prompt_files_schema[] =
	"{\"type\":\"object\",\"properties\":{\"files\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
	"\"properties\":{\"path\":{\"type\":\"string\"},\"content\":{\"type\":\"string\"}},"
	"\"required\":[\"path\",\"content\"],\"additionalProperties\":false}},"
	"\"summary\":{\"type\":[\"string\",\"null\"]}},\"required\":[\"files\",\"summary\"],"
	"\"additionalProperties\":false}";

/* layer 3 of one rule, rendered on first use */
struct rule_layer {
	const struct rule *r;           /* set once text and hash are rendered */
	struct buffer text;
	char hash[HASH_HEX];
	size_t npicked;                 /* pinned examples (SPEC 10.2), after the rule's own */
	char **picked_name;
	struct buffer *picked;
};

struct prompt_ctx {
	const struct plan *p;
	struct buffer layer1[3];        /* per answer format */
	char layer1_hash[3][HASH_HEX];
	char schema_hash[3][HASH_HEX];
	int have1[3];
	char *task_md;                  /* rules/phases/task.md */
	struct buffer layer2;
	char layer2_hash[HASH_HEX];
	struct rule_layer *rules;       /* parallel to p->rules */
	struct buffer l4;               /* scratch: layer 4 of the current request */
	size_t **ends;                  /* per task (plan index): where the blocks of its last request's
					 * layer 4 end (request.layer4_ends); one array per task, kept to
					 * prompt_close, because a worker renders a request while the
					 * main thread fills the next task's */
	size_t *ends_cap;               /* per task: room in ends[i] */
	struct buffer scratch;
};

static void drop_picked(struct rule_layer *rl)
{
	size_t i;

	for (i = 0; i < rl->npicked; i++) {
		free(rl->picked_name[i]);
		buf_free(&rl->picked[i]);
	}
	free(rl->picked_name);
	free(rl->picked);
	rl->picked_name = NULL;
	rl->picked = NULL;
	rl->npicked = 0;
}

enum answer_format prompt_format(const char *s)
{
	if (strcmp(s, "tool") == 0)
		return FMT_TOOL;
	if (strcmp(s, "text") == 0)
		return FMT_TEXT;
	return FMT_JSON_SCHEMA;
}

const char *prompt_format_name(enum answer_format f)
{
	return f == FMT_TOOL ? "tool" : f == FMT_TEXT ? "text" : "json_schema";
}

/* the phase instructions: the project's rules/phases/NAME.md, else the built-in one */
static char *read_phase(const struct plan *p, const char *name)
{
	char *rel = xasprintf("rules/phases/%s.md", name);
	char *path = path_join(p->root, rel);
	struct buffer b = {0};

	if (read_file(path, &b, 1u << 20) < 0) {
		free(path);
		path = xasprintf("%s/phases/%s.md", plan_builtin_rules(), name);
		buf_reset(&b);
		if (read_file(path, &b, 1u << 20) < 0) {
			error("cannot read the phase instructions %s: %s (set MPBUILD_RULES to the built-in rules directory)",
			      path, strerror(errno));
			free(rel);
			free(path);
			buf_free(&b);
			return NULL;
		}
	}
	free(rel);
	free(path);
	return buf_take(&b);
}

struct prompt_ctx *prompt_open(const struct plan *p)
{
	struct prompt_ctx *c = xcalloc(1, sizeof(*c));
	const struct discovery *d = &p->disc;
	struct buffer *b = &c->layer2;

	c->p = p;
	c->task_md = read_phase(p, "task");
	if (!c->task_md) {
		free(c);
		return NULL;
	}
	c->rules = xcalloc(p->nrules + 1, sizeof(*c->rules));
	c->ends = xcalloc(p->ntasks + 1, sizeof(*c->ends));
	c->ends_cap = xcalloc(p->ntasks + 1, sizeof(*c->ends_cap));
	/* layer 2: the project; the same bytes for every task */
	buf_puts(b, "# The project\n\n");
	if (p->project) {
		buf_puts(b, "project: ");
		yemit_scalar(b, p->project);
		buf_putc(b, '\n');
	}
	if (d->domain && !yis_null(d->domain)) {
		buf_puts(b, "domain:");
		buf_putc(b, ' ');
		yemit_scalar(b, d->domain->str);
		buf_putc(b, '\n');
	}
	if (d->summary && !yis_null(d->summary)) {
		/* the writer picks the style: a literal block, or quotes where YAML needs them */
		buf_puts(b, "summary:");
		yemit_value(b, d->summary, 2);
	}
	if (d->stack && !yis_null(d->stack) && d->stack->kind == Y_MAP) {
		buf_puts(b, "stack:\n");
		yemit(b, d->stack, 2);
	}
	if (d->glossary && !yis_null(d->glossary) && d->glossary->kind == Y_MAP && d->glossary->n) {
		buf_puts(b, "glossary:\n");
		yemit(b, d->glossary, 2);
	}
	sha256_hex(b->data, b->len, c->layer2_hash);
	return c;
}

void prompt_close(struct prompt_ctx *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < 3; i++)
		buf_free(&c->layer1[i]);
	for (i = 0; i < c->p->nrules; i++) {
		buf_free(&c->rules[i].text);
		drop_picked(&c->rules[i]);
	}
	free(c->rules);
	free(c->task_md);
	buf_free(&c->layer2);
	buf_free(&c->l4);
	for (i = 0; i < c->p->ntasks; i++)
		free(c->ends[i]);
	free(c->ends);
	free(c->ends_cap);
	buf_free(&c->scratch);
	free(c);
}

void prompt_layer1(struct buffer *b, const char *md, size_t mdlen, enum answer_format f, const char *tool,
		   const char *schema)
{
	buf_add(b, md, mdlen);
	if (b->len && b->data[b->len - 1] != '\n')
		buf_putc(b, '\n');
	buf_puts(b, "\n# How to answer\n\n");
	/* the schema is written out only where nothing else carries it: the
	 * structured output format and the tool already send it once */
	if (f == FMT_TOOL) {
		buf_printf(b, "Answer by calling the tool %s once; its input schema is the shape of the answer.\n", tool);
	} else if (f == FMT_TEXT) {
		buf_puts(b, "Answer with one JSON object and nothing else (no prose, no code fences), matching this JSON schema:\n\n");
		buf_puts(b, schema);
		buf_putc(b, '\n');
	} else {
		buf_puts(b, "Answer with one JSON object matching the JSON schema of this request's output format.\n");
	}
}

void prompt_schema_digest(enum answer_format f, const char *schema, char out[HASH_HEX])
{
	struct buffer s = {0};

	buf_puts(&s, prompt_format_name(f));
	buf_putc(&s, '\n');
	buf_puts(&s, schema);
	sha256_hex(s.data, s.len, out);
	buf_free(&s);
}

static void layer1(struct prompt_ctx *c, enum answer_format f)
{
	struct buffer *b = &c->layer1[f];

	if (c->have1[f])
		return;
	c->have1[f] = 1;
	prompt_layer1(b, c->task_md, strlen(c->task_md), f, "write_files", prompt_files_schema);
	sha256_hex(b->data, b->len, c->layer1_hash[f]);
	prompt_schema_digest(f, prompt_files_schema, c->schema_hash[f]);
}

const char *prompt_schema_hash(struct prompt_ctx *c, enum answer_format f)
{
	layer1(c, f);
	return c->schema_hash[f];
}

/* a fence longer than any run of backticks in s */
static void fence(struct buffer *b, const char *s, size_t len)
{
	size_t run = 0, best = 2, i;

	for (i = 0; i < len; i++) {
		run = s[i] == '`' ? run + 1 : 0;
		if (run > best)
			best = run;
	}
	for (i = 0; i < best + 1; i++)
		buf_putc(b, '`');
}

void prompt_fenced(struct buffer *b, const char *info, const char *s, size_t len)
{
	s = s ? s : "";
	fence(b, s, len);
	buf_puts(b, info);
	buf_putc(b, '\n');
	buf_add(b, s, len);
	if (len && s[len - 1] != '\n')
		buf_putc(b, '\n');
	fence(b, s, len);
	buf_putc(b, '\n');
}

static struct rule_layer *rule_layer(struct prompt_ctx *c, const struct rule *r)
{
	const struct plan *p = c->p;
	struct rule_layer *rl = &c->rules[r - p->rules];
	struct buffer *b = &rl->text;
	size_t i, j;

	if (rl->r)
		return rl;
	rl->r = r;
	buf_printf(b, "# The rule for this kind of output: %s\n\n", r->name);
	buf_puts(b, r->system);
	if (b->len && b->data[b->len - 1] != '\n')
		buf_putc(b, '\n');
	for (i = 0; i < r->nexamples; i++) {
		char *pat = path_join(p->root, r->examples[i]);
		glob_t g;
		size_t skip = strlen(p->root) + 1;

		if (strcmp(p->root, ".") == 0)
			skip = 0;
		if (glob(pat, 0, NULL, &g) == 0) {
			for (j = 0; j < g.gl_pathc; j++) {
				struct buffer f = {0};

				if (read_file(g.gl_pathv[j], &f, EXAMPLE_MAX) < 0) {
					warn("rule %s: example %s cannot be read:", r->name, g.gl_pathv[j]);
					buf_free(&f);
					continue;
				}
				buf_printf(b, "\n## Example: %s\n\n", g.gl_pathv[j] + skip);
				prompt_fenced(b, "", f.data, f.len);
				buf_free(&f);
			}
			globfree(&g);
		}
		free(pat);
	}
	for (i = 0; i < rl->npicked; i++) {
		buf_printf(b, "\n## Example: %s\n\n", rl->picked_name[i]);
		prompt_fenced(b, "", rl->picked[i].data, rl->picked[i].len);
	}
	sha256_hex(b->data, b->len, rl->hash);
	return rl;
}

void prompt_rule_examples(struct prompt_ctx *c, const struct rule *r, size_t n, char *const *names,
			  const struct buffer *bodies)
{
	struct rule_layer *rl = &c->rules[r - c->p->rules];
	size_t i;

	drop_picked(rl);
	rl->picked_name = xcalloc(n + 1, sizeof(*rl->picked_name));
	rl->picked = xcalloc(n + 1, sizeof(*rl->picked));
	for (i = 0; i < n; i++) {
		rl->picked_name[i] = xstrdup(names[i]);
		buf_add(&rl->picked[i], bodies[i].data ? bodies[i].data : "", bodies[i].len);
	}
	rl->npicked = n;
	/* rendered again on next use */
	rl->r = NULL;
	buf_reset(&rl->text);
}

const char *prompt_rule_hash(struct prompt_ctx *c, const struct rule *r)
{
	return rule_layer(c, r)->hash;
}

void prompt_shared_hashes(struct prompt_ctx *c, const struct task *t, enum answer_format f, const char *out[3])
{
	layer1(c, f);
	out[0] = c->layer1_hash[f];
	out[1] = c->layer2_hash;
	out[2] = rule_layer(c, t->r)->hash;
}

void prompt_shared_lens(struct prompt_ctx *c, const struct task *t, enum answer_format f, size_t len[3])
{
	layer1(c, f);
	len[0] = c->layer1[f].len;
	len[1] = c->layer2.len;
	len[2] = rule_layer(c, t->r)->text.len;
}

/* the part of layer 4 that is the same for key and call: entry and domain model */
static void task_head(struct prompt_ctx *c, const struct task *t, struct buffer *b)
{
	const struct discovery *d = &c->p->disc;
	size_t i, j;
	int any = 0;

	buf_printf(b, "Target: %s\n\n# The task\n\n", t->id);
	yemit(b, t->node, 0);
	for (i = 0; i < d->ncontexts; i++) {
		int use = !t->has_context;

		for (j = 0; j < t->ncontext && !use; j++)
			use = strcmp(t->context[j], d->contexts[i].name) == 0;
		if (!use)
			continue;
		if (!any)
			buf_puts(b, "\n# The domain model it works in\n\nbounded_contexts:\n");
		any = 1;
		buf_puts(b, "-");
		{
			struct buffer tmp = {0};

			yemit(&tmp, d->contexts[i].node, 2);
			buf_putc(b, ' ');
			buf_add(b, tmp.data + 2, tmp.len - 2);
			buf_free(&tmp);
		}
	}
	any = 0;
	for (i = 0; i < d->nrels; i++) {
		const struct relationship *r = &d->rels[i];
		int use = !t->has_context;

		for (j = 0; j < t->ncontext && !use; j++)
			use = strcmp(t->context[j], r->from) == 0 || strcmp(t->context[j], r->to) == 0;
		if (!use)
			continue;
		if (!any)
			buf_puts(b, "\nrelationships:\n");
		any = 1;
		{
			struct buffer tmp = {0};

			yemit(&tmp, r->node, 2);
			buf_puts(b, "- ");
			buf_add(b, tmp.data + 2, tmp.len - 2);
			buf_free(&tmp);
		}
	}
}

void prompt_task_hash(struct prompt_ctx *c, const struct task *t, char out[HASH_HEX])
{
	struct buffer *b = &c->scratch;

	buf_reset(b);
	task_head(c, t, b);
	sha256_hex(b->data, b->len, out);
}

int prompt_task_request(struct prompt_ctx *c, const struct task *t, const struct dep_view *deps, size_t ndeps,
			const size_t *marks, size_t nmarks, struct request *req)
{
	struct buffer *b = &c->l4;
	struct rule_layer *rl = rule_layer(c, t->r);
	size_t i, blocks = 0, *ends;

	layer1(c, req->format);
	buf_reset(b);
	if (ndeps + 1 > c->ends_cap[t->index]) {
		c->ends_cap[t->index] = ndeps + 1;
		c->ends[t->index] = xreallocarray(c->ends[t->index], ndeps + 1, sizeof(**c->ends));
	}
	ends = c->ends[t->index];
	/* the interfaces first, each a block of its own ending where the next
	 * begins: a task's list begins with what the request of the task it
	 * builds on ended with, and the provider finds a cached prefix at any
	 * block boundary shortly before a breakpoint */
	for (i = 0; i < ndeps; i++) {
		if (!deps[i].len)
			continue;       /* an interface of nothing (a test, a document) */
		if (!blocks)
			buf_puts(b, "# Interfaces of the tasks it depends on, directly or not (already in the tree; do not "
				    "return them)\n");
		buf_printf(b, "\n## %s (from %s)\n\n", deps[i].path, deps[i].task);
		prompt_fenced(b, "", deps[i].text, deps[i].len);
		ends[blocks++] = b->len;
	}
	req->layer4_ends = ends;
	req->layer4_nends = blocks;
	req->layer4_nmarks = 0;
	for (i = 0; i < nmarks && i < PROMPT_MARKS; i++)
		if (marks[i] >= 1 && marks[i] <= blocks)
			req->layer4_marks[req->layer4_nmarks++] = ends[marks[i] - 1];
	/* the task's own block: a blank line after the interfaces, then the entry */
	if (blocks)
		buf_putc(b, '\n');
	task_head(c, t, b);
	for (i = 0; i < t->nreads; i++) {
		char *path = path_join(c->p->root, t->reads[i]);
		struct buffer f = {0};

		if (read_file(path, &f, DEP_MAX) < 0) {
			error("%s: cannot read %s (it reads it in full):", t->id, t->reads[i]);
			free(path);
			buf_free(&f);
			return -1;
		}
		free(path);
		if (!i)
			buf_puts(b, "\n# Files it reads in full\n");
		buf_printf(b, "\n## %s\n\n", t->reads[i]);
		prompt_fenced(b, "", f.data, f.len);
		buf_free(&f);
	}
	req->target = t->id;
	req->tool_name = "write_files";
	req->schema = prompt_files_schema;
	req->layer[0] = c->layer1[req->format].data;
	req->layer_len[0] = c->layer1[req->format].len;
	req->layer[1] = c->layer2.data;
	req->layer_len[1] = c->layer2.len;
	req->layer[2] = rl->text.data;
	req->layer_len[2] = rl->text.len;
	req->layer[3] = b->data;
	req->layer_len[3] = b->len;
	return 0;
}

char *prompt_request_json(const struct request *req)
{
	json_t *o = json_object(), *layers = json_array();
	char *s;
	int i;

	json_object_set_new(o, "target", json_string(req->target));
	json_object_set_new(o, "model", json_string(req->model));
	json_object_set_new(o, "effort", req->effort ? json_string(req->effort) : json_null());
	json_object_set_new(o, "max_tokens", json_integer(req->max_tokens));
	json_object_set_new(o, "format", json_string(prompt_format_name(req->format)));
	json_object_set_new(o, "schema", json_loads(req->schema, 0, NULL));
	for (i = 0; i < NLAYERS; i++)
		json_array_append_new(layers, json_stringn(req->layer[i] ? req->layer[i] : "", req->layer_len[i]));
	json_object_set_new(o, "layers", layers);
	json_object_set_new(o, "feedback", req->feedback ? json_string(req->feedback) : json_null());
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		fatal("jansson: out of memory");
	return s;
}
