/* build.h: the scheduler (build.c), as run.c drives it through one build. */
#ifndef MPBUILD_BUILD_H
#define MPBUILD_BUILD_H

#include <stddef.h>

#include "engine.h"


/* run the selected targets (tasks, or the pipeline's stages) of order: up to
 * e->jobs calls at once, each once its dependencies are finished; the
 * caller holds e->mu.  0, or the exit code of a provider that cannot be opened */
int sched_run(struct engine *e, struct task **order, size_t n);
/* 1 when nothing new may start: a Ctrl-C, a refused key, the budget, a bad
 * setting or --stop after a failure */
int sched_halted(const struct engine *e);
/* the Ctrl-Cs so far */
int sched_interrupted(void);
/* a first Ctrl-C (or SIGTERM) starts nothing new, a second aborts the calls in flight */
void sched_catch_signals(void);
/* free what sched_run keeps between phases (the prompt-cache prefixes) */
void sched_free(struct engine *e);

#endif
