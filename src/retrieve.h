/* retrieve.h: the examples of a rule's prompt layer (SPEC 5 and 10.2) and the
 * versions of rules (SPEC 10.3).  Layer 3 holds committed material only: the
 * rule, its own examples files, and the examples pinned for it in the lock.
 * Pins change only when a person asks (mpbuild -B rule:NAME): then an FTS5
 * index in cache/state.db over the files of examples/ folders (the project's
 * and the built-in rules') and the unedited outputs of generated targets is
 * brought up to date, changed files only, and the best matches are pinned by
 * path and content hash, so that every task of the rule sees the same layer
 * and a fresh clone computes the same keys. */
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
 * once no task is left built with the old version; changes are written to st */
void retrieve_lock_rules(struct rulebook *rb, const struct plan *p, struct prompt_ctx *pc, struct state *st,
			 struct lockfile *lk);

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
/* the best matches for r in ix, appended to out as pins: files that r's match
 * patterns accept, not outputs of r's own tasks nor r's own examples, at most
 * RETRIEVE_FILES and RETRIEVE_BYTES */
int retrieve_pick(struct state *ix, const struct plan *p, const struct rule *r, struct rule_rec *out);
/* -B rule:NAME for each such name: index, pick, pin (or on a dry run, show),
 * and give the new pins to the prompt context.  -1 after an error */
int retrieve_repick(struct repick *env, char **names, size_t n);

#endif
