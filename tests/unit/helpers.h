/* helpers.h: what the unit tests of the plan-side modules share: temporary
 * project directories, writing files, and capturing what a function prints on
 * stderr (errors are part of the contract, so tests assert on them).
 * Include after unit.h; every helper is static and may go unused. */
#ifndef MPBUILD_TEST_HELPERS_H
#define MPBUILD_TEST_HELPERS_H

#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plan.h"
#include "util.h"

#define UNUSED __attribute__((unused))

/* a new empty directory under $TMPDIR; the caller frees it (after rm_rf) */
UNUSED static char *tmp_dir(void)
{
	const char *t = getenv("TMPDIR");
	char *d = xasprintf("%s/mpbuild-unit.XXXXXX", t && *t ? t : "/tmp");

	if (!mkdtemp(d)) {
		perror("mkdtemp");
		exit(1);
	}
	return d;
}

UNUSED static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

/* remove a directory tree (symbolic links are removed, not followed) */
UNUSED static void rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* write text to dir/rel, creating parent directories */
UNUSED static void put_file(const char *dir, const char *rel, const char *text)
{
	char *path = path_join(dir, rel), *slash;
	FILE *f;

	slash = strrchr(path, '/');
	*slash = '\0';
	mkdirs(path);
	*slash = '/';
	f = fopen(path, "w");
	if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	free(path);
}

/* stderr capture: between capture_begin and capture_end, fd 2 goes to a file */
static int capture_saved = -1;
static FILE *capture_file;

UNUSED static void capture_begin(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	capture_saved = dup(2);
	dup2(fileno(capture_file), 2);
}

/* stop capturing; the text printed meanwhile, which the caller frees */
UNUSED static char *capture_end(void)
{
	struct buffer b = {0};
	char chunk[4096];
	size_t n;

	fflush(stderr);
	dup2(capture_saved, 2);
	close(capture_saved);
	rewind(capture_file);
	while ((n = fread(chunk, 1, sizeof(chunk), capture_file)) > 0)
		buf_add(&b, chunk, n);
	fclose(capture_file);
	return buf_take(&b);
}

/* plan_load(dir) with its messages captured; when it fails they are shown as
 * a TAP comment */
UNUSED static struct plan *load_plan_quietly(const char *dir)
{
	struct plan *p;
	char *err;

	capture_begin();
	p = plan_load(dir);
	err = capture_end();
	if (!p)
		printf("# the plan did not load:\n# %s\n", err);
	free(err);
	return p;
}

/* a project in a new temporary directory (*dir, for unload_plan) whose
 * masterplan is text, loaded with the built-in rules of this tree unless
 * MPBUILD_RULES names others; NULL after printing why */
UNUSED static struct plan *load_plan_text(const char *text, char **dir)
{
	char buf[PATH_MAX];

	if (!getenv("MPBUILD_RULES") && realpath("rules", buf))
		setenv("MPBUILD_RULES", buf, 1);
	*dir = tmp_dir();
	put_file(*dir, "plans/masterplan.yaml", text);
	return load_plan_quietly(*dir);
}

/* free p and remove the directory load_plan_text made */
UNUSED static void unload_plan(struct plan *p, char *dir)
{
	plan_free(p);
	rm_rf(dir);
	free(dir);
}

#endif
