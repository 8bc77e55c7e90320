/* orphan.h: build records whose target the plan no longer has.  After a
 * re-plan (or a hand edit that drops a task) such a record still names files
 * mpbuild wrote.  A new task that declares exactly those files inherits the
 * record (a renamed task); files that no task declares are orphans, listed
 * after a build and removed only by `mpbuild clean --orphans` (SPEC 7). */
#ifndef MPBUILD_ORPHAN_H
#define MPBUILD_ORPHAN_H

#include <stdio.h>
#include "key.h"
#include "plan.h"
#include "state.h"

/* one orphaned file */
struct orphan {
	const char *target;     /* the gone target whose record names it */
	const char *path;       /* relative to the project */
	const char *hash;       /* the hash mpbuild wrote it with */
};

/* 1 when target is neither a task of p nor a pipeline target */
int orphan_gone(const struct plan *p, const char *target);
/* the outputs of records of gone targets that no task of p declares, in
 * record order; *out (malloc'd) points into recs.  Returns the count */
size_t orphan_find(const struct plan *p, const struct record *recs, size_t n, struct orphan **out);
/* print "mpbuild: orphaned: A, B; mpbuild clean --orphans removes them" on f
 * for the orphans that exist under root; returns how many there are */
size_t orphan_say(const struct plan *p, const struct record *recs, size_t n, const char *root, FILE *f);
/* hand the record of each gone target to the task of p that declares exactly
 * its outputs and has no record of its own (a task a re-plan renamed), in st,
 * printing each move.  The moves are appended to *moved as malloc'd pairs
 * (old id, new id; *nmoved pairs).  Returns -1 when st fails */
int orphan_adopt(struct state *st, const struct plan *p, const struct record *recs, size_t n, char ***moved,
		 size_t *nmoved);
/* `mpbuild clean --orphans`: remove each orphan whose content still has the
 * recorded hash (fc hashes it), keep one a person edited (saying so), and drop
 * the records of gone targets from st; dry (-n): only say so, touching
 * nothing (st may be NULL).  Returns an exit code */
int orphan_clean(struct state *st, struct fscache *fc, const struct plan *p, const struct record *recs, size_t n,
		 int dry);

#endif
