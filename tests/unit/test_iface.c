/* test_iface.c: interfaces (SPEC 10.1): what each built-in rule shows its
 * dependents of real files of its language, that an extractor runs once per
 * (content hash, extractor) across runs, that its text is kept in the
 * content store and read back checked, that a record's hint serves a key
 * but never a prompt, that an implementation-only change gives the same
 * interface hash, and that a failing extractor gives the whole file with one
 * warning per run. */
#include "unit.h"
#include "helpers.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "iface.h"

static char *proj;              /* the temporary project */
static struct plan *plan;
static struct state *st;

/* the project, its plan (for the built-in rules) and its state, made once */
static int setup(void)
{
	char buf[PATH_MAX], *cache;

	if (plan)
		return 1;
	if (!(getenv("MPBUILD_RULES") && *getenv("MPBUILD_RULES")) && realpath("rules", buf))
		setenv("MPBUILD_RULES", buf, 1);
	proj = tmp_dir();
	put_file(proj, "mpbuild.yaml", "version: 1\n");
	plan = load_plan_quietly(proj);
	cache = path_join(proj, "cache");
	st = state_open(cache, 0);
	free(cache);
	return plan && st && plan_rule(plan, "python");
}

/* write rel with text; its content hash into hash */
static void put(const char *rel, const char *text, char hash[HASH_HEX])
{
	char *path = path_join(proj, rel);

	put_file(proj, rel, text);
	CHECK(sha256_file(path, hash) == 0);
	free(path);
}

/* the interface of rel (rule name) through x: its text (caller frees), hash into out */
static char *get(struct iface *x, const char *rule, const char *rel, const char *hash, char out[HASH_HEX])
{
	struct buffer text = {0};
	struct iface_ask a = {.r = plan_rule(plan, rule), .path = rel, .hash = hash};

	CHECK(iface_get(x, &a, 1, &text) == 0);
	memcpy(out, a.iface, HASH_HEX);
	buf_str(&text);
	return buf_take(&text);
}

/* the interface hash of rel (rule r) for a key, with the record's hint
 * (may be NULL) through x into out; iface_get's code.  *by (may be NULL)
 * gets what the record should keep */
static int key_of(struct iface *x, const struct rule *r, const char *rel, const char *hash, const char *hint,
		  const char *hint_by, char out[HASH_HEX], const char **by)
{
	struct iface_ask a = {.r = r, .path = rel, .hash = hash, .hint = hint, .hint_by = hint_by};
	int rc = iface_get(x, &a, 0, NULL);

	memcpy(out, a.iface, HASH_HEX);
	if (by)
		*by = a.by;
	return rc;
}

/* rel, written with src, shows want through x */
static void shows(struct iface *x, const char *rule, const char *rel, const char *src, const char *want)
{
	char h[HASH_HEX], out[HASH_HEX];
	char *t;

	put(rel, src, h);
	t = get(x, rule, rel, h, out);
	CHECK_STR(t, want);
	free(t);
}

TEST(rules_say_which_files_show_what)
{
	static const struct {
		const char *rule, *path;
		int kind;
	} cases[] = {
		{"c", "src/counter.h", IFACE_WHOLE}, {"c", "src/counter.c", IFACE_NONE},
		{"c", "tests/test_counter.c", IFACE_NONE}, {"c", "Makefile", IFACE_WHOLE},
		{"python", "src/todo/task.py", IFACE_COMMAND}, {"python", "tests/test_task.py", IFACE_NONE},
		{"python", "task_test.py", IFACE_NONE}, {"python", "tests/conftest.py", IFACE_NONE},
		{"python", "pyproject.toml", IFACE_WHOLE}, {"python", "requirements-dev.txt", IFACE_WHOLE},
		{"javascript", "src/slug.mjs", IFACE_COMMAND}, {"javascript", "src/slug.test.mjs", IFACE_NONE},
		{"javascript", "src/api.spec.ts", IFACE_NONE}, {"javascript", "src/api.ts", IFACE_COMMAND},
		{"javascript", "package.json", IFACE_WHOLE}, {"shell", "bin/rotate.sh", IFACE_COMMAND},
		{"shell", "tests/test-rotate.sh", IFACE_NONE}, {"shell", "test_rotate.sh", IFACE_NONE},
		{"docs", "README.md", IFACE_NONE}, {"docs", "docs/mpbuild.1", IFACE_NONE},
		{"generic", "config/app.yaml", IFACE_WHOLE},
	};
	static const char *const names[] = {"c", "docs", "generic", "javascript", "python", "shell"};
	size_t i;

	if (!setup())
		return;
	for (i = 0; i < LEN(cases); i++) {
		const struct extractor *e = iface_extractor(plan_rule(plan, cases[i].rule), cases[i].path);
		int kind = e ? e->kind : IFACE_WHOLE;

		if (kind != cases[i].kind)
			printf("# %s %s: kind %d, want %d\n", cases[i].rule, cases[i].path, kind, cases[i].kind);
		CHECK(kind == cases[i].kind);
	}
	/* a rule without interface: shows every file whole */
	CHECK(iface_extractor(NULL, "x.py") == NULL);
	for (i = 0; i < LEN(names); i++)
		CHECK(plan_rule(plan, names[i]) && strlen(plan_rule(plan, names[i])->planning) > 40);
}

