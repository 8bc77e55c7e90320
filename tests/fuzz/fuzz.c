/* fuzz.c: the scratch project the harnesses write their input into.  It is a
 * small valid project, so an input for one file is checked against real
 * neighbours: answers against questions, contexts against discovery, rules
 * against the masterplan's outputs. */
#include "fuzz.h"
#include "archive.h"
#include "plan.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the valid project every input starts from */
static const struct {
	const char *rel, *text;
} base[] = {
	{"plans/discovery.yaml",
	 "version: 1\ndomain: Notes\nbounded_contexts:\n  - name: Notes\n  - name: Storage\n"
	 "relationships:\n  - {from: Notes, to: Storage}\n"},
	{"plans/questions.yaml",
	 "version: 1\nquestions:\n  - {id: q1, text: Dates?}\n  - {id: q2, text: Tags?}\n"},
	{"plans/masterplan.yaml",
	 "version: 1\nmilestones:\n  - {id: M1, title: Notes}\ntasks:\n"
	 "  - {id: T-001, title: Model, milestone: M1, context: [Notes], outputs: [src/note.py]}\n"
	 "  - {id: T-002, title: Docs, depends_on: [T-001], outputs: [README.md, docs/x.c]}\n"},
	{"rules/generic.yaml", "version: 1\nname: generic\nmatch: [\"*\"]\n"},
};

static char *dir;

static void remove_project(void)
{
	archive_remove_temp(dir);   /* any tree, no link followed */
	free(dir);
	dir = NULL;
}

const char *fuzz_project(void)
{
	const char *tmp = getenv("TMPDIR");
	size_t i;

	if (dir)
		return dir;
	dir = xasprintf("%s/mpbuild-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror(dir);
		abort();
	}
	atexit(remove_project);
	for (i = 0; i < LEN(base); i++)
		fuzz_restore(base[i].rel);
	{
		char *rules = path_join(dir, "rules");

		setenv("MPBUILD_RULES", rules, 1);
		free(rules);
	}
	unsetenv("MPBUILD_PROVIDER");
	return dir;
}

void fuzz_write(const char *rel, const uint8_t *data, size_t size)
{
	char *path = path_join(fuzz_project(), rel), *slash = strrchr(path, '/');
	FILE *f;

	*slash = '\0';
	if (mkdirs(path) < 0) {
		perror(path);
		abort();
	}
	*slash = '/';
	/* no write_file_atomic: its fsync would be most of each run's time */
	f = fopen(path, "wb");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
		perror(path);
		abort();
	}
	free(path);
}

void fuzz_restore(const char *rel)
{
	size_t i;

	for (i = 0; i < LEN(base); i++) {
		if (strcmp(base[i].rel, rel) == 0) {
			fuzz_write(rel, (const uint8_t *)base[i].text, strlen(base[i].text));
			return;
		}
	}
	{
		char *path = path_join(fuzz_project(), rel);

		unlink(path);
		free(path);
	}
}

void fuzz_plan_file(const char *rel, const uint8_t *data, size_t size)
{
	fuzz_write(rel, data, size);
	plan_free(plan_load(fuzz_project()));
	fuzz_restore(rel);
}
