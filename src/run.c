/* run.c: one build, from start to end: the build lock, the landings a crash
 * left, the pipeline's stages when they are missing or named, then the
 * tasks, each phase scheduled by build.c; then the lock, the summary, the
 * run's record in the ledger and the exit code (SPEC 7). */
#include "run.h"
#include "land.h"
#include "orphan.h"
#include "pipeline.h"
#include "build.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* what the run did, as the last lines (or the run_finished event) */
static void summary(struct engine *e, double secs)
{
	long in_side = e->total.input + e->total.cache_write_5m + e->total.cache_write_1h + e->total.cache_read;
	int *c = e->count;
	char json[512];

	snprintf(json, sizeof(json),
		 "{\"built\":%d,\"restored\":%d,\"up_to_date\":%d,\"failed\":%d,\"skipped\":%d,\"kept\":%d,"
		 "\"input_tokens\":%ld,\"cache_write_tokens\":%ld,\"cache_read_tokens\":%ld,\"output_tokens\":%ld,"
		 "\"cost\":%.6f,\"seconds\":%.3f}",
		 c[S_BUILT], c[S_RESTORED], c[S_UPTODATE], c[S_FAILED], c[S_SKIPPED], c[S_KEPT], e->total.input,
		 e->total.cache_write_5m + e->total.cache_write_1h, e->total.cache_read, e->total.output, e->cost, secs);
	progress_end(&e->pr, json);
	if (e->pr.mode == PROGRESS_JSON || e->o->quiet)
		return;
	if (c[S_BUILT] + c[S_RESTORED] + c[S_FAILED] + c[S_SKIPPED] + c[S_KEPT] == 0 && !sched_interrupted()) {
		printf("mpbuild: everything is up to date (%d target%s, %.2fs)\n", c[S_UPTODATE],
		       c[S_UPTODATE] == 1 ? "" : "s", secs);
		return;
	}
	if (e->first_ok + e->retry_ok + c[S_FAILED])
		printf("mpbuild: success: %d at the first attempt, %d after a retry, %d failed\n", e->first_ok,
		       e->retry_ok, c[S_FAILED]);
	printf("mpbuild: %d built, %d restored, %d up to date, %d failed, %d skipped, %d kept; "
	       "tokens: %ld input, %ld cache write, %ld cache read, %ld output; $%.2f%s; cache read share %.0f%%; %.2fs\n",
	       c[S_BUILT], c[S_RESTORED], c[S_UPTODATE], c[S_FAILED], c[S_SKIPPED], c[S_KEPT], e->total.input,
	       e->total.cache_write_5m + e->total.cache_write_1h, e->total.cache_read, e->total.output, e->cost,
	       e->unknown_cost ? " (plus calls of unknown price)" : "",
	       in_side ? 100.0 * (double)e->total.cache_read / (double)in_side : 0.0, secs);
	if (c[S_RESTORED])
		printf("mpbuild: %d restored from the cache with no call, saving $%.2f\n", c[S_RESTORED], e->saved);
}

/* -B rule:NAME: pick the rule's examples again (SPEC 10.2) */
static int repick(struct engine *e)
{
	struct repick env = {
		.p = e->p, .st = e->st, .fc = &e->fc, .recs = e->recs, .nrec = e->nrec, .rec_by = &e->rec_by,
		.pc = e->pc, .rb = &e->rb, .remote = e->o->remote_cache ? e->o->remote_cache : e->p->settings.remote_cache,
		.dry = e->o->dry_run, .verbose = e->o->verbose, .out = e->o->json ? stderr : stdout,
	};

	return rulebook_repick(&env, e->o->targets, e->o->ntargets);
}

/* the pipeline's stages that are missing, or named (and stale before them):
 * scheduled as the tasks are; then the plan they wrote is loaded.  An exit
 * code (0: the tasks may follow) */
static int run_pipeline(struct engine *e)
{
	struct task **order;
	size_t n;
	int code, rc;

	if (!e->o->stages && !discover_needed(e->root))
		return 0;
	order = pipeline_open(e, &n);
	e->pr.total = (int)n;
	code = sched_run(e, order, n);
	pipeline_close(e);
	/* a plan file landed: the tasks (and the lock) go by the new plan */
	if (e->count[S_BUILT] && (rc = engine_reload(e)) && !code)
		code = rc;
	if (!code && (e->count[S_FAILED] || e->count[S_SKIPPED] || sched_halted(e)))
		code = -1;      /* the exit code of what stopped it, after the summary */
	return code;
}