TEST(c_header_whole_and_source_none)
{
	static const char header[] = "/* counter.h: a counter. */\n#ifndef COUNTER_H\n#define COUNTER_H\n"
				     "#include <stddef.h>\n/* add one; the new count */\nsize_t counter_add(size_t *c);\n"
				     "#endif\n";
	char h[HASH_HEX], out[HASH_HEX], empty[HASH_HEX];
	struct iface x;
	char *t;

	if (!setup())
		return;
	iface_open(&x, st, proj, NULL, 0, &plan->settings.checks);
	put("src/counter.h", header, h);
	t = get(&x, "c", "src/counter.h", h, out);
	CHECK_STR(t, header);
	CHECK_STR(out, h);
	free(t);
	/* without text the file is not even read */
	CHECK(key_of(&x, plan_rule(plan, "c"), "src/gone.h", h, NULL, NULL, out, NULL) == 0);
	CHECK_STR(out, h);
	put("src/counter.c", "#include \"counter.h\"\nsize_t counter_add(size_t *c) { return ++*c; }\n", h);
	t = get(&x, "c", "src/counter.c", h, out);
	sha256_hex("", 0, empty);
	CHECK_STR(t, "");
	CHECK_STR(out, empty);
	free(t);
	CHECK(x.runs == 0);
	iface_close(&x);
}

static const char pymod[] =
	"\"\"\"Tasks and the functions that make them.\"\"\"\n"
	"from __future__ import annotations\n\n"
	"import dataclasses\n"
	"from dataclasses import dataclass, field\n\n"
	"__all__ = [\"Task\", \"make_task\", \"MAX_TITLE\"]\n\n"
	"MAX_TITLE = 200\n"
	"_cache: dict[str, int] = {}\n\n\n"
	"@dataclass(frozen=True)\n"
	"class Task:\n"
	"    \"\"\"One unit of work.\"\"\"\n\n"
	"    title: str\n"
	"    done: bool = False\n"
	"    tags: list[str] = field(default_factory=list)\n\n"
	"    def complete(self) -> Task:\n"
	"        \"\"\"A copy of the task marked done.\"\"\"\n"
	"        return dataclasses.replace(self, done=True)\n\n"
	"    @property\n"
	"    def label(self) -> str:\n"
	"        return self.title.upper()\n\n"
	"    def _check(self) -> None:\n"
	"        pass\n\n\n"
	"def make_task(title: str, *tags: str, done: bool = False) -> Task:\n"
	"    \"\"\"Make a task; ValueError when the title is too long.\"\"\"\n"
	"    if len(title) > MAX_TITLE:\n"
	"        raise ValueError(title)\n"
	"    return Task(title, done, list(tags))\n\n\n"
	"def _helper():\n"
	"    return 1\n";

static const char pyiface[] =
	"\"\"\"Tasks and the functions that make them.\"\"\"\n"
	"__all__ = ['Task', 'make_task', 'MAX_TITLE']\n"
	"MAX_TITLE = 200\n\n"
	"@dataclass(frozen=True)\n"
	"class Task:\n"
	"    \"\"\"One unit of work.\"\"\"\n"
	"    title: str\n"
	"    done: bool = False\n"
	"    tags: list[str] = field(default_factory=list)\n\n"
	"    def complete(self) -> Task:\n"
	"        \"\"\"A copy of the task marked done.\"\"\"\n\n"
	"    @property\n"
	"    def label(self) -> str:\n"
	"        ...\n\n"
	"def make_task(title: str, *tags: str, done: bool=False) -> Task:\n"
	"    \"\"\"Make a task; ValueError when the title is too long.\"\"\"\n";

