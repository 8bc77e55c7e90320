/* test_key.c: the key manifest (SPEC 10.1) is deterministic, changes with
 * every field that decides the request or the judging, and with nothing else;
 * the stat cache hashes what is on disk, trusts an unchanged stat only when it
 * is not racy (SPEC 10.9), and persists through state.db. */
#include "unit.h"
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "key.h"

/* a task with a rule, outputs, checks and dependencies to vary */
struct fixture {
	char *check0[4], *check1[2], *val_c[4], *val_h[3], *val_py[3];
	struct argv checks[2];
	struct validator validate[3];
	const char *match[2];
	const char *outputs[2];
	struct rule rule;
	struct task task;
	const char *dep_target[2], *dep_path[2], *dep_hash[2];
	struct key_input in;
};

static void fixture(struct fixture *f)
{
	static const char *const c0[] = {"cc", "-c", "a.c", NULL}, *const c1[] = {"true", NULL};
	static const char *const vc[] = {"cc", "-fsyntax-only", "{file}", NULL}, *const vh[] = {"cc", "{file}", NULL};
	static const char *const vp[] = {"python3", "{file}", NULL};

	memset(f, 0, sizeof(*f));
	memcpy(f->check0, c0, sizeof(c0));
	memcpy(f->check1, c1, sizeof(c1));
	memcpy(f->val_c, vc, sizeof(vc));
	memcpy(f->val_h, vh, sizeof(vh));
	memcpy(f->val_py, vp, sizeof(vp));
	f->checks[0] = (struct argv){f->check0, 3};
	f->checks[1] = (struct argv){f->check1, 1};
	f->validate[0] = (struct validator){"*.py", {f->val_py, 2}};
	f->validate[1] = (struct validator){"*.c", {f->val_c, 3}};
	f->validate[2] = (struct validator){"*.h", {f->val_h, 2}};
	f->match[0] = "*.c";
	f->match[1] = "*.h";
	f->outputs[0] = "src/a.c";
	f->outputs[1] = "src/a.h";
	f->rule.name = "c";
	f->rule.system = "Write C.";
	f->rule.match = f->match;
	f->rule.nmatch = 2;
	f->rule.validate = f->validate;
	f->rule.nvalidate = 3;
	f->task.id = "T-001";
	f->task.title = "A";
	f->task.description = "Write a.";
	f->task.complexity = "low";
	f->task.outputs = f->outputs;
	f->task.noutputs = 2;
	f->task.check = f->checks;
	f->task.ncheck = 2;
	f->task.r = &f->rule;
	f->dep_target[0] = "T-000";
	f->dep_path[0] = "src/z.h";
	f->dep_hash[0] = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	f->dep_target[1] = "T-000";
	f->dep_path[1] = "src/z.c";
	f->dep_hash[1] = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
	f->in.family = "anthropic";
	f->in.model = "claude-haiku-5-5";
	f->in.effort = NULL;
	f->in.max_tokens = 16000;
	f->in.schema_hash = "sha256:schema";
	f->in.layer[0] = "sha256:l1";
	f->in.layer[1] = "sha256:l2";
	f->in.layer[2] = "sha256:l3";
	f->in.layer[3] = "sha256:l4";
	f->in.ndeps = 2;
	f->in.dep_target = f->dep_target;
	f->in.dep_path = f->dep_path;
	f->in.dep_hash = f->dep_hash;
	f->in.task = &f->task;
	f->in.retries = 1;
	f->in.escalate = "claude-opus-5-5";
}

static void key(const struct fixture *f, char out[HASH_HEX])
{
	char *m = key_manifest(&f->in);

	key_of(m, out);
	free(m);
}

