/* build.h: the executor: build (and -n) over the engine (engine.h). */
#ifndef MPBUILD_BUILD_H
#define MPBUILD_BUILD_H

#include <stddef.h>

#include "engine.h"



/* build (or with dry_run, show what would be built); returns an exit code */
int build_run(const char *root, struct build_opts *o);
#endif
