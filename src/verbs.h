/* verbs.h: the commands that share the engine's view of staleness without
 * building: check, status, explain, clean, accept, touch and approve. */
#ifndef MPBUILD_VERBS_H
#define MPBUILD_VERBS_H

#include <stddef.h>

/* check the plan (and, with a budget, that every model it may call has a
 * price); warn, as -n does, about each task a build would call now whose
 * prompt may pass its model's price band.  An exit code */
int build_check(const char *root);
/* per target: up to date, stale (and why), failed, never built, edited */
int build_status(const char *root, char **targets, size_t n);
/* which inputs of target changed since its last build */
int build_explain(const char *root, const char *target);
/* remove generated, unedited outputs of the targets (all when n == 0);
 * dry (-n): list them and remove nothing */
int build_clean(const char *root, char **targets, size_t n, int dry);
/* remove outputs that no task declares any more, unless a person edited them,
 * and drop the records of the tasks that are gone (clean --orphans); dry
 * (-n): list them and change nothing */
int build_clean_orphans(const char *root, int dry);
/* approve the plan's check commands: their hash goes into the lock; dry
 * (-n): say what would be approved and change nothing */
int build_approve(const char *root, int dry);
/* record the current key and output hashes of the targets without a call:
 * accept (edited outputs become the recorded ones) or touch (make -t); dry
 * (-n): name the targets it would mark and change nothing */
int build_mark(const char *root, char **targets, size_t n, int touch, int dry);

#endif
