/* judge.h: is a model's answer acceptable?  SPEC section 6 in order:
 * structure, paths (then syntax and checks, from the validation work). */
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
/* free what a owns */
void answer_free(struct answer *a);

#endif
