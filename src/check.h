/* check.h: running validators and check commands: no shell, in the project
 * directory, stdin from /dev/null, an environment without API keys, a timeout
 * that kills the whole process group (SPEC 6 items 3 and 4). */
#ifndef MPBUILD_CHECK_H
#define MPBUILD_CHECK_H

#include "plan.h"
#include "util.h"

enum {
	RUN_TIMEOUT = -2,       /* killed at the timeout */
	RUN_NOTFOUND = -3,      /* the program does not exist */
	RUN_ERROR = -4,         /* could not start it */
};

/* A box is one target's throwaway view of the project: its validators and
 * checks see the tree with the candidate files in place, and nothing they
 * write reaches the tree.  Where the kernel allows, a command runs in its own
 * user, PID, mount, IPC, UTS and (unless the settings allow the network)
 * network namespaces, with a /proc of its own and the project mounted as an
 * overlay whose upper layer is a scratch directory; elsewhere the project is
 * copied to a scratch directory (without cache/ and .git/) and one warning
 * per run names what is missing.  Always: its own session, resource limits,
 * stdin from /dev/null, no API key in its environment. */
struct box;

/* a box over root with limits lim; NULL with a message */
struct box *box_open(const char *root, const struct sandbox_limits *lim);
/* put a candidate file at rel (resolved inside the project: no link on the
 * way) into the box; -1 with errno set */
int box_put(struct box *b, const char *rel, const void *data, size_t len);
/* run argv (NULL-terminated) in the box, in the project directory; its
 * output (stdout and stderr) is appended to out; returns its exit status,
 * 128+N for a signal, or a RUN_ code.  Boxes may run on several threads */
int box_run(struct box *b, char *const argv[], int timeout, struct buffer *out);
/* box_run with the command's stdout appended to out and its stderr (and
 * mpbuild's notes on the box) to err, for commands whose output is data */
int box_run_stdout(struct box *b, char *const argv[], int timeout, struct buffer *out, struct buffer *err);
/* remove the box and its scratch directory */
void box_close(struct box *b);
/* the argv of command v with the first {file} in each word replaced by file
 * and each {rules} by the built-in rules directory; free with check_argv_free */
char **check_argv(const struct argv *v, const char *file);
void check_argv_free(char **argv);
/* the hash of the whole set of check commands of the plan (for approval) */
void check_set_hash(const struct plan *p, char out[72]);
/* the last n lines of s, for messages */
const char *check_tail(const char *s, int n);
/* 1 when the environment variable named name must not reach a child */
int check_secret_env(const char *name);

#endif
