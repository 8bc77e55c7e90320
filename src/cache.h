/* cache.h: the cache verb, `mpbuild cache stats|gc|verify|export|import`,
 * over the content store under cache/ (store.h). */
#ifndef MPBUILD_CACHE_H
#define MPBUILD_CACHE_H

#include <stddef.h>

/* `mpbuild cache stats|gc|verify|export|import ...`: args after "cache"; returns an exit code */
int cache_command(const char *cachedir, char **args, size_t n);

#endif