TEST(manifest_deterministic)
{
	struct fixture a, b;
	char *ma, *mb, ka[HASH_HEX], kb[HASH_HEX];

	fixture(&a);
	fixture(&b);
	ma = key_manifest(&a.in);
	mb = key_manifest(&b.in);
	CHECK_STR(ma, mb);
	/* canonical: fixed key order, compact, the validator that applies to each output */
	CHECK_STR(ma, "{\"format\":2,\"family\":\"anthropic\",\"model\":\"claude-haiku-5-5\",\"effort\":null,"
		      "\"max_tokens\":16000,\"schema\":\"sha256:schema\",\"layers\":[\"sha256:l1\",\"sha256:l2\","
		      "\"sha256:l3\",\"sha256:l4\"],\"deps\":[[\"T-000\",\"src/z.h\",\"sha256:1111111111111111111111111111111111111111111111111111111111111111\"],"
		      "[\"T-000\",\"src/z.c\",\"sha256:2222222222222222222222222222222222222222222222222222222222222222\"]],"
		      "\"validate\":[[\"src/a.c\",[\"cc\",\"-fsyntax-only\",\"{file}\"]],[\"src/a.h\",[\"cc\",\"{file}\"]]],"
		      "\"check\":[[\"cc\",\"-c\",\"a.c\"],[\"true\"]],\"retries\":1,\"escalate\":\"claude-opus-5-5\"}");
	key(&a, ka);
	key(&b, kb);
	CHECK_STR(ka, kb);
	CHECK(hash_valid(ka));
	{
		char want[HASH_HEX];

		sha256_hex(ma, strlen(ma), want);
		CHECK_STR(ka, want);
	}
	free(ma);
	free(mb);
}

/* apply one change to a fresh fixture and report whether the key moved */
static int differs(void (*change)(struct fixture *), const char *what)
{
	struct fixture base, f;
	char kb[HASH_HEX], kf[HASH_HEX];

	fixture(&base);
	fixture(&f);
	change(&f);
	key(&base, kb);
	key(&f, kf);
	(void)what;     /* CHECK prints the call, and with it what changed */
	return strcmp(kb, kf) != 0;
}

static void c_family(struct fixture *f) { f->in.family = "openai"; }
static void c_model(struct fixture *f) { f->in.model = "claude-sonnet-5-5"; }
static void c_effort(struct fixture *f) { f->in.effort = "low"; }
static void c_max_tokens(struct fixture *f) { f->in.max_tokens = 16001; }
static void c_schema(struct fixture *f) { f->in.schema_hash = "sha256:schema2"; }
static void c_layer1(struct fixture *f) { f->in.layer[0] = "sha256:x"; }
static void c_layer2(struct fixture *f) { f->in.layer[1] = "sha256:x"; }
static void c_layer3(struct fixture *f) { f->in.layer[2] = "sha256:x"; }
static void c_layer4(struct fixture *f) { f->in.layer[3] = "sha256:x"; }
static void c_dep_hash(struct fixture *f)
{
	f->dep_hash[1] = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
}
static void c_dep_path(struct fixture *f) { f->dep_path[0] = "src/y.h"; }
static void c_dep_target(struct fixture *f) { f->dep_target[0] = "T-009"; }
static void c_dep_dropped(struct fixture *f) { f->in.ndeps = 1; }
static void c_retries(struct fixture *f) { f->in.retries = 2; }
static void c_escalate(struct fixture *f) { f->in.escalate = NULL; }
static void c_escalate2(struct fixture *f) { f->in.escalate = "claude-sonnet-5-5"; }
static void c_check_word(struct fixture *f) { f->check0[1] = "-O2"; }
static void c_check_dropped(struct fixture *f) { f->task.ncheck = 1; }
static void c_check_split(struct fixture *f) { f->checks[0].c = 2; }
static void c_validate(struct fixture *f) { f->val_c[1] = "-Wall"; }
static void c_output_renamed(struct fixture *f) { f->outputs[1] = "src/b.h"; }

