/* exindex.c: the example index in cache/state.db (SPEC 10.2): the example
 * files of the rules and the plans, by path and hash, with their text in an
 * FTS5 table that retrieve.c searches.  Beside state.c (which makes the
 * tables and opens the scratch copy), through state_int.h. */
#include "state.h"
#include "state_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the (path, hash) rows of s, appended to growing arrays */
static int path_rows(struct state *st, sqlite3_stmt *s, char ***paths, char (**hashes)[HASH_HEX], size_t *n)
{
	int step;

	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(s, 1);

		*paths = xreallocarray(*paths, *n + 1, sizeof(**paths));
		*hashes = xreallocarray(*hashes, *n + 1, sizeof(**hashes));
		(*paths)[*n] = col_dup(s, 0);
		snprintf((*hashes)[*n], HASH_HEX, "%s", h ? h : "");
		(*n)++;
	}
	sqlite3_finalize(s);
	return step == SQLITE_DONE ? 0 : dberr(st, "example index");
}

int state_index_list(struct state *st, char ***paths, char (**hashes)[HASH_HEX], size_t *n)
{
	sqlite3_stmt *s = prep(st, "SELECT path, hash FROM example ORDER BY path");

	*n = 0;
	*paths = NULL;
	*hashes = NULL;
	return s ? path_rows(st, s, paths, hashes, n) : -1;
}

int state_index_drop(struct state *st, const char *path)
{
	int rc = exec_target(st, "DELETE FROM example_fts WHERE rowid=(SELECT id FROM example WHERE path=?)", path);

	return rc == 0 ? exec_target(st, "DELETE FROM example WHERE path=?", path) : rc;
}

int state_index_put(struct state *st, const char *path, const char *hash, const char *body, size_t len)
{
	sqlite3_stmt *s;
	sqlite3_int64 id;
	int rc = state_index_drop(st, path);

	if (rc < 0 || !(s = prep(st, "INSERT INTO example(path, hash) VALUES(?,?)")))
		return -1;
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "example index");
	sqlite3_finalize(s);
	id = sqlite3_last_insert_rowid(st->db);
	if (rc < 0 || !(s = prep(st, "INSERT INTO example_fts(rowid, path, body) VALUES(?,?,?)")))
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, body ? body : "", (int)len, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = dberr(st, "example index");
	sqlite3_finalize(s);
	return rc;
}

int state_index_search(struct state *st, const char *query, size_t limit, char ***paths,
		       char (**hashes)[HASH_HEX], size_t *n)
{
	/* bm25 ranks best first (most negative); a match in the path counts twice */
	sqlite3_stmt *s = prep(st, "SELECT example.path, example.hash FROM example_fts JOIN example"
				   " ON example.id = example_fts.rowid WHERE example_fts MATCH ?"
				   " ORDER BY bm25(example_fts, 2.0, 1.0), example.path LIMIT ?");

	*n = 0;
	*paths = NULL;
	*hashes = NULL;
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, query, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
	return path_rows(st, s, paths, hashes, n);
}
