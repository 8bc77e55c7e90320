/* retrieve.h: the examples of a rule's prompt layer (SPEC 5 and 10.2) and the
 * versions of rules (SPEC 10.3).  Layer 3 holds committed material only: the
 * rule, its own examples files, and the examples pinned for it in the lock.
 * Pins change only when a person asks (mpbuild -B rule:NAME): then an FTS5
 * index in cache/state.db over the files of examples/ folders (the project's
 * and the built-in rules') and the unedited outputs of generated targets is
 * brought up to date, changed files only, and the best matches are pinned by
 * path and content hash, so that every task of the rule sees the same layer
 * and a fresh clone computes the same keys.  The masterplan's layer 3 holds
 * example plans (examples/plans/ folders), picked the same way each time it
 * is called and pinned under the name phases/masterplan. */
#ifndef MPBUILD_RETRIEVE_H
#define MPBUILD_RETRIEVE_H

#include <stdio.h>

#include "key.h"
#include "lockfile.h"
#include "plan.h"
#include "prompt.h"
#include "state.h"

#define RETRIEVE_FILES 4                /* examples picked for one rule, at most */
#define RETRIEVE_BYTES (48u << 10)      /* bytes of a rule's picked examples, at most */
#define RETRIEVE_FILE_MAX (256u << 10)  /* larger files are not indexed (the layer's limit) */
#define RETRIEVE_TERMS 32               /* words in a rule's query, at most */
#define RETRIEVE_REPEAT 4               /* times the heaviest word is given */
#define RETRIEVE_BUILTIN "builtin:"     /* prefix of a path in the built-in rules directory */
#define RETRIEVE_PLANS 2                /* example plans picked for the masterplan, at most */
#define RETRIEVE_PLAN_BYTES (32u << 10) /* their bytes, at most */
#define RETRIEVE_PHASE "phases/"        /* lock rules entries of pipeline phases (no rule name has a '/') */
#define RETRIEVE_PLAN_PINS "phases/masterplan" /* the example plans pinned for the masterplan */

/* what each rule's tasks were last built with: its version and pinned examples */
struct rulebook {
	struct rule_rec *recs;  /* in no particular order */
	size_t n;
};

/* what bringing the index up to date did (shown with -v) */
struct index_stats {
	size_t files;           /* files that can be picked */
	size_t indexed;         /* read and (re-)indexed: new or changed */
	size_t unchanged;       /* same hash as indexed: not read */
	size_t removed;         /* gone, or no longer an accepted output */
	size_t skipped;         /* binary, not UTF-8, or over RETRIEVE_FILE_MAX */
};

/* what -B rule:NAME works with; the engine's, borrowed */
struct repick {
	const struct plan *p;
	struct state *st;               /* the state file; NULL or read-only on a dry run */
	struct fscache *fc;             /* the stat cache of the project */
	const struct record *recs;      /* build records (accepted outputs are indexed) */
	size_t nrec;
	const struct htab *rec_by;      /* target -> struct record* */
	struct prompt_ctx *pc;
	struct rulebook *rb;
	const char *remote;             /* remote cache URL or NULL */
	int dry;                        /* -n: show the picks, write nothing */
	int verbose;                    /* print the index counts and the query */
	FILE *out;                      /* where the picks are shown */
};

/* the rule records of a lock that won over state.db (moved out of lk) */
void rulebook_from_lock(struct rulebook *rb, struct lockfile *lk);
/* the rule records of st; when it has none (a state file older than them),
 * those of root's mpbuild.lock, which are then put in st when writable */
void rulebook_load(struct rulebook *rb, struct state *st, const char *root, int writable);
/* the record of rule name, or NULL */
struct rule_rec *rulebook_get(const struct rulebook *rb, const char *name);
/* free what rb owns */
void rulebook_free(struct rulebook *rb);

/* give pc the pinned examples of every rule of p.  Each file is read and
 * checked against its pinned hash; one that changed or vanished is warned
 * about and its pinned bytes are taken from the content store, or, when the
 * store does not have them, it is left out of the layer */
