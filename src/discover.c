/* discover.c: the pipeline's targets by name, and -n for them (SPEC 2).
 * The stages run as targets of the engine (pipeline.c, scheduled by
 * build.c); here a dry run lists what they would do: calls with their model
 * and estimated cost, questions to ask, kept plan files. */
#include "discover.h"
#include "answers.h"
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "yaml.h"

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

/* stage target t of a dry run against its record, as the engine evaluates
 * a task's outputs, with c's key; *stale: the record's key is not c's */
static enum fstate dry_state(struct engine *e, struct task *t, const struct stage_call *c, int *stale)
{
	struct tinfo *ti = &e->ti[t->index];
	const struct record *rec = htab_get(&e->rec_by, t->id);

	memcpy(ti->key, c->key, HASH_HEX);
	ti->forced = 0;
	engine_outputs_state(e, t, rec);
	*stale = rec && strcmp(rec->key, c->key) != 0;
	if (!*ti->seen[0])
		return F_MISSING;
	if (ti->s == S_KEPT)
		return ti->edited ? F_EDITED : F_SOURCE;
	return ti->s == S_UPTODATE ? F_UPTODATE : F_STALE;
}

int discover_rewrite(const char *file)
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
static void dry_cost(const struct plan *p, const struct stage_call *c, size_t bytes, double *lo, double *hi)
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
	struct stage_call c = {0};
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
	stage_call_free(&c);
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

/* what a dry run of the stages has found so far */
struct dry {
	const struct discover_opts *o;
	struct engine *e;
	int notes;              /* nothing runs: only name stale plan files */
	int changes;            /* an earlier stage would change its file: later keys are not known yet */
	size_t calls;
	double lo, hi;
	int unknown;
};

/* -n for the answers stage: the questions it would ask */
static void dry_answers(struct dry *d, const struct stage *s)
{
	const struct plan *p = d->e->p;
	size_t left = p->have_questions && !d->changes ? answers_missing(p) : 0;
	char *w;

	if (d->notes || (p->have_questions && !d->changes && !left))
		return;
	w = !p->have_questions || d->changes ? xstrdup("the questions that questions writes")
		: xasprintf("%zu question%s%s", left, left == 1 ? "" : "s",
			    d->o->defaults ? ", each taking its default (--defaults)" : " on the terminal");
	dry_say(d->o, s, "would ask", NULL, NULL, w, NULL, 0, 0);
	free(w);
	d->changes = 1;
}

/* -n for the kept or up-to-date file of stage s (fs): 1 when nothing more is to say */
static int dry_no_call(struct dry *d, const struct stage *s, const struct stage_call *c, enum fstate fs, int stale,
		       int named)
{
	if (fs == F_UPTODATE) {
		if ((named || d->o->verbose) && !d->notes)
			dry_say(d->o, s, "up to date", c->key, c->mc.model, NULL, NULL, 0, 0);
		return 1;
	}
	if (fs != F_EDITED && fs != F_SOURCE)
		return 0;
	if (named)
		dry_say(d->o, s, "kept", c->key, c->mc.model,
			fs == F_EDITED ? "edited by hand; the build would stop here (mpbuild -B regenerates it)"
				       : "not generated by mpbuild; the build would stop here (mpbuild -B regenerates it)",
			NULL, 0, 0);
	else if (fs == F_EDITED && stale)
		dry_say(d->o, s, "kept", c->key, c->mc.model, "edited by hand; its inputs changed since mpbuild wrote it",
			NULL, 0, 0);
	return 1;
}

