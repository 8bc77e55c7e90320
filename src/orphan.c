/* orphan.c: records of targets the plan no longer has, their files, and the
 * tasks that inherit them.  A record is only ever moved or dropped here, and a
 * file is only removed when it still holds the bytes mpbuild wrote: an
 * orphan a person edited is theirs. */
#include "orphan.h"
#include "confine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph.h"

int orphan_gone(const struct plan *p, const char *target)
{
	size_t i;

	for (i = 0; i < LEN(graph_pipeline); i++)
		if (strcmp(target, graph_pipeline[i]) == 0)
			return 0;
	return !plan_task(p, target);
}

size_t orphan_find(const struct plan *p, const struct record *recs, size_t n, struct orphan **out)
{
	size_t i, j, k = 0;

	*out = NULL;
	for (i = 0; i < n; i++) {
		if (!orphan_gone(p, recs[i].target))
			continue;
		for (j = 0; j < recs[i].n; j++) {
			if (htab_get(&p->outputs, recs[i].paths[j]))
				continue;       /* a task of the plan declares it now */
			*out = xreallocarray(*out, k + 1, sizeof(**out));
			(*out)[k].target = recs[i].target;
			(*out)[k].path = recs[i].paths[j];
			(*out)[k].hash = recs[i].hashes[j];
			k++;
		}
	}
	return k;
}

size_t orphan_say(const struct plan *p, const struct record *recs, size_t n, const char *root, FILE *f)
{
	struct orphan *o;
	size_t no = orphan_find(p, recs, n, &o), i, shown = 0;

	for (i = 0; i < no; i++) {
		char *path = path_join(root, o[i].path);

		if (path_exists(path)) {
			if (shown < 10)
				fprintf(f, "%s%s", shown ? ", " : "mpbuild: orphaned (no task declares them): ", o[i].path);
			shown++;
		}
		free(path);
	}
	if (shown > 10)
		fprintf(f, " and %zu more", shown - 10);
	if (shown)
		fprintf(f, "; mpbuild clean --orphans removes them\n");
	free(o);
	return shown;
}

/* the task that declares exactly r's outputs, or NULL */
static const struct task *same_outputs(const struct plan *p, const struct record *r)
{
	const struct task *t = r->n ? htab_get(&p->outputs, r->paths[0]) : NULL;
	size_t i;

	if (!t || t->noutputs != r->n)
		return NULL;
	for (i = 1; i < r->n; i++)
		if (htab_get(&p->outputs, r->paths[i]) != t)
			return NULL;
	return t;
}

int orphan_adopt(struct state *st, const struct plan *p, const struct record *recs, size_t n, char ***moved,
		 size_t *nmoved)
{
	struct htab has = {0};
	size_t i;
	int rc = 0;

	for (i = 0; i < n; i++)
		htab_put(&has, recs[i].target, (void *)1);
	for (i = 0; i < n && rc == 0; i++) {
		const struct task *t;

		if (!orphan_gone(p, recs[i].target) || !(t = same_outputs(p, &recs[i])) || htab_get(&has, t->id))
			continue;
		if ((rc = state_record_rename(st, recs[i].target, t->id)) < 0)
			break;
		htab_put(&has, t->id, (void *)1);
		printf("%s: takes over the build record of %s (the same outputs)\n", t->id, recs[i].target);
		*moved = xreallocarray(*moved, 2 * (*nmoved + 1), sizeof(**moved));
		(*moved)[2 * *nmoved] = xstrdup(recs[i].target);
		(*moved)[2 * *nmoved + 1] = xstrdup(t->id);
		(*nmoved)++;
	}
	htab_free(&has);
	return rc;
}

int orphan_clean(struct state *st, struct fscache *fc, const struct plan *p, const struct record *recs, size_t n,
		 int dry)
{
	struct orphan *o;
	size_t no = orphan_find(p, recs, n, &o), i, removed = 0, kept = 0, dropped = 0;
	struct buffer why = {0};
	int rc = 0;

	for (i = 0; i < no; i++) {
		const char *h = fscache_hash(fc, o[i].path);
		char *path;

		if (!h)
			continue;       /* gone already */
		if (strcmp(h, o[i].hash) != 0) {
			printf("%s %s (edited by hand since mpbuild wrote it for %s; it is yours now)\n",
			       dry ? "would keep" : "kept", o[i].path, o[i].target);
			kept++;
			continue;
		}
		if (!confine_check(fc->root, o[i].path, &why)) {
			printf("%s %s (%s)\n", dry ? "would keep" : "kept", o[i].path, buf_str(&why));
			buf_reset(&why);
			kept++;
			continue;
		}
		path = path_join(fc->root, o[i].path);
		if (dry) {
			printf("would remove %s (was an output of %s)\n", o[i].path, o[i].target);
			removed++;
		} else if (unlink(path) == 0) {
			printf("removed %s (was an output of %s)\n", o[i].path, o[i].target);
			removed++;
		} else if (errno != ENOENT) {
			rc = error("cannot remove %s:", path);
		}
		free(path);
	}
	free(o);
	buf_free(&why);
	/* the records go once their files are dealt with; a file that stays is a person's */
	for (i = 0; i < n && rc == 0; i++)
		if (orphan_gone(p, recs[i].target)) {
			if (!dry && state_record_delete(st, recs[i].target) < 0)
				rc = -1;
			else
				dropped++;
		}
	printf("mpbuild: %s %zu orphaned file%s%s", dry ? "would remove" : "removed", removed, removed == 1 ? "" : "s",
	       !kept ? "" : dry ? ", would keep " : ", kept ");
	if (kept)
		printf("%zu edited by hand", kept);
	printf("; %s %zu record%s of tasks the plan no longer has\n", dry ? "would drop" : "dropped", dropped,
	       dropped == 1 ? "" : "s");
	return rc < 0 ? EXIT_FAILED : 0;
}
