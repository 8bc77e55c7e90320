/* graph.h: targets over the plan: tasks, phases and milestones as aggregates,
 * `all`; selection of what a command line names, topological order, and dot. */
#ifndef MPBUILD_GRAPH_H
#define MPBUILD_GRAPH_H

#include <stdio.h>
#include "plan.h"

/* the pipeline targets of SPEC section 2 that are not tasks */
extern const char *const graph_pipeline[4];

/* mark in sel (ntasks bytes, zeroed by the caller) the tasks that the named
 * targets need, dependencies included; names may be task, milestone or phase
 * ids, "rule:NAME" (the tasks of a rule) or "all"; n == 0 means all.  Unknown
 * names are reported with a close match and make it return -1. pipeline names
 * set *pipeline bits (1 << i). */
int graph_select(const struct plan *p, char **names, size_t n, unsigned char *sel, unsigned *pipeline);
/* the selected tasks in an order where each comes after its dependencies
 * (plan order where free); returns the count, fills order (ntasks slots) */
size_t graph_order(const struct plan *p, const unsigned char *sel, struct task **order);
/* the selected tasks as Graphviz dot, clustered by milestone */
void graph_dot(const struct plan *p, const unsigned char *sel, FILE *f);

#endif
