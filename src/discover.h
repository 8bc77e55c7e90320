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
	int defaults;           /* --defaults: unanswered questions take their default */
	int force;              /* -B: regenerate the named targets, saving a kept file as FILE.orig.N */
	unsigned which;         /* DISCOVER_* bits named on the command line; 0: whatever is missing */
	int quiet;              /* -q: no "questions: built" lines */
	int build_follows;      /* tasks are built afterwards (and their summary lists orphans) */
	int json;               /* with discover_dry_run: one JSON object per target */
	int verbose;            /* -v: with discover_dry_run, list up-to-date targets too; show the example plans query */
};

/* the DISCOVER_* bit of a pipeline target name, or 0 for any other target */
unsigned discover_target(const char *name);
/* 1 when root has plans/request.md and no plans/masterplan.yaml, so a build
 * must run the pipeline before any task can build */
int discover_needed(const char *root);
/* the stages run as targets of the engine: build_run with build_opts'
 * stages (pipeline.c).  Testing knob: MPBUILD_YAML_REWRITE=FILE makes
 * `mpbuild` only rewrite FILE through the YAML writer; an exit code */
int discover_rewrite(const char *file);
/* -n: list what the pipeline's stages would do for o (calls with their model and
 * estimated cost, questions to ask, kept files) without doing it; with
 * o->json one JSON object per pipeline target, as `mpbuild -n --json` prints
 * tasks.  Only when the pipeline would run, or names a stale plan file the
 * build will not regenerate.  Returns an exit code (0 or 2) */
int discover_dry_run(const char *root, const struct discover_opts *o);

#endif