TEST(python_signatures_once_per_content)
{
	char h[HASH_HEX], h2[HASH_HEX], out[HASH_HEX], again[HASH_HEX], want[HASH_HEX];
	struct buffer changed = {0};
	struct iface x;
	const char *p;
	char *t;

	if (!setup())
		return;
	iface_open(&x, st, proj, NULL, 0, &plan->settings.checks);
	put("src/todo/task.py", pymod, h);
	t = get(&x, "python", "src/todo/task.py", h, out);
	CHECK_STR(t, pyiface);
	sha256_hex(pyiface, strlen(pyiface), want);
	CHECK_STR(out, want);
	CHECK(x.runs == 1);
	free(t);
	/* the second time, and in the next run, no extractor runs */
	t = get(&x, "python", "src/todo/task.py", h, again);
	CHECK_STR(t, pyiface);
	CHECK_STR(again, want);
	CHECK(x.runs == 1);
	free(t);
	iface_close(&x);
	iface_open(&x, st, proj, NULL, 0, &plan->settings.checks);
	CHECK(key_of(&x, plan_rule(plan, "python"), "src/todo/task.py", h, NULL, NULL, again, NULL) == 0);
	CHECK_STR(again, want);
	CHECK(x.runs == 0);
	/* an implementation-only change: another file, the same interface */
	p = strstr(pymod, "list(tags)");
	CHECK(p != NULL);
	buf_add(&changed, pymod, (size_t)(p - pymod));
	buf_puts(&changed, "sorted(set(tags))");
	buf_puts(&changed, p + strlen("list(tags)"));
	put("src/todo/task.py", buf_str(&changed), h2);
	CHECK(strcmp(h, h2) != 0);
	t = get(&x, "python", "src/todo/task.py", h2, again);
	CHECK_STR(t, pyiface);
	CHECK_STR(again, want);
	CHECK(x.runs == 1);
	free(t);
	/* a test file shows nothing, and runs nothing */
	put("tests/test_task.py", "def test_x():\n    assert True\n", h);
	t = get(&x, "python", "tests/test_task.py", h, out);
	CHECK_STR(t, "");
	CHECK(x.runs == 1);
	free(t);
	buf_free(&changed);
	iface_close(&x);
}

static const char jsmod[] =
	"// store.mjs: tasks in memory.\n"
	"import { readFile } from \"node:fs/promises\";\n\n"
	"const PATTERN = /[{}]/g;\n\n"
	"/** The largest number of tasks. */\n"
	"export const MAX = 10;\n\n"
	"/**\n"
	" * Make a task.\n"
	" * @param {string} title\n"
	" * @returns {{id: string, title: string}}\n"
	" */\n"
	"export function makeTask(title, { done = false } = {}) {\n"
	"  const s = `id-${title.replace(PATTERN, \"\")}}`;\n"
	"  return { id: s, title, done };\n"
	"}\n\n"
	"/** A store of tasks. */\n"
	"export class TaskStore extends Map {\n"
	"  #items = [];\n\n"
	"  /** Add a task. */\n"
	"  async add(task) {\n"
	"    this.#items.push(task);\n"
	"  }\n\n"
	"  get size() {\n"
	"    return this.#items.length;\n"
	"  }\n\n"
	"  _internal() {}\n"
	"}\n\n"
	"export default (argv = []) => {\n"
	"  return argv.length;\n"
	"};\n\n"
	"export { makeTask as create };\n";

static const char jsiface[] =
	"/** The largest number of tasks. */\n"
	"export const MAX = 10;\n\n"
	"/**\n"
	" * Make a task.\n"
	" * @param {string} title\n"
	" * @returns {{id: string, title: string}}\n"
	" */\n"
	"export function makeTask(title, { done = false } = {})\n\n"
	"/** A store of tasks. */\n"
	"export class TaskStore extends Map {\n"
	"  /** Add a task. */\n"
	"  async add(task)\n"
	"  get size()\n"
	"}\n\n"
	"export default (argv = []) =>\n\n"
	"export { makeTask as create };\n";

TEST(javascript_exports)
{
	struct iface x;

	if (!setup())
		return;
	iface_open(&x, st, proj, NULL, 0, &plan->settings.checks);
	shows(&x, "javascript", "src/store.mjs", jsmod, jsiface);
	shows(&x, "javascript", "lib/math.cjs",
	      "'use strict';\n/** Add two numbers. */\nfunction add(a, b) {\n  return a + b;\n}\n"
	      "function secret() {}\nexports.VERSION = \"1.0\";\nmodule.exports = { add };\n",
	      "/** Add two numbers. */\nfunction add(a, b)\n\nexports.VERSION = \"1.0\";\n\nmodule.exports = { add };\n");
	CHECK(x.runs == 2);
	iface_close(&x);
}

