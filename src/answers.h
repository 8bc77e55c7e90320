/* answers.h: plans/answers.yaml, asked on the terminal (SPEC 2). */
#ifndef MPBUILD_ANSWERS_H
#define MPBUILD_ANSWERS_H

#include <stddef.h>

#include "plan.h"

/* how many questions of p have no answer */
size_t answers_missing(const struct plan *p);
/* ask the unanswered questions of p (defaults: take their defaults, no
 * terminal needed) and save plans/answers.yaml under root; an exit code */
int answers_ask(const char *root, const struct plan *p, int defaults);

#endif
