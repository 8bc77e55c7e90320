/* land.h: putting accepted files in the tree atomically, with an intent
 * record so a crash mid-landing is finished on the next start (SPEC 10.7). */
#ifndef MPBUILD_LAND_H
#define MPBUILD_LAND_H

#include "judge.h"
#include "key.h"
#include "state.h"

/* land a's files (already judged; in r's output order) under root and commit
 * record r (whose hashes are filled in here) in state; -1 with a message */
int land_answer(struct state *st, struct fscache *fc, const char *root, struct record *r, const struct answer *a);
/* finish the landings a crash interrupted; returns how many were finished */
int land_recover(struct state *st, const char *root);
/* copy root/rel to rel.orig.N with the smallest free N (never overwriting an
 * earlier backup); returns the backup's relative name (malloc'd) or NULL */
char *land_backup(const char *root, const char *rel);

#endif
