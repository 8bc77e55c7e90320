/* lockfile.h: mpbuild.lock, read and written (SPEC 3 and 10.8).  The lock is
 * regenerated from state.db; its bytes depend only on its contents. */
#ifndef MPBUILD_LOCKFILE_H
#define MPBUILD_LOCKFILE_H

#include "state.h"

struct lockfile {
	struct record *targets; /* sorted by target */
	size_t ntargets;
	char *approved_checks;  /* sha256 of the approved check set, or NULL */
	struct rule_rec *rules; /* version and pinned examples per rule, sorted by name */
	size_t nrules;
};

/* read root/mpbuild.lock into lk (zeroed); 1 if it does not exist, 0 when read,
 * -1 after printing file:line:col errors.  hash_out (may be NULL) gets the hash
 * of the file's bytes. */
int lockfile_read(const char *root, struct lockfile *lk, char hash_out[HASH_HEX]);
/* render lk as the lock's bytes (deterministic) */
void lockfile_render(const struct lockfile *lk, struct buffer *b);
/* write the bytes atomically unless the file already holds them; the hash of
 * what is on disk afterwards goes to hash_out */
int lockfile_write(const char *root, const struct buffer *b, char hash_out[HASH_HEX]);
/* when root/mpbuild.lock is not the lock st last wrote or read (a fresh
 * clone, a checkout, a pull; st may be NULL: no state yet): with out NULL its
 * records and rules replace st's, else it is read into out and st is left alone.  1
 * when the lock was newer, 0 when not (or there is none), -1 after printing
 * its errors.  hash: the lock's hash when the caller knows it (the stat
 * cache), else NULL.  The one place a lock is read into a build */
int lockfile_sync(const char *root, struct state *st, struct lockfile *out, const char *hash);
/* free what lk owns */
void lockfile_free(struct lockfile *lk);

#endif
