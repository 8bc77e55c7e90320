/* state.c: cache/state.db.  Every other module goes through these wrappers;
 * nothing but this file and ledger.c (runs, the ledger of calls, outcomes)
 * includes sqlite3.h, and only this file opens the database.  WAL mode and a
 * busy timeout let read-only commands run beside a build; each finished target
 * is one small transaction so that a kill -9 loses nothing that was reported
 * as done. */
#include "state.h"
#include "state_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS stat(path TEXT PRIMARY KEY, dev INTEGER, ino INTEGER, size INTEGER,"
	" mtime_ns INTEGER, ctime_ns INTEGER, written_ns INTEGER, hash TEXT) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS record(target TEXT PRIMARY KEY, key TEXT, model TEXT, generated INTEGER,"
	" manifest TEXT);"
	"CREATE TABLE IF NOT EXISTS output(target TEXT, path TEXT, hash TEXT, PRIMARY KEY(target, path));"
	/* an output's interface, valid while output.hash is still hash; its own
	 * table, so that a state.db an older mpbuild writes stays readable */
	"CREATE TABLE IF NOT EXISTS output_iface(target TEXT, path TEXT, hash TEXT, iface TEXT, extractor TEXT,"
	" PRIMARY KEY(target, path));"
	"CREATE TABLE IF NOT EXISTS intent(target TEXT PRIMARY KEY, json TEXT);"
	"CREATE TABLE IF NOT EXISTS failure(target TEXT PRIMARY KEY, run INTEGER, reason TEXT);"
	"CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE IF NOT EXISTS run(id INTEGER PRIMARY KEY, started TEXT, argv TEXT, built INTEGER,"
	" restored INTEGER, uptodate INTEGER, failed INTEGER, skipped INTEGER, seconds REAL);"
	"CREATE TABLE IF NOT EXISTS ledger(id INTEGER PRIMARY KEY, run INTEGER, target TEXT, attempt INTEGER,"
	" try INTEGER, model TEXT, input INTEGER, cache_write INTEGER, cache_write_1h INTEGER,"
	" cache_read INTEGER, output INTEGER, cost REAL, latency REAL, outcome TEXT);"
	"CREATE TABLE IF NOT EXISTS outcome(run INTEGER, target TEXT, attempts INTEGER, landed INTEGER,"
	" PRIMARY KEY(run, target));"
	"CREATE TABLE IF NOT EXISTS rule(name TEXT PRIMARY KEY, hash TEXT);"
	"CREATE TABLE IF NOT EXISTS pin(rule TEXT, pos INTEGER, path TEXT, hash TEXT, PRIMARY KEY(rule, pos));"
	/* what this machine's extractors made of a content; the texts are in
	 * the content store (iface, which held them here, is gone) */
	"CREATE TABLE IF NOT EXISTS extracted(content TEXT, extractor TEXT, hash TEXT,"
	" PRIMARY KEY(content, extractor)) WITHOUT ROWID;"
	"DROP TABLE IF EXISTS iface;";

