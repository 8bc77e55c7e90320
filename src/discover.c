/* discover.c: the pipeline before the tasks (SPEC 2).  questions, discovery and
 * masterplan are one structured-output call each, turned into a plan file that
 * people read and commit; answers asks a person on the terminal.  A plan file
 * with no state record, or edited since mpbuild wrote it, is a source and is
 * never overwritten unless named with -B, which first saves it as FILE.orig.N.
 * Answers are judged as a task's are (one JSON object; the masterplan loads,
 * from memory, with only errors rejecting it), asked again up to retries:
 * times with the errors fed back, and land through land_answer's intent
 * record, under the same budget reservations as the tasks' calls.  A
 * file made again is re-planned: the previous file and unified diffs of its
 * inputs since it was made (kept under cache/basis/) go with the request,
 * outside the key, so that what the change does not touch comes back as it was. */
#include "discover.h"
#include "answers.h"
#include "stage.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diff.h"
#include "hash.h"
#include "key.h"
#include "land.h"
#include "lockfile.h"
#include "models.h"
#include "orphan.h"
#include "plan.h"
#include "progress.h"
#include "prompt.h"
#include "provider.h"
#include "rulebook.h"
#include "state.h"
#include "yaml.h"

/* what one run shares */
struct dctx {
	const char *root;
	const struct discover_opts *o;
	struct state *st;       /* NULL on a dry run without a state file */
	struct provider *pv;
	struct plan *pv_plan;   /* the plan whose settings pv was opened with */
	long run;
	int changed;            /* records were written: regenerate the lock */
	int replanned;          /* a new masterplan landed: the lock keeps only its tasks */
	char **moved;           /* pairs (old id, new id) of records a re-plan moved */
	size_t nmoved;
	struct lockfile lock;   /* dry run: a lock state.db has not seen, whose records count */
	int use_lock;
	struct rulebook rb;     /* the lock's rules: the masterplan's example plans are pinned there */
	double charged;         /* what counts against the budget (SPEC 10.12): costs, and what dropped tries keep */
	double each;            /* the reservation of one try of the call in flight */
	struct progress pr;     /* the one progress stream of a build: events and lines as the tasks' */
	struct usage total;     /* tokens of this run's calls */
	double cost;            /* USD of this run's calls (< 0 once a price is unknown) */
	int called;             /* stages that made a call */
	int budget_stop;        /* a try was not sent: it could pass the budget */
};

/* a plan file against its record (SPEC 2 and 10.5) */
enum fstate {
	F_MISSING,              /* no file: build it */
	F_UPTODATE,             /* mpbuild wrote it and its key is unchanged */
	F_STALE,                /* mpbuild wrote it; its inputs changed since */
	F_EDITED,               /* a person edited it after mpbuild wrote it */
	F_SOURCE,               /* a person wrote it: no record */
};

unsigned discover_target(const char *name)
{
	size_t i;

	for (i = 0; i < LEN(stages); i++)
		if (strcmp(name, stages[i].name) == 0)
			return stages[i].bit;
	return 0;
}

int discover_needed(const char *root)
{
	return stage_exists(root, "plans/request.md") && !stage_exists(root, "plans/masterplan.yaml");
}

/* ---- state records and the lock ---- */

/* the record of target among n, or NULL */
static const struct record *find_record(const struct record *recs, size_t n, const char *target)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(recs[i].target, target) == 0)
			return &recs[i];
	return NULL;
}

/* 1 when target is the new (side 1) or old (side 0) id of a record a re-plan moved */
static int was_moved(const struct dctx *d, const char *target, int side)
{
	size_t i;

	for (i = 0; i < d->nmoved; i++)
		if (strcmp(d->moved[2 * i + side], target) == 0)
			return 1;
	return 0;
}

/* merge the state's pipeline records and the records a re-plan moved into
 * mpbuild.lock, keeping the rest of it (after a re-plan, only the tasks of the
 * new plan: state.db keeps the others' records for clean --orphans) */
static void update_lock(struct dctx *d)
{
	struct plan *np;
	struct lockfile lk = {0};
	struct buffer b = {0};
	struct record *all;
	size_t n, i, j;
	char h[HASH_HEX];

	if (lockfile_read(d->root, &lk, NULL) < 0)
		return;
	np = d->replanned ? plan_load(d->root) : NULL;
	for (i = j = 0; i < lk.ntargets; i++) {
		if (was_moved(d, lk.targets[i].target, 0) || (np && orphan_gone(np, lk.targets[i].target)))
			record_clear(&lk.targets[i]);
		else
			lk.targets[j++] = lk.targets[i];
	}
	lk.ntargets = j;
	all = state_records(d->st, &n);
	for (i = 0; i < n; i++) {
		if (!discover_target(all[i].target) && !was_moved(d, all[i].target, 1))
			continue;
		for (j = 0; j < lk.ntargets; j++)
			if (strcmp(lk.targets[j].target, all[i].target) == 0)
				break;
		if (j == lk.ntargets) {
			lk.targets = xreallocarray(lk.targets, lk.ntargets + 1, sizeof(*lk.targets));
			for (j = lk.ntargets; j > 0 && strcmp(lk.targets[j - 1].target, all[i].target) > 0; j--)
				lk.targets[j] = lk.targets[j - 1];
			lk.ntargets++;
		} else
			record_clear(&lk.targets[j]);
		lk.targets[j] = all[i];
		memset(&all[i], 0, sizeof(all[i]));
	}
	record_free_all(all, n);
	plan_free(np);
	rulebook_lock_phases(&d->rb, &lk);
	lockfile_render(&lk, &b);
	if (lockfile_write(d->root, &b, h) == 0)
		state_meta_set(d->st, "lock_hash", h);
	buf_free(&b);
	lockfile_free(&lk);
}