TEST(manifest_changes_with_every_field)
{
	CHECK(differs(c_family, "family"));
	CHECK(differs(c_model, "model"));
	CHECK(differs(c_effort, "effort"));
	CHECK(differs(c_max_tokens, "max_tokens"));
	CHECK(differs(c_schema, "schema hash"));
	CHECK(differs(c_layer1, "layer 1"));
	CHECK(differs(c_layer2, "layer 2"));
	CHECK(differs(c_layer3, "layer 3"));
	CHECK(differs(c_layer4, "layer 4"));
	CHECK(differs(c_dep_hash, "a dependency's output hash"));
	CHECK(differs(c_dep_path, "a dependency's output path"));
	CHECK(differs(c_dep_target, "a dependency's target"));
	CHECK(differs(c_dep_dropped, "a dependency output dropped"));
	CHECK(differs(c_retries, "retries"));
	CHECK(differs(c_escalate, "escalate unset"));
	CHECK(differs(c_escalate2, "escalate model"));
	CHECK(differs(c_check_word, "a check argv word"));
	CHECK(differs(c_check_dropped, "a check dropped"));
	CHECK(differs(c_check_split, "a check argv shortened"));
	CHECK(differs(c_validate, "the validate argv that applies"));
	CHECK(differs(c_output_renamed, "an output's name (its validator entry)"));
}

/* things that reach the model through a layer hash, or not at all */
static void u_title(struct fixture *f) { f->task.title = "B"; }
static void u_description(struct fixture *f) { f->task.description = "Write b."; }
static void u_complexity(struct fixture *f) { f->task.complexity = "high"; }
static void u_id(struct fixture *f) { f->task.id = "T-002"; }
static void u_rule_system(struct fixture *f) { f->rule.system = "Write better C."; }
static void u_rule_match(struct fixture *f) { f->rule.nmatch = 1; }
static void u_unused_validator(struct fixture *f) { f->val_py[0] = "python"; }
static void u_rule_name(struct fixture *f) { f->rule.name = "c2"; }

TEST(manifest_ignores_the_rest)
{
	CHECK(!differs(u_title, "task title"));
	CHECK(!differs(u_description, "task description"));
	CHECK(!differs(u_complexity, "task complexity"));
	CHECK(!differs(u_id, "task id"));
	CHECK(!differs(u_rule_system, "rule text"));
	CHECK(!differs(u_rule_match, "rule match list"));
	CHECK(!differs(u_unused_validator, "a validator no output uses"));
	CHECK(!differs(u_rule_name, "rule name"));
}

TEST(manifest_without_task)
{
	struct fixture f;
	char *m;

	fixture(&f);
	f.in.task = NULL;
	f.in.ndeps = 0;
	m = key_manifest(&f.in);
	CHECK(strstr(m, "\"deps\":[],\"validate\":[],\"check\":[]") != NULL);
	free(m);
}

/* the manifest as jansson writes it (how keys were first computed): the
 * direct writer in key.c must give the same bytes, or every key changes */
static json_t *ref_argv(const struct argv *a)
{
	json_t *v = json_array();
	size_t i;

	for (i = 0; i < a->c; i++)
		json_array_append_new(v, json_string(a->v[i]));
	return v;
}