int dberr(struct state *st, const char *what)
{
	return error("%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
}

static int exec(struct state *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		error("%s: %s", st->path, msg ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

sqlite3_stmt *prep(struct state *st, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		dberr(st, "prepare");
		return NULL;
	}
	return s;
}

/* open path for reading only, leaving cache/ as it was.  A SQLITE_OPEN_READONLY
 * connection to a WAL database creates state.db-wal and state.db-shm and,
 * unable to checkpoint, leaves them behind: a status or a dry run would
 * change cache/.  So when no -wal file exists (nobody is writing), the
 * connection is read-write but query_only: as the last one to close it
 * checkpoints nothing and removes both files.  While a -wal exists, or when
 * the file cannot be opened for writing, a read-only one does */
static int open_reading(const char *path, sqlite3 **db)
{
	char *wal = xasprintf("%s-wal", path);
	int at_rest = !path_exists(wal);

	free(wal);
	if (at_rest && sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK &&
	    sqlite3_exec(*db, "PRAGMA query_only=1; SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	if (*db)
		sqlite3_close(*db);
	*db = NULL;
	return sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) == SQLITE_OK ? 0 : -1;
}

static int try_open(struct state *st, int readonly)
{
	if (readonly) {
		if (open_reading(st->path, &st->db) < 0)
			return -1;
		sqlite3_busy_timeout(st->db, 5000);
		return 0;
	}
	if (sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		return -1;
	sqlite3_busy_timeout(st->db, 5000);
	if (sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_exec(st->db, schema, NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_exec(st->db, "SELECT count(*) FROM record", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	return 0;
}

struct state *state_open(const char *cachedir, int readonly)
{
	struct state *st = xcalloc(1, sizeof(*st));

	st->path = path_join(cachedir, "state.db");
	st->readonly = readonly;
	if (readonly && !path_exists(st->path)) {
		free(st->path);
		free(st);
		return NULL;
	}
	if (!readonly && mkdirs(cachedir) < 0) {
		error("cannot create %s:", cachedir);
		goto fail;
	}
	if (try_open(st, readonly) == 0)
		return st;
	if (readonly) {
		dberr(st, "cannot open");
		goto fail;
	}
	/* a corrupt state file is a warning and a fresh start, never a crash */
	warn("%s is unusable (%s); moving it aside and starting a new one", st->path,
	     st->db ? sqlite3_errmsg(st->db) : "cannot open");
	sqlite3_close(st->db);
	st->db = NULL;
	{
		char *aside = xasprintf("%s.corrupt", st->path);
		char *wal = xasprintf("%s-wal", st->path), *shm = xasprintf("%s-shm", st->path);

		rename(st->path, aside);
		unlink(wal);
		unlink(shm);
		free(aside);
		free(wal);
		free(shm);
	}
	if (try_open(st, 0) == 0)
		return st;
	dberr(st, "cannot open");
fail:
	if (st->db)
		sqlite3_close(st->db);
	free(st->path);
	free(st);
	return NULL;
}

void state_close(struct state *st)
{
	if (!st)
		return;
	if (st->in_txn)
		exec(st, "ROLLBACK");
	sqlite3_close(st->db);
	free(st->path);
	free(st);
}

int state_begin(struct state *st)
{
	if (exec(st, "BEGIN IMMEDIATE") < 0)
		return -1;
	st->in_txn = 1;
	return 0;
}

int state_commit(struct state *st)
{
	st->in_txn = 0;
	return exec(st, "COMMIT");
}

int state_rollback(struct state *st)
{
	st->in_txn = 0;
	return exec(st, "ROLLBACK");
}

/* run fn inside a transaction unless the caller holds one */
#define TXN_BEGIN(st) int own_ = !(st)->in_txn; if (own_ && state_begin(st) < 0) return -1
#define TXN_END(st, rc) do { if (own_) { if ((rc) == 0) rc = state_commit(st); else state_rollback(st); } } while (0)

int state_stat_load(struct state *st, struct htab *out)
{
	sqlite3_stmt *s = prep(st, "SELECT path, dev, ino, size, mtime_ns, ctime_ns, written_ns, hash FROM stat");

	if (!s)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW) {
		struct stat_entry *e = xcalloc(1, sizeof(*e));
		const char *h = (const char *)sqlite3_column_text(s, 7);

		e->dev = (uint64_t)sqlite3_column_int64(s, 1);
		e->ino = (uint64_t)sqlite3_column_int64(s, 2);
		e->size = (uint64_t)sqlite3_column_int64(s, 3);
		e->mtime_ns = sqlite3_column_int64(s, 4);
		e->ctime_ns = sqlite3_column_int64(s, 5);
		e->written_ns = sqlite3_column_int64(s, 6);
		snprintf(e->hash, sizeof(e->hash), "%s", h ? h : "");
		free(htab_put(out, xstrdup((const char *)sqlite3_column_text(s, 0)), e));
	}
	sqlite3_finalize(s);
	return 0;
}

int state_stat_flush(struct state *st, struct htab *t)
{
	sqlite3_stmt *s;
	size_t i;
	int rc = 0, any = 0;

	for (i = 0; i < t->cap && !any; i++)
		if (t->keys[i] && ((struct stat_entry *)t->vals[i])->dirty)
			any = 1;
	if (!any)
		return 0;
	{
		TXN_BEGIN(st);
		s = prep(st, "INSERT OR REPLACE INTO stat VALUES(?,?,?,?,?,?,?,?)");
		if (!s)
			rc = -1;
		for (i = 0; s && i < t->cap; i++) {
			struct stat_entry *e = t->vals[i];

			if (!t->keys[i] || !e->dirty)
				continue;
			sqlite3_bind_text(s, 1, t->keys[i], -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 2, (sqlite3_int64)e->dev);
			sqlite3_bind_int64(s, 3, (sqlite3_int64)e->ino);
			sqlite3_bind_int64(s, 4, (sqlite3_int64)e->size);
			sqlite3_bind_int64(s, 5, e->mtime_ns);
			sqlite3_bind_int64(s, 6, e->ctime_ns);
			sqlite3_bind_int64(s, 7, e->written_ns);
			sqlite3_bind_text(s, 8, e->hash, -1, SQLITE_STATIC);
			if (sqlite3_step(s) != SQLITE_DONE) {
				rc = dberr(st, "stat cache");
				break;
			}
			sqlite3_reset(s);
			e->dirty = 0;
		}
		sqlite3_finalize(s);
		TXN_END(st, rc);
	}
	return rc;
}

void state_stat_free(struct htab *t)
{
	htab_free_owned(t, free);
}

void record_clear(struct record *r)
{
	size_t i;

	free(r->target);
	free(r->model);
	free(r->manifest);
	for (i = 0; i < r->n; i++)
		free(r->paths[i]);
	free(r->paths);
	free(r->hashes);
	free(r->ifaces);
	free(r->iface_by);
	memset(r, 0, sizeof(*r));
}

void record_set_iface(struct record *r, size_t i, const char *iface, const char *by)
{
	/* the arrays are made with room for every output when first needed */
	if (!r->ifaces || !r->iface_by) {
		free(r->ifaces);
		free(r->iface_by);
		r->ifaces = xcalloc(r->n + 1, sizeof(*r->ifaces));
		r->iface_by = xcalloc(r->n + 1, sizeof(*r->iface_by));
	}
	snprintf(r->ifaces[i], HASH_HEX, "%s", iface);
	snprintf(r->iface_by[i], HASH_HEX, "%s", by);
}

void record_add_output(struct record *r, const char *path, const char *hash, const char *iface, const char *by)
{
	r->paths = xreallocarray(r->paths, r->n + 1, sizeof(*r->paths));
	r->hashes = xreallocarray(r->hashes, r->n + 1, sizeof(*r->hashes));
	r->paths[r->n] = xstrdup(path ? path : "");
	snprintf(r->hashes[r->n], HASH_HEX, "%s", hash ? hash : "");
	if (r->ifaces) {
		r->ifaces = xreallocarray(r->ifaces, r->n + 1, sizeof(*r->ifaces));
		r->iface_by = xreallocarray(r->iface_by, r->n + 1, sizeof(*r->iface_by));
		r->ifaces[r->n][0] = r->iface_by[r->n][0] = '\0';
	}
	r->n++;
	if (iface && by)
		record_set_iface(r, r->n - 1, iface, by);
}

const char *record_iface(const struct record *r, size_t i, const char **by)
{
	if (!r->ifaces || !r->iface_by || i >= r->n || !r->ifaces[i][0] || !r->iface_by[i][0])
		return NULL;
	*by = r->iface_by[i];
	return r->ifaces[i];
}

void record_free_all(struct record *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		record_clear(&r[i]);
	free(r);
}

char *col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? xstrdup((const char *)t) : NULL;
}

struct record *state_records(struct state *st, size_t *n)
{
	sqlite3_stmt *s = prep(st, "SELECT target, key, model, generated, manifest IS NOT NULL FROM record ORDER BY target");
	sqlite3_stmt *o = NULL;
	struct record *r = NULL;
	size_t cap = 0, j = 0;

	*n = 0;
	/* an interface applies while the output still has the content it was
	 * taken of; a state.db from before output_iface, opened for reading,
	 * has none */
	if (sqlite3_prepare_v2(st->db, "SELECT o.target, o.path, o.hash, i.iface, i.extractor FROM output o"
			       " LEFT JOIN output_iface i"
			       " ON i.target = o.target AND i.path = o.path AND i.hash = o.hash"
			       " ORDER BY o.target, o.path", -1, &o, NULL) != SQLITE_OK) {
		sqlite3_finalize(o);
		o = prep(st, "SELECT target, path, hash, NULL, NULL FROM output ORDER BY target, path");
	}
	if (!s || !o) {
		sqlite3_finalize(s);
		sqlite3_finalize(o);
		return NULL;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		struct record *e;
		const char *k = (const char *)sqlite3_column_text(s, 1);

		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			r = xreallocarray(r, cap, sizeof(*r));
		}
		e = &r[(*n)++];
		memset(e, 0, sizeof(*e));
		e->target = col_dup(s, 0);
		snprintf(e->key, sizeof(e->key), "%s", k ? k : "");
		e->model = col_dup(s, 2);
		e->generated = sqlite3_column_int(s, 3);
		e->has_manifest = sqlite3_column_int(s, 4);
	}
	/* both queries are ordered by target: merge them in one pass */
	while (sqlite3_step(o) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(o, 0);
		struct record *e;
		int c = 1;

		while (j < *n && (c = strcmp(r[j].target, t)) < 0)
			j++;
		if (j >= *n || c != 0)
			continue;
		e = &r[j];
		record_add_output(e, (const char *)sqlite3_column_text(o, 1), (const char *)sqlite3_column_text(o, 2),
				  (const char *)sqlite3_column_text(o, 3), (const char *)sqlite3_column_text(o, 4));
	}
	sqlite3_finalize(s);
	sqlite3_finalize(o);
	return r;
}

char *state_manifest(struct state *st, const char *target)
{
	sqlite3_stmt *s = prep(st, "SELECT manifest FROM record WHERE target=?");
	char *m = NULL;

	if (!s)
		return NULL;
	sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		m = col_dup(s, 0);
	sqlite3_finalize(s);
	return m;
}

int exec_target(struct state *st, const char *sql, const char *target)
{
	sqlite3_stmt *s = prep(st, sql);
	int rc = 0;

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "update");
	sqlite3_finalize(s);
	return rc;
}

/* the outputs of record r and their interfaces, in place of target's */
static int put_outputs(struct state *st, const struct record *r)
{
	sqlite3_stmt *s, *f;
	const char *iface, *by;
	size_t i;
	int rc = exec_target(st, "DELETE FROM output WHERE target=?", r->target);

	if (rc == 0)
		rc = exec_target(st, "DELETE FROM output_iface WHERE target=?", r->target);
	if (rc < 0)
		return -1;
	s = prep(st, "INSERT OR REPLACE INTO output VALUES(?,?,?)");
	f = prep(st, "INSERT OR REPLACE INTO output_iface VALUES(?,?,?,?,?)");
	if (!s || !f)
		rc = -1;
	for (i = 0; i < r->n && rc == 0; i++) {
		sqlite3_bind_text(s, 1, r->target, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, r->paths[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, r->hashes[i], -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = dberr(st, "record");
		sqlite3_reset(s);
		if (rc < 0 || !(iface = record_iface(r, i, &by)))
			continue;
		sqlite3_bind_text(f, 1, r->target, -1, SQLITE_STATIC);
		sqlite3_bind_text(f, 2, r->paths[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(f, 3, r->hashes[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(f, 4, iface, -1, SQLITE_STATIC);
		sqlite3_bind_text(f, 5, by, -1, SQLITE_STATIC);
		if (sqlite3_step(f) != SQLITE_DONE)
			rc = dberr(st, "record");
		sqlite3_reset(f);
	}
	sqlite3_finalize(s);
	sqlite3_finalize(f);
	return rc;
}

static int put_record(struct state *st, const struct record *r)
{
	sqlite3_stmt *s;
	int rc = 0;

	s = prep(st, "INSERT OR REPLACE INTO record VALUES(?,?,?,?,?)");
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, r->target, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, r->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, r->model ? r->model : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, r->generated);
	if (r->manifest)
		sqlite3_bind_text(s, 5, r->manifest, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 5);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "record");
	sqlite3_finalize(s);
	return rc == 0 ? put_outputs(st, r) : rc;
}

int state_record_put(struct state *st, const struct record *r)
{
	int rc;
	TXN_BEGIN(st);
	rc = put_record(st, r);
	TXN_END(st, rc);
	return rc;
}

int state_record_delete(struct state *st, const char *target)
{
	int rc;
	TXN_BEGIN(st);
	rc = exec_target(st, "DELETE FROM record WHERE target=?", target);
	if (rc == 0)
		rc = exec_target(st, "DELETE FROM output WHERE target=?", target);
	if (rc == 0)
		rc = exec_target(st, "DELETE FROM output_iface WHERE target=?", target);
	TXN_END(st, rc);
	return rc;
}

int state_record_rename(struct state *st, const char *from, const char *to)
{
	static const char *const sql[] = {"UPDATE record SET target=?1 WHERE target=?2",
					  "UPDATE output SET target=?1 WHERE target=?2",
					  "UPDATE output_iface SET target=?1 WHERE target=?2"};
	size_t i;
	int rc = 0;
	TXN_BEGIN(st);
	for (i = 0; i < LEN(sql) && rc == 0; i++) {
		sqlite3_stmt *s = prep(st, sql[i]);

		if (!s) {
			rc = -1;
			break;
		}
		sqlite3_bind_text(s, 1, to, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, from, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = dberr(st, "rename");
		sqlite3_finalize(s);
	}
	if (rc == 0)
		rc = exec_target(st, "DELETE FROM failure WHERE target=?", from);
	TXN_END(st, rc);
	return rc;
}

int state_records_replace(struct state *st, const struct record *r, size_t n)
{
	size_t i;
	int rc;
	TXN_BEGIN(st);
	rc = exec(st, "DELETE FROM record; DELETE FROM output; DELETE FROM output_iface;");
	for (i = 0; i < n && rc == 0; i++)
		rc = put_record(st, &r[i]);
	TXN_END(st, rc);
	return rc;
}

int state_intent_put(struct state *st, const char *target, const char *json)
{
	sqlite3_stmt *s = prep(st, "INSERT OR REPLACE INTO intent VALUES(?,?)");
	int rc = 0;

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, json, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "intent");
	sqlite3_finalize(s);
	return rc;
}

int state_intent_clear(struct state *st, const char *target)
{
	return exec_target(st, "DELETE FROM intent WHERE target=?", target);
}

int state_intents(struct state *st, char ***targets, char ***jsons, size_t *n)
{
	sqlite3_stmt *s = prep(st, "SELECT target, json FROM intent ORDER BY target");

	*n = 0;
	*targets = *jsons = NULL;
	if (!s)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW) {
		*targets = xreallocarray(*targets, *n + 1, sizeof(**targets));
		*jsons = xreallocarray(*jsons, *n + 1, sizeof(**jsons));
		(*targets)[*n] = col_dup(s, 0);
		(*jsons)[*n] = col_dup(s, 1);
		(*n)++;
	}
	sqlite3_finalize(s);
	return 0;
}

int state_land_commit(struct state *st, const struct record *r)
{
	int rc;
	TXN_BEGIN(st);
	rc = put_record(st, r);
	if (rc == 0)
		rc = exec_target(st, "DELETE FROM intent WHERE target=?", r->target);
	if (rc == 0)
		rc = exec_target(st, "DELETE FROM failure WHERE target=?", r->target);
	TXN_END(st, rc);
	return rc;
}

int state_failure_put(struct state *st, const char *target, long run, const char *reason)
{
	sqlite3_stmt *s = prep(st, "INSERT OR REPLACE INTO failure VALUES(?,?,?)");
	int rc = 0;

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, run);
	sqlite3_bind_text(s, 3, reason, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "failure");
	sqlite3_finalize(s);
	return rc;
}

int state_failures(struct state *st, struct htab *out)
{
	sqlite3_stmt *s = prep(st, "SELECT target, run, reason FROM failure");

	if (!s)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW) {
		struct failure *f = xcalloc(1, sizeof(*f));

		f->target = col_dup(s, 0);
		f->run = sqlite3_column_int64(s, 1);
		f->reason = col_dup(s, 2);
		if (!f->reason)
			f->reason = xstrdup("");
		htab_put(out, f->target, f);
	}
	sqlite3_finalize(s);
	return 0;
}

void state_failures_free(struct htab *t)
{
	size_t i;

	for (i = 0; i < t->cap; i++) {
		struct failure *f = t->vals[i];

		if (!t->keys[i])
			continue;
		free(f->target);
		free(f->reason);
		free(f);
	}
	htab_free(t);
}

char *state_meta_get(struct state *st, const char *name)
{
	sqlite3_stmt *s = prep(st, "SELECT value FROM meta WHERE name=?");
	char *v = NULL;

	if (!s)
		return NULL;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = col_dup(s, 0);
	sqlite3_finalize(s);
	return v;
}

int state_meta_set(struct state *st, const char *name, const char *value)
{
	sqlite3_stmt *s = prep(st, "INSERT OR REPLACE INTO meta VALUES(?,?)");
	int rc = 0;

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "meta");
	sqlite3_finalize(s);
	return rc;
}

int state_meta_expire(struct state *st, const char *prefix, double t)
{
	sqlite3_stmt *s = prep(st, "DELETE FROM meta WHERE substr(name, 1, length(?1)) = ?1 AND CAST(value AS REAL) < ?2");
	int rc = 0;

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 2, t);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "meta");
	sqlite3_finalize(s);
	return rc;
}

int state_iface_get(struct state *st, const char *content, const char *extractor, char out[HASH_HEX])
{
	sqlite3_stmt *s = NULL;
	const char *h;
	int rc = 0;

	/* a state.db from before the table, opened for reading, has none: a miss */
	if (sqlite3_prepare_v2(st->db, "SELECT hash FROM extracted WHERE content=? AND extractor=?", -1, &s, NULL) !=
	    SQLITE_OK) {
		sqlite3_finalize(s);
		return st->readonly ? 0 : dberr(st, "prepare");
	}
	sqlite3_bind_text(s, 1, content, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, extractor, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW && (h = (const char *)sqlite3_column_text(s, 0)) && hash_valid(h)) {
		snprintf(out, HASH_HEX, "%s", h);
		rc = 1;
	}
	sqlite3_finalize(s);
	return rc;
}

int state_iface_put(struct state *st, const char *content, const char *extractor, const char *hash)
{
	sqlite3_stmt *s;
	int rc = 0;

	if (st->readonly)
		return 0;
	if (!(s = prep(st, "INSERT OR REPLACE INTO extracted VALUES(?,?,?)")))
		return -1;
	sqlite3_bind_text(s, 1, content, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, extractor, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "extracted");
	sqlite3_finalize(s);
	return rc;
}

int state_output_iface(struct state *st, const char *target, const char *path, const char *content,
		       const char *iface, const char *by)
{
	/* written only where the record holds that content and says otherwise,
	 * so that a no-op asking again writes nothing */
	sqlite3_stmt *s;
	int rc;

	if (st->readonly)
		return 0;
	if (!(s = prep(st, "INSERT OR REPLACE INTO output_iface SELECT ?1, ?2, ?3, ?4, ?5"
			   " WHERE EXISTS (SELECT 1 FROM output WHERE target=?1 AND path=?2 AND hash=?3)"
			   " AND NOT EXISTS (SELECT 1 FROM output_iface WHERE target=?1 AND path=?2 AND hash=?3"
			   " AND iface=?4 AND extractor=?5)")))
		return -1;
	sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, content, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, iface, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, by, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(st->db) > 0 : dberr(st, "output_iface");
	sqlite3_finalize(s);
	return rc;
}

void rule_rec_clear(struct rule_rec *r)
{
	size_t i;

	free(r->name);
	for (i = 0; i < r->n; i++)
		free(r->paths[i]);
	free(r->paths);
	free(r->hashes);
	memset(r, 0, sizeof(*r));
}

void rule_rec_free_all(struct rule_rec *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		rule_rec_clear(&r[i]);
	free(r);
}

void rule_rec_add_pin(struct rule_rec *r, const char *path, const char *hash)
{
	r->paths = xreallocarray(r->paths, r->n + 1, sizeof(*r->paths));
	r->hashes = xreallocarray(r->hashes, r->n + 1, sizeof(*r->hashes));
	r->paths[r->n] = xstrdup(path);
	snprintf(r->hashes[r->n], HASH_HEX, "%s", hash);
	r->n++;
}

/* a read-only open does not make tables: a state file from an older mpbuild may lack one */
static int has_table(struct state *st, const char *name)
{
	sqlite3_stmt *s = prep(st, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?");
	int yes;

	if (!s)
		return 0;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	yes = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return yes;
}

struct rule_rec *state_rules(struct state *st, size_t *n)
{
	sqlite3_stmt *s, *p;
	struct rule_rec *r = NULL;
	size_t j = 0;

	*n = 0;
	if (!has_table(st, "rule") || !has_table(st, "pin"))
		return NULL;
	s = prep(st, "SELECT name, hash FROM rule ORDER BY name");
	p = prep(st, "SELECT rule, path, hash FROM pin ORDER BY rule, pos");
	while (s && p && sqlite3_step(s) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(s, 1);

		r = xreallocarray(r, *n + 1, sizeof(*r));
		memset(&r[*n], 0, sizeof(*r));
		r[*n].name = col_dup(s, 0);
		snprintf(r[*n].hash, HASH_HEX, "%s", h ? h : "");
		(*n)++;
	}
	/* both ordered by rule name: merge in one pass, as state_records does */
	while (s && p && sqlite3_step(p) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(p, 0), *h = (const char *)sqlite3_column_text(p, 2);
		int c = 1;

		while (j < *n && (c = strcmp(r[j].name, name)) < 0)
			j++;
		if (j < *n && c == 0 && sqlite3_column_text(p, 1))
			rule_rec_add_pin(&r[j], (const char *)sqlite3_column_text(p, 1), h ? h : "");
	}
	sqlite3_finalize(s);
	sqlite3_finalize(p);
	return r;
}

static int put_rule(struct state *st, const struct rule_rec *r)
{
	sqlite3_stmt *s = NULL, *p = NULL;
	size_t i;
	int rc = exec_target(st, "DELETE FROM pin WHERE rule=?", r->name);

	if (rc == 0 && (!(s = prep(st, "INSERT OR REPLACE INTO rule VALUES(?,?)")) ||
			!(p = prep(st, "INSERT INTO pin VALUES(?,?,?,?)"))))
		rc = -1;
	if (rc == 0) {
		sqlite3_bind_text(s, 1, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, r->hash, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = dberr(st, "rule");
	}
	for (i = 0; rc == 0 && i < r->n; i++) {
		sqlite3_bind_text(p, 1, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(p, 2, (sqlite3_int64)i);
		sqlite3_bind_text(p, 3, r->paths[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(p, 4, r->hashes[i], -1, SQLITE_STATIC);
		if (sqlite3_step(p) != SQLITE_DONE)
			rc = dberr(st, "pin");
		sqlite3_reset(p);
	}
	sqlite3_finalize(s);
	sqlite3_finalize(p);
	return rc;
}

int state_rule_put(struct state *st, const struct rule_rec *r)
{
	int rc;
	TXN_BEGIN(st);
	rc = put_rule(st, r);
	TXN_END(st, rc);
	return rc;
}

int state_rules_replace(struct state *st, const struct rule_rec *r, size_t n)
{
	size_t i;
	int rc;
	TXN_BEGIN(st);
	rc = exec(st, "DELETE FROM rule; DELETE FROM pin;");
	for (i = 0; i < n && rc == 0; i++)
		rc = put_rule(st, &r[i]);
	TXN_END(st, rc);
	return rc;
}

/* the example index (SPEC 10.2), made on first use so that a SQLite without
 * FTS5 costs only retrieval, never the whole state file */
static const char index_schema[] =
	"CREATE TABLE IF NOT EXISTS example(id INTEGER PRIMARY KEY, path TEXT UNIQUE, hash TEXT);"
	"CREATE VIRTUAL TABLE IF NOT EXISTS example_fts USING fts5(path, body);";

int state_index_open(struct state *st)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, index_schema, NULL, NULL, &msg) != SQLITE_OK) {
		error("%s: cannot make the example index (%s); this SQLite may lack FTS5", st->path, msg ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* copy the index of the state file at path into st (a scratch database) */
static void copy_index(struct state *st, const char *path)
{
	sqlite3 *from = NULL;
	sqlite3_stmt *s = NULL, *e = prep(st, "INSERT INTO example VALUES(?,?,?)"),
		     *f = prep(st, "INSERT INTO example_fts(rowid, path, body) VALUES(?,?,?)");

	/* for reading only, so that the real file and cache/ stay as they are */
	if (e && f && open_reading(path, &from) == 0 &&
	    sqlite3_prepare_v2(from, "SELECT example.id, example.path, example.hash, example_fts.body FROM example"
				     " JOIN example_fts ON example_fts.rowid = example.id", -1, &s, NULL) == SQLITE_OK) {
		while (sqlite3_step(s) == SQLITE_ROW) {
			sqlite3_bind_int64(e, 1, sqlite3_column_int64(s, 0));
			sqlite3_bind_text(e, 2, (const char *)sqlite3_column_text(s, 1), -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(e, 3, (const char *)sqlite3_column_text(s, 2), -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(f, 1, sqlite3_column_int64(s, 0));
			sqlite3_bind_text(f, 2, (const char *)sqlite3_column_text(s, 1), -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(f, 3, (const char *)sqlite3_column_text(s, 3), -1, SQLITE_TRANSIENT);
			sqlite3_step(e);
			sqlite3_step(f);
			sqlite3_reset(e);
			sqlite3_reset(f);
		}
	}
	sqlite3_finalize(s);
	sqlite3_finalize(e);
	sqlite3_finalize(f);
	sqlite3_close(from);
}

struct state *state_open_scratch(const char *cachedir)
{
	struct state *st = xcalloc(1, sizeof(*st));
	char *disk = path_join(cachedir, "state.db");

	st->path = xasprintf("%s (a scratch copy in memory)", disk);
	if (sqlite3_open_v2(":memory:", &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    exec(st, schema) < 0 || state_index_open(st) < 0) {
		state_close(st);
		free(disk);
		return NULL;
	}
	if (path_exists(disk))
		copy_index(st, disk);
	free(disk);
	return st;
}