/* the state of stage s's file against key; *stale: the record's key is not key */
static enum fstate file_eval(struct dctx *d, const struct stage *s, const char *key, int *stale)
{
	struct record *all = NULL;
	const struct record *r = NULL;
	size_t n = 0;
	char h[HASH_HEX];
	char *p = path_join(d->root, s->file);
	enum fstate f;

	*stale = 0;
	if (!path_exists(p)) {
		free(p);
		return F_MISSING;
	}
	if (d->use_lock)
		r = find_record(d->lock.targets, d->lock.ntargets, s->name);
	else if (d->st && (all = state_records(d->st, &n)))
		r = find_record(all, n, s->name);
	if (sha256_file(p, h) < 0)
		h[0] = 0;
	if (r)
		*stale = !key || strcmp(r->key, key) != 0;
	f = !r ? F_SOURCE : r->n == 1 && strcmp(r->hashes[0], h) == 0 ? (*stale ? F_STALE : F_UPTODATE) : F_EDITED;
	record_free_all(all, n);
	free(p);
	return f;
}

/* save a person's plan file as FILE.orig.N before it is replaced, never
 * overwriting an earlier backup (land_backup, as -B does for a task) */
static int backup(const char *root, const char *rel)
{
	char *bak = land_backup(root, rel);

	if (!bak)
		return -1;
	fprintf(stderr, "%s: saved as %s\n", rel, bak);
	free(bak);
	return 0;
}

/* land the plan file of stage s through an intent record, as a task's files
 * land (SPEC 10.7), so that a crash at any point is finished or undone by the
 * next run and never leaves the model's file looking like a person's */
static int land(struct dctx *d, const struct stage *s, const struct buffer *bytes, const char *key,
		const char *model, const char *manifest)
{
	struct answer_file f = {(char *)s->file, bytes->data ? bytes->data : "", bytes->len};
	struct answer a = {&f, 1, NULL};
	struct record rec = {0};
	struct fscache fc;
	char *paths[1] = {(char *)s->file};
	char(hashes[1])[HASH_HEX];
	int r;

	rec.target = (char *)s->name;
	memcpy(rec.key, key, HASH_HEX);
	rec.model = (char *)model;
	rec.generated = 1;
	rec.manifest = (char *)manifest;
	rec.n = 1;
	rec.paths = paths;
	rec.hashes = hashes;
	fscache_open(&fc, d->st, d->root);
	r = land_answer(d->st, &fc, d->root, &rec, &a);
	fscache_flush(&fc);
	fscache_close(&fc);
	d->changed = 1;
	return r;
}

/* ---- one model call ---- */

struct tryctx {
	struct dctx *d;
	const struct settings *s;
	const char *target, *model;
	int attempt;
	double budget;          /* USD, < 0: none */
};

/* one ledger row per transport try; settles the try's reservation and stops
 * a retry that could pass the budget (SPEC 10.12, as the task engine does) */
static int on_try(void *arg, const struct call_result *r, int try_no)
{
	struct tryctx *t = arg;
	struct dctx *d = t->d;
	struct ledger_row row = {.run = d->run, .target = t->target, .attempt = t->attempt, .try_no = try_no,
				 .model = t->model};

	provider_ledger_row(&row, r, model_lookup(t->s, t->model));
	state_ledger_add(d->st, &row);
	usage_add(&d->total, &r->usage);
	if (d->cost >= 0)
		d->cost = row.cost >= 0 ? d->cost + row.cost : -1;
	progress_call(&d->pr, t->target, t->model, t->attempt, &r->usage, row.cost, r->latency, row.outcome);
	/* a dropped or cut-off try keeps its whole reservation: it may be billed */
	d->charged += provider_may_be_billed(r) ? (d->each > row.cost ? d->each : row.cost) : row.cost > 0 ? row.cost : 0;
	if (r->status == CALL_RETRY && try_no < PROVIDER_TRIES && t->budget >= 0 && d->charged + d->each > t->budget) {
		d->budget_stop = 1;
		return 1;
	}
	return 0;
}

/* the request of a stage: layer 1 = phase instructions + schema, layer 4 = task */
struct call {
	struct request req;
	struct buffer l1, l3, l4;
	char key[HASH_HEX];
	char *manifest;
	struct model_choice mc;
};

static void call_free(struct call *c)
{
	buf_free(&c->l1);
	buf_free(&c->l3);
	buf_free(&c->l4);
	free(c->manifest);
}

