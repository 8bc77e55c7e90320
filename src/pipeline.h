/* pipeline.h: the pipeline's stages (questions, answers, discovery,
 * masterplan) as targets of the engine (SPEC 2).  Each stage is a struct
 * task whose `stage` is its DISCOVER_* bit, scheduled, called, budgeted,
 * ledgered and landed by build.c exactly as a task is; what differs is here:
 * how a stage is evaluated (its plan file against its record, as a task's
 * outputs are), how its request is made (its phase instructions, schema and
 * input files), how its answer is judged (one JSON object rendered as YAML;
 * for the masterplan, a plan that loads with no errors: warnings never
 * reject it) and what follows its landing (the basis of the next re-plan,
 * records of renamed tasks).  Internal to engine.c, build.c and discover.c. */
#ifndef MPBUILD_PIPELINE_H
#define MPBUILD_PIPELINE_H

#include <stdio.h>

#include "engine.h"
#include "stage.h"

/* the request of one stage: layer 1 = phase instructions + schema, layer 3 =
 * (masterplan) the pinned example plans, layer 4 = its inputs */
struct stage_call {
	struct request req;
	struct buffer l1, l3, l4;
	char key[HASH_HEX];
	char *manifest;
	struct model_choice mc;
};

/* prepare c for stage s of plan p (c->l4 filled by stage_request first);
 * provider: --provider or NULL; rb: where the masterplan's example plans
 * are pinned.  -1 after a message */
int stage_call_prepare(const char *root, const char *provider, struct rulebook *rb, const struct plan *p,
		       const struct stage *s, struct stage_call *c);
void stage_call_free(struct stage_call *c);
/* the hints of a re-plan of stage s (outside the key): the instructions of
 * rules/phases/replan.md, the previous file old and diffs of its inputs
 * since it was made */
int stage_replan_hint(const char *root, const struct stage *s, const struct buffer *old, int by_hand,
		      struct buffer *hint);
/* pick the masterplan's example plans again and prepare c again with them;
 * pinned in rb and, unless st is NULL (a dry run), in state.db; out: where
 * to say which (NULL: nowhere) */
int stage_pick_plans(const char *root, struct state *st, struct rulebook *rb, const char *provider, int verbose,
		     FILE *out, const struct plan *p, const struct stage *s, struct stage_call *c);

/* the stage targets up to the last that e->o->stages names (none: all,
 * making only missing files), in pipeline order, as tasks of e (indices
 * after the plan's); *n of them */
struct task **pipeline_open(struct engine *e, size_t *n);
/* evaluate stage target t (its dependency evaluated first); asks the
 * answers on the terminal */
void pipeline_eval(struct engine *e, struct task *t);
/* fill req's layers, tool, schema and limits for stage target t */
void pipeline_request(struct engine *e, const struct task *t, struct request *req);
/* judge an answer of stage target t: 0 (the file to land is kept), or -1
 * with the errors in err */
int pipeline_judge(struct engine *e, const struct task *t, int attempt, const char *answer, struct buffer *err);
/* the feedback of the next attempt after err: the re-plan hints, then err (malloc'd) */
char *pipeline_feedback(struct engine *e, const struct task *t, const char *err);
/* land the judged file of t through an intent record, as land_files does
 * (expect: what the tree must still hold): 0, 1 (a person wrote it
 * meanwhile: kept, *edited names it), -1 after a message */
int pipeline_land(struct engine *e, struct task *t, const char *model, const char *const *expect,
		  const char **edited);
/* free what pipeline_open made */
void pipeline_close(struct engine *e);

#endif
