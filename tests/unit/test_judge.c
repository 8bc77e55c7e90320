/* test_judge.c: the first two judging steps of SPEC 6 on untrusted answers:
 * structure (the JSON shape and its limits) and paths (exactly the declared
 * outputs, confined to the project, never through a symbolic link that leads
 * out of it). */
#include "unit.h"
#include "helpers.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "judge.h"

/* judge_structure's verdict: NULL when accepted, else the reason (caller frees) */
static char *structure(const char *json, struct answer *keep)
{
	struct answer a;
	struct buffer err = {0};
	int rc = judge_structure(json, &a, &err);

	if (rc == 0) {
		CHECK(err.len == 0);
		if (keep)
			*keep = a;
		else
			answer_free(&a);
		buf_free(&err);
		return NULL;
	}
	CHECK(rc == -1 && a.n == 0 && a.files == NULL);
	return buf_take(&err);
}

TEST(structure_accepts_the_schema)
{
	struct answer a;
	char *e;

	e = structure("{\"files\": [{\"path\": \"a.c\", \"content\": \"int a;\\n\"}, "
		      "{\"content\": \"\", \"path\": \"b/c.h\"}], \"summary\": \"two files\"}", &a);
	CHECK_STR(e, NULL);
	if (!e) {
		CHECK(a.n == 2);
		CHECK_STR(a.files[0].path, "a.c");
		CHECK_STR(a.files[0].content, "int a;\n");
		CHECK(a.files[0].len == 7 && a.files[1].len == 0);
		CHECK_STR(a.summary, "two files");
		answer_free(&a);
		CHECK(a.n == 0 && a.files == NULL && a.summary == NULL);
	}
	free(e);
	e = structure("{\"files\": []}", &a);
	CHECK_STR(e, NULL);
	if (!e) {
		CHECK(a.n == 0 && a.summary == NULL);
		answer_free(&a);
	}
	e = structure("{\"summary\": null, \"files\": [{\"path\": \"x\", \"content\": \"caf\\u00e9 \xe2\x82\xac\"}]}", &a);
	CHECK_STR(e, NULL);
	if (!e) {
		CHECK_STR(a.files[0].content, "caf\xc3\xa9 \xe2\x82\xac");
		CHECK(a.summary == NULL);
		answer_free(&a);
	}
	free(e);
}

/* the answer is rejected with a reason starting "structure: " and containing want */
static void rejects(const char *json, const char *want)
{
	char *e = structure(json, NULL);

	CHECK(e != NULL);
	if (e && (strncmp(e, "structure: ", 11) != 0 || !strstr(e, want)))
		printf("# %s\n#   got:  %s\n#   want: %s\n", json, e, want);
	CHECK(e && strncmp(e, "structure: ", 11) == 0 && strstr(e, want));
	free(e);
}

TEST(structure_rejects)
{
	rejects("", "not valid JSON");
	rejects("files: []", "not valid JSON");
	rejects("{\"files\": [}", "not valid JSON");
	rejects("{\"files\": []} trailing", "not valid JSON");
	rejects("[{\"path\": \"a\", \"content\": \"b\"}]", "must be a JSON object with a \"files\" list");
	rejects("\"files\"", "not valid JSON: '[' or '{' expected");
	rejects("{}", "the answer has no \"files\" list");
	rejects("{\"summary\": \"x\"}", "no \"files\" list");
	rejects("{\"files\": {\"path\": \"a\", \"content\": \"b\"}}", "no \"files\" list");
	rejects("{\"files\": [\"a.c\"]}", "files[0] must be an object with string \"path\" and \"content\"");
	rejects("{\"files\": [{\"path\": \"a.c\", \"content\": 42}]}", "files[0] must be an object");
	rejects("{\"files\": [{\"path\": \"a.c\", \"content\": null}]}", "files[0] must be an object");
	rejects("{\"files\": [{\"path\": \"a.c\", \"content\": [\"x\"]}]}", "files[0] must be an object");
	rejects("{\"files\": [{\"path\": \"a.c\", \"content\": \"x\"}, {\"path\": 1, \"content\": \"x\"}]}",
		"files[1] must be an object");
	rejects("{\"files\": [{\"path\": \"a.c\"}]}", "files[0] must be an object");
	rejects("{\"files\": [], \"extra\": 1}", "unexpected key \"extra\" in the answer");
	rejects("{\"files\": [{\"path\": \"a.c\", \"content\": \"x\", \"mode\": \"755\"}]}",
		"unexpected key \"mode\" in files[0]");
	rejects("{\"files\": [], \"files\": []}", "not valid JSON: duplicate object key");
	rejects("{\"files\": [{\"path\": \"a.c\", \"path\": \"b.c\", \"content\": \"x\"}]}", "duplicate object key");
	rejects("{\"files\": [], \"summary\": 3}", "\"summary\" must be a string");
	/* a NUL inside content is not accepted: files are text */
	rejects("{\"files\": [{\"path\": \"a.c\", \"content\": \"a\\u0000b\"}]}", "not valid JSON");
}