static int call_prepare(struct dctx *d, const struct plan *p, const struct stage *s, struct call *c)
{
	const struct settings *set = &p->settings;
	struct key_input in = {0};
	char h1[HASH_HEX], h2[HASH_HEX], h3[HASH_HEX], h4[HASH_HEX], hs[HASH_HEX];
	enum answer_format f;
	const char *prov = d->o->provider ? d->o->provider : set->provider;

	c->mc = s->bit == DISCOVER_MASTERPLAN ? set->masterplan : set->discovery;
	if (!c->mc.model)
		c->mc = set->high;
	if (!c->mc.model)
		return error("mpbuild.yaml: no model for %s (set models.%s)", s->name,
			     s->bit == DISCOVER_MASTERPLAN ? "masterplan" : "discovery");
	f = prompt_format(model_answer_format(set, c->mc.model));
	{
		struct buffer md = {0};
		char tool[32];

		if (stage_phase_text(d->root, s->name, &md) < 0)
			return -1;
		snprintf(tool, sizeof(tool), "write_%s", s->name);
		prompt_layer1(&c->l1, md.data ? md.data : "", md.len, f, tool, s->schema);
		buf_free(&md);
	}
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
		rulebook_plan_layer(p, rulebook_get(&d->rb, RULEBOOK_PLAN_PINS), set->remote_cache, &c->l3);
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

/* a stage's call in flight, for the live display */
struct stage_prog {
	struct dctx *d;
	struct live_call call;
};

/* a streamed stage call's progress: the live line (or call_progress events),
 * as a task's; the stage's call runs on this thread */
static void stage_progress(void *arg, const struct call_progress *cp)
{
	struct stage_prog *sp = arg;
	long t = (long)(cp->answer_bytes / 4);
	char *why = cp->pacing > 0 ? xasprintf("%s waits %.0fs for the rate limits", sp->call.target, cp->pacing) : NULL;

	sp->call.tokens = cp->output_tokens > t ? cp->output_tokens : t;
	progress_live(&sp->d->pr, why ? NULL : &sp->call, why ? 0 : 1, why);
	free(why);
}

/* call the provider for c (attempt c->req.attempt); the answer (malloc'd),
 * or NULL and either *code, or *rejected (malloc'd) when the model answered
 * but not with one JSON object: a judging failure, to be asked again */
static char *call_model(struct dctx *d, const struct plan *p, struct call *c, int *code, char **rejected)
{
	struct call_result res = {0};
	struct stage_prog sp = {0};
	struct tryctx t = {d, &p->settings, c->req.target, c->req.model, c->req.attempt,
			   d->o->budget >= 0 ? d->o->budget : p->settings.budget_usd};
	char *answer;

	if (getenv("MPBUILD_PRINT_KEYS") && *getenv("MPBUILD_PRINT_KEYS") == '1') {
		char *j = prompt_request_json(&c->req);

		fprintf(stderr, "%s %s %d %s\n", c->req.target, c->key, c->req.attempt, j);
		free(j);
	}
	d->each = 0;
	d->budget_stop = 0;
	if (t.budget >= 0) {
		const struct model_info *m = model_lookup(&p->settings, c->req.model);

		if (!m->priced) {
			error("%s: model %s has no known price and a budget is set; add it under prices: in mpbuild.yaml "
			      "(prices: {%s: {input: ..., output: ...}})", c->req.target, c->req.model, c->req.model);
			*code = EXIT_BADINPUT;
			return NULL;
		}
		d->each = provider_reservation(m, &c->req);
		if (d->charged + d->each > t.budget) {
			error("%s: not sent: the call could cost up to $%.4f and $%.4f of the $%.4f budget is spent",
			      c->req.target, d->each, d->charged, t.budget);
			error("budget of $%.4f reached: spent $%.4f; nothing more was started", t.budget, d->charged);
			*code = EXIT_BUDGET;
			return NULL;
		}
	}
	if (!d->pv) {
		int ec = EXIT_PROVIDER;

		d->pv = provider_open(&p->settings, d->o->provider, d->o->replay, &ec);
		if (!d->pv) {
			*code = ec ? ec : EXIT_PROVIDER;
			return NULL;
		}
	}
	sp.d = d;
	sp.call.target = c->req.target;
	sp.call.model = c->req.model;
	sp.call.started = now();
	c->req.progress = stage_progress;
	c->req.progress_arg = &sp;
	provider_call_retrying(d->pv, &c->req, &res, on_try, &t);
	c->req.progress = NULL;
	if (res.status == CALL_FAIL && res.bad_answer) {
		*rejected = xstrdup(res.error ? res.error : "the answer is not a JSON object");
		call_result_clear(&res);
		return NULL;
	}
	if (res.status != CALL_OK) {
		if (d->budget_stop)
			error("%s: %s; a retry could cost up to $%.4f and $%.4f of the $%.4f budget is spent", c->req.target,
			      res.error ? res.error : "the call failed", d->each, d->charged, t.budget);
		else
			error("%s: %s", c->req.target, res.error ? res.error : "the call failed");
		*code = d->budget_stop ? EXIT_BUDGET : res.status == CALL_AUTH ? EXIT_PROVIDER : EXIT_FAILED;
		state_failure_put(d->st, c->req.target, d->run, res.error ? res.error : "the call failed");
		call_result_clear(&res);
		return NULL;
	}
	answer = res.answer;
	res.answer = NULL;
	call_result_clear(&res);
	return answer;
}

/* ---- the stages ---- */

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
static void save_basis(struct dctx *d, const struct stage *s)
{
	size_t i;

	for (i = 0; i < LEN(s->inputs) && s->inputs[i]; i++) {
		struct buffer b = {0};
		char *in = path_join(d->root, s->inputs[i]), *out = basis_path(d->root, s, s->inputs[i]);

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

/* the hints of a re-plan of stage s: the instructions of rules/phases/replan.md,
 * the previous file (old) and a unified diff of each input against its basis */
static int replan_hint(struct dctx *d, const struct stage *s, const struct buffer *old, int by_hand,
		       struct buffer *hint)
{
	struct buffer diffs = {0};
	size_t i, unknown = 0, ninputs = 0;

	if (stage_phase_text(d->root, "replan", hint) < 0)
		return -1;
	buf_printf(hint, "\n## The previous %s\n\n", s->file);
	if (by_hand)
		buf_puts(hint, "A person edited or wrote this version; keep their changes unless the inputs now contradict them.\n\n");
	prompt_fenced(hint, "yaml", old->data ? old->data : "", old->len);
	for (i = 0; i < LEN(s->inputs) && s->inputs[i]; i++) {
		struct buffer was = {0}, now = {0};
		char *bp = basis_path(d->root, s, s->inputs[i]), *np = path_join(d->root, s->inputs[i]);
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

/* after a new masterplan landed: records of renamed tasks move to their new
 * ids, and the files of tasks that are gone are listed */
static void after_masterplan(struct dctx *d)
{
	struct plan *np = plan_load(d->root);
	struct record *all;
	size_t n;

	if (!np)
		return;
	d->replanned = 1;
	all = state_records(d->st, &n);
	if (orphan_adopt(d->st, np, all, n, &d->moved, &d->nmoved) == 0 && d->nmoved)
		d->changed = 1;
	record_free_all(all, n);
	if (!d->o->build_follows && !d->o->quiet) {
		all = state_records(d->st, &n);
		orphan_say(np, all, n, d->root, stdout);
		record_free_all(all, n);
	}
	plan_free(np);
}

/* pick the example plans for the masterplan again, each time it is called
 * (SPEC 2), and prepare c (already prepared) again with them.  The pins go in
 * d->rb and, unless dry, in state.db and the lock, so that the next no-op and
 * a fresh clone compute the key of the plan that lands */
static int pick_plans(struct dctx *d, const struct plan *p, const struct stage *s, struct call *c, int dry)
{
	struct repick env = {0};
	struct fscache fc;
	char h[HASH_HEX];
	int rc;

	env.p = p;
	env.st = dry ? NULL : d->st;
	env.fc = &fc;
	env.rb = &d->rb;
	env.remote = p->settings.remote_cache;
	env.dry = dry;
	env.verbose = d->o->verbose;
	env.out = d->o->quiet ? NULL : d->o->json ? stderr : stdout;
	fscache_open(&fc, env.st, d->root);
	/* the pins are recorded with the version of the instructions they were picked for */
	sha256_hex(c->l1.data ? c->l1.data : "", c->l1.len, h);
	rc = rulebook_repick_plans(&env, h);
	if (env.st)
		fscache_flush(&fc);
	fscache_close(&fc);
	if (rc < 0)
		return error("masterplan: cannot pick example plans");
	if (!dry)
		d->changed = 1;
	call_free(c);
	memset(c, 0, sizeof(*c));
	return stage_request(d->root, p, s, &c->l4) < 0 || call_prepare(d, p, s, c) < 0 ? -1 : 0;
}

/* keep the last rejected answer of stage s under cache/failed/NAME/: the
 * plan file it made, else the answer, else (prose the provider could not
 * read as JSON) why it was rejected; returns the relative name */
static char *keep_failed(struct dctx *d, const struct stage *s, const struct buffer *out, const char *answer,
			 const char *why)
{
	char *rel = out->len ? xasprintf("cache/failed/%s/%s", s->name, s->file)
		    : answer ? xasprintf("cache/failed/%s/answer.json", s->name)
			     : xasprintf("cache/failed/%s/error.txt", s->name);
	char *path = path_join(d->root, rel);
	const char *what = out->len ? out->data : answer ? answer : why;

	if (write_file_atomic(path, what, out->len ? out->len : strlen(what)) < 0)
		warn("cannot write %s:", path);
	free(path);
	return rel;
}

/* stage s landed (status "built" or "re-planned", by model): a line with
 * what its calls cost, or the target_finished event */
static void stage_done(struct dctx *d, const struct stage *s, const char *status, const char *model, double before)
{
	double spent = d->cost < 0 || before < 0 ? -1 : d->cost - before;
	char m[32];

	if (d->pr.mode == PROGRESS_JSON) {
		progress_finish(&d->pr, s->name, s->file, status, model, spent < 0 ? 0 : spent, NULL);
		return;
	}
	progress_money(m, sizeof(m), spent);
	if (!d->o->quiet)
		progress_say(&d->pr, "%s: %s %s (%s) · %s", s->name, status, s->file, model, m);
}

/* after the pipeline's calls: what they used and cost (the tasks' summary follows) */
static void pipeline_summary(struct dctx *d)
{
	const struct usage *u = &d->total;
	char m[32];

	if (!d->called)
		return;
	if (d->pr.mode == PROGRESS_JSON) {
		char *counts = xasprintf("{\"stages\":%d,\"input_tokens\":%ld,\"cache_write_tokens\":%ld,"
					 "\"cache_read_tokens\":%ld,\"output_tokens\":%ld,\"cost\":%.6f}",
					 d->called, (long)u->input, (long)(u->cache_write_5m + u->cache_write_1h),
					 (long)u->cache_read, (long)u->output, d->cost < 0 ? 0 : d->cost);

		progress_event(&d->pr, "pipeline_finished", counts);
		free(counts);
		return;
	}
	if (d->o->quiet)
		return;
	progress_money(m, sizeof(m), d->cost);
	progress_say(&d->pr, "mpbuild: pipeline: %d call%s; tokens: %ld input, %ld cache write, %ld cache read, %ld output; %s\n",
	       d->called, d->called == 1 ? "" : "s", (long)u->input, (long)(u->cache_write_5m + u->cache_write_1h),
	       (long)u->cache_read, (long)u->output, m);
}

/* build stage s if it needs it: a missing file; a stale one mpbuild wrote;
 * with -B (named) any.  A person's file is kept: named, that stops with exit
 * 2; upstream of a named target, a stale one is reported and used as it is.
 * An answer that is not a JSON object, or (masterplan) does not load as a
 * plan, is asked again up to retries: times with the errors fed back; the
 * file lands only once it passed, through an intent record */
static int do_call_stage(struct dctx *d, const struct plan *p, const struct stage *s, int named)
{
	struct call c = {0};
	char *answer = NULL, *why = NULL;
	struct buffer out = {0}, errs = {0}, old = {0}, hint = {0}, fb = {0};
	struct diag dg = {0};
	int code = 0, attempt, attempts = 1 + p->settings.retries, have_old, stale, forced = named && d->o->force;
	enum fstate fs;
	char *path = path_join(d->root, s->file);
	double cost_before = d->cost;

	if (stage_request(d->root, p, s, &c.l4) < 0 || call_prepare(d, p, s, &c) < 0) {
		code = EXIT_BADINPUT;
		goto done;
	}
	fs = file_eval(d, s, c.key, &stale);
	if (fs == F_UPTODATE && !forced) {
		if (named && !d->o->quiet)
			printf("%s: up to date\n", s->name);
		goto done;
	}
	if ((fs == F_EDITED || fs == F_SOURCE) && !forced) {
		if (named) {
			error("%s: %s; mpbuild -B %s regenerates it after saving it as %s.orig.N", s->file,
			      fs == F_EDITED ? "kept (edited by hand)" : "kept (not generated by mpbuild)", s->name, s->file);
			code = EXIT_BADINPUT;
		} else if (fs == F_EDITED && stale && !d->o->quiet) {
			printf("%s: kept (edited by hand): its inputs changed since mpbuild wrote %s; going on with it as it "
			       "is (mpbuild -B %s regenerates it after saving it as %s.orig.N)\n",
			       s->name, s->file, s->name, s->file);
		}
		goto done;
	}
	have_old = fs == F_EDITED || fs == F_SOURCE;
	if (s->bit == DISCOVER_MASTERPLAN && pick_plans(d, p, s, &c, 0) < 0) {
		code = EXIT_FAILED;
		goto done;
	}
	if (fs != F_MISSING && read_file(path, &old, YAML_MAX_FILE) == 0 && replan_hint(d, s, &old, have_old, &hint) < 0) {
		code = EXIT_BADINPUT;
		goto done;
	}
	d->called++;
	d->pr.total = d->pr.done + 1;
	progress_start(&d->pr, s->name, s->file, c.mc.model);
	for (attempt = 1; attempt <= attempts; attempt++) {
		/* the hints come first and stay on a retry; neither is in the key */
		buf_reset(&fb);
		buf_add(&fb, hint.data ? hint.data : "", hint.len);
		if (hint.len && errs.len)
			buf_puts(&fb, "\n");
		buf_add(&fb, errs.data ? errs.data : "", errs.len);
		c.req.attempt = attempt;
		c.req.feedback = fb.len ? buf_str(&fb) : NULL;
		free(answer);
		free(why);
		why = NULL;
		if (!(answer = call_model(d, p, &c, &code, &why)) && !why)
			goto done;
		buf_reset(&out);
		buf_reset(&errs);
		diag_free(&dg);
		memset(&dg, 0, sizeof(dg));
		if (why || stage_render(answer, &out, &why) < 0)
			buf_printf(&errs, "%s\n", why);
		else if (s->bit == DISCOVER_MASTERPLAN && stage_judge_masterplan(d->root, &out, &dg) < 0)
			buf_add(&errs, dg.errors.data, dg.errors.len);
		if (!errs.len) {
			code = 0;
			break;
		}
		fprintf(stderr, "%s: attempt %d was not a valid plan:\n%s", s->name, attempt, buf_str(&errs));
		code = EXIT_FAILED;
	}
	if (code) {
		char *kept = keep_failed(d, s, &out, answer, errs.data ? errs.data : "");

		if (attempts > 1)
			error("%s: the answer is not a valid plan after %s; kept as %s", s->name,
			      attempts == 2 ? "a retry" : "its retries", kept);
		else
			error("%s: the answer is not a valid plan (retries: 0); kept as %s", s->name, kept);
		state_failure_put(d->st, s->name, d->run, "the answer is not a valid plan");
		free(kept);
		goto done;
	}
	/* a valid plan's warnings are the person's to read; they never reject it */
	diag_show_warnings(&dg);
	crashpoint("pipeline-judged");
	if (have_old && backup(d->root, s->file) < 0) {
		code = EXIT_FAILED;
		goto done;
	}
	if (land(d, s, &out, c.key, c.mc.model, c.manifest) < 0) {
		code = EXIT_FAILED;
		goto done;
	}
	crashpoint("pipeline-landed");
	state_failure_clear(d->st, s->name);
	save_basis(d, s);
	stage_done(d, s, fs == F_MISSING ? "built" : "re-planned", c.mc.model, cost_before);
	if (s->bit == DISCOVER_MASTERPLAN)
		after_masterplan(d);
done:
	free(answer);
	free(why);
	free(path);
	buf_free(&out);
	buf_free(&errs);
	buf_free(&old);
	buf_free(&hint);
	buf_free(&fb);
	diag_free(&dg);
	call_free(&c);
	return code;
}

/* rewrite one YAML file through the writer (MPBUILD_YAML_REWRITE) */
static int rewrite(const char *file)
{
	struct ydoc *doc = ydoc_load(file, file);
	struct buffer b = {0};
	int r;

	if (!doc)
		return EXIT_BADINPUT;
	r = doc->root ? yaml_write(&b, doc->root) : 0;
	if (r == 0)
		r = write_file_atomic(file, b.data, b.len);
	buf_free(&b);
	ydoc_free(doc);
	return r < 0 ? EXIT_FAILED : 0;
}

/* remove the staged plan files (FILE.mpbuild-new) a crash left before its
 * landing had an intent: with no intent open, no landing will use them */
static void sweep_staged(struct dctx *d)
{
	char **targets = NULL, **jsons = NULL;
	size_t n = 0, i;

	if (state_intents(d->st, &targets, &jsons, &n) < 0)
		return;
	for (i = 0; i < n; i++) {
		free(targets[i]);
		free(jsons[i]);
	}
	free(targets);
	free(jsons);
	for (i = 0; i < LEN(stages) && !n; i++) {
		char *staged = xasprintf("%s/%s.mpbuild-new", d->root, stages[i].file);

		unlink(staged);
		free(staged);
	}
}

int discover_run(const char *root, const struct discover_opts *o)
{
	struct dctx d = {0};
	unsigned upto = 0, which = o->which;
	size_t i;
	int rc = 0;
	char *cache;

	if (getenv("MPBUILD_YAML_REWRITE"))
		return rewrite(getenv("MPBUILD_YAML_REWRITE"));
	d.root = root;
	d.o = o;
	if (!which && !discover_needed(root))
		return 0;
	for (i = 0; i < LEN(stages); i++)
		if (!which || (which & stages[i].bit))
			upto = stages[i].bit;
	cache = path_join(root, "cache");
	if (mkdirs(cache) < 0 || !(d.st = state_open(cache, 0))) {
		free(cache);
		return EXIT_BADINPUT;
	}
	free(cache);
	/* a landing a crash interrupted is finished first, so that its file is
	 * never taken for a person's */
	if (land_recover(d.st, root) > 0 || state_run_unfinished(d.st))
		d.changed = 1;  /* and a record a killed run committed goes into the lock */
	sweep_staged(&d);
	/* a lock from a clone, checkout or pull says what mpbuild wrote */
	if (lockfile_sync(root, d.st, NULL, NULL) < 0) {
		state_close(d.st);
		return EXIT_BADINPUT;
	}
	rulebook_load(&d.rb, d.st, root, 1);
	if (progress_init(&d.pr, o->progress, o->quiet, o->verbose) < 0)
		progress_init(&d.pr, "plain", o->quiet, o->verbose);
	d.run = state_run_start(d.st, "discover");
	for (i = 0; i < LEN(stages) && stages[i].bit <= upto && !rc; i++) {
		const struct stage *s = &stages[i];
		int named = (which & s->bit) != 0;
		struct plan *p = plan_load(root);

		if (!p) {
			rc = EXIT_BADINPUT;
			break;
		}
		if (s->bit == DISCOVER_ANSWERS) {
			if (!p->have_questions)
				rc = named ? (error("plans/questions.yaml: no such file; mpbuild questions asks for it"),
					      EXIT_BADINPUT) : 0;
			else
				rc = answers_ask(d.root, p, d.o->defaults);
		} else if (which || !stage_exists(root, s->file)) {
			/* with a target named, the stages before it are checked too:
			 * a stale file mpbuild wrote is made again first (make's rule) */
			const char *why;

			if (stage_inputs_ready(d.root, p, s, &why))
				rc = do_call_stage(&d, p, s, named);
			else if (named || !stage_exists(root, s->file))
				rc = (error("%s", why), EXIT_BADINPUT);
		}
		/* the provider keeps the settings it was opened with */
		if (d.pv && !d.pv_plan)
			d.pv_plan = p;
		else
			plan_free(p);
	}
	if (d.changed)
		update_lock(&d);
	pipeline_summary(&d);
	if (o->charged)
		*o->charged = d.charged;
	state_run_finish(d.st, d.run, 0, 0, 0, rc ? 1 : 0, 0, 0);
	if (d.pv)
		d.pv->close(d.pv);
	plan_free(d.pv_plan);
	rulebook_free(&d.rb);
	state_close(d.st);
	for (i = 0; i < 2 * d.nmoved; i++)
		free(d.moved[i]);
	free(d.moved);
	return rc;
}

/* ---- -n ---- */

/* one target of a dry run, as a line or a JSON object; req is the request it
 * would send (NULL: no call, or "waits": a call whose request is not known
 * yet), lo and hi its estimated cost (< 0: unknown) */
static void dry_say(const struct discover_opts *o, const struct stage *s, const char *status, const char *key,
		    const char *model, const char *why, const struct request *req, double lo, double hi)
{
	char a[32], b[32];

	if (o->json) {
		progress_dry_json(s->name, status, key, model, why, req, req || strcmp(status, "waits") == 0, lo, hi);
		return;
	}
	progress_money(a, sizeof(a), lo);
	progress_money(b, sizeof(b), hi);
	if (strcmp(status, "stale") == 0 && req)
		printf("would call %s %s (%s, %s): %s to %s\n", s->name, s->file, model, why, a, b);
	else if (strcmp(status, "waits") == 0)
		printf("may call  %s %s (%s; %s): %s to %s\n", s->name, s->file, model, why, a, b);
	else
		printf("%-9s %s %s%s%s\n", status, s->name, s->file, why ? ": " : "", why ? why : "");
}

/* the estimated cost of call c with a request of `bytes` bytes (-1: unknown) */
static void dry_cost(const struct plan *p, const struct call *c, size_t bytes, double *lo, double *hi)
{
	if (!c->mc.model)
		*lo = *hi = -1;
	else
		model_estimate(model_lookup(&p->settings, c->mc.model), 0, (double)bytes / 4, c->req.max_tokens, lo, hi);
}

/* -n for stage s, whose inputs an earlier stage (after) writes first: its
 * estimate counts the instructions and the inputs that exist */
static void dry_waiting(const char *root, const struct plan *p, const struct stage *s, const char *after,
			const struct discover_opts *o, double *a, double *b)
{
	struct call c = {0};
	size_t j, bytes = 0;
	char *why = xasprintf("after %s", after);

	c.mc = s->bit == DISCOVER_MASTERPLAN ? p->settings.masterplan : p->settings.discovery;
	if (!c.mc.model)
		c.mc = p->settings.high;
	c.req.max_tokens = s->bit == DISCOVER_MASTERPLAN ? 64000 : p->settings.max_tokens;
	if (stage_phase_text(root, s->name, &c.l1) == 0)
		bytes = c.l1.len + strlen(s->schema);
	for (j = 0; j < LEN(s->inputs) && s->inputs[j]; j++) {
		struct buffer f = {0};
		char *fp = path_join(root, s->inputs[j]);

		if (read_file(fp, &f, YAML_MAX_FILE) == 0)
			bytes += f.len;
		buf_free(&f);
		free(fp);
	}
	dry_cost(p, &c, bytes, a, b);
	dry_say(o, s, "waits", NULL, c.mc.model ? c.mc.model : "no model", why, NULL, *a, *b);
	free(why);
	call_free(&c);
}

/* the last line of -n for the pipeline: how many calls and their cost */
static void dry_total(const char *root, const struct discover_opts *o, size_t calls, double lo, double hi, int unknown)
{
	char sa[32], sb[32];

	progress_money(sa, sizeof(sa), lo);
	progress_money(sb, sizeof(sb), hi);
	printf("mpbuild: %zu pipeline call%s first; estimated %s to %s%s%s\n", calls, calls == 1 ? "" : "s", sa, sb,
	       unknown ? " (some models have no known price)" : "",
	       !o->build_follows ? ""
	       : stage_exists(root, "plans/masterplan.yaml") ? "; the tasks below are those of the current plan"
							  : "; the tasks are known once plans/masterplan.yaml is written");
}

int discover_dry_run(const char *root, const struct discover_opts *o)
{
	struct dctx d = {0};
	unsigned upto = 0, which = o->which;
	int notes = !which && !discover_needed(root);   /* nothing runs: only name stale plan files */
	int changes = 0;        /* an earlier stage would change its file: later keys are not known yet */
	size_t i, calls = 0;
	double lo = 0, hi = 0;
	int unknown = 0, rc = 0;
	struct plan *p;
	char *cache;

	if (notes && o->json)
		return 0;
	for (i = 0; i < LEN(stages); i++)
		if (!which || (which & stages[i].bit))
			upto = stages[i].bit;
	if (!(p = plan_load(root)))
		return EXIT_BADINPUT;
	d.root = root;
	d.o = o;
	cache = path_join(root, "cache");
	d.st = state_open(cache, 1);
	free(cache);
	if ((d.use_lock = lockfile_sync(root, d.st, &d.lock, NULL)) < 0) {
		state_close(d.st);
		plan_free(p);
		return EXIT_BADINPUT;
	}
	if (d.use_lock)
		rulebook_from_lock(&d.rb, &d.lock);
	else
		rulebook_load(&d.rb, d.st, root, 0);
	for (i = 0; i < LEN(stages) && stages[i].bit <= upto && !rc; i++) {
		const struct stage *s = &stages[i];
		int named = (which & s->bit) != 0, forced = named && o->force, stale, exists = stage_exists(root, s->file);
		struct call c = {0};
		struct buffer old = {0}, hint = {0};
		const char *why;
		double a = 0, b = 0;
		enum fstate fs;

		if (s->bit == DISCOVER_ANSWERS) {
			size_t left = p->have_questions && !changes ? answers_missing(p) : 0;
			char *w;

			if (notes || (p->have_questions && !changes && !left))
				continue;
			w = !p->have_questions || changes ? xstrdup("the questions that questions writes")
				: xasprintf("%zu question%s%s", left, left == 1 ? "" : "s",
					    o->defaults ? ", each taking its default (--defaults)" : " on the terminal");
			dry_say(o, s, "would ask", NULL, NULL, w, NULL, 0, 0);
			free(w);
			changes = 1;
			continue;
		}
		if (!notes && !which && exists)
			continue;
		/* nothing runs: only an existing plan file can be named stale; a
		 * plan file whose inputs do not exist is a source (SPEC 2) */
		if (notes && !exists)
			continue;
		if (!changes && !stage_inputs_ready(d.root, p, s, &why)) {
			if (!named && exists)
				continue;       /* a person's file whose inputs do not exist: a source */
			rc = (error("%s", why), EXIT_BADINPUT);
			break;
		}
		if (changes) {
			dry_waiting(root, p, s, stages[i - 1].name, o, &a, &b);
			goto counted;
		}
		if (stage_request(d.root, p, s, &c.l4) < 0 || call_prepare(&d, p, s, &c) < 0) {
			rc = EXIT_BADINPUT;
			goto next;
		}
		fs = file_eval(&d, s, c.key, &stale);
		if (fs == F_UPTODATE && !forced) {
			if ((named || o->verbose) && !notes)
				dry_say(o, s, "up to date", c.key, c.mc.model, NULL, NULL, 0, 0);
			goto next;
		}
		if ((fs == F_EDITED || fs == F_SOURCE) && !forced) {
			if (named)
				dry_say(o, s, "kept", c.key, c.mc.model,
					fs == F_EDITED ? "edited by hand; the build would stop here (mpbuild -B regenerates it)"
						       : "not generated by mpbuild; the build would stop here (mpbuild -B regenerates it)",
					NULL, 0, 0);
			else if (fs == F_EDITED && stale)
				dry_say(o, s, "kept", c.key, c.mc.model, "edited by hand; its inputs changed since mpbuild wrote it",
					NULL, 0, 0);
			goto next;
		}
		if (notes) {
			/* the build does not regenerate plan files it is not asked for */
			char *w = xasprintf("its inputs changed; plan files are regenerated only when named (mpbuild %s)",
					    s->name);

			dry_say(o, s, "stale", c.key, c.mc.model, w, NULL, -1, -1);
			free(w);
			goto next;
		}
		if (s->bit == DISCOVER_MASTERPLAN && pick_plans(&d, p, s, &c, 1) < 0) {
			rc = EXIT_FAILED;
			goto next;
		}
		if (fs != F_MISSING) {
			char *fp = path_join(root, s->file);

			if (read_file(fp, &old, YAML_MAX_FILE) == 0)
				replan_hint(&d, s, &old, fs == F_EDITED || fs == F_SOURCE, &hint);
			free(fp);
			c.req.feedback = hint.len ? buf_str(&hint) : NULL;
		}
		dry_cost(p, &c, c.l1.len + c.l3.len + c.l4.len + hint.len + strlen(s->schema), &a, &b);
		dry_say(o, s, "stale", c.key, c.mc.model,
			forced ? "forced with -B" : fs == F_MISSING ? "never built" : "inputs changed", &c.req, a, b);
counted:
		calls++;
		changes = 1;
		if (a < 0)
			unknown = 1;
		else
			lo += a, hi += b;
next:
		call_free(&c);
		buf_free(&old);
		buf_free(&hint);
	}
	if (calls && !o->json)
		dry_total(root, o, calls, lo, hi, unknown);
	if (d.use_lock)
		lockfile_free(&d.lock);
	rulebook_free(&d.rb);
	state_close(d.st);
	plan_free(p);
	return rc;
}
