/* discover.h: the pipeline targets before the tasks (SPEC 2): questions,
 * answers, discovery and masterplan, each a plan file under plans/ made by one
 * model call (answers: by asking a person) and written as deterministic YAML. */
#ifndef MPBUILD_DISCOVER_H
#define MPBUILD_DISCOVER_H

/* the pipeline targets as bits */
enum {
	DISCOVER_QUESTIONS = 1,
	DISCOVER_ANSWERS = 2,
	DISCOVER_DISCOVERY = 4,
	DISCOVER_MASTERPLAN = 8,
};

struct discover_opts {
	const char *provider;   /* --provider, or NULL for the settings' */
	const char *replay;     /* --replay CASSETTE, or NULL */
	int defaults;           /* --defaults: unanswered questions take their default */
	int force;              /* -B: regenerate the named targets, saving a kept file as FILE.orig.N */
	unsigned which;         /* DISCOVER_* bits named on the command line; 0: whatever is missing */
	int quiet;              /* -q: no "questions: built" lines */
	int build_follows;      /* tasks are built afterwards (and their summary lists orphans) */
	int json;               /* with discover_dry_run: one JSON object per target */
	int verbose;            /* -v: with discover_dry_run, list up-to-date targets too; show the example plans query */
	double budget;          /* --budget in USD, < 0: the settings' budget_usd (SPEC 5 "Budget") */
	double *charged;        /* discover_run: set to what its calls charged against the budget; may be NULL */
	const char *progress;   /* --progress: auto | plain | json (NULL: auto) */
};

/* the DISCOVER_* bit of a pipeline target name, or 0 for any other target */
unsigned discover_target(const char *name);
/* 1 when root has plans/request.md and no plans/masterplan.yaml, so a build
 * must run the pipeline before any task can build */
int discover_needed(const char *root);
/* build the pipeline targets o->which names, and first the stages before them
 * whose file is missing or stale (mpbuild wrote it and its inputs changed; a
 * person's file is kept and reported), or with which 0 every missing one up to
 * plans/masterplan.yaml; records each generated file in cache/state.db and
 * mpbuild.lock.  A file made again is re-planned: the request carries the
 * previous file and diffs of its inputs (outside the key), and after a new
 * masterplan renamed tasks inherit their records.  The caller holds the build
 * lock (build_lock).  Returns an exit code:
 * 0, 1 (a call failed or its answer never made a valid plan), 2 (bad input,
 * questions without answers, a kept file), 3 (the next call could pass the
 * budget: not sent), 4 (provider unusable).
 * Testing knobs: MPBUILD_PRINT_KEYS=1 prints "TARGET KEY REQUEST-JSON" on
 * stderr before each call (for making cassettes); MPBUILD_YAML_REWRITE=FILE
 * only rewrites FILE through the YAML writer and returns */
int discover_run(const char *root, const struct discover_opts *o);
/* -n: list what discover_run would do for o (calls with their model and
 * estimated cost, questions to ask, kept files) without doing it; with
 * o->json one JSON object per pipeline target, as `mpbuild -n --json` prints
 * tasks.  Only when the pipeline would run, or names a stale plan file the
 * build will not regenerate.  Returns an exit code (0 or 2) */
int discover_dry_run(const char *root, const struct discover_opts *o);

#endif
