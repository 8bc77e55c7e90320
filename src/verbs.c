/* verbs.c: the commands that read or mark the engine's view of staleness
 * without building: check, status, explain, clean (and clean --orphans),
 * accept, touch and approve; and -n. */
#include "engine.h"
#include "verbs.h"
#include "confine.h"
#include "land.h"
#include "lockfile.h"
#include "orphan.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the fields of a key manifest that explain names */
static const char *const manifest_names[][2] = {
	{"format", "mpbuild's prompt format version"}, {"family", "the provider's wire family"},
	{"model", "the model"}, {"effort", "the effort"}, {"max_tokens", "max_tokens"},
	{"schema", "the answer format or schema"}, {"validate", "the validate commands of its rule"},
	{"check", "its check commands"}, {"retries", "retries"}, {"escalate", "the escalation model"},
};

int build_status(const char *root, char **targets, size_t n)
{
	struct engine e;
	struct task **order;
	size_t cnt, i;
	int rc = engine_open(&e, root, NULL, 0);

	if (rc || !(order = engine_select(&e, targets, n, &cnt))) {
		engine_close(&e);
		return rc ? rc : EXIT_BADINPUT;
	}
	rulebook_report(&e.rb, e.p, e.pc, &e.rec_by, e.st, stdout);
	for (i = 0; i < cnt; i++) {
		struct task *t = order[i];
		struct tinfo *ti = &e.ti[t->index];
		struct failure *f;
		const char *word;

		engine_eval(&e, t);
		word = state_names[ti->s];
		f = htab_get(&e.failures, t->id);
		if (ti->s == S_UPTODATE && ti->recheck) {
			/* a dependency changed behind the same interfaces: the build runs its checks again */
			ti->s = S_PENDING;
			engine_why(ti, xstrdup("a dependency changed behind the same interfaces; its checks run again"));
			word = "stale";
		}
		if (ti->s == S_KEPT)
			word = ti->edited ? "edited" : "kept";
		else if (ti->s == S_PENDING && f)
			word = "failed";
		else if (ti->s == S_PENDING && strcmp(ti->why, "never built") == 0)
			word = "never built";
		if (f && ti->s == S_PENDING)
			printf("%-12s %s %s: %s (retried on the next build)\n", word, t->id, t->title, f->reason);
		else if (ti->s == S_PENDING && strcmp(word, "never built") == 0)
			printf("%-12s %s %s\n", word, t->id, t->title);
		else
			printf("%-12s %s %s%s%s\n", word, t->id, t->title, ti->why ? ": " : "", ti->why ? ti->why : "");
	}
	if (engine_needs_approval(&e)) {
		size_t nc = 0;

		for (i = 0; i < e.p->ntasks; i++)
			nc += e.p->tasks[i].ncheck;
		if (nc)
			printf("unapproved  %zu check command%s from the generated plan are not run until you review them "
			       "and run mpbuild approve\n", nc, nc == 1 ? "" : "s");
	}
	orphan_say(e.p, e.recs, e.nrec, root, stdout);
	free(order);
	engine_close(&e);
	return 0;
}

/* the engine of a command that changes records: the project lock first
 * (*lockfd, -1 when it could not be taken: then the engine is empty) */
static int engine_open_locked(struct engine *e, const char *root, int *lockfd)
{
	*lockfd = engine_take_lock(root);
	if (*lockfd < 0) {
		memset(e, 0, sizeof(*e));
		return EXIT_BADINPUT;
	}
	return engine_open(e, root, NULL, 1);
}

static void engine_close_locked(struct engine *e, int lockfd)
{
	engine_close(e);
	if (lockfd >= 0)
		close(lockfd);
}

/* the engine of a verb that changes records, or under -n (dry) one that
 * only reads: no lock, state.db opened for reading (*lockfd -1) */
static int engine_open_verb(struct engine *e, const char *root, int dry, int *lockfd)
{
	*lockfd = -1;
	return dry ? engine_open(e, root, NULL, 0) : engine_open_locked(e, root, lockfd);
}

