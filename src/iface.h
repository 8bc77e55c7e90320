/* iface.h: a file's interface, what the tasks that depend on it see of it
 * (SPEC 10.1, 10.4): the file itself, nothing, or what its rule's extractor
 * prints.  Extracted interfaces are kept in state.db by (content hash,
 * extractor), so a no-op run runs no extractor, and an implementation-only
 * change yields the same interface hash: nothing downstream is called. */
#ifndef MPBUILD_IFACE_H
#define MPBUILD_IFACE_H

#include "check.h"
#include "hash.h"
#include "plan.h"
#include "state.h"

/* seconds an extractor may run */
#define IFACE_TIMEOUT 60

/* an interface this run already has: extracted, read from state.db, or failed */
struct iface_memo {
	char hash[HASH_HEX];    /* "sha256:..." of text */
	char *text;             /* owned */
	size_t len;
	int failed;             /* the extractor failed (warned once): the whole file stands in */
};

/* one run's interface taker.  Not shared between threads: st is a SQLite
 * handle opened without its own mutex, so call iface_get from one thread at
 * a time (the one holding the state lock) */
struct iface {
	struct state *st;       /* where interfaces persist (NULL: nothing persists) */
	const char *root;       /* project directory */
	const struct sandbox_limits *lim;       /* how extractors run (borrowed) */
	struct box *box;        /* where extractors run: opened by the first one, NULL before */
	struct htab ids;        /* extractor (by address, "%p") -> its identity, both malloc'd */
	struct htab memo;       /* "HASH IDENTITY" -> struct iface_memo*: what this run found */
	long runs;              /* extractors run (cache misses) */
};

/* set up x; st, root and lim must outlive it */
void iface_open(struct iface *x, struct state *st, const char *root, const struct sandbox_limits *lim);
/* the interface entry of rule r that applies to path (the first whose glob
 * matches its base name or the path), or NULL: the whole file */
const struct extractor *iface_extractor(const struct rule *r, const char *path);
/* the interface of path (relative to root), an output of a task of rule r
 * whose content hash is hash: "sha256:..." of its bytes into out, and when
 * text is not NULL the bytes appended to it.  whole: the file, whose hash is
 * hash (the file is read only for text); none: "" ; a command: its stdout,
 * run in a box once per (content hash, extractor) and kept in state.db.  An
 * extractor that fails or is not installed gives the whole file, with one
 * warning per run naming the rule and the file.  -1 with a message when the
 * file cannot be read or no longer has hash */
int iface_get(struct iface *x, const struct rule *r, const char *path, const char *hash, char out[HASH_HEX],
	      struct buffer *text);
/* close the box and free what x holds */
void iface_close(struct iface *x);

#endif
