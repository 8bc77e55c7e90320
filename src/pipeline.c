/* pipeline.c: the pipeline's stages as targets of the engine (SPEC 2).
 * questions, discovery and masterplan are one structured-output call each,
 * turned into a plan file that people read and commit; answers asks a person
 * on the terminal.  build.c schedules, calls, budgets, ledgers and lands them
 * as it does tasks; this file says what is particular to a stage.  A plan
 * file with no record, or edited since mpbuild wrote it, is a source: kept
 * unless named with -B (which saves it as FILE.orig.N first, as for a task).
 * A file made again is re-planned: the previous file and unified diffs of its
 * inputs since it was made (kept under cache/basis/) go with the request,
 * outside the key, so that what the change does not touch comes back as it
 * was. */
#include "pipeline.h"
#include "answers.h"
#include "diff.h"
#include "land.h"
#include "orphan.h"
#include "yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* what the stages of one run share */
struct pipeline {
	struct task tasks[LEN(stages)];
	struct task *order[LEN(stages)];
	struct task *dep[LEN(stages)];
	const char *out[LEN(stages)];
	struct plan *plans[LEN(stages)];  /* the plan as each stage saw it */
	struct stage_call calls[LEN(stages)];
	struct buffer hints[LEN(stages)]; /* re-plan hints (outside the key) */
	struct buffer files[LEN(stages)]; /* a judged answer as its YAML file */
};

/* ---- the request ---- */

int stage_call_prepare(const char *root, const char *provider, struct rulebook *rb, const struct plan *p,
		       const struct stage *s, struct stage_call *c)
{
	const struct settings *set = &p->settings;
	struct key_input in = {0};
	struct buffer md = {0};
	char h1[HASH_HEX], h2[HASH_HEX], h3[HASH_HEX], h4[HASH_HEX], hs[HASH_HEX], tool[32];
	enum answer_format f;
	const char *prov = provider ? provider : set->provider;

	c->mc = s->bit == DISCOVER_MASTERPLAN ? set->masterplan : set->discovery;
	if (!c->mc.model)
		c->mc = set->high;
	if (!c->mc.model)
		return error("mpbuild.yaml: no model for %s (set models.%s)", s->name,
			     s->bit == DISCOVER_MASTERPLAN ? "masterplan" : "discovery");
	f = prompt_format(model_answer_format(set, c->mc.model));
	if (stage_phase_text(root, s->name, &md) < 0)
		return -1;
	snprintf(tool, sizeof(tool), "write_%s", s->name);
	prompt_layer1(&c->l1, md.data ? md.data : "", md.len, f, tool, s->schema);
	buf_free(&md);
	c->req.target = s->name;
	c->req.attempt = 1;
	c->req.model = c->mc.model;
	c->req.effort = c->mc.effort;
	c->req.max_tokens = s->bit == DISCOVER_MASTERPLAN ? 64000 : set->max_tokens;
	c->req.format = f;
	c->req.tool_name = s->bit == DISCOVER_QUESTIONS ? "write_questions"
			   : s->bit == DISCOVER_DISCOVERY ? "write_discovery" : "write_masterplan";
	c->req.schema = s->schema;
	c->req.layer[0] = buf_str(&c->l1);
	c->req.layer_len[0] = c->l1.len;
	/* layer 3 of the masterplan: the example plans pinned for it */
	if (s->bit == DISCOVER_MASTERPLAN)
		rulebook_plan_layer(p, rulebook_get(rb, RULEBOOK_PLAN_PINS), set->remote_cache, &c->l3);
	c->req.layer[1] = "";
	c->req.layer[2] = buf_str(&c->l3);
	c->req.layer_len[2] = c->l3.len;
	c->req.layer[3] = buf_str(&c->l4);
	c->req.layer_len[3] = c->l4.len;
	c->req.ttl_1h = 0;
	sha256_hex(c->l1.data, c->l1.len, h1);
	sha256_hex("", 0, h2);
	sha256_hex(c->l3.data, c->l3.len, h3);
	sha256_hex(c->l4.data, c->l4.len, h4);
	prompt_schema_digest(f, s->schema, hs);
	in.family = strcmp(prov, "openai") == 0 ? "openai" : "anthropic";
	in.model = c->mc.model;
	in.effort = c->mc.effort;
	in.max_tokens = c->req.max_tokens;
	in.schema_hash = hs;
	in.layer[0] = h1;
	in.layer[1] = h2;
	in.layer[2] = h3;
	in.layer[3] = h4;
	in.retries = s->bit == DISCOVER_MASTERPLAN ? 1 : 0;
	in.escalate = NULL;
	c->manifest = key_manifest(&in);
	key_of(c->manifest, c->key);
	c->req.key = c->key;
	return 0;
}