int build_approve(const char *root, int dry)
{
	struct engine e;
	int lockfd, rc = engine_open_verb(&e, root, dry, &lockfd);

	if (rc == 0 && dry) {
		printf("mpbuild: would approve the check commands of the plan (%s)%s\n", e.check_hash,
		       e.approved && strcmp(e.approved, e.check_hash) == 0 ? "; they are approved already" : "");
	} else if (rc == 0) {
		free(e.approved);
		e.approved = xstrdup(e.check_hash);
		state_meta_set(e.st, "approved_checks", e.approved);
		engine_write_lock(&e);
		printf("mpbuild: approved the check commands of the plan (%s)\n", e.approved);
	}
	engine_close_locked(&e, lockfd);
	return rc;
}

int build_explain(const char *root, const char *target)
{
	static const char *const lnames[] = {"layer 1: mpbuild's instructions for tasks (rules/phases/task.md)",
					     "layer 2: the project (domain, summary, stack, glossary)",
					     "layer 3: its rule (instructions and examples)",
					     "layer 4: its task entry or the bounded contexts it uses"};
	struct engine e;
	struct task **order, *t;
	size_t cnt, i, j;
	char *names[1];
	int rc = engine_open(&e, root, NULL, 0), any = 0;
	struct record *rec;

	names[0] = (char *)target;
	if (rc || !(order = engine_select(&e, names, 1, &cnt))) {
		engine_close(&e);
		return rc ? rc : EXIT_BADINPUT;
	}
	t = plan_task(e.p, target);
	if (!t) {
		error("explain takes a task id, not '%s'", target);
		free(order);
		engine_close(&e);
		return EXIT_BADINPUT;
	}
	for (i = 0; i < cnt; i++)
		engine_eval(&e, order[i]);
	rec = htab_get(&e.rec_by, t->id);
	if (rec && !rec->manifest && rec->has_manifest && e.st)
		rec->manifest = state_manifest(e.st, t->id);
	{
		struct tinfo *ti = &e.ti[t->index];

		printf("%s %s: %s%s%s%s\n", t->id, t->title, state_names[ti->s], ti->why ? " (" : "", ti->why ? ti->why : "",
		       ti->why ? ")" : "");
		if (!rec) {
			printf("  it has no build record: it was never built here (or the lock has no entry for it)\n");
		} else if (ti->s == S_WAIT) {
			printf("  its key depends on dependencies that are not up to date yet\n");
		} else if (ti->manifest && rec->manifest) {
			json_t *a = json_loads(rec->manifest, 0, NULL), *b = json_loads(ti->manifest, 0, NULL);

			for (j = 0; j < LEN(manifest_names); j++) {
				json_t *x = json_object_get(a, manifest_names[j][0]), *y = json_object_get(b, manifest_names[j][0]);

				if (!json_equal(x, y)) {
					char *sx = json_dumps(x, JSON_ENCODE_ANY | JSON_COMPACT), *sy = json_dumps(y, JSON_ENCODE_ANY | JSON_COMPACT);

					printf("  changed: %s (%s -> %s)\n", manifest_names[j][1], sx ? sx : "none", sy ? sy : "none");
					free(sx);
					free(sy);
					any = 1;
				}
			}
			for (j = 0; j < 4; j++) {
				if (!json_equal(json_array_get(json_object_get(a, "layers"), j),
						json_array_get(json_object_get(b, "layers"), j))) {
					printf("  changed: %s\n", lnames[j]);
					any = 1;
				}
			}
			{
				json_t *da = json_object_get(a, "deps"), *db = json_object_get(b, "deps"), *x, *y;
				size_t k;

				json_array_foreach(db, j, y) {
					const char *who = json_string_value(json_array_get(y, 0));
					const char *path = json_string_value(json_array_get(y, 1));
					int found = 0, reads = who && strcmp(who, "reads") == 0;

					json_array_foreach(da, k, x) {
						if (strcmp(json_string_value(json_array_get(x, 0)), who) != 0 ||
						    strcmp(json_string_value(json_array_get(x, 1)), path) != 0)
							continue;
						found = 1;
						if (json_equal(x, y))
							continue;
						if (reads)
							printf("  changed: %s, which it reads in full\n", path);
						else if (strcmp(path, "interfaces") == 0)
							printf("  changed: the interfaces of %s (or of a task it depends on)\n", who);
						else
							printf("  changed: %s, an output of %s\n", path, who);
						any = 1;
					}
					if (!found) {
						if (reads)
							printf("  new file read in full: %s\n", path);
						else
							printf("  new dependency: %s\n", who);
						any = 1;
					}
				}
				if (json_array_size(da) > json_array_size(db)) {
					printf("  a dependency was removed\n");
					any = 1;
				}
			}
			json_decref(a);
			json_decref(b);
			for (j = 0; j < t->noutputs; j++) {
				const char *h = fscache_hash(&e.fc, t->outputs[j]), *rh = record_hash(rec, t->outputs[j]);

				if (!h) {
					printf("  missing output: %s\n", t->outputs[j]);
					any = 1;
				} else if (!rh || strcmp(h, rh) != 0) {
					printf("  edited output: %s\n", t->outputs[j]);
					any = 1;
				}
			}
			if (!any)
				printf("  nothing changed since its last build\n");
		} else if (strcmp(rec->key, ti->key) != 0) {
			printf("  its key changed, but the lock alone does not say which input (build once here to record it)\n");
		}
	}
	free(order);
	engine_close(&e);
	return 0;
}

