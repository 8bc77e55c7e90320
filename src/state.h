/* state.h: cache/state.db, the only room that talks to SQLite (state.c,
 * with ledger.c for the history and exindex.c for the example index).  It
 * holds the stat cache, the record of every target build (what mpbuild.lock
 * is made from, with its outputs' interface hashes), landing intents,
 * failures, runs, the ledger of model calls and what this machine's
 * extractors made of each content (the interface texts are in the content
 * store). */
#ifndef MPBUILD_STATE_H
#define MPBUILD_STATE_H

#include <stdint.h>
#include "hash.h"
#include "util.h"

struct state;

/* one stat-cache entry (SPEC 10.9) */
struct stat_entry {
	uint64_t dev, ino, size;
	int64_t mtime_ns, ctime_ns;
	int64_t written_ns;     /* wall-clock time the entry was written */
	char hash[HASH_HEX];
	int dirty;              /* changed this run, to be written back */
	int seen;               /* checked against the file this run: no second stat */
};

/* what one target was last built from and produced */
struct record {
	char *target;
	char key[HASH_HEX];
	char *model;
	int generated;          /* outputs came from a model (0: accepted or touched by a person) */
	char *manifest;         /* the key's manifest (JSON), for explain; may be NULL */
	int has_manifest;       /* state.db has one (state_records leaves it there: state_manifest) */
	size_t n;               /* outputs */
	char **paths;
	char (*hashes)[HASH_HEX];
	/* per output, when a rule's command takes its interface: the interface
	 * hash of the content hashes[i] names and the identity of the command
	 * that made it ("" when not known).  Both NULL when no output has one.
	 * A hint for keys until this machine's extractor agrees (iface.h) */
	char (*ifaces)[HASH_HEX];
	char (*iface_by)[HASH_HEX];
};

/* a rule as recorded (SPEC 10.2, 10.3): its version and its pinned examples */
struct rule_rec {
	char *name;
	char hash[HASH_HEX];    /* the rule file's hash its tasks were last built with */
	size_t n;               /* pinned examples, best match first */
	char **paths;           /* project-relative, or "builtin:" and a path in the built-in rules */
	char (*hashes)[HASH_HEX];
};

/* a target's last failure */
struct failure {
	char *target;
	char *reason;           /* first line of the error */
	long run;
};

/* open (creating) dir/state.db in WAL mode with a busy timeout; readonly opens
 * without creating.  A corrupt file is moved aside with a warning and a new one
 * made.  NULL (with a message) when it cannot be opened at all. */
struct state *state_open(const char *cachedir, int readonly);
/* close it */
void state_close(struct state *st);
/* begin / commit / roll back a transaction (nesting is not supported) */
int state_begin(struct state *st);
int state_commit(struct state *st);
int state_rollback(struct state *st);

/* all stat-cache entries, as path -> struct stat_entry*; the table owns keys and values */
int state_stat_load(struct state *st, struct htab *out);
/* write back the dirty entries of the table in one transaction */
int state_stat_flush(struct state *st, struct htab *t);
/* free a table from state_stat_load */
void state_stat_free(struct htab *t);

/* every record, sorted by target, without its manifest (a no-op needs none;
 * has_manifest says whether there is one); *n set; caller frees with
 * record_free_all */
struct record *state_records(struct state *st, size_t *n);
/* the manifest the record of target was built from (NULL: none); caller frees */
char *state_manifest(struct state *st, const char *target);
/* insert or replace a record (its own transaction unless one is open) */
int state_record_put(struct state *st, const struct record *r);
/* drop target's record */
int state_record_delete(struct state *st, const char *target);
/* move target from's record (and its outputs) to target to, which has none, in
 * one transaction; from's failure is forgotten */
int state_record_rename(struct state *st, const char *from, const char *to);
/* replace all records with these (lock import), in one transaction */
int state_records_replace(struct state *st, const struct record *r, size_t n);
/* append an output to r: path, content hash, and its interface hash and the
 * command identity that made it (both NULL when none); all copied */
void record_add_output(struct record *r, const char *path, const char *hash, const char *iface, const char *by);
/* set the interface hash of output i of r and the command identity that made it (copied) */
void record_set_iface(struct record *r, size_t i, const char *iface, const char *by);
/* the interface hash r records for output i, with *by the identity of the
 * command that made it; NULL when it records none */
const char *record_iface(const struct record *r, size_t i, const char **by);
/* record that the interface of output path of target's record, whose content
 * hash is content, is iface, made by command by: 1 when the record changed,
 * 0 when it already said so or no longer holds that content (a state opened
 * for reading keeps nothing), -1 with a message */
int state_output_iface(struct state *st, const char *target, const char *path, const char *content,
		       const char *iface, const char *by);
/* free one record's contents / an array of n records */
void record_clear(struct record *r);
void record_free_all(struct record *r, size_t n);

