/* check.h: running validators and check commands: no shell, in the project
 * directory, stdin from /dev/null, an environment without API keys, a timeout
 * that kills the whole process group (SPEC 6 items 3 and 4). */
#ifndef MPBUILD_CHECK_H
#define MPBUILD_CHECK_H

#include "plan.h"

enum {
	RUN_TIMEOUT = -2,       /* killed at the timeout */
	RUN_NOTFOUND = -3,      /* the program does not exist */
	RUN_ERROR = -4,         /* could not start it */
};

/* run argv (NULL-terminated) in dir; its output (stdout and stderr) is appended
 * to out; returns its exit status, 128+N for a signal, or a RUN_ code */
int check_run(char *const argv[], const char *dir, int timeout, struct buffer *out);
/* the argv of validator v with {file} replaced by file; free with check_argv_free */
char **check_argv(const struct argv *v, const char *file);
void check_argv_free(char **argv);
/* the hash of the whole set of check commands of the plan (for approval) */
void check_set_hash(const struct plan *p, char out[72]);
/* the last n lines of s, for messages */
const char *check_tail(const char *s, int n);
/* 1 when the environment variable named name must not reach a child */
int check_secret_env(const char *name);

#endif