void stage_call_free(struct stage_call *c)
{
	buf_free(&c->l1);
	buf_free(&c->l3);
	buf_free(&c->l4);
	free(c->manifest);
	memset(c, 0, sizeof(*c));
}

/* ---- re-planning (SPEC 10.1: none of this is in the key) ---- */

/* where the copy of input rel that stage s's file was last made from is kept */
static char *basis_path(const char *root, const struct stage *s, const char *rel)
{
	char *dir = xasprintf("cache/basis/%s/%s", s->name, rel), *p = path_join(root, dir);

	free(dir);
	return p;
}

/* after stage s's file landed: keep its inputs as they are now, the basis of
 * the diffs the next re-plan shows */
static void save_basis(const char *root, const struct stage *s)
{
	size_t i;

	for (i = 0; i < LEN(s->inputs) && s->inputs[i]; i++) {
		struct buffer b = {0};
		char *in = path_join(root, s->inputs[i]), *out = basis_path(root, s, s->inputs[i]);

		if (read_file(in, &b, YAML_MAX_FILE) == 0) {
			if (write_file_atomic(out, b.data ? b.data : "", b.len) < 0)
				warn("cannot write %s:", out);
		} else {
			unlink(out);
		}
		buf_free(&b);
		free(in);
		free(out);
	}
}

int stage_replan_hint(const char *root, const struct stage *s, const struct buffer *old, int by_hand,
		      struct buffer *hint)
{
	struct buffer diffs = {0};
	size_t i, unknown = 0, ninputs = 0;

	if (stage_phase_text(root, "replan", hint) < 0)
		return -1;
	buf_printf(hint, "\n## The previous %s\n\n", s->file);
	if (by_hand)
		buf_puts(hint, "A person edited or wrote this version; keep their changes unless the inputs now contradict them.\n\n");
	prompt_fenced(hint, "yaml", old->data ? old->data : "", old->len);
	for (i = 0; i < LEN(s->inputs) && s->inputs[i]; i++) {
		struct buffer was = {0}, now = {0};
		char *bp = basis_path(root, s, s->inputs[i]), *np = path_join(root, s->inputs[i]);
		char *la = xasprintf("a/%s", s->inputs[i]), *lb = xasprintf("b/%s", s->inputs[i]);

		ninputs++;
		if (read_file(bp, &was, YAML_MAX_FILE) < 0)
			unknown++;
		else if (read_file(np, &now, YAML_MAX_FILE) == 0)
			diff_unified(was.data, was.len, now.data, now.len, la, lb, 3, &diffs);
		buf_free(&was);
		buf_free(&now);
		free(bp);
		free(np);
		free(la);
		free(lb);
	}
	buf_puts(hint, "\n## What changed in its inputs since it was made\n\n");
	if (diffs.len)
		prompt_fenced(hint, "diff", diffs.data, diffs.len);
	else if (unknown == ninputs)
		buf_puts(hint, "Not known: the inputs it was made from were not kept here. Compare it with the inputs "
			       "above and change only what they require.\n");
	else
		buf_puts(hint, "Nothing: its inputs are as they were when it was made. It is made again on request: "
			       "answer with the previous version unless it breaks a rule of this phase.\n");
	buf_free(&diffs);
	return 0;
}

