/* state_int.h: what the files of cache/state.db (state.c, ledger.c, exindex.c)
 * share and nobody else sees: the connection behind state.h's struct state
 * and the helpers every query uses.  Only they include it, and so sqlite3.h. */
#ifndef MPBUILD_STATE_INT_H
#define MPBUILD_STATE_INT_H

#include <sqlite3.h>

struct state {
	sqlite3 *db;            /* opened NOMUTEX: a caller with threads serialises its calls */
	char *path;             /* cachedir/state.db, as messages name it */
	int in_txn;             /* a transaction from state_begin is open */
	int readonly;           /* opened for reading: caches are not written */
};

/* "path: what: SQLite's message" through error(); returns -1 */
int dberr(struct state *st, const char *what);
/* sql prepared on st's connection; NULL (with a message) when it does not prepare */
sqlite3_stmt *prep(struct state *st, const char *sql);
/* column i of s's row, malloc'd, or NULL */
char *col_dup(sqlite3_stmt *s, int i);
/* run sql, whose one parameter is target; -1 with a message */
int exec_target(struct state *st, const char *sql, const char *target);

#endif
