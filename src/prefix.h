/* prefix.h: prompt-cache prefixes, who writes each and who waits (prefix.c).
 * Internal to build.c, which calls these holding the engine's mutex. */
#ifndef MPBUILD_PREFIX_H
#define MPBUILD_PREFIX_H

#include "engine.h"

struct prefix;

/* the target whose call in flight writes a prefix t would read (t waits
 * for it), or NULL; with one call at a time, always NULL */
const char *prefix_busy(struct engine *e, const struct task *t);
/* t's call on model writes the cold prefixes of its request: they are put
 * in warms and warming; returns how many */
size_t prefix_claim(struct engine *e, const struct task *t, const char *model, enum answer_format f,
		    struct prefix *warms[3]);
/* the *n prefixes of warms are written (warm: the answer started, and stay
 * so for the TTL, 1 h with ttl_1h, remembered in state.db) or not (cold
 * again: the call gave up); *n becomes 0 */
void prefix_settle(struct engine *e, struct prefix **warms, size_t *n, int warm, int ttl_1h);
/* free every prefix of the run */
void prefix_free_all(struct engine *e);

#endif
