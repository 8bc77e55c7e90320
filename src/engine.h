/* engine.h: what one invocation knows about the targets of a plan: the
 * plan, the records of what was built, each target's key and state, and the
 * shared counters of a build.  engine.c opens it and evaluates tasks (up to
 * date, stale, kept, failed); pipeline.c evaluates the pipeline's stages as
 * targets of the same engine; build.c schedules the calls and run.c drives a
 * build; verbs.c answers status, explain, clean, accept, touch, approve and
 * -n from the same evaluation.  Internal to those files. */
#ifndef MPBUILD_ENGINE_H
#define MPBUILD_ENGINE_H

#include <pthread.h>

#include "hash.h"
#include "iface.h"
#include "key.h"
#include "models.h"
#include "plan.h"
#include "progress.h"
#include "prompt.h"
#include "provider.h"
#include "retrieve.h"
#include "rulebook.h"
#include "state.h"

struct layout;

/* what the command line asks of a build or a verb */
struct build_opts {
	char **targets;         /* named targets (none: all) */
	size_t ntargets;
	int dry_run;            /* -n */
	int json;               /* --json with -n: one JSON object per target on stdout */
	int force;              /* -B: regenerate the named targets */
	int stop;               /* --stop: stop at the first failure */
	int quiet, verbose;
	int no_cache;           /* --no-cache */
	const char *provider;   /* --provider */
	const char *replay;     /* --replay CASSETTE */
	const char *record;     /* --record CASSETTE */
	const char *remote_cache; /* --remote-cache URL */
	const char *progress;   /* auto | plain | json */
	double budget;          /* --budget; < 0 when not given */
	int jobs;               /* -j; 0 when not given */
	int pipeline;           /* the build verb: the pipeline may run first, so no masterplan yet is no error */
	unsigned stages;        /* pipeline targets named (DISCOVER_* bits); 0: those missing, if any */
	int defaults;           /* --defaults: unanswered questions take their default */
};

enum tstate { S_PENDING, S_WAIT, S_UPTODATE, S_BUILT, S_RESTORED, S_FAILED, S_SKIPPED, S_KEPT };

/* the word for each tstate, as status and progress print it */
extern const char *const state_names[];

/* one task's evaluation; written by the main thread only */
struct tinfo {
	enum tstate s;
	char key[HASH_HEX];
	char *manifest;         /* owned */
	char *why;              /* owned: why stale, failed, skipped or kept */
	struct model_choice mc;
	enum answer_format fmt;
	int forced;
	int edited;             /* kept because a person edited an output */
	char **seen;            /* owned: per output, its hash when evaluated ("" for no file): landing
				 * checks the tree still holds these, so an edit made meanwhile wins */
	char iclosure[HASH_HEX]; /* its outputs' interfaces and its dependencies' closures ("": not yet) */
	char cclosure[HASH_HEX]; /* the same over contents: what its dependents' checks ran against */
	int recheck;            /* up to date, but a dependency's content changed: run its checks again */
	char *feedback;         /* owned: why a re-check failed, for its call */
};

/* The engine of one invocation.  Threads: calls run on worker threads (-j);
 * the main thread holds mu except while it waits on cv (or runs a validator
 * or check command with it released), and a worker takes mu to report a try
 * (build.c on_try) or its end.  So every field is read and written by the
 * main thread; those marked [mu] are also written by workers, under mu.  A
 * worker reads p, o, pv and run, which do not change while it runs.  The
 * SQLite handle st (opened without a mutex of its own) is used under mu
 * only, by whichever thread holds it. */
