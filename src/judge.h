/* judge.h: is a model's answer acceptable?  SPEC section 6 in order:
 * structure, paths, syntax (validators) and checks, the last two run in a
 * box that never touches the tree. */
#ifndef MPBUILD_JUDGE_H
#define MPBUILD_JUDGE_H

#include "plan.h"

#define ANSWER_MAX (32u << 20)      /* bytes of one answer */
#define ANSWER_FILE_MAX (8u << 20)  /* bytes of one file in it */
#define ANSWER_FILES_MAX 256        /* files in one answer */

struct answer_file {
	char *path;
	char *content;          /* may hold any bytes but NUL */
	size_t len;
};

struct answer {
	struct answer_file *files;
	size_t n;
	char *summary;          /* may be NULL */
};

/* 1. structure: parse json into a (zeroed); on failure -1 with the reason in err */
int judge_structure(const char *json, struct answer *a, struct buffer *err);
/* 2. paths: exactly t's outputs, each confined to root (no escape through a
 * symbolic link); files are reordered to t's output order; -1 with reason in err */
int judge_paths(struct answer *a, const struct task *t, const char *root, struct buffer *err);
/* 1 if a file may be written at rel inside root (confine_resolve: no link
 * leading out or to a reserved place, nothing but a regular file there);
 * the reason in err otherwise */
int judge_confined(const char *root, const char *rel, struct buffer *err);
struct box;
struct sandbox_limits;

/* how layers 3 and 4 run their commands */
struct judge_env {
	const char *root;
	struct box *box;        /* the candidates in a throwaway view of the project (judge_box) */
	int timeout;            /* seconds for one command */
	long run_no;            /* check output is appended to cache/logs/RUN_NO/TARGET.log */
	struct htab *warned;    /* validator programs already reported missing */
	/* run argv in box (box_run; the engine releases its lock meanwhile) */
	int (*run)(void *ctx, struct box *box, char *const argv[], int timeout, struct buffer *out);
	void *ctx;
};

/* a box over root (check.h) holding a's files at t's outputs, resolved in
 * the tree; NULL with the reason in err */
struct box *judge_box(const char *root, const struct sandbox_limits *lim, const struct task *t,
		      const struct answer *a, struct buffer *err);
/* 3. syntax: .json and .yaml files parse in-process, the others pass the
 * first validate command of t's rule whose pattern matches (a validator that
 * is not installed is warned about once and skipped); -1 with reason in err */
int judge_syntax(const struct task *t, const struct answer *a, const struct judge_env *env, struct buffer *err);
/* 4. checks: t's check commands in order, each logged; -1 with reason in err */
int judge_checks(const struct task *t, const struct judge_env *env, struct buffer *err);
/* free what a owns */
void answer_free(struct answer *a);

#endif
