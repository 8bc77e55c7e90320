/* store.h: the content store under cache/ (SPEC 4): cas/ blobs named by the
 * SHA-256 of their content, zstd-compressed, verified on read; ac/ action
 * entries mapping a key to what a successful build produced; and the remote
 * cache (Bazel's HTTP layout) read through and written after a success. */
#ifndef MPBUILD_STORE_H
#define MPBUILD_STORE_H

#include <stddef.h>
#include "hash.h"
#include "models.h"
#include "util.h"

struct store;

/* what one successful build produced, by key */
struct action {
	char *target;                   /* for people; not part of the lookup */
	size_t n;                       /* outputs, in the task's order */
	char **paths;
	char (*hashes)[HASH_HEX];       /* blob of each output */
	char answer[HASH_HEX];          /* blob of the raw answer */
	char *model;
	struct usage usage;
	double cost;                    /* USD it cost; < 0 unknown */
	long long time;                 /* unix seconds when it was built */
};

/* open the store in cachedir (creating cas/ and ac/); remote may be NULL; a
 * bearer token for it comes from MPBUILD_REMOTE_TOKEN; zstd_level 0 means 3 */
struct store *store_open(const char *cachedir, const char *remote, int zstd_level);
/* close it */
void store_close(struct store *s);
/* add bytes as a blob (atomic write; nothing when present); hash into out */
int store_put_blob(struct store *s, const void *data, size_t len, char out[HASH_HEX]);
/* the blob's bytes appended to out, verified against its hash (local, then
 * remote); -1 when absent or corrupt (a corrupt local blob is removed with a warning) */
int store_get_blob(struct store *s, const char *hash, struct buffer *out);
/* record an action under key, locally and (after a success) on the remote */
int store_put_action(struct store *s, const char *key, const struct action *a);
/* look up key (local, then remote; a remote hit is copied locally); 0 when
 * found, 1 when absent, -1 on error (a warning was printed) */
int store_get_action(struct store *s, const char *key, struct action *a);
/* free what a owns */
void action_clear(struct action *a);
/* `mpbuild cache stats|gc|verify|export|import ...`: args after "cache"; returns an exit code */
int store_command(const char *cachedir, char **args, size_t n);

#endif