int stage_pick_plans(const char *root, struct state *st, struct rulebook *rb, const char *provider, int verbose,
		     FILE *out, const struct plan *p, const struct stage *s, struct stage_call *c)
{
	struct repick env = {0};
	struct fscache fc;
	char h[HASH_HEX];
	int rc;

	env.p = p;
	env.st = st;
	env.fc = &fc;
	env.rb = rb;
	env.remote = p->settings.remote_cache;
	env.dry = !st;
	env.verbose = verbose;
	env.out = out;
	fscache_open(&fc, st, root);
	/* the pins are recorded with the version of the instructions they were picked for */
	sha256_hex(c->l1.data ? c->l1.data : "", c->l1.len, h);
	rc = rulebook_repick_plans(&env, h);
	if (st)
		fscache_flush(&fc);
	fscache_close(&fc);
	if (rc < 0)
		return error("masterplan: cannot pick example plans");
	stage_call_free(c);
	return stage_request(root, p, s, &c->l4) < 0 || stage_call_prepare(root, provider, rb, p, s, c) < 0 ? -1 : 0;
}

/* ---- the stage targets ---- */

static size_t stage_of(const struct engine *e, const struct task *t)
{
	return t->index - e->p->ntasks;
}

struct task **pipeline_open(struct engine *e, size_t *n)
{
	struct pipeline *pl;
	size_t i, upto = 0;

	for (i = 0; i < LEN(stages); i++)
		if (!e->o->stages || (e->o->stages & stages[i].bit))
			upto = i;
	pl = e->pl = xcalloc(1, sizeof(*pl));
	for (i = 0; i <= upto; i++) {
		struct task *t = &pl->tasks[i];

		pl->out[i] = stages[i].file;
		t->id = stages[i].name;
		t->title = stages[i].file;
		t->outputs = &pl->out[i];
		t->noutputs = 1;
		t->index = e->p->ntasks + i;
		t->stage = stages[i].bit;
		if (i) {
			pl->dep[i] = &pl->tasks[i - 1];
			t->deps = &pl->dep[i];
			t->ndeps = 1;
		}
		pl->order[i] = t;
	}
	*n = upto + 1;
	return pl->order;
}

/* t is finished without a call: st, and why (owned, may be NULL) */
static void settle(struct engine *e, const struct task *t, enum tstate st, char *why)
{
	struct tinfo *ti = &e->ti[t->index];

	ti->s = st;
	engine_why(ti, why);
}

/* the answers stage: the questions with no answer are asked on the terminal */
static void eval_answers(struct engine *e, const struct task *t, const struct plan *p, int named)
{
	int rc;

	if (!p->have_questions) {
		if (named) {
			error("plans/questions.yaml: no such file; mpbuild questions asks for it");
			e->bad_input = 1;
			settle(e, t, S_FAILED, xstrdup("plans/questions.yaml: no such file"));
		} else
			settle(e, t, S_UPTODATE, NULL);
		return;
	}
	/* a person types here: the live line makes way */
	progress_clear(&e->pr);
	rc = answers_ask(e->root, p, e->o->defaults);
	if (rc) {
		e->bad_input |= rc == EXIT_BADINPUT;
		settle(e, t, S_FAILED, xstrdup("the questions are not all answered"));
	} else
		settle(e, t, S_UPTODATE, NULL);
}

/* t's file needs a call: the re-plan hints of a file that is there (a
 * person's, with -B, or one whose inputs changed), and the masterplan's
 * example plans picked again */
static void eval_call(struct engine *e, struct task *t, const struct plan *p, const struct record *rec)
{
	struct pipeline *pl = e->pl;
	struct tinfo *ti = &e->ti[t->index];
	size_t k = stage_of(e, t);
	const struct stage *s = &stages[k];
	struct stage_call *c = &pl->calls[k];
	struct buffer old = {0};
	char *path = path_join(e->root, s->file);
	int by_hand = *ti->seen[0] && (!rec || !rec->generated || rec->n < 1 || strcmp(rec->hashes[0], ti->seen[0]) != 0);

	if (s->bit == DISCOVER_MASTERPLAN) {
		if (stage_pick_plans(e->root, e->st, &e->rb, e->o->provider, e->o->verbose,
				     e->o->quiet ? NULL : e->o->json ? stderr : stdout, p, s, c) < 0) {
			settle(e, t, S_FAILED, xstrdup("cannot pick example plans"));
			goto out;
		}
		e->dirty = 1;   /* the pins go into the lock */
	}
	memcpy(ti->key, c->key, HASH_HEX);
	free(ti->manifest);
	ti->manifest = xstrdup(c->manifest);
	buf_reset(&pl->hints[k]);
	if (*ti->seen[0] && read_file(path, &old, YAML_MAX_FILE) == 0 &&
	    stage_replan_hint(e->root, s, &old, by_hand, &pl->hints[k]) < 0) {
		e->bad_input = 1;
		settle(e, t, S_FAILED, xstrdup("cannot read the re-plan instructions"));
		goto out;
	}
	free(ti->feedback);
	ti->feedback = pl->hints[k].len ? xstrdup(buf_str(&pl->hints[k])) : NULL;
out:
	buf_free(&old);
	free(path);
}

