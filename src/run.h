/* run.h: one build from start to end (run.c). */
#ifndef MPBUILD_RUN_H
#define MPBUILD_RUN_H

#include "engine.h"

/* build the pipeline's stages and the plan's tasks that o asks for (or with
 * dry_run, show what would be built); returns an exit code */
int build_run(const char *root, struct build_opts *o);

#endif