/* set up a run that makes calls: progress, budget, the ledger's run, signals, threads */
static int run_begin(struct engine *e)
{
	struct build_opts *o = e->o;
	if (progress_init(&e->pr, o->progress, o->quiet, o->verbose) < 0)
		return error("--progress must be auto, plain or json"), EXIT_BADINPUT;
	e->budget = o->budget >= 0 ? o->budget : e->p->settings.budget_usd;
	e->run = state_run_start(e->st, "build");
	sched_catch_signals();
	e->jobs = o->jobs > 0 ? o->jobs : e->p->settings.jobs;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	pthread_mutex_lock(&e->mu);
	return 0;
}

/* the tasks named (none: all): evaluated, restored or called.  An exit
 * code, -1 to go on to the summary */
static int run_tasks(struct engine *e)
{
	struct build_opts *o = e->o;
	struct task **order;
	size_t n;
	int code;

	if (!e->p->have_masterplan)
		return -1;      /* only pipeline targets were named */
	order = engine_select(e, o->targets, o->ntargets, &n);
	if (!order || (o->force && repick(e) < 0)) {
		free(order);
		return EXIT_BADINPUT;
	}
	if (!o->quiet)
		rulebook_report(&e->rb, e->p, e->pc, &e->rec_by, e->st, o->json ? stderr : stdout);
	if (o->dry_run) {
		code = engine_dry_run(e, order, n);
		free(order);
		return code;
	}
	e->pr.total = e->pr.done + (int)n;
	code = sched_run(e, order, n);
	if (!code)
		fscache_flush(&e->fc);
	free(order);
	return code ? code : -1;
}

/* after the calls: the lock, the summary, the run's record and the exit code */
static int run_end(struct engine *e, double t0)
{
	engine_write_lock(e);
	summary(e, now() - t0);
	if (!e->o->quiet && e->pr.mode != PROGRESS_JSON && e->p->have_masterplan)
		orphan_say(e->p, e->recs, e->nrec, e->root, stdout);
	state_run_finish(e->st, e->run, e->count[S_BUILT], e->count[S_RESTORED], e->count[S_UPTODATE],
			 e->count[S_FAILED], e->count[S_SKIPPED], now() - t0);
	if (sched_interrupted())
		error("interrupted; %d target%s not started", e->pr.total - e->pr.done,
		      e->pr.total - e->pr.done == 1 ? "" : "s");
	if (e->budget_hit)
		error("budget of $%.4f reached: spent $%.4f; nothing more was started", e->budget, e->cost);
	return sched_interrupted() ? EXIT_INTERRUPT : e->bad_input ? EXIT_BADINPUT : e->auth_failed ? EXIT_PROVIDER
	       : e->budget_hit ? EXIT_BUDGET : e->count[S_FAILED] ? EXIT_FAILED : EXIT_OK;
}

int build_run(const char *root, struct build_opts *o)
{
	struct engine e;
	double t0 = now();
	int rc, lockfd = -1, recovered = 0;

	if (!o->dry_run && (lockfd = engine_take_lock(root)) < 0)
		return EXIT_BADINPUT;
	if (!o->dry_run) {
		char *cache = path_join(root, "cache");
		struct state *st = state_open(cache, 0);

		free(cache);
		/* finish interrupted landings before anything looks for hand edits */
		if (st) {
			recovered = land_recover(st, root);
			/* and a record a killed run committed goes into the lock */
			recovered += state_run_unfinished(st);
			state_close(st);
		}
	}
	rc = engine_open(&e, root, o, !o->dry_run);
	e.dirty |= recovered > 0 || o->force;
	if (rc || o->dry_run) {
		if (!rc)
			rc = run_tasks(&e);
		engine_close(&e);
		if (lockfd >= 0)
			close(lockfd);
		return rc < 0 ? 0 : rc;
	}
	if ((rc = run_begin(&e))) {
		engine_close(&e);
		if (lockfd >= 0)
			close(lockfd);
		return rc;
	}
	rc = run_pipeline(&e);
	if (!rc && (o->ntargets || !o->stages))
		rc = run_tasks(&e);
	if (rc > 0) {
		/* a provider that cannot be opened, a bad selection, or a new plan
		 * that does not load: no summary */
		if (e.p)
			engine_write_lock(&e);
		state_run_finish(e.st, e.run, e.count[S_BUILT], e.count[S_RESTORED], e.count[S_UPTODATE],
				 e.count[S_FAILED], e.count[S_SKIPPED], now() - t0);
	} else {
		rc = run_end(&e, t0);
	}
	pthread_mutex_unlock(&e.mu);
	pthread_cond_destroy(&e.cv);
	pthread_mutex_destroy(&e.mu);
	sched_free(&e);
	engine_close(&e);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}