void pipeline_eval(struct engine *e, struct task *t)
{
	struct pipeline *pl = e->pl;
	struct tinfo *ti = &e->ti[t->index];
	size_t k = stage_of(e, t);
	const struct stage *s = &stages[k];
	int named = (e->o->stages & s->bit) != 0, exists = stage_exists(e->root, s->file);
	const struct record *rec;
	struct stage_call *c = &pl->calls[k];
	const char *why;
	struct plan *p;

	if (!engine_deps_ready(e, t))
		return;
	/* each stage reads the files the stages before it wrote */
	plan_free(pl->plans[k]);
	p = pl->plans[k] = plan_load(e->root);
	if (!p) {
		e->bad_input = 1;
		settle(e, t, S_FAILED, xstrdup("the plan does not load"));
		return;
	}
	if (s->bit == DISCOVER_ANSWERS) {
		eval_answers(e, t, p, named);
		return;
	}
	/* with no target named only missing files are made; with one, the
	 * stages before it are checked too: a stale file mpbuild wrote is made
	 * again first (make's rule) */
	if (!e->o->stages && exists) {
		settle(e, t, S_UPTODATE, NULL);
		return;
	}
	if (!stage_inputs_ready(e->root, p, s, &why)) {
		if (named || !exists) {
			error("%s", why);
			e->bad_input = 1;
			settle(e, t, S_FAILED, xstrdup(why));
		} else
			settle(e, t, S_UPTODATE, NULL);      /* a person's file whose inputs do not exist: a source */
		return;
	}
	stage_call_free(c);
	if (stage_request(e->root, p, s, &c->l4) < 0 ||
	    stage_call_prepare(e->root, e->o->provider, &e->rb, p, s, c) < 0) {
		e->bad_input = 1;
		settle(e, t, S_FAILED, xstrdup("cannot make the request"));
		return;
	}
	memcpy(ti->key, c->key, HASH_HEX);
	free(ti->manifest);
	ti->manifest = xstrdup(c->manifest);
	ti->mc = c->mc;
	ti->fmt = c->req.format;
	ti->forced = named && e->o->force;
	ti->edited = 0;
	rec = htab_get(&e->rec_by, s->name);
	engine_outputs_state(e, t, rec);
	if (ti->s == S_KEPT && named) {
		error("%s: %s; mpbuild -B %s regenerates it after saving it as %s.orig.N", s->file,
		      ti->edited ? "kept (edited by hand)" : "kept (not generated by mpbuild)", s->name, s->file);
		e->bad_input = 1;
	} else if (ti->s == S_KEPT) {
		/* upstream of a named stage a person's file is an input, used as it is */
		if (ti->edited && rec && strcmp(rec->key, ti->key) != 0 && !e->o->quiet)
			progress_say(&e->pr, "%s: kept (edited by hand): its inputs changed since mpbuild wrote %s; going "
				     "on with it as it is (mpbuild -B %s regenerates it after saving it as %s.orig.N)",
				     s->name, s->file, s->name, s->file);
		settle(e, t, S_UPTODATE, NULL);
	} else if (ti->s == S_UPTODATE && named && !e->o->quiet && e->pr.mode != PROGRESS_JSON) {
		progress_say(&e->pr, "%s: up to date", s->name);
	} else if (ti->s == S_PENDING) {
		eval_call(e, t, p, rec);
	}
}

void pipeline_request(struct engine *e, const struct task *t, struct request *req)
{
	const struct stage_call *c = &e->pl->calls[stage_of(e, t)];
	int i;

	for (i = 0; i < 4; i++) {
		req->layer[i] = c->req.layer[i];
		req->layer_len[i] = c->req.layer_len[i];
	}
	req->max_tokens = c->req.max_tokens;
	req->format = c->req.format;
	req->tool_name = c->req.tool_name;
	req->schema = c->req.schema;
	req->target = t->id;
	req->ttl_1h = 0;
}