void retrieve_apply(const struct rulebook *rb, const struct plan *p, struct prompt_ctx *pc, const char *remote);
/* how many tasks of r have a build record made with another layer 3 or other
 * validate commands than r's now (a record without a manifest counts); a
 * manifest the record does not hold is read from st (may be NULL) */
size_t retrieve_stale(const struct plan *p, struct prompt_ctx *pc, const struct rule *r, const struct htab *rec_by,
		      struct state *st);
/* print "rule NAME changed: N tasks stale" to out for each rule in use whose
 * hash differs from its recorded one */
void retrieve_report(const struct rulebook *rb, const struct plan *p, struct prompt_ctx *pc,
		     const struct htab *rec_by, struct state *st, FILE *out);
/* fill lk->rules (lk->targets are the current records): every rule that a
 * task uses or that has pins.  A rule's recorded hash becomes its current one
 * once no task is left built with the old version; changes are written to st.
 * The pins of pipeline phases (RETRIEVE_PHASE) are copied as they are */
void retrieve_lock_rules(struct rulebook *rb, const struct plan *p, struct prompt_ctx *pc, struct state *st,
			 struct lockfile *lk);

/* put the pins of pipeline phases in rb into lk->rules, replacing those there */
void retrieve_lock_phases(const struct rulebook *rb, struct lockfile *lk);

/* the FTS5 query for rule r: the heaviest words of its name and match
 * patterns (4 per use), its tasks' titles (2) and descriptions (1) and its
 * instructions (1), as "w1" OR "w1" OR "w2" ..., each word repeated 1 to
 * RETRIEVE_REPEAT times by its weight against the heaviest's; "" when there
 * is none.  Caller frees */
char *retrieve_query(const struct plan *p, const struct rule *r);
/* bring the index in ix up to date with the files of the project's and the
 * built-in rules' examples/ folders and the unedited outputs of generated
 * records; only files whose hash changed are read */
int retrieve_index(struct state *ix, struct fscache *fc, const struct plan *p, const struct record *recs,
		   size_t nrec, struct index_stats *stats);
/* retrieve_index for the example plans only: the files under the project's
 * and the built-in rules' examples/plans/ folders; the rest of the index
 * (accepted outputs among it) is left as it is */
int retrieve_index_plans(struct state *ix, struct fscache *fc, const struct plan *p, struct index_stats *stats);
/* the best matches for r in ix, appended to out as pins: files that r's match
 * patterns accept, not example plans, outputs of r's own tasks nor r's own
 * examples, at most RETRIEVE_FILES and RETRIEVE_BYTES */
int retrieve_pick(struct state *ix, const struct plan *p, const struct rule *r, struct rule_rec *out);
/* 1 when index path name is an example plan (under an examples/plans/ folder,
 * the project's or the built-in one); rules never pick these */
int retrieve_is_plan(const char *name);
/* the FTS5 query for the masterplan's examples, from p's discovery.yaml: the
 * words of its stack's language (4, however short), the stack, domain and
 * summary (2), bounded context names and descriptions (1); "" without one.
 * Caller frees */
char *retrieve_plan_query(const struct plan *p);
/* the best example plans for p's discovery in ix, appended to out as pins: at
 * most RETRIEVE_PLANS and RETRIEVE_PLAN_BYTES */
int retrieve_pick_plans(struct state *ix, const struct plan *p, struct rule_rec *out);
/* the masterplan's layer 3: the example plans pinned in rr (checked like a
 * rule's pins), appended to out; returns how many.  rr may be NULL */
size_t retrieve_plan_layer(const struct plan *p, const struct rule_rec *rr, const char *remote, struct buffer *out);
/* pick the example plans for the masterplan again (each time it is called):
 * index them (retrieve_index_plans), pick, and pin them in env->rb as
 * RETRIEVE_PLAN_PINS with hash, the phase instructions' (on a dry run, only
 * show them).  Of env, p, st, fc, rb, remote, dry, verbose and out are used;
 * out may be NULL (say nothing).  -1 after an error */
int retrieve_repick_plans(struct repick *env, const char *hash);
/* -B rule:NAME for each such name: index, pick, pin (or on a dry run, show),
 * and give the new pins to the prompt context.  -1 after an error */
int retrieve_repick(struct repick *env, char **names, size_t n);

#endif
