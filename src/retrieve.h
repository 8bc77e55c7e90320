/* retrieve.h: the FTS5 index of example files (SPEC 5 and 10.2) and picking
 * from it.  When a person asks (mpbuild -B rule:NAME), an index in
 * cache/state.db over the files of examples/ folders (the project's and the
 * built-in rules') and the unedited outputs of generated targets is brought
 * up to date, changed files only, and the best matches for a rule's query
 * are returned as pins by path and content hash; rulebook.h keeps them.  The
 * masterplan's example plans (examples/plans/ folders) are picked the same
 * way. */
#ifndef MPBUILD_RETRIEVE_H
#define MPBUILD_RETRIEVE_H

#include "key.h"
#include "plan.h"
#include "state.h"

#define RETRIEVE_FILES 4                /* examples picked for one rule, at most */
#define RETRIEVE_BYTES (48u << 10)      /* bytes of a rule's picked examples, at most */
#define RETRIEVE_FILE_MAX (256u << 10)  /* larger files are not indexed (the layer's limit) */
#define RETRIEVE_TERMS 32               /* words in a rule's query, at most */
#define RETRIEVE_REPEAT 4               /* times the heaviest word is given */
#define RETRIEVE_BUILTIN "builtin:"     /* prefix of a path in the built-in rules directory */
#define RETRIEVE_PLANS 2                /* example plans picked for the masterplan, at most */
#define RETRIEVE_PLAN_BYTES (32u << 10) /* their bytes, at most */

/* what bringing the index up to date did (shown with -v) */
struct index_stats {
	size_t files;           /* files that can be picked */
	size_t indexed;         /* read and (re-)indexed: new or changed */
	size_t unchanged;       /* same hash as indexed: not read */
	size_t removed;         /* gone, or no longer an accepted output */
	size_t skipped;         /* binary, not UTF-8, or over RETRIEVE_FILE_MAX */
};

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
 * most RETRIEVE_PLANS and RETRIEVE_PLAN_BYTES.  Plans of the stack's language
 * (a plan's is its file name up to the first '-' or '.') come first, then the
 * rest by FTS rank */
int retrieve_pick_plans(struct state *ix, const struct plan *p, struct rule_rec *out);
/* the file behind an index or pin path: builtin:REL in the built-in rules
 * directory, else REL in the project; NULL (with *why) when REL is not a
 * plain relative path or resolves outside its directory.  Caller frees */
char *retrieve_file(const struct plan *p, const char *name, const char **why);

#endif