/* -n for a stage that makes a call: what it would send and cost; an exit code */
static int dry_call(struct dry *d, struct task *t, const struct stage *s, int named)
{
	const char *root = d->e->root, *why;
	const struct discover_opts *o = d->o;
	const struct plan *p = d->e->p;
	struct stage_call c = {0};
	struct buffer old = {0}, hint = {0};
	int forced = named && o->force, stale, rc = 0;
	double a = 0, b = 0;
	enum fstate fs;

	if (!d->changes && !stage_inputs_ready(root, p, s, &why)) {
		if (!named && stage_exists(root, s->file))
			return 0;       /* a person's file whose inputs do not exist: a source */
		return error("%s", why), EXIT_BADINPUT;
	}
	if (d->changes) {
		dry_waiting(root, p, s, stages[t->index - p->ntasks - 1].name, o, &a, &b);
		goto counted;
	}
	if (stage_request(root, p, s, &c.l4) < 0 || stage_call_prepare(root, o->provider, &d->e->rb, p, s, &c) < 0) {
		rc = EXIT_BADINPUT;
		goto out;
	}
	fs = dry_state(d->e, t, &c, &stale);
	if (!forced && dry_no_call(d, s, &c, fs, stale, named))
		goto out;
	if (d->notes) {
		/* the build does not regenerate plan files it is not asked for */
		char *w = xasprintf("its inputs changed; plan files are regenerated only when named (mpbuild %s)", s->name);

		dry_say(o, s, "stale", c.key, c.mc.model, w, NULL, -1, -1);
		free(w);
		goto out;
	}
	if (s->bit == DISCOVER_MASTERPLAN &&
	    stage_pick_plans(root, NULL, &d->e->rb, o->provider, o->verbose, o->quiet ? NULL : o->json ? stderr : stdout,
			     p, s, &c) < 0) {
		rc = EXIT_FAILED;
		goto out;
	}
	if (fs != F_MISSING) {
		char *fp = path_join(root, s->file);

		if (read_file(fp, &old, YAML_MAX_FILE) == 0)
			stage_replan_hint(root, s, &old, fs == F_EDITED || fs == F_SOURCE, &hint);
		free(fp);
		c.req.feedback = hint.len ? buf_str(&hint) : NULL;
	}
	dry_cost(p, &c, c.l1.len + c.l3.len + c.l4.len + hint.len + strlen(s->schema), &a, &b);
	dry_say(o, s, "stale", c.key, c.mc.model,
		forced ? "forced with -B" : fs == F_MISSING ? "never built" : "inputs changed", &c.req, a, b);
counted:
	d->calls++;
	d->changes = 1;
	if (a < 0)
		d->unknown = 1;
	else
		d->lo += a, d->hi += b;
out:
	stage_call_free(&c);
	buf_free(&old);
	buf_free(&hint);
	return rc;
}

int discover_dry_run(const char *root, const struct discover_opts *o)
{
	struct build_opts bo = {0};
	struct engine e;
	struct dry d = {o, &e, !o->which && !discover_needed(root), 0, 0, 0, 0, 0};
	struct task **order;
	size_t i, n;
	int rc;

	if (d.notes && o->json)
		return 0;
	bo.dry_run = 1;
	bo.pipeline = 1;
	bo.stages = o->which;
	bo.defaults = o->defaults;
	bo.provider = o->provider;
	bo.quiet = o->quiet;
	bo.json = o->json;
	bo.verbose = o->verbose;
	bo.budget = -1;
	if ((rc = engine_open(&e, root, &bo, 0))) {
		engine_close(&e);
		return rc;
	}
	order = pipeline_open(&e, &n);
	for (i = 0; i < n && !rc; i++) {
		const struct stage *s = &stages[i];

		if (s->bit == DISCOVER_ANSWERS)
			dry_answers(&d, s);
		else if ((d.notes || o->which || !stage_exists(root, s->file)) && (!d.notes || stage_exists(root, s->file)))
			rc = dry_call(&d, order[i], s, (o->which & s->bit) != 0);
	}
	if (d.calls && !o->json)
		dry_total(root, o, d.calls, d.lo, d.hi, d.unknown);
	pipeline_close(&e);
	engine_close(&e);
	return rc;
}
