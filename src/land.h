/* land.h: putting accepted files in the tree atomically, with an intent
 * record so a crash mid-landing is finished on the next start (SPEC 10.7). */
#ifndef MPBUILD_LAND_H
#define MPBUILD_LAND_H

#include "judge.h"
#include "key.h"
#include "state.h"

/* land a's files (already judged; in r's output order) under root and commit
 * record r (whose hashes are filled in here) in state; -1 with a message.
 * Each path is resolved again (confine_resolve) and staged beside its
 * destination with O_EXCL|O_NOFOLLOW.  With expect (per file: the hash it had
 * when the target was found stale, "" for no file), a file that differs just
 * before the renames is a person's: nothing lands, 1 is returned and *edited
 * names it */
int land_files(struct state *st, struct fscache *fc, const char *root, struct record *r, const struct answer *a,
	       const char *const *expect, const char **edited);
/* finish the landings a crash interrupted (and, after a crash, remove the
 * temporaries it left); the caller holds the build lock; returns how many
 * landings were finished */
int land_recover(struct state *st, const char *root);
/* land_recover for commands other than a build (status, explain, clean,
 * accept, touch, approve), when no build holds the lock cache/lock, so that
 * they never see an interrupted landing as a hand edit */
void land_recover_idle(const char *root);
/* copy root/rel to rel.orig.N with the smallest free N (never overwriting an
 * earlier backup); returns the backup's relative name (malloc'd) or NULL */
char *land_backup(const char *root, const char *rel);

#endif