int build_clean(const char *root, char **targets, size_t n, int dry)
{
	struct engine e;
	struct task **order;
	struct buffer why = {0};
	size_t cnt, i, j, removed = 0;
	int rc = engine_open(&e, root, NULL, 0);

	if (rc || !(order = engine_select(&e, targets, n, &cnt))) {
		engine_close(&e);
		return rc ? rc : EXIT_BADINPUT;
	}
	for (i = 0; i < cnt; i++) {
		struct task *t = order[i];
		const struct record *rec = htab_get(&e.rec_by, t->id);

		if (!engine_named(e.p, t, targets, n))
			continue;
		for (j = 0; j < t->noutputs; j++) {
			const char *h = fscache_hash(&e.fc, t->outputs[j]), *rh = record_hash(rec, t->outputs[j]);
			char *path;

			if (!h)
				continue;
			if (!rh || strcmp(h, rh) != 0) {
				printf("%s %s (%s)\n", dry ? "would keep" : "kept", t->outputs[j],
				       rh ? "edited by hand" : "not generated by mpbuild");
				continue;
			}
			/* a committed lock may name a file a link puts outside the project */
			if (!confine_check(root, t->outputs[j], &why)) {
				printf("%s %s (%s)\n", dry ? "would keep" : "kept", t->outputs[j], buf_str(&why));
				buf_reset(&why);
				continue;
			}
			if (dry) {
				printf("would remove %s\n", t->outputs[j]);
				removed++;
				continue;
			}
			path = path_join(root, t->outputs[j]);
			if (unlink(path) == 0)
				removed++;
			else
				warn("cannot remove %s:", path);
			free(path);
		}
	}
	printf("mpbuild: %s %zu file%s\n", dry ? "would remove" : "removed", removed, removed == 1 ? "" : "s");
	free(order);
	buf_free(&why);
	engine_close(&e);
	return 0;
}

int build_clean_orphans(const char *root, int dry)
{
	struct engine e;
	int lockfd, rc = engine_open_verb(&e, root, dry, &lockfd);

	if (rc == 0) {
		rc = orphan_clean(e.st, &e.fc, e.p, e.recs, e.nrec, dry);
		if (!dry)
			fscache_flush(&e.fc);
	}
	engine_close_locked(&e, lockfd);
	return rc;
}