struct engine {
	struct plan *p;
	const char *root;
	struct state *st;       /* [mu] NULL on a dry run without a state file */
	struct fscache fc;
	struct prompt_ctx *pc;
	struct record *recs;
	size_t nrec;
	struct htab rec_by;     /* target -> struct record* */
	struct htab gone_out;   /* path -> hash, the files generated records of gone targets name */
	struct htab failures;   /* target -> struct failure* */
	struct tinfo *ti;       /* per task */
	const char *family;
	long run;
	struct provider *pv;    /* thread-safe: workers call it at once */
	struct store *store;    /* NULL with --no-cache or on a dry run */
	int store_tried;        /* store_open was called (it reports its own failure once) */
	double saved;           /* USD that restores saved this run */
	struct progress pr;     /* [mu] */
	struct build_opts *o;
	struct usage total;     /* [mu] */
	double cost;            /* [mu] */
	int unknown_cost;       /* [mu] */
	int count[8];
	int first_ok, retry_ok;  /* landed at the first attempt / after a retry */
	int plan_generated;     /* masterplan.yaml came from a model: its checks need approval */
	char *check_hash;       /* hash of the plan's check set */
	struct htab warned;     /* validator programs reported missing */
	int auth_failed;
	int budget_hit;         /* [mu] the next call would pass the budget: start nothing new */
	int bad_input;          /* a setting makes the run impossible (exit 2) */
	double budget;          /* USD, < 0: none */
	double ttl_remaining;   /* calls the rest of the run may make, for cache_ttl auto */
	int jobs;               /* calls at once (-j, jobs:) */
	char *approved;         /* approved check set from the lock */
	int dirty;              /* records changed since mpbuild.lock was written */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	double reserved;        /* [mu] budget reservations of the tries in flight */
	double charged;         /* [mu] what counts against the budget: costs, plus what dropped tries keep reserved */
	struct htab prefixes;   /* [mu] id -> struct prefix* */
	struct prefix *plist;   /* [mu] every prefix, for freeing */
	struct rulebook rb;     /* rule versions and pinned examples (SPEC 10.2, 10.3) */
	int writable;           /* the state file may be written */
	struct sched *sc;       /* the run's scheduler while schedule runs, else NULL */
	struct iface iface;     /* the interfaces of outputs (iface.c), opened when first needed */
	struct layout *layout;  /* the order of layer 4 and its breakpoints, opened when a request first needs it */
	int iface_open;
	struct pipeline *pl;    /* the pipeline's stage targets while they run (pipeline.c), else NULL */
	struct plan *old_plan;  /* the plan before the pipeline wrote a new one: the provider keeps its settings */
};

/* open the engine for root: plan, state (read-only unless writable),
 * records, rules; an exit code (0 on success; engine_close either way) */
int engine_open(struct engine *e, const char *root, struct build_opts *o, int writable);
/* free what engine_open made */
void engine_close(struct engine *e);
/* load the plan again (the pipeline wrote it; pipeline_close first), with
 * the records and rules that go with it; the state, provider, progress and
 * counters stay.  An exit code */
int engine_reload(struct engine *e);
/* take cache/lock (one build per project), waiting up to 5 s; fd or -1 */
int engine_take_lock(const char *root);
/* the selected tasks (names; none: all) in build order; NULL after an error */
struct task **engine_select(struct engine *e, char **names, size_t n, size_t *count);
/* 1 when t's dependencies are finished and usable; else t waits or is skipped (ti says why) */
int engine_deps_ready(struct engine *e, struct task *t);
/* evaluate task t (its dependencies evaluated first): key, state and why */
void engine_eval(struct engine *e, struct task *t);
/* the hash over t's outputs' interfaces (content: their contents) and the
 * same closures of its dependencies, computed once; NULL when an output is missing */
const char *engine_closure(struct engine *e, const struct task *t, int content);
/* fill req for t (prompt_task_request with the interfaces of its
 * dependencies, direct or not, in the canonical order of layout_deps, and
 * layer 4's breakpoints from layout_marks); -1 after a message.  The layers
 * stay valid until the next request */
int engine_request(struct engine *e, const struct task *t, struct request *req);
/* t's checks passed against what its dependencies hold now: remember it */
void engine_checked(struct engine *e, const struct task *t);
/* t's outputs changed (it landed): its closures are computed again */
void engine_forget(struct engine *e, const struct task *t);
/* t's state from its outputs against rec (its key and forced are set):
 * kept, up to date, stale or failed (nowhere to land) */
void engine_outputs_state(struct engine *e, const struct task *t, const struct record *rec);
/* free ti's seen hashes of t's outputs */
void engine_seen_free(struct tinfo *ti, const struct task *t);
/* replace ti's why with why (owned) */
void engine_why(struct tinfo *ti, char *why);
/* regenerate mpbuild.lock from the records (and remember its hash) */
void engine_write_lock(struct engine *e);
/* 1 when t is named, or inside a named phase or milestone */
int engine_named(const struct plan *p, const struct task *t, char **names, size_t n);
/* 1 when the plan was generated and its check set is not approved */
int engine_needs_approval(struct engine *e);
/* the record of t's generated outputs with its current key (hashes filled when it lands) */
void engine_new_record(struct engine *e, const struct task *t, const char *model, struct record *r);
/* the hash r records for path, or NULL */
const char *record_hash(const struct record *r, const char *path);
/* -n: list what a build of the n tasks of order would do, with estimated costs; an exit code */
int engine_dry_run(struct engine *e, struct task **order, size_t n);
/* the first line of s, malloc'd */
char *first_line(const char *s);

#endif
