/* stage.h: the pipeline's stages (SPEC 2): questions, answers, discovery and
 * masterplan, as data (schema, inputs, file) and judges. */
#ifndef MPBUILD_STAGE_H
#define MPBUILD_STAGE_H

#include "discover.h"
#include "plan.h"
#include "util.h"
#include "yaml.h"

/* one pipeline target */
struct stage {
	unsigned bit;
	const char *name;       /* target name and rules/phases/NAME.md */
	const char *file;       /* the plan file it writes, relative to the root */
	const char *schema;     /* NULL for answers (no call) */
	const char *inputs[4];  /* the files it is made from; NULL-terminated */
};

/* the stages in pipeline order */
extern const struct stage stages[4];

/* 1 if root/rel exists */
int stage_exists(const char *root, const char *rel);
/* the phase instructions: the project's rules/phases/NAME.md, else the built-in one; -1 with a message */
int stage_phase_text(const char *root, const char *name, struct buffer *b);
/* layer 4 of stage s's request: its target line and its input files */
int stage_request(const char *root, const struct plan *p, const struct stage *s, struct buffer *l4);
/* the JSON answer as the stage's YAML file into out; -1 with *why (malloc'd) */
int stage_render(const char *answer, struct buffer *out, char **why);
/* judge a candidate masterplan (bytes, not in the tree): errors to
 * dg->errors, warnings to dg->warnings; only errors reject it: 0 passed */
int stage_judge_masterplan(const char *root, const struct buffer *plan, struct diag *dg);
/* 1 when stage s can be made: its inputs exist (and every question has an
 * answer); else 0 with the message in *why */
int stage_inputs_ready(const char *root, const struct plan *p, const struct stage *s, const char **why);

#endif
