/* answers.c: the answers stage (SPEC 2, pass 2): each unanswered question
 * asked on the terminal, with its why and default, and saved as it goes;
 * never an answer overwritten.  Not on a terminal, --defaults takes each
 * question's default, or the person is told which file to fill in. */
#include "answers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* a deep copy of a loaded node (aliases become copies) */
static struct ynode *ycopy(const struct ynode *n)
{
	struct ynode *c;
	size_t i;

	if (n->kind == Y_SCALAR)
		return ynode_str(n->str, n->plain);
	c = ynode_new(n->kind);
	for (i = 0; i < n->n; i++)
		ynode_add(c, ycopy(n->kids[i]));
	return c;
}

/* 1 when every question of p has an answer */
size_t answers_missing(const struct plan *p)
{
	size_t i, n = 0;

	for (i = 0; i < p->nquestions; i++)
		if (!p->answers || !ymap_get(p->answers, p->questions[i].id))
			n++;
	return n;
}

/* write plans/answers.yaml: the existing answers in their order, then the new ones */
static int save_answers(const char *root, const struct plan *p, struct ynode *added)
{
	struct ynode *doc = ynode_new(Y_MAP), *a = ynode_new(Y_MAP);
	struct buffer b = {0};
	char *path = path_join(root, "plans/answers.yaml");
	size_t i;
	int r;

	ymap_put(doc, "version", ynode_str("1", 1));
	if (p->answers)
		for (i = 0; i < p->answers->n; i++)
			ynode_add(a, ycopy(p->answers->kids[i]));
	for (i = 0; i < added->n; i++)
		ynode_add(a, ycopy(added->kids[i]));
	ymap_put(doc, "answers", a);
	r = yaml_write(&b, doc);
	if (r == 0 && (r = write_file_atomic(path, b.data, b.len)) < 0)
		error("plans/answers.yaml: cannot write:");
	ynode_free(doc);
	buf_free(&b);
	free(path);
	return r;
}

int answers_ask(const char *root, const struct plan *p, int defaults)
{
	struct ynode *added = ynode_new(Y_MAP);
	size_t i, left = answers_missing(p);
	int rc = 0;

	if (!left) {
		ynode_free(added);
		return 0;
	}
	if (defaults) {
		for (i = 0; i < p->nquestions; i++) {
			const struct question *q = &p->questions[i];

			if ((!p->answers || !ymap_get(p->answers, q->id)) && q->def)
				ymap_put(added, q->id, ynode_str(q->def, 0));
		}
		rc = save_answers(root, p, added) < 0 ? EXIT_FAILED : 0;
		if (!rc && added->n / 2 < left)
			rc = (error("plans/answers.yaml: %zu questions have no default and no answer; answer them on a terminal (mpbuild answers) or fill in the file",
				    left - added->n / 2), EXIT_BADINPUT);
	} else if (!isatty(0) || !isatty(1)) {
		error("plans/answers.yaml: %zu question%s no answer; answer them on a terminal (mpbuild answers) or fill in the file, or use --defaults",
		      left, left == 1 ? " has" : "s have");
		rc = EXIT_BADINPUT;
	} else {
		char *line = NULL;
		size_t cap = 0, k = 0;

		printf("%zu question%s to answer; an empty line takes the default, Ctrl-D stops (answers so far are kept)\n",
		       left, left == 1 ? "" : "s");
		for (i = 0; i < p->nquestions && !rc; i++) {
			const struct question *q = &p->questions[i];
			ssize_t n;

			if (p->answers && ymap_get(p->answers, q->id))
				continue;
			k++;
			printf("\n[%zu/%zu] %s: %s\n", k, left, q->id, q->text ? q->text : "");
			if (q->why)
				printf("  why: %s\n", q->why);
			if (q->def)
				printf("  default: %s\n", q->def);
			for (;;) {
				printf("> ");
				fflush(stdout);
				if ((n = getline(&line, &cap, stdin)) < 0) {
					printf("\n");
					rc = EXIT_BADINPUT;
					break;
				}
				while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
					line[--n] = 0;
				if (n == 0 && !q->def)
					continue;
				ymap_put(added, q->id, ynode_str(n ? line : q->def, 0));
				if (save_answers(root, p, added) < 0)
					rc = EXIT_FAILED;
				break;
			}
		}
		free(line);
		if (rc == EXIT_BADINPUT) {
			left -= added->n / 2;
			error("plans/answers.yaml: stopped with %zu question%s unanswered; the answers so far are saved", left,
			      left == 1 ? "" : "s");
		}
	}
	ynode_free(added);
	return rc;
}