int build_mark(const char *root, char **targets, size_t n, int touch, int dry)
{
	struct engine e;
	struct task **order;
	size_t cnt, i, j;
	int rc, lockfd, marked = 0;

	if (n == 0)
		return error("%s needs at least one target", touch ? "touch" : "accept"), EXIT_BADINPUT;
	rc = engine_open_verb(&e, root, dry, &lockfd);
	if (rc || !(order = engine_select(&e, targets, n, &cnt))) {
		engine_close_locked(&e, lockfd);
		return rc ? rc : EXIT_BADINPUT;
	}
	for (i = 0; i < cnt; i++) {
		struct task *t = order[i];
		struct tinfo *ti = &e.ti[t->index];
		struct record r = {0};

		engine_eval(&e, t);
		if (!engine_named(e.p, t, targets, n))
			continue;
		if (ti->s == S_UPTODATE || ti->s == S_SKIPPED || ti->s == S_WAIT) {
			if (ti->s != S_UPTODATE)
				warn("%s: not marked (%s)", t->id, ti->why);
			continue;
		}
		r.target = xstrdup(t->id);
		memcpy(r.key, ti->key, HASH_HEX);
		r.model = xstrdup(ti->mc.model ? ti->mc.model : "");
		{
			const struct record *old = htab_get(&e.rec_by, t->id);

			r.generated = touch ? (old ? old->generated : 0) : 0;
		}
		r.manifest = xstrdup(ti->manifest);
		r.n = t->noutputs;
		r.paths = xcalloc(r.n + 1, sizeof(*r.paths));
		r.hashes = xcalloc(r.n + 1, sizeof(*r.hashes));
		for (j = 0; j < r.n; j++) {
			const char *h = fscache_hash(&e.fc, t->outputs[j]);

			r.paths[j] = xstrdup(t->outputs[j]);
			if (!h)
				break;
			memcpy(r.hashes[j], h, HASH_HEX);
		}
		if (j < r.n) {
			warn("%s: not marked: %s does not exist", t->id, t->outputs[j]);
		} else if (dry) {
			printf("would %s %s\n", touch ? "touch" : "accept", t->id);
		} else if (state_land_commit(e.st, &r) == 0) {
			printf("%s %s\n", touch ? "touched" : "accepted", t->id);
			engine_forget(&e, t);
			marked++;
		}
		record_clear(&r);
	}
	if (!dry)
		fscache_flush(&e.fc);
	e.dirty = marked > 0;
	if (marked)
		engine_write_lock(&e);
	free(order);
	engine_close_locked(&e, lockfd);
	return 0;
}

/* ---- -n ---- */

/* warn when the prompt of t (req, rendered for its model) may pass the
 * model's price band: bytes/3, since code and prose run denser than
 * bytes/4, and a band is worth a warning early */
static void band_warning(struct engine *e, const struct task *t, const struct request *req)
{
	const char *model = e->ti[t->index].mc.model;
	const struct model_info *m = model_lookup(&e->p->settings, model);
	double tokens = 0;
	int i;

	for (i = 0; i < 4; i++)
		tokens += (double)req->layer_len[i] / 3;
	if (m->band_tokens > 0 && tokens > (double)m->band_tokens)
		warn("%s: its prompt may pass %ld tokens (about %.0f), where %s charges its higher band "
		     "($%.2f/$%.2f per million for every token of the call); splitting the task, or fewer "
		     "dependencies and reads:, keep it under", t->id, m->band_tokens, tokens, model, m->band_input,
		     m->band_output);
}

static void estimate(struct engine *e, struct task *t, double *lo, double *hi)
{
	struct tinfo *ti = &e->ti[t->index];
	struct request req = {0};
	const struct model_info *m = model_lookup(&e->p->settings, ti->mc.model);
	double shared = 0;
	size_t k, l4 = 0;
	int i;

	*lo = *hi = 0;
	req.format = ti->fmt;
	if (!m->priced || engine_request(e, t, &req) < 0) {
		*lo = *hi = -1;
		return;
	}
	for (i = 0; i < 3; i++)
		shared += (double)req.layer_len[i] / 4;
	/* at best the interfaces up to layer 4's deepest breakpoint are read too */
	for (k = 0; k < req.layer4_nmarks; k++)
		if (req.layer4_marks[k] > l4)
			l4 = req.layer4_marks[k];
	model_estimate(m, shared + (double)l4 / 4, (double)(req.layer_len[3] - l4) / 4, e->p->settings.max_tokens,
		       lo, hi);
	band_warning(e, t, &req);
}

