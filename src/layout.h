/* layout.h: in which order a task's prompt shows its dependencies'
 * interfaces, and after which of them layer 4 takes cache breakpoints
 * (SPEC 5).  Both are pure functions of the plan (its graph, rules and the
 * model each task is sent to), never of what was built, so every run lays a
 * task out the same way.  Keys do not depend on them: a task's key takes
 * its dependencies' interface closures in depends_on order. */
#ifndef MPBUILD_LAYOUT_H
#define MPBUILD_LAYOUT_H

#include "plan.h"

/* block boundaries before a breakpoint where the API also finds a cached
 * prefix: "approximately 20" on the prompt-caching page, fewer here so that
 * a boundary counted as covered is covered */
#define LAYOUT_LOOKBACK 16

/* one run's layout of a plan; everything is computed on first use */
struct layout;

/* the layout of plan p (which must outlive it) */
struct layout *layout_open(const struct plan *p);
/* free it */
void layout_close(struct layout *l);
/* t's dependencies, direct or not, as plan indexes into out (room for
 * p->ntasks), in the canonical order: a post-order walk of the graph that
 * takes each task's own dependencies in turn, those that depend on the most
 * tasks first, then in plan order.  So the list of t begins with exactly
 * the list of its first dependency D followed by D itself: the prefix D's
 * request ended with, which t reads back from the provider's prompt cache
 * (when D is of t's rule and model), and which t's siblings share.
 * Returns the count */
size_t layout_deps(struct layout *l, const struct task *t, size_t *out);
/* where layer 4 of t's request takes breakpoints.  list holds t's n
 * dependencies as layout_deps gave them, ends[k] the number of interface
 * blocks up to and including those of list[k] (a task whose interfaces
 * are all empty adds none).  Candidates are the block counts after which
 * t's prefix is one another task of its rule and model begins with too;
 * the deepest is taken first, then the deepest not within LAYOUT_LOOKBACK
 * blocks before one taken, at most max in all, into marks (block counts,
 * most valuable first).  Plans of more than 5,000 tasks get none.  Returns
 * the count */
size_t layout_marks(struct layout *l, const struct task *t, const size_t *list, const size_t *ends, size_t n,
		    size_t *marks, size_t max);

#endif