static char *ref_manifest(const struct key_input *in)
{
	json_t *o = json_object(), *layers = json_array(), *deps = json_array(), *val = json_array(), *chk = json_array();
	const struct task *t = in->task;
	char *s;
	size_t i, j;
	int k;

	json_object_set_new(o, "format", json_integer(PROMPT_FORMAT_VERSION));
	json_object_set_new(o, "family", json_string(in->family));
	json_object_set_new(o, "model", json_string(in->model));
	json_object_set_new(o, "effort", in->effort ? json_string(in->effort) : json_null());
	json_object_set_new(o, "max_tokens", json_integer(in->max_tokens));
	json_object_set_new(o, "schema", json_string(in->schema_hash));
	for (k = 0; k < 4; k++)
		json_array_append_new(layers, json_string(in->layer[k]));
	json_object_set_new(o, "layers", layers);
	for (i = 0; i < in->ndeps; i++)
		json_array_append_new(deps, json_pack("[sss]", in->dep_target[i], in->dep_path[i], in->dep_hash[i]));
	json_object_set_new(o, "deps", deps);
	for (i = 0; t && i < t->noutputs; i++) {
		const char *out = t->outputs[i], *base = strrchr(out, '/');

		base = base ? base + 1 : out;
		for (j = 0; t->r && j < t->r->nvalidate; j++)
			if (glob_match(t->r->validate[j].glob, base) || glob_match(t->r->validate[j].glob, out)) {
				json_array_append_new(val, json_pack("[so]", out, ref_argv(&t->r->validate[j].argv)));
				break;
			}
	}
	json_object_set_new(o, "validate", val);
	for (i = 0; t && i < t->ncheck; i++)
		json_array_append_new(chk, ref_argv(&t->check[i]));
	json_object_set_new(o, "check", chk);
	json_object_set_new(o, "retries", json_integer(in->retries));
	json_object_set_new(o, "escalate", in->escalate ? json_string(in->escalate) : json_null());
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

static void same_as_jansson(const struct fixture *f)
{
	char *a = key_manifest(&f->in), *b = ref_manifest(&f->in);

	CHECK_STR(a, b);
	free(a);
	free(b);
}

TEST(manifest_bytes_are_jansson_compact)
{
	struct fixture f;
	char all[128], *arg[3];
	int c;

	fixture(&f);
	same_as_jansson(&f);
	f.in.effort = "high";
	f.in.escalate = NULL;
	f.in.task = NULL;
	f.in.ndeps = 0;
	same_as_jansson(&f);
	/* every ASCII byte, quotes, backslashes, controls and UTF-8 in strings */
	fixture(&f);
	for (c = 1; c < 128; c++)
		all[c - 1] = (char)c;
	all[127] = '\0';
	f.in.model = all;
	f.in.effort = "caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80 \"q\" \\ /";
	f.dep_path[1] = "src/\x7f\x01\x1f.c";
	arg[0] = all;
	arg[1] = "\t\n\r\b\f";
	arg[2] = NULL;
	f.checks[1] = (struct argv){arg, 2};
	same_as_jansson(&f);
}

/* fscache fixtures */
static void write_bytes(const char *dir, const char *rel, const char *text)
{
	put_file(dir, rel, text);
}

static void set_mtime_ago(const char *dir, const char *rel, int seconds)
{
	char *path = path_join(dir, rel);
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= seconds;
	ts[1] = ts[0];
	CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
	free(path);
}

static void pause_ms(long ms)
{
	struct timespec ts = {0, ms * 1000000L};

	nanosleep(&ts, NULL);
}

TEST(fscache_hash_is_sha256_of_bytes)
{
	char *d = tmp_dir(), want[HASH_HEX];
	struct fscache c;
	const char *h;

	write_bytes(d, "src/a.c", "int a;\n");
	write_bytes(d, "empty", "");
	fscache_open(&c, NULL, d);
	h = fscache_hash(&c, "src/a.c");
	sha256_hex("int a;\n", 7, want);
	CHECK_STR(h, want);
	h = fscache_hash(&c, "empty");
	sha256_hex("", 0, want);
	CHECK_STR(h, want);
	CHECK_STR(want, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	errno = 0;
	CHECK(fscache_hash(&c, "missing") == NULL && errno == ENOENT);
	CHECK(fscache_hash(&c, "src") == NULL && errno == EISDIR);
	CHECK(c.hashed == 2);
	fscache_close(&c);
	rm_rf(d);
	free(d);
}

TEST(fscache_racy_rule)
{
	char *d = tmp_dir(), want[HASH_HEX];
	struct fscache c;
	const char *h;

	write_bytes(d, "a.txt", "one\n");
	fscache_open(&c, NULL, d);
	/* just written: its mtime is not older than the entry, so every look re-hashes */
	CHECK_STR(fscache_hash(&c, "a.txt"), (sha256_hex("one\n", 4, want), want));
	CHECK(c.hashed == 1);
	/* within a run a file is looked at once: no stat, no hash, even if it changed */
	write_bytes(d, "a.txt", "changed\n");
	CHECK_STR(fscache_hash(&c, "a.txt"), want);
	CHECK(c.hashed == 1);
	write_bytes(d, "a.txt", "one\n");
	/* each look below is as in a new run (fscache_forget) */
	fscache_forget(&c, "a.txt");
	fscache_hash(&c, "a.txt");
	CHECK(c.hashed == 2);
	/* an old mtime (the stat changed: mtime and ctime) is hashed once more, then trusted */
	set_mtime_ago(d, "a.txt", 10);
	fscache_forget(&c, "a.txt");
	fscache_hash(&c, "a.txt");
	CHECK(c.hashed == 3);
	fscache_forget(&c, "a.txt");
	h = fscache_hash(&c, "a.txt");
	CHECK(c.hashed == 3);
	CHECK_STR(h, want);
	fscache_forget(&c, "a.txt");
	fscache_hash(&c, "a.txt");
	CHECK(c.hashed == 3);
	/* same size, mtime put back: ctime still gives the change away */
	pause_ms(30);
	write_bytes(d, "a.txt", "two\n");
	set_mtime_ago(d, "a.txt", 10);
	fscache_forget(&c, "a.txt");
	h = fscache_hash(&c, "a.txt");
	CHECK(c.hashed == 4);
	CHECK_STR(h, (sha256_hex("two\n", 4, want), want));
	/* a bigger file is re-hashed whatever its times */
	write_bytes(d, "a.txt", "three\n");
	set_mtime_ago(d, "a.txt", 100);
	fscache_forget(&c, "a.txt");
	h = fscache_hash(&c, "a.txt");
	CHECK(c.hashed == 5);
	CHECK_STR(h, (sha256_hex("three\n", 6, want), want));
	fscache_close(&c);
	rm_rf(d);
	free(d);
}

TEST(fscache_note_and_persistence)
{
	char *d = tmp_dir(), *cache = path_join(d, "cache"), want[HASH_HEX];
	struct state *st;
	struct fscache c;

	write_bytes(d, "old.txt", "old\n");
	set_mtime_ago(d, "old.txt", 10);
	write_bytes(d, "new.txt", "new\n");
	capture_begin();
	st = state_open(cache, 0);
	free(capture_end());
	CHECK(st != NULL);
	if (!st) {
		rm_rf(d);
		free(d);
		free(cache);
		return;
	}
	fscache_open(&c, st, d);
	fscache_hash(&c, "old.txt");
	fscache_hash(&c, "new.txt");
	CHECK(c.hashed == 2);
	CHECK(fscache_flush(&c) == 0);
	fscache_close(&c);
	/* the next run trusts the old file's entry and re-hashes the racy one */
	fscache_open(&c, st, d);
	CHECK_STR(fscache_hash(&c, "old.txt"), (sha256_hex("old\n", 4, want), want));
	CHECK(c.hashed == 0);
	CHECK_STR(fscache_hash(&c, "new.txt"), (sha256_hex("new\n", 4, want), want));
	CHECK(c.hashed == 1);
	/* fscache_note records a hash mpbuild computed itself */
	write_bytes(d, "w.txt", "written\n");
	set_mtime_ago(d, "w.txt", 10);
	sha256_hex("written\n", 8, want);
	fscache_note(&c, "w.txt", want);
	CHECK_STR(fscache_hash(&c, "w.txt"), want);
	CHECK(c.hashed == 1);
	fscache_close(&c);
	state_close(st);
	rm_rf(d);
	free(d);
	free(cache);
}