int pipeline_judge(struct engine *e, const struct task *t, int attempt, const char *answer, struct buffer *err)
{
	size_t k = stage_of(e, t);
	struct buffer *out = &e->pl->files[k];
	struct diag dg = {0};
	char *why = NULL;
	int rc = 0;

	buf_reset(out);
	if (stage_render(answer, out, &why) < 0) {
		buf_printf(err, "%s\n", why);
		rc = -1;
	} else if (stages[k].bit == DISCOVER_MASTERPLAN && stage_judge_masterplan(e->root, out, &dg) < 0) {
		/* the plan it made, beside the answer build.c keeps */
		char *kept = xasprintf("%s/cache/failed/%s/%d/masterplan.yaml", e->root, t->id, attempt);

		if (write_file_atomic(kept, out->data, out->len) < 0)
			warn("cannot write %s:", kept);
		free(kept);
		buf_add(err, dg.errors.data, dg.errors.len);
		rc = -1;
	} else {
		/* a valid plan's warnings are the person's to read; they never reject it */
		diag_show_warnings(&dg);
		crashpoint("pipeline-judged");
	}
	free(why);
	diag_free(&dg);
	return rc;
}

char *pipeline_feedback(struct engine *e, const struct task *t, const char *err)
{
	const struct buffer *hint = &e->pl->hints[stage_of(e, t)];

	return xasprintf("%s%s%s", buf_str((struct buffer *)hint), hint->len ? "\n" : "", err);
}

/* after a new masterplan landed: records of renamed tasks move to their new
 * ids, and the files of tasks that are gone are listed */
static void after_masterplan(struct engine *e)
{
	struct plan *np = plan_load(e->root);
	struct record *all;
	char **moved = NULL;
	size_t n, i, nmoved = 0;

	if (!np)
		return;
	all = state_records(e->st, &n);
	orphan_adopt(e->st, np, all, n, &moved, &nmoved);
	record_free_all(all, n);
	for (i = 0; i < 2 * nmoved; i++)
		free(moved[i]);
	free(moved);
	/* a build that follows lists them at its end */
	if (!e->o->quiet && e->pr.mode != PROGRESS_JSON && e->o->stages && e->o->ntargets == 0) {
		all = state_records(e->st, &n);
		orphan_say(np, all, n, e->root, stdout);
		record_free_all(all, n);
	}
	plan_free(np);
}

int pipeline_land(struct engine *e, struct task *t, const char *model, const char *const *expect,
		  const char **edited)
{
	size_t k = stage_of(e, t);
	const struct stage *s = &stages[k];
	struct buffer *b = &e->pl->files[k];
	struct answer_file f = {(char *)s->file, b->data ? b->data : "", b->len};
	struct answer a = {&f, 1, NULL};
	struct record r = {0};
	int landed;

	engine_new_record(e, t, model, &r);
	landed = land_files(e->st, &e->fc, e->root, &r, &a, expect, edited);
	record_clear(&r);
	if (landed != 0)
		return landed;
	crashpoint("pipeline-landed");
	save_basis(e->root, s);
	if (e->ti[t->index].seen[0][0])
		engine_why(&e->ti[t->index], xstrdup("re-planned"));
	if (s->bit == DISCOVER_MASTERPLAN)
		after_masterplan(e);
	return 0;
}

void pipeline_close(struct engine *e)
{
	struct pipeline *pl = e->pl;
	size_t i;

	if (!pl)
		return;
	for (i = 0; i < LEN(stages); i++) {
		struct tinfo *ti = &e->ti[e->p->ntasks + i];

		free(ti->manifest);
		free(ti->why);
		free(ti->feedback);
		engine_seen_free(ti, &pl->tasks[i]);
		memset(ti, 0, sizeof(*ti));
		plan_free(pl->plans[i]);
		stage_call_free(&pl->calls[i]);
		buf_free(&pl->hints[i]);
		buf_free(&pl->files[i]);
	}
	free(pl);
	e->pl = NULL;
}
