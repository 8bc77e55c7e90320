/* ledger.c: the history in cache/state.db: the runs (one left unfinished
 * tells of a crash), the ledger of model calls, one row per try, and how each
 * called target ended; and what is read back from them, the totals of
 * `mpbuild cost` and the mean latency that picks the cache TTL.  The tables
 * are made with the rest of the schema in state.c. */
#include "state.h"
#include "state_int.h"

#include <stdlib.h>
#include <string.h>

long state_run_start(struct state *st, const char *argv_joined)
{
	sqlite3_stmt *s = prep(st, "INSERT INTO run(started, argv) VALUES(strftime('%Y-%m-%dT%H:%M:%SZ','now'), ?)");
	long id = 0;

	if (!s)
		return 0;
	sqlite3_bind_text(s, 1, argv_joined, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_DONE)
		id = (long)sqlite3_last_insert_rowid(st->db);
	sqlite3_finalize(s);
	return id;
}

int state_run_unfinished(struct state *st)
{
	sqlite3_stmt *s = prep(st, "SELECT seconds IS NULL FROM run ORDER BY id DESC LIMIT 1");
	int rc = 0;

	if (!s)
		return 0;
	if (sqlite3_step(s) == SQLITE_ROW)
		rc = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc;
}

int state_run_finish(struct state *st, long run, int built, int restored, int uptodate, int failed,
		     int skipped, double seconds)
{
	sqlite3_stmt *s = prep(st, "UPDATE run SET built=?, restored=?, uptodate=?, failed=?, skipped=?, seconds=? WHERE id=?");
	int rc = 0;

	if (!s)
		return -1;
	sqlite3_bind_int(s, 1, built);
	sqlite3_bind_int(s, 2, restored);
	sqlite3_bind_int(s, 3, uptodate);
	sqlite3_bind_int(s, 4, failed);
	sqlite3_bind_int(s, 5, skipped);
	sqlite3_bind_double(s, 6, seconds);
	sqlite3_bind_int64(s, 7, run);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "run");
	sqlite3_finalize(s);
	return rc;
}

int state_ledger_add(struct state *st, const struct ledger_row *r)
{
	sqlite3_stmt *s = prep(st, "INSERT INTO ledger(run, target, attempt, try, model, input, cache_write,"
				   " cache_write_1h, cache_read, output, cost, latency, outcome)"
				   " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)");
	int rc = 0;

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, r->run);
	sqlite3_bind_text(s, 2, r->target, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, r->attempt);
	sqlite3_bind_int(s, 4, r->try_no);
	sqlite3_bind_text(s, 5, r->model, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, r->input);
	sqlite3_bind_int64(s, 7, r->cache_write);
	sqlite3_bind_int64(s, 8, r->cache_write_1h);
	sqlite3_bind_int64(s, 9, r->cache_read);
	sqlite3_bind_int64(s, 10, r->output);
	if (r->cost < 0)
		sqlite3_bind_null(s, 11);
	else
		sqlite3_bind_double(s, 11, r->cost);
	sqlite3_bind_double(s, 12, r->latency);
	sqlite3_bind_text(s, 13, r->outcome, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "ledger");
	sqlite3_finalize(s);
	return rc;
}

int state_ledger_sum(struct state *st, const char *by, long only_run,
		     void (*fn)(void *arg, const char *group, long calls, long input, long cache_write,
				long cache_read, long output, double cost, int unknown_cost),
		     void *arg)
{
	const char *col = !by ? "'total'" : strcmp(by, "run") == 0 ? "run" : strcmp(by, "model") == 0 ? "model" : "target";
	char *sql = xasprintf("SELECT CAST(%s AS TEXT), count(*), sum(input), sum(cache_write), sum(cache_read),"
			      " sum(output), sum(coalesce(cost, 0)), sum(cost IS NULL) FROM ledger%s GROUP BY %s"
			      " ORDER BY min(id)",
			      col, only_run > 0 ? " WHERE run=?" : "", col);
	sqlite3_stmt *s = prep(st, sql);

	free(sql);
	if (!s)
		return -1;
	if (only_run > 0)
		sqlite3_bind_int64(s, 1, only_run);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (sqlite3_column_int64(s, 1) == 0)
			continue;
		fn(arg, (const char *)sqlite3_column_text(s, 0), (long)sqlite3_column_int64(s, 1),
		   (long)sqlite3_column_int64(s, 2), (long)sqlite3_column_int64(s, 3),
		   (long)sqlite3_column_int64(s, 4), (long)sqlite3_column_int64(s, 5),
		   sqlite3_column_double(s, 6), sqlite3_column_int(s, 7) > 0);
	}
	sqlite3_finalize(s);
	return 0;
}

double state_mean_latency(struct state *st)
{
	sqlite3_stmt *s = prep(st, "SELECT avg(latency) FROM ledger WHERE outcome='ok'");
	double v = -1;

	if (!s)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		v = sqlite3_column_double(s, 0);
	sqlite3_finalize(s);
	return v;
}

int state_outcome_add(struct state *st, long run, const char *target, int attempts, int landed)
{
	sqlite3_stmt *s = prep(st, "INSERT OR REPLACE INTO outcome VALUES(?,?,?,?)");
	int rc = 0;

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, run);
	sqlite3_bind_text(s, 2, target, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, attempts);
	sqlite3_bind_int(s, 4, landed);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "outcome");
	sqlite3_finalize(s);
	return rc;
}

int state_outcome_counts(struct state *st, long *first, long *retry, long *failed)
{
	sqlite3_stmt *s = prep(st, "SELECT sum(landed AND attempts = 1), sum(landed AND attempts > 1), sum(NOT landed)"
				   " FROM outcome");

	*first = *retry = *failed = 0;
	if (!s)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW) {
		*first = (long)sqlite3_column_int64(s, 0);
		*retry = (long)sqlite3_column_int64(s, 1);
		*failed = (long)sqlite3_column_int64(s, 2);
	}
	sqlite3_finalize(s);
	return 0;
}