static const char shmod[] =
	"#!/bin/sh\n"
	"# rotate.sh: keep the newest N copies of each log.\n"
	"# usage: rotate.sh [-n N] DIR\n"
	"set -eu\n\n"
	"usage() {\n"
	"\tcat >&2 <<EOF\n"
	"usage: rotate.sh [-n N] DIR\n"
	"  -n N  copies to keep\n"
	"EOF\n"
	"\texit 2\n"
	"}\n\n"
	"# rotate FILE: shift the copies of FILE by one\n"
	"rotate() {\n"
	"\tmv -- \"$1\" \"$1.1\" || exit 1\n"
	"}\n\n"
	"helper() { :; }\n\n"
	"[ $# -eq 1 ] || usage\n"
	"rotate \"$1\"\n"
	"exit 0\n";

static const char shiface[] =
	"# rotate.sh: keep the newest N copies of each log.\n"
	"# usage: rotate.sh [-n N] DIR\n\n"
	"usage prints:\n"
	"  usage: rotate.sh [-n N] DIR\n"
	"    -n N  copies to keep\n\n"
	"functions:\n"
	"usage()\n"
	"# rotate FILE: shift the copies of FILE by one\n"
	"rotate()\n"
	"helper()\n\n"
	"exit statuses: 0 1 2\n";

TEST(shell_usage_functions_exits)
{
	struct iface x;

	if (!setup())
		return;
	iface_open(&x, st, proj, NULL, 0, &plan->settings.checks);
	shows(&x, "shell", "bin/rotate.sh", shmod, shiface);
	iface_close(&x);
}

TEST(failing_extractor_gives_the_whole_file_once)
{
	static const char broken[] = "def f(:\n    pass\n";
	struct rule r = {0};
	char *argv[] = {"mpbuild-no-such-extractor", "{file}", NULL};
	struct extractor e = {"*.x", IFACE_COMMAND, {argv, 2}};
	char h[HASH_HEX], out[HASH_HEX];
	struct iface x;
	char *t, *err;

	if (!setup())
		return;
	iface_open(&x, st, proj, NULL, 0, &plan->settings.checks);
	put("src/broken.py", broken, h);
	capture_begin();
	t = get(&x, "python", "src/broken.py", h, out);
	err = capture_end();
	CHECK_STR(t, broken);
	CHECK_STR(out, h);
	CHECK(strstr(err, "mpbuild: warning: rule python: cannot take the interface of src/broken.py (exit status 1: "
			  "python.py: src/broken.py: ") == err);
	CHECK(strstr(err, "; its dependents see the whole file\n") != NULL);
	free(t);
	free(err);
	/* once per run: the second ask neither runs nor warns */
	capture_begin();
	t = get(&x, "python", "src/broken.py", h, out);
	err = capture_end();
	CHECK_STR(t, broken);
	CHECK_STR(err, "");
	CHECK(x.runs == 1);
	free(t);
	free(err);
	/* an extractor that is not installed */
	r.name = "mine";
	r.interface = &e;
	r.ninterface = 1;
	put("a.x", "x\n", h);
	capture_begin();
	CHECK(key_of(&x, &r, "a.x", h, NULL, NULL, out, NULL) == 0);
	err = capture_end();
	CHECK_STR(out, h);
	CHECK_STR(err, "mpbuild: warning: rule mine: cannot take the interface of a.x (mpbuild-no-such-extractor is "
		       "not installed); its dependents see the whole file\n");
	free(err);
	/* a file that is not what the caller hashed */
	put("src/other.py", "X = 1\n", h);
	put("src/other.py", "X = 2\n", out);
	capture_begin();
	CHECK(key_of(&x, plan_rule(plan, "python"), "src/other.py", h, NULL, NULL, out, NULL) == -1);
	err = capture_end();
	CHECK(strstr(err, "src/other.py changed while its interface was taken") != NULL);
	free(err);
	iface_close(&x);
}

/* the blob of hash in the project's store, for spoiling it */
static char *blob_path(const char *hash)
{
	char *cache = path_join(proj, "cache"), *p = store_path(cache, "cas", hash + 7);

	free(cache);
	return p;
}

