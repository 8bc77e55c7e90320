/* rulebook.h: rule versions and pinned examples (SPEC 10.2 and 10.3).  Layer
 * 3 of a rule's prompt holds committed material only: the rule, its own
 * examples files, and the examples pinned for it in the lock.  Pins change
 * only when a person asks (mpbuild -B rule:NAME): the index (retrieve.h) is
 * brought up to date, the best matches are pinned by path and content hash,
 * so that every task of the rule sees the same layer and a fresh clone
 * computes the same keys.  The masterplan's example plans are picked again
 * each time it is called and pinned under the name phases/masterplan. */
#ifndef MPBUILD_RULEBOOK_H
#define MPBUILD_RULEBOOK_H

#include <stdio.h>

#include "key.h"
#include "lockfile.h"
#include "plan.h"
#include "prompt.h"
#include "state.h"

#define RULEBOOK_PHASE "phases/"        /* lock rules entries of pipeline phases (no rule name has a '/') */
#define RULEBOOK_PLAN_PINS "phases/masterplan" /* the example plans pinned for the masterplan */

/* what each rule's tasks were last built with: its version and pinned examples */
struct rulebook {
	struct rule_rec *recs;  /* in no particular order */
	size_t n;
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
void rulebook_apply(const struct rulebook *rb, const struct plan *p, struct prompt_ctx *pc, const char *remote);
/* how many tasks of r have a build record made with another layer 3 or other
 * validate commands than r's now (a record without a manifest counts); a
 * manifest the record does not hold is read from st (may be NULL) */
size_t rulebook_stale(const struct plan *p, struct prompt_ctx *pc, const struct rule *r, const struct htab *rec_by,
		      struct state *st);
/* print "rule NAME changed: N tasks stale" to out for each rule in use whose
 * hash differs from its recorded one */
void rulebook_report(const struct rulebook *rb, const struct plan *p, struct prompt_ctx *pc,
		     const struct htab *rec_by, struct state *st, FILE *out);
/* fill lk->rules (lk->targets are the current records): every rule that a
 * task uses or that has pins.  A rule's recorded hash becomes its current one
 * once no task is left built with the old version; changes are written to st.
 * The pins of pipeline phases (RULEBOOK_PHASE) are copied as they are */
void rulebook_lock_rules(struct rulebook *rb, const struct plan *p, struct prompt_ctx *pc, struct state *st,
			 struct lockfile *lk);

/* put the pins of pipeline phases in rb into lk->rules, replacing those there */
void rulebook_lock_phases(const struct rulebook *rb, struct lockfile *lk);

/* the masterplan's layer 3: the example plans pinned in rr (checked like a
 * rule's pins), appended to out; returns how many.  rr may be NULL */
size_t rulebook_plan_layer(const struct plan *p, const struct rule_rec *rr, const char *remote, struct buffer *out);
/* pick the example plans for the masterplan again (each time it is called):
 * index them (retrieve_index_plans), pick, and pin them in env->rb as
 * RULEBOOK_PLAN_PINS with hash, the phase instructions' (on a dry run, only
 * show them).  Of env, p, st, fc, rb, remote, dry, verbose and out are used;
 * out may be NULL (say nothing).  -1 after an error */
int rulebook_repick_plans(struct repick *env, const char *hash);
/* -B rule:NAME for each such name: index, pick, pin (or on a dry run, show),
 * and give the new pins to the prompt context.  -1 after an error */
int rulebook_repick(struct repick *env, char **names, size_t n);

#endif