/* every rule record with its pins, sorted by name; *n set; free with rule_rec_free_all */
struct rule_rec *state_rules(struct state *st, size_t *n);
/* insert or replace a rule record and its pins (its own transaction unless one is open) */
int state_rule_put(struct state *st, const struct rule_rec *r);
/* replace all rule records with these (lock import), in one transaction */
int state_rules_replace(struct state *st, const struct rule_rec *r, size_t n);
/* append a pin (copied) to r */
void rule_rec_add_pin(struct rule_rec *r, const char *path, const char *hash);
/* free one rule record's contents / an array of n */
void rule_rec_clear(struct rule_rec *r);
void rule_rec_free_all(struct rule_rec *r, size_t n);

/* the example index (SPEC 10.2): an FTS5 table of path and body per file.
 * Make its tables if needed; -1 with a message when SQLite has no FTS5 */
int state_index_open(struct state *st);
/* an in-memory database holding a copy of cachedir/state.db's index (when
 * there is one), for a dry run that must not write; NULL with a message */
struct state *state_open_scratch(const char *cachedir);
/* every indexed path with the content hash it was indexed at, sorted by path;
 * the caller frees each path and both arrays */
int state_index_list(struct state *st, char ***paths, char (**hashes)[HASH_HEX], size_t *n);
/* index (or re-index) path with its hash and text */
int state_index_put(struct state *st, const char *path, const char *hash, const char *body, size_t len);
/* drop path from the index */
int state_index_drop(struct state *st, const char *path);
/* the best matches of an FTS5 query (bm25, a match in the path weighing
 * double; ties by path), at most limit; arrays as state_index_list */
int state_index_search(struct state *st, const char *query, size_t limit, char ***paths,
		       char (**hashes)[HASH_HEX], size_t *n);

/* landing intents (SPEC 10.7): JSON text per target */
int state_intent_put(struct state *st, const char *target, const char *json);
int state_intent_clear(struct state *st, const char *target);
/* open intents; *n set; returns arrays of targets and JSON texts, caller frees each */
int state_intents(struct state *st, char ***targets, char ***jsons, size_t *n);
/* a record put and the intent cleared in one transaction */
int state_land_commit(struct state *st, const struct record *r);

/* failures */
int state_failure_put(struct state *st, const char *target, long run, const char *reason);
/* all failures as target -> struct failure* (the table owns them); free with state_failures_free */
int state_failures(struct state *st, struct htab *out);
void state_failures_free(struct htab *t);

/* small named values (the hash of the lock last written, ...) */
char *state_meta_get(struct state *st, const char *name);
int state_meta_set(struct state *st, const char *name, const char *value);
/* delete the meta entries named PREFIX... whose value (a time) is before t */
int state_meta_expire(struct state *st, const char *prefix, double t);

/* interfaces (SPEC 10.1): the hash of what extractor (the identity of its
 * command) printed on this machine for the file whose content hash is
 * content; the text is in the content store under that hash.  1 when known
 * (hash in out), 0 when not, -1 with a message */
int state_iface_get(struct state *st, const char *content, const char *extractor, char out[HASH_HEX]);
/* remember what an extractor made of content (a state opened for reading
 * keeps nothing and says nothing) */
int state_iface_put(struct state *st, const char *content, const char *extractor, const char *hash);

/* ---- the history: runs, the ledger of calls, outcomes (ledger.c) ---- */

/* start a run; returns its number */
long state_run_start(struct state *st, const char *argv_joined);
/* 1 when the last run started and never finished: it was killed (or ended early) */
int state_run_unfinished(struct state *st);
/* finish a run with its counts */
int state_run_finish(struct state *st, long run, int built, int restored, int uptodate, int failed,
		     int skipped, double seconds);

/* one ledger row: one call (each retry its own row) */
struct ledger_row {
	long run;
	const char *target;
	int attempt;            /* judge attempt: 1, 2, ... */
	int try_no;             /* transport try within the attempt: 1..5 */
	const char *model;
	long input, cache_write, cache_read, output;
	long cache_write_1h;    /* part of cache_write at the 1-hour TTL */
	double cost;            /* USD; < 0 unknown */
	double latency;         /* seconds */
	const char *outcome;    /* ok, retry, failed, auth, invalid */
};
int state_ledger_add(struct state *st, const struct ledger_row *r);
/* ledger totals grouped by "run", "target" or "model" (or NULL: one total);
 * calls fn for each group in order */
int state_ledger_sum(struct state *st, const char *by, long only_run,
		     void (*fn)(void *arg, const char *group, long calls, long input, long cache_write,
				long cache_read, long output, double cost, int unknown_cost),
		     void *arg);
/* how a target's build ended in a run: attempts made and whether it landed */
int state_outcome_add(struct state *st, long run, const char *target, int attempts, int landed);
/* all time: targets landed at the first attempt, after a retry, and failed */
int state_outcome_counts(struct state *st, long *first, long *retry, long *failed);
/* mean latency of successful calls (seconds), or -1 when none */
double state_mean_latency(struct state *st);

#endif
