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

/* what the cache verb (cache.c) reads entry by entry */

/* the counters kept in cache/stats.json */
struct store_counts {
	long hits_local, hits_remote, misses, uploads;
	double saved;
};

/* the path of entry hex of kind "cas" or "ac" in cachedir (dir/kind/XX/HEX); caller frees */
char *store_path(const char *cachedir, const char *kind, const char *hex);
/* the blob at path appended to out, checked against hex: 0 when good, 1 when
 * absent, 2 when corrupt, -1 when it cannot be read (after a message) */
int store_load_blob(const char *path, const char *hex, struct buffer *out);
/* the uncompressed size the zstd frame of the blob at path records, or -1 */
long long store_blob_size(const char *path);
/* cachedir's stats.json into c (zeros when absent or unreadable) */
void store_stats_read(const char *cachedir, struct store_counts *c);
/* the action entry at path into a; -1 (with *why) when unreadable or invalid */
int action_load(const char *path, struct action *a, const char **why);
/* parse an action entry into a (zeroed first); -1 with *why set when it is
 * not one; what came from outside is checked, never trusted */
int action_from_json(const char *data, size_t len, struct action *a, const char **why);
/* the JSON text of a; caller frees; NULL when a holds what JSON cannot (bad UTF-8) */
char *action_to_json(const struct action *a);
/* the hex digits of blob i of a: outputs first, then the answer; NULL past the end */
const char *action_blob(const struct action *a, size_t i);

#endif