int engine_dry_run(struct engine *e, struct task **order, size_t n)
{
	double lo = 0, hi = 0;
	size_t i, calls = 0, maybe = 0;
	int unknown = 0;

	for (i = 0; i < n; i++) {
		struct task *t = order[i];
		struct tinfo *ti = &e->ti[t->index];
		double a = 0, b = 0;
		char sa[32], sb[32];

		engine_eval(e, t);
		if (ti->s == S_PENDING) {
			estimate(e, t, &a, &b);
			if (a < 0)
				unknown = 1;
			else
				lo += a, hi += b;
			calls++;
		} else if (ti->s == S_WAIT) {
			/* its key depends on outputs not yet made: priced as if it will be called */
			maybe++;
		}
		if (e->o->json) {
			struct request req = {0};
			int have = 0;

			if (ti->s == S_PENDING) {
				req.key = ti->key;
				req.attempt = 1;
				req.model = ti->mc.model;
				req.effort = ti->mc.effort;
				req.max_tokens = e->p->settings.max_tokens;
				req.format = ti->fmt;
				have = engine_request(e, t, &req) == 0;
			}
			progress_dry_json(t->id, state_names[ti->s], ti->s == S_WAIT || ti->s == S_SKIPPED ? NULL : ti->key,
					  ti->mc.model, ti->why, have ? &req : NULL, ti->s == S_PENDING, a, b);
			continue;
		}
		if (ti->s == S_PENDING) {
			progress_money(sa, sizeof(sa), a);
			progress_money(sb, sizeof(sb), b);
			printf("would call %s %s (%s, %s): %s to %s\n", t->id, t->title, ti->mc.model, ti->why, sa, sb);
		} else if (ti->s == S_WAIT) {
			printf("may call  %s %s (%s; only if that changes its outputs)\n", t->id, t->title, ti->why);
		} else if (ti->s != S_UPTODATE || e->o->verbose) {
			printf("%-9s %s %s%s%s\n", state_names[ti->s], t->id, t->title, ti->why ? ": " : "", ti->why ? ti->why : "");
		}
	}
	if (!e->o->json) {
		char sa[32], sb[32];

		progress_money(sa, sizeof(sa), lo);
		progress_money(sb, sizeof(sb), hi);
		if (calls + maybe == 0)
			printf("mpbuild: nothing to do (%zu targets up to date or kept)\n", n);
		else
			printf("mpbuild: %zu call%s now, up to %zu with the dependents they may change; estimated %s to %s%s\n",
			       calls, calls == 1 ? "" : "s", calls + maybe, sa, sb,
			       unknown ? " (some models have no known price)" : "");
	}
	return 0;
}

/* ---- check ---- */

/* with a budget, every model that may be called needs a price (SPEC 10.12) */
static int check_prices(const struct plan *p)
{
	const char *models[6] = {p->settings.low.model, p->settings.medium.model, p->settings.high.model,
				 p->settings.escalate.model, NULL, NULL};
	size_t i;

	if (p->settings.budget_usd < 0)
		return 0;
	for (i = 0; i < p->ntasks + LEN(models); i++) {
		const char *m = i < LEN(models) ? models[i] : plan_task_model(p, &p->tasks[i - LEN(models)]).model;

		if (m && !model_lookup(&p->settings, m)->priced)
			return error("mpbuild.yaml: model %s has no known price and a budget is set; add it under "
				     "prices: (prices: {%s: {input: ..., output: ...}})", m, m);
	}
	return 0;
}

/* the tasks a build would call now (their dependencies' outputs are there,
 * so their prompts can be rendered), each warned about as -n does when its
 * prompt may pass its model's price band */
static void check_bands(struct engine *e)
{
	struct task **order;
	size_t n, i;

	if (!(order = engine_select(e, NULL, 0, &n)))
		return;
	for (i = 0; i < n; i++) {
		struct tinfo *ti = &e->ti[order[i]->index];
		struct request req = {0};

		engine_eval(e, order[i]);
		req.format = ti->fmt;
		if (ti->s == S_PENDING && model_lookup(&e->p->settings, ti->mc.model)->band_tokens > 0 &&
		    engine_request(e, order[i], &req) == 0)
			band_warning(e, order[i], &req);
	}
	free(order);
}

int build_check(const char *root)
{
	char *mp = path_join(root, "plans/masterplan.yaml");
	struct engine e = {0};
	struct plan *p;
	int rc = 0, engine = path_exists(mp);

	free(mp);
	/* with a masterplan, the plan is the one the engine loads (its
	 * warnings printed once); without one, no task can be called yet */
	if (engine && (rc = engine_open(&e, root, NULL, 0)) != 0) {
		engine_close(&e);
		return rc;
	}
	p = engine ? e.p : plan_load(root);
	if (!p)
		return EXIT_BADINPUT;
	if (check_prices(p) < 0) {
		rc = EXIT_BADINPUT;
	} else {
		if (engine)
			check_bands(&e);
		printf("mpbuild: the plan is valid: %zu tasks, %zu milestones, %zu phases, %zu rules%s\n", p->ntasks,
		       p->nmilestones, p->nphases, p->nrules, p->warnings ? " (see the warnings above)" : "");
	}
	if (engine)
		engine_close(&e);
	else
		plan_free(p);
	return rc;
}