TEST(texts_kept_in_the_store_and_read_back_checked)
{
	static const char src[] = "\"\"\"Sums.\"\"\"\n\ndef total(xs: list[int]) -> int:\n    \"\"\"The sum.\"\"\"\n"
				  "    return sum(xs)\n";
	static const char want[] = "\"\"\"Sums.\"\"\"\n\ndef total(xs: list[int]) -> int:\n    \"\"\"The sum.\"\"\"\n";
	char h[HASH_HEX], out[HASH_HEX], again[HASH_HEX], *cache, *path, *t;
	struct iface x;
	FILE *f;

	if (!setup())
		return;
	cache = path_join(proj, "cache");
	put("src/sums.py", src, h);
	iface_open(&x, st, proj, cache, 1, &plan->settings.checks);
	t = get(&x, "python", "src/sums.py", h, out);
	CHECK_STR(t, want);
	CHECK(x.runs == 1);
	free(t);
	iface_close(&x);
	/* the next run reads the text back from the store: no extractor */
	iface_open(&x, st, proj, cache, 1, &plan->settings.checks);
	t = get(&x, "python", "src/sums.py", h, again);
	CHECK_STR(t, want);
	CHECK_STR(again, out);
	CHECK(x.runs == 0 && x.fetched == 1);
	free(t);
	iface_close(&x);
	/* a spoiled blob is not shown: the text is made again */
	path = blob_path(out);
	f = fopen(path, "w");
	CHECK(f && fputs("not zstd", f) >= 0 && fclose(f) == 0);
	iface_open(&x, st, proj, cache, 1, &plan->settings.checks);
	t = get(&x, "python", "src/sums.py", h, again);
	CHECK_STR(t, want);
	CHECK(x.runs == 1 && x.fetched == 0);
	free(t);
	iface_close(&x);
	/* without a store (--no-cache) nothing is read or kept, and state.db
	 * still spares a key the extractor */
	unlink(path);
	iface_open(&x, st, proj, NULL, 1, &plan->settings.checks);
	CHECK(key_of(&x, plan_rule(plan, "python"), "src/sums.py", h, NULL, NULL, again, NULL) == 0);
	CHECK_STR(again, out);
	CHECK(x.runs == 0);
	t = get(&x, "python", "src/sums.py", h, again);
	CHECK_STR(t, want);
	CHECK(x.runs == 1 && !path_exists(path));
	free(t);
	iface_close(&x);
	free(path);
	free(cache);
}

TEST(a_hint_serves_a_key_never_a_prompt)
{
	const struct rule *py;
	char h[HASH_HEX], h2[HASH_HEX], out[HASH_HEX], wrong[HASH_HEX], *t;
	const char *by, *id;
	struct state *fresh;
	struct iface x;
	char *cache, *dir = tmp_dir();

	if (!setup())
		return;
	py = plan_rule(plan, "python");
	/* what another machine's lock says: a state.db that has seen nothing */
	cache = path_join(dir, "cache");
	fresh = state_open(cache, 0);
	CHECK(fresh != NULL);
	put("src/one.py", "def one() -> int:\n    return 1\n", h);
	put("src/two.py", "def two() -> int:\n    return 2\n", h2);
	iface_open(&x, fresh, proj, cache, 1, &plan->settings.checks);
	CHECK(key_of(&x, py, "src/two.py", h2, NULL, NULL, wrong, &by) == 0);
	CHECK(by != NULL && x.runs == 1);
	id = xstrdup(by);
	/* a hint by the same command: the key uses it, nothing runs, and the
	 * record is told nothing */
	CHECK(key_of(&x, py, "src/one.py", h, wrong, id, out, &by) == 0);
	CHECK_STR(out, wrong);
	CHECK(by == NULL && x.runs == 1);
	/* a prompt gets this machine's interface, not the hint's text (which
	 * the store holds) */
	t = get(&x, "python", "src/one.py", h, out);
	CHECK_STR(t, "def one() -> int:\n    ...\n");
	CHECK(strcmp(out, wrong) != 0 && x.runs == 2 && x.fetched == 0);
	free(t);
	/* from now on the key takes the checked hash, and the record is told */
	CHECK(key_of(&x, py, "src/one.py", h, wrong, id, wrong, &by) == 0);
	CHECK_STR(wrong, out);
	CHECK(by != NULL && strcmp(by, id) == 0);
	iface_close(&x);
	/* a hint by another command is no hint */
	put("src/three.py", "def three() -> int:\n    return 3\n", h);
	iface_open(&x, fresh, proj, cache, 1, &plan->settings.checks);
	CHECK(key_of(&x, py, "src/three.py", h, out,
		     "sha256:0000000000000000000000000000000000000000000000000000000000000000", wrong, &by) == 0);
	CHECK(strcmp(wrong, out) != 0 && by != NULL && x.runs == 1);
	iface_close(&x);
	state_close(fresh);
	free((char *)id);
	rm_rf(dir);
	free(dir);
	free(cache);
}

TEST(zz_cleanup)
{
	state_close(st);
	plan_free(plan);
	if (proj)
		rm_rf(proj);
	free(proj);
	st = NULL;
	plan = NULL;
	proj = NULL;
}
