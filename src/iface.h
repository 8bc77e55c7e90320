/* iface.h: a file's interface, what the tasks that depend on it see of it
 * (SPEC 10.1, 10.4): the file itself, nothing, or what its rule's extractor
 * prints.  An extractor runs once per (content hash, extractor): the text
 * goes into the content store (cache/cas/) under its hash, this machine
 * remembers which hash it made of which content (state.db), and the record
 * of the task keeps the hash (and so the lock), so that a no-op, even in a
 * fresh clone, runs no extractor.  An implementation-only change yields the
 * same interface hash: nothing downstream is called.
 *
 * What is trusted: an interface hash a record or a lock gives is a hint.  It
 * may decide that a target is up to date (nothing is sent then), but before
 * a prompt shows an interface, or a key looks up the action cache, the hash
 * must be one this machine's extractor made of that content; a text read
 * from the store is checked against that hash.  So a lock with a wrong
 * interface hash makes a call at worst, never a prompt that says something
 * else than its key does. */
#ifndef MPBUILD_IFACE_H
#define MPBUILD_IFACE_H

#include "check.h"
#include "hash.h"
#include "plan.h"
#include "state.h"
#include "store.h"

/* seconds an extractor may run */
#define IFACE_TIMEOUT 60

/* an interface this run already has: extracted, known from state.db, hinted
 * by a record, or failed */
struct iface_memo {
	char hash[HASH_HEX];    /* "sha256:..." of the interface; "" before any is known */
	char *text;             /* owned; NULL until a prompt needs it */
	size_t len;
	int checked;            /* hash is this machine's extractor's (now or as state.db remembers), not a hint */
	int failed;             /* the extractor failed (warned once): the whole file stands in */
};

/* one run's interface taker.  Not shared between threads: st is a SQLite
 * handle opened without its own mutex, so call iface_get from one thread at
 * a time (the one holding the state lock) */
struct iface {
	struct state *st;       /* what this machine's extractors made persists there (NULL: nothing) */
	const char *root;       /* project directory */
	char *cachedir;         /* owned: its cas/ holds the texts; NULL: texts are neither read nor kept */
	int keep;               /* texts may be written to the store */
	struct store *store;    /* local only, opened to keep the first text; NULL before */
	const struct sandbox_limits *lim;       /* how extractors run (borrowed) */
	struct box *box;        /* where extractors run: opened by the first one, NULL before */
	struct htab ids;        /* extractor (by address, "%p") -> its identity, both malloc'd */
	struct htab memo;       /* "HASH IDENTITY" -> struct iface_memo*: what this run found */
	long runs;              /* extractors run */
	long fetched;           /* texts read back from the store */
};

/* one file whose interface is asked for, and the answer */
struct iface_ask {
	const struct rule *r;   /* the rule of the task that makes it */
	const char *path;       /* relative to root */
	const char *hash;       /* its content hash */
	const char *hint;       /* the interface hash its record gives for that content, or NULL */
	const char *hint_by;    /* the identity of the command the record says made hint */
	char iface[HASH_HEX];   /* out: its interface hash */
	const char *by;         /* out: the identity of the command that made iface on this machine, which
				 * the record should keep; NULL for whole, none, a failed command and a hint
				 * not yet checked.  Valid until iface_close */
};

/* set up x; st, root and lim must outlive it.  cachedir (copied; NULL: none)
 * is where texts are read from and, when keep, written to */
void iface_open(struct iface *x, struct state *st, const char *root, const char *cachedir, int keep,
		const struct sandbox_limits *lim);
/* the interface entry of rule r that applies to path (the first whose glob
 * matches its base name or the path), or NULL: the whole file */
const struct extractor *iface_extractor(const struct rule *r, const char *path);
/* the interface of a->path, whose content hash is a->hash, into a->iface.
 * whole: the file, whose hash is a->hash (the file is read only for text);
 * none: ""; a command: its stdout.  For a key (shown 0) what state.db
 * remembers or else the record's hint will do, and a command runs only when
 * neither knows.  For a prompt (shown, or text not NULL) the hash is this
 * machine's and its text at hand: read from the store and checked, or
 * extracted again (a hint is checked by extracting); the bytes are appended
 * to text when not NULL.  The hash a prompt gets may differ from the hint a
 * key got: the caller compares.  An extractor that fails or is not installed
 * gives the whole file, with one warning per run naming the rule and the
 * file.  0, or -1 with a message when the file cannot be read or no longer
 * has a->hash */
int iface_get(struct iface *x, struct iface_ask *a, int shown, struct buffer *text);
/* close the box and free what x holds */
void iface_close(struct iface *x);

#endif
