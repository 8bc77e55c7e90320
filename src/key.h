/* key.h: a target's key (SPEC 4 and 10.1) as the SHA-256 of a canonical
 * manifest, and the stat cache that makes hashing outputs cheap on a no-op. */
#ifndef MPBUILD_KEY_H
#define MPBUILD_KEY_H

#include "hash.h"
#include "plan.h"
#include "state.h"

/* the version of mpbuild's prompt format; bump it when layer bytes change */
#define PROMPT_FORMAT_VERSION 2

/* what decides a task's request and how its answer is judged */
struct key_input {
	const char *family;             /* "anthropic" or "openai" */
	const char *model, *effort;
	int max_tokens;
	const char *schema_hash;        /* answer format + schema */
	const char *layer[4];           /* layer hashes; layer 4 without dependency outputs */
	size_t ndeps;                   /* dependencies, which enter by the closure of their interfaces
					 * (path "interfaces"), and files read in full (target "reads") */
	const char **dep_target, **dep_path, **dep_hash;
	const struct task *task;        /* for validate and check commands */
	int retries;
	const char *escalate;           /* model for retries, or NULL */
};

/* the manifest as canonical JSON (fixed key order, compact); caller frees */
char *key_manifest(const struct key_input *in);
/* the manifest's "validate" field for task t as compact JSON; caller frees */
char *key_validate(const struct task *t);
/* the key of a manifest */
void key_of(const char *manifest, char out[HASH_HEX]);

/* the stat cache: device, inode, size, mtime, ctime -> hash (SPEC 10.9) */
struct fscache {
	struct state *st;       /* where entries persist (may be NULL: nothing persists) */
	const char *root;       /* project directory */
	struct htab t;          /* relative path -> struct stat_entry* */
	long hashed;            /* files read and hashed this run */
};

/* load the entries of st */
void fscache_open(struct fscache *c, struct state *st, const char *root);
/* the content hash of root/rel, from the cache when its stat is unchanged and
 * not racy; NULL when the file does not exist (errno ENOENT) or cannot be read.
 * A file is looked at once per run: call fscache_forget before changing it */
const char *fscache_hash(struct fscache *c, const char *rel);
/* root/rel is about to change: look at it again next time */
void fscache_forget(struct fscache *c, const char *rel);
/* record that root/rel now has hash (after mpbuild wrote it) */
void fscache_note(struct fscache *c, const char *rel, const char *hash);
/* write changed entries back in one transaction */
int fscache_flush(struct fscache *c);
/* free the entries (flush first to keep them) */
void fscache_close(struct fscache *c);

#endif