TEST(structure_limits)
{
	struct buffer b = {0};
	size_t i;
	char *e;

	/* too many files */
	buf_puts(&b, "{\"files\": [");
	for (i = 0; i <= ANSWER_FILES_MAX; i++)
		buf_printf(&b, "%s{\"path\": \"f%zu\", \"content\": \"\"}", i ? ", " : "", i);
	buf_puts(&b, "]}");
	rejects(buf_str(&b), "the answer has more than 256 files");
	/* exactly the limit is fine */
	buf_reset(&b);
	buf_puts(&b, "{\"files\": [");
	for (i = 0; i < ANSWER_FILES_MAX; i++)
		buf_printf(&b, "%s{\"path\": \"f%zu\", \"content\": \"\"}", i ? ", " : "", i);
	buf_puts(&b, "]}");
	e = structure(buf_str(&b), NULL);
	CHECK_STR(e, NULL);
	free(e);
	/* one file too big */
	buf_reset(&b);
	buf_puts(&b, "{\"files\": [{\"path\": \"big.txt\", \"content\": \"");
	for (i = 0; i <= ANSWER_FILE_MAX; i++)
		buf_putc(&b, 'x');
	buf_puts(&b, "\"}]}");
	rejects(buf_str(&b), "big.txt is larger than 8 MiB");
	/* the whole answer too big, refused before parsing */
	buf_reset(&b);
	buf_puts(&b, "{\"files\": [], \"summary\": \"");
	while (b.len <= ANSWER_MAX)
		buf_puts(&b, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	buf_puts(&b, "\"}");
	rejects(buf_str(&b), "the answer is larger than 32 MiB");
	buf_free(&b);
}

/* a task with the given outputs */
static struct task task_with(const char **outs, size_t n)
{
	struct task t;

	memset(&t, 0, sizeof(t));
	t.id = "T-001";
	t.outputs = outs;
	t.noutputs = n;
	return t;
}

/* judge_paths on an answer naming the given paths; NULL when accepted */
static char *paths(const char *root, const char **outs, size_t nouts, const char *const *given, size_t ngiven,
		   struct answer *keep)
{
	struct task t = task_with(outs, nouts);
	struct answer a;
	struct buffer err = {0};
	size_t i;
	int rc;

	memset(&a, 0, sizeof(a));
	a.files = xcalloc(ngiven + 1, sizeof(*a.files));
	for (i = 0; i < ngiven; i++) {
		a.files[i].path = xstrdup(given[i]);
		a.files[i].content = xasprintf("content of %s", given[i]);
		a.files[i].len = strlen(a.files[i].content);
	}
	a.n = ngiven;
	rc = judge_paths(&a, &t, root, &err);
	CHECK((rc == 0) == (err.len == 0));
	if (rc == 0 && keep)
		*keep = a;
	else
		answer_free(&a);
	if (rc == 0) {
		buf_free(&err);
		return NULL;
	}
	return buf_take(&err);
}

static const char *outs2[] = {"src/a.c", "src/a.h"};

TEST(paths_exactly_the_outputs)
{
	char *d = tmp_dir(), *e;
	struct answer a;
	static const char *const same[] = {"src/a.c", "src/a.h"};
	static const char *const swapped[] = {"src/a.h", "src/a.c"};
	static const char *const missing[] = {"src/a.c"};
	static const char *const extra[] = {"src/a.c", "src/a.h", "src/b.c"};
	static const char *const dup[] = {"src/a.c", "src/a.h", "src/a.c"};
	static const char *const other[] = {"src/a.c", "src/b.h"};

	e = paths(d, outs2, 2, same, 2, NULL);
	CHECK_STR(e, NULL);
	free(e);
	/* reordered to the declared order */
	e = paths(d, outs2, 2, swapped, 2, &a);
	CHECK_STR(e, NULL);
	if (!e) {
		CHECK_STR(a.files[0].path, "src/a.c");
		CHECK_STR(a.files[0].content, "content of src/a.c");
		CHECK_STR(a.files[1].path, "src/a.h");
		answer_free(&a);
	}
	free(e);
	e = paths(d, outs2, 2, missing, 1, NULL);
	CHECK_STR(e, "paths: the answer lacks src/a.h (every declared output must be returned)");
	free(e);
	e = paths(d, outs2, 2, extra, 3, NULL);
	CHECK_STR(e, "paths: src/b.c is not an output of T-001 (its outputs: src/a.c, src/a.h)");
	free(e);
	e = paths(d, outs2, 2, dup, 3, NULL);
	CHECK_STR(e, "paths: src/a.c is returned twice");
	free(e);
	e = paths(d, outs2, 2, other, 2, NULL);
	CHECK(e && strstr(e, "paths: src/b.h is not an output of T-001"));
	free(e);
	e = paths(d, outs2, 2, NULL, 0, NULL);
	CHECK_STR(e, "paths: the answer lacks src/a.c (every declared output must be returned)");
	free(e);
	rm_rf(d);
	free(d);
}

TEST(paths_confined)
{
	char *d = tmp_dir(), *e;
	static const char *const up[] = {"../a.c"};
	static const char *const inner[] = {"src/../../a.c"};
	static const char *const abs[] = {"/etc/passwd"};
	static const char *const dot[] = {"./src/a.c"};
	static const char *const git[] = {".git/hooks/pre-commit"};
	static const char *const lock[] = {"mpbuild.lock"};

	e = paths(d, outs2, 2, up, 1, NULL);
	CHECK_STR(e, "paths: \"../a.c\" is not normalised (has '.' or '..')");
	free(e);
	e = paths(d, outs2, 2, inner, 1, NULL);
	CHECK(e && strstr(e, "is not normalised"));
	free(e);
	e = paths(d, outs2, 2, abs, 1, NULL);
	CHECK_STR(e, "paths: \"/etc/passwd\" is absolute");
	free(e);
	e = paths(d, outs2, 2, dot, 1, NULL);
	CHECK(e && strstr(e, "is not normalised"));
	free(e);
	e = paths(d, outs2, 2, git, 1, NULL);
	CHECK_STR(e, "paths: \".git/hooks/pre-commit\" is under .git/");
	free(e);
	e = paths(d, outs2, 2, lock, 1, NULL);
	CHECK_STR(e, "paths: \"mpbuild.lock\" is a file mpbuild owns");
	free(e);
	/* the reserved places themselves, and a nested repository's .git */
	CHECK_STR(plan_path_problem(".git"), "is .git");
	CHECK_STR(plan_path_problem("vendor/lib/.git"), "is under .git/");
	CHECK_STR(plan_path_problem("gd/.git/config"), "is under .git/");
	CHECK_STR(plan_path_problem("cache"), "is cache/, which mpbuild owns");
	CHECK_STR(plan_path_problem("plans"), "is plans/, which mpbuild owns");
	CHECK_STR(plan_path_problem("rules"), "is rules/, which mpbuild owns");
	CHECK_STR(plan_path_problem("mpbuild.yaml"), "is a file mpbuild owns");
	CHECK_STR(plan_path_problem("src/cache"), NULL);
	CHECK_STR(plan_path_problem("x.git"), NULL);
	rm_rf(d);
	free(d);
}

TEST(paths_symbolic_links)
{
	char *top = tmp_dir(), *root = path_join(top, "proj"), *outside = path_join(top, "outside");
	char *sibling = path_join(top, "proj-evil"), *link;
	static const char *via_out[] = {"out/a.c"}, *via_in[] = {"in/a.c"}, *via_rel[] = {"rel/a.c"};
	static const char *via_sib[] = {"sib/a.c"}, *via_chain[] = {"chain/a.c"}, *deep[] = {"real/sub/a.c"};
	static const char *file_link[] = {"real/file.c"}, *via_gen[] = {"gen/hook"};
	static const char *via_self[] = {"self/mpbuild.lock"}, *a_dir[] = {"real"};
	char *e, *target;
	struct buffer err = {0};

	put_file(root, "real/keep.txt", "x\n");
	put_file(outside, "keep.txt", "x\n");
	put_file(sibling, "keep.txt", "x\n");
	/* out -> outside (absolute); in -> real (inside); rel -> ../outside;
	 * sib -> ../proj-evil (shares the prefix "proj"); chain -> real/up -> outside;
	 * real/sub -> ../out -> outside; real/file.c -> keep.txt (a link to a file) */
	link = path_join(root, "out");
	CHECK(symlink(outside, link) == 0);
	free(link);
	link = path_join(root, "in");
	target = path_join(root, "real");
	CHECK(symlink(target, link) == 0);
	free(target);
	free(link);
	link = path_join(root, "rel");
	CHECK(symlink("../outside", link) == 0);
	free(link);
	link = path_join(root, "sib");
	CHECK(symlink("../proj-evil", link) == 0);
	free(link);
	link = path_join(root, "real/up");
	CHECK(symlink(outside, link) == 0);
	free(link);
	link = path_join(root, "chain");
	CHECK(symlink("real/up", link) == 0);
	free(link);
	link = path_join(root, "real/sub");
	CHECK(symlink("../out", link) == 0);
	free(link);
	link = path_join(root, "real/file.c");
	CHECK(symlink("keep.txt", link) == 0);
	free(link);

	e = paths(root, via_out, 1, via_out, 1, NULL);
	CHECK_STR(e, "paths: out/a.c leads out of the project through the symbolic link out");
	free(e);
	e = paths(root, via_in, 1, via_in, 1, NULL);
	CHECK_STR(e, NULL);
	free(e);
	e = paths(root, via_rel, 1, via_rel, 1, NULL);
	CHECK_STR(e, "paths: rel/a.c leads out of the project through the symbolic link rel");
	free(e);
	e = paths(root, via_sib, 1, via_sib, 1, NULL);
	CHECK_STR(e, "paths: sib/a.c leads out of the project through the symbolic link sib");
	free(e);
	e = paths(root, via_chain, 1, via_chain, 1, NULL);
	CHECK_STR(e, "paths: chain/a.c leads out of the project through the symbolic link chain");
	free(e);
	e = paths(root, deep, 1, deep, 1, NULL);
	CHECK_STR(e, "paths: real/sub/a.c leads out of the project through the symbolic link real/sub");
	free(e);
	/* the output itself may not be a link, even one that stays inside */
	e = paths(root, file_link, 1, file_link, 1, NULL);
	CHECK_STR(e, "paths: real/file.c is a symbolic link; mpbuild does not write through links and keeps it");
	free(e);
	/* links inside the project may not reach a place mpbuild or git owns */
	put_file(root, ".git/hooks/pre-commit.sample", "x\n");
	link = path_join(root, "gen");
	CHECK(symlink(".git/hooks", link) == 0);
	free(link);
	link = path_join(root, "self");
	CHECK(symlink(".", link) == 0);
	free(link);
	e = paths(root, via_gen, 1, via_gen, 1, NULL);
	CHECK_STR(e, "paths: gen/hook leads to .git/hooks/hook through a symbolic link, which is under .git/");
	free(e);
	e = paths(root, via_self, 1, via_self, 1, NULL);
	CHECK_STR(e, "paths: self/mpbuild.lock leads to mpbuild.lock through a symbolic link, which is a file mpbuild "
		     "owns");
	free(e);
	/* an existing directory where a file would go is a person's */
	e = paths(root, a_dir, 1, a_dir, 1, NULL);
	CHECK_STR(e, "paths: real is a directory; mpbuild writes only regular files and keeps it");
	free(e);
	/* judge_confined directly: a path that does not exist yet is fine */
	CHECK(judge_confined(root, "new/dir/a.c", &err) == 1 && err.len == 0);
	CHECK(judge_confined(root, "in/new/a.c", &err) == 1 && err.len == 0);
	CHECK(judge_confined(root, "out", &err) == 0);
	buf_free(&err);
	/* a root reached through a link of its own is resolved first */
	link = path_join(top, "alias");
	CHECK(symlink("proj", link) == 0);
	e = paths(link, via_in, 1, via_in, 1, NULL);
	CHECK_STR(e, NULL);
	free(e);
	e = paths(link, via_out, 1, via_out, 1, NULL);
	CHECK(e && strstr(e, "leads out of the project"));
	free(e);
	free(link);
	rm_rf(top);
	free(top);
	free(root);
	free(outside);
	free(sibling);
}
