/* test_lockfile.c: mpbuild.lock renders deterministically, survives
 * render -> write -> read -> render byte for byte (outputs with their
 * interface hashes too), reads targets back sorted, is not rewritten when
 * unchanged, and a broken lock is an error with its place. */
#include "unit.h"
#include "helpers.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lockfile.h"

#define H1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define H3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static const char lock_text[] =
	"version: 1\n"
	"targets:\n"
	"  T-001:\n"
	"    key: " H1 "\n"
	"    model: claude-haiku-5-5\n"
	"    generated: true\n"
	"    outputs:\n"
	"      src/a.c: " H2 "\n"
	"      \"odd: name #1.c\": " H3 "\n"
	"  T-002:\n"
	"    key: " H2 "\n"
	"    model: none\n"
	"    generated: false\n"
	"    outputs: {}\n"
	"  \"true\":\n"
	"    key: " H3 "\n"
	"    model: m\n"
	"    generated: true\n"
	"    outputs:\n"
	"      x.py: " H1 "\n"
	"approved_checks: " H1 "\n"
	"rules:\n"
	"  c:\n"
	"    hash: " H2 "\n"
	"    examples: []\n"
	"  python:\n"
	"    hash: " H3 "\n"
	"    examples:\n"
	"      - examples/z.py: " H1 "\n"
	"      - \"examples/b: c.py\": " H2 "\n"
	"      - builtin:examples/python/cli.py: " H3 "\n";

static char *render(const struct lockfile *lk)
{
	struct buffer b = {0};

	lockfile_render(lk, &b);
	return buf_take(&b);
}

/* read dir's lock quietly; rc out, stderr to *err (caller frees) */
static int read_lock(const char *dir, struct lockfile *lk, char hash[HASH_HEX], char **err)
{
	int rc;
	char *e;

	capture_begin();
	rc = lockfile_read(dir, lk, hash);
	e = capture_end();
	if (err)
		*err = e;
	else
		free(e);
	return rc;
}

TEST(read_render_identical)
{
	char *d = tmp_dir(), *text, h[HASH_HEX], want[HASH_HEX], *err;
	struct lockfile lk;

	put_file(d, "mpbuild.lock", lock_text);
	CHECK(read_lock(d, &lk, h, &err) == 0);
	CHECK_STR(err, "");
	free(err);
	sha256_hex(lock_text, strlen(lock_text), want);
	CHECK_STR(h, want);
	CHECK(lk.ntargets == 3 && lk.nrules == 2);
	CHECK_STR(lk.targets[0].target, "T-001");
	CHECK(lk.targets[0].n == 2 && lk.targets[0].generated);
	CHECK_STR(lk.targets[0].paths[1], "odd: name #1.c");
	CHECK_STR(lk.targets[0].hashes[1], H3);
	CHECK(!lk.targets[1].generated && lk.targets[1].n == 0);
	CHECK_STR(lk.targets[2].target, "true");
	CHECK_STR(lk.approved_checks, H1);
	CHECK(lk.rules[0].n == 0);
	CHECK(lk.rules[1].n == 3);              /* in the order pinned, not sorted */
	CHECK_STR(lk.rules[1].paths[0], "examples/z.py");
	CHECK_STR(lk.rules[1].paths[1], "examples/b: c.py");
	CHECK_STR(lk.rules[1].hashes[1], H2);
	CHECK_STR(lk.rules[1].paths[2], "builtin:examples/python/cli.py");
	text = render(&lk);
	CHECK_STR(text, lock_text);
	free(text);
	lockfile_free(&lk);
	rm_rf(d);
	free(d);
}

TEST(render_write_read_render)
{
	char *d = tmp_dir(), *one, *two, h1[HASH_HEX], h2[HASH_HEX];
	struct lockfile lk = {0}, back;
	struct record r[2];
	char *pa[] = {"b.c", "a.c"};
	char ha[2][HASH_HEX] = {H1, H2};
	struct buffer b = {0};

	memset(r, 0, sizeof(r));
	r[0].target = "A";
	snprintf(r[0].key, sizeof(r[0].key), "%s", H3);
	r[0].model = "claude-sonnet-5-5";
	r[0].generated = 1;
	r[0].n = 2;
	r[0].paths = pa;
	r[0].hashes = ha;
	r[1].target = "B";
	snprintf(r[1].key, sizeof(r[1].key), "%s", H1);
	r[1].model = "";                 /* rendered as none */
	lk.targets = r;
	lk.ntargets = 2;
	one = render(&lk);
	CHECK_STR(one, "version: 1\ntargets:\n  A:\n    key: " H3 "\n    model: claude-sonnet-5-5\n    generated: true\n"
		       "    outputs:\n      b.c: " H1 "\n      a.c: " H2 "\n  B:\n    key: " H1 "\n    model: none\n"
		       "    generated: false\n    outputs: {}\napproved_checks: null\nrules: {}\n");
	buf_puts(&b, one);
	CHECK(lockfile_write(d, &b, h1) == 0);
	CHECK(read_lock(d, &back, h2, NULL) == 0);
	CHECK_STR(h1, h2);
	two = render(&back);
	CHECK_STR(two, one);
	CHECK_STR(back.approved_checks, NULL);
	CHECK_STR(back.targets[1].model, "none");
	lockfile_free(&back);
	free(one);
	free(two);
	buf_free(&b);
	rm_rf(d);
	free(d);
}

TEST(empty_lock)
{
	char *d = tmp_dir(), *text, h[HASH_HEX];
	struct lockfile lk = {0};
	struct buffer b = {0};

	text = render(&lk);
	CHECK_STR(text, "version: 1\ntargets: {}\napproved_checks: null\nrules: {}\n");
	buf_puts(&b, text);
	CHECK(lockfile_write(d, &b, h) == 0);
	CHECK(read_lock(d, &lk, h, NULL) == 0 && lk.ntargets == 0 && lk.nrules == 0);
	lockfile_free(&lk);
	free(text);
	buf_free(&b);
	rm_rf(d);
	free(d);
}

TEST(missing_lock)
{
	char *d = tmp_dir(), h[HASH_HEX] = "x";
	struct lockfile lk;

	CHECK(read_lock(d, &lk, h, NULL) == 1);
	CHECK(lk.ntargets == 0 && h[0] == '\0');
	rm_rf(d);
	free(d);
}

TEST(targets_read_sorted)
{
	char *d = tmp_dir(), *text;
	struct lockfile lk;

	put_file(d, "mpbuild.lock", "version: 1\ntargets:\n"
				    "  T-010: {key: " H1 ", model: m, outputs: {}}\n"
				    "  T-002: {key: " H2 ", model: m, outputs: {}}\n"
				    "  T-001: {key: " H3 ", model: m, outputs: {}}\n"
				    "rules:\n  shell: {hash: " H1 "}\n  c: {hash: " H2 "}\n");
	CHECK(read_lock(d, &lk, NULL, NULL) == 0);
	CHECK(lk.ntargets == 3);
	CHECK_STR(lk.targets[0].target, "T-001");
	CHECK_STR(lk.targets[1].target, "T-002");
	CHECK_STR(lk.targets[2].target, "T-010");
	CHECK_STR(lk.rules[0].name, "c");
	text = render(&lk);
	CHECK(strstr(text, "  T-001:\n") < strstr(text, "  T-002:\n") && strstr(text, "  T-002:\n") < strstr(text, "  T-010:\n"));
	CHECK(strstr(text, "  c:\n") < strstr(text, "  shell:\n"));
	free(text);
	lockfile_free(&lk);
	rm_rf(d);
	free(d);
}

TEST(unchanged_lock_not_rewritten)
{
	char *d = tmp_dir(), *path = path_join(d, "mpbuild.lock"), h[HASH_HEX];
	struct buffer b = {0};
	struct stat s1, s2;

	buf_puts(&b, lock_text);
	CHECK(lockfile_write(d, &b, h) == 0);
	CHECK(stat(path, &s1) == 0);
	CHECK(lockfile_write(d, &b, h) == 0);
	CHECK(stat(path, &s2) == 0);
	CHECK(s1.st_ino == s2.st_ino);       /* an atomic rewrite would be a new file */
	buf_puts(&b, "");
	buf_reset(&b);
	buf_puts(&b, "version: 1\ntargets: {}\napproved_checks: null\nrules: {}\n");
	CHECK(lockfile_write(d, &b, h) == 0);
	{
		struct buffer got = {0};

		CHECK(read_file(path, &got, 1 << 20) == 0);
		CHECK_STR(buf_str(&got), "version: 1\ntargets: {}\napproved_checks: null\nrules: {}\n");
		buf_free(&got);
	}
	buf_free(&b);
	free(path);
	rm_rf(d);
	free(d);
}

TEST(outputs_with_interfaces)
{
	static const char text[] =
		"version: 1\n"
		"targets:\n"
		"  T-001:\n"
		"    key: " H1 "\n"
		"    model: m\n"
		"    generated: true\n"
		"    outputs:\n"
		"      src/a.h: " H2 "\n"
		"      src/a.py:\n"
		"        hash: " H3 "\n"
		"        interface: " H1 "\n"
		"        extractor: " H2 "\n"
		"approved_checks: null\n"
		"rules: {}\n";
	char *d = tmp_dir(), *err, *back;
	const char *iface, *by;
	struct lockfile lk;

	put_file(d, "mpbuild.lock", text);
	CHECK(read_lock(d, &lk, NULL, &err) == 0);
	CHECK_STR(err, "");
	free(err);
	CHECK(lk.ntargets == 1 && lk.targets[0].n == 2);
	CHECK_STR(lk.targets[0].hashes[1], H3);
	CHECK(record_iface(&lk.targets[0], 0, &by) == NULL);
	iface = record_iface(&lk.targets[0], 1, &by);
	CHECK_STR(iface, H1);
	CHECK_STR(by, H2);
	back = render(&lk);
	CHECK_STR(back, text);
	free(back);
	lockfile_free(&lk);
	/* a lock from before interfaces reads as records that have none */
	put_file(d, "mpbuild.lock", "version: 1\ntargets:\n  T-001: {key: " H1 ", outputs: {a.py: " H2 "}}\n");
	CHECK(read_lock(d, &lk, NULL, NULL) == 0);
	CHECK(lk.targets[0].n == 1 && record_iface(&lk.targets[0], 0, &by) == NULL);
	lockfile_free(&lk);
	rm_rf(d);
	free(d);
}

/* the message for a broken lock */
static char *bad_lock(const char *text)
{
	char *d = tmp_dir(), *err;
	struct lockfile lk;
	int rc;

	put_file(d, "mpbuild.lock", text);
	rc = read_lock(d, &lk, NULL, &err);
	CHECK(rc == -1);
	CHECK(lk.ntargets == 0 && lk.targets == NULL);
	rm_rf(d);
	free(d);
	return err;
}

TEST(bad_locks)
{
	char *e;

	e = bad_lock("version: 1\ntargets:\n  T-001:\n    key: sha256:abc\n    outputs: {}\n");
	CHECK_STR(e, "mpbuild.lock:4:10: error: expected a hash like sha256:<64 hex digits>\n");
	free(e);
	e = bad_lock("version: 1\ntargets:\n  T-001:\n    key: " H1 "\n    outputs:\n      a.c: SHA256:" H1 "\n");
	CHECK(e && strstr(e, "mpbuild.lock:6:12: error: expected a hash like sha256:<64 hex digits>"));
	free(e);
	e = bad_lock("version: 1\ntargets:\n  T-001:\n    model: m\n");
	CHECK(e && strstr(e, "mpbuild.lock:4:5: error:"));
	free(e);
	e = bad_lock("version: 2\ntargets: {}\n");
	CHECK_STR(e, "mpbuild.lock:1:10: error: unsupported lock version (this mpbuild reads version 1)\n");
	free(e);
	e = bad_lock("version: 1\ntargets: [a]\n");
	CHECK_STR(e, "mpbuild.lock:2:10: error: 'targets' must be a mapping\n");
	free(e);
	e = bad_lock("version: 1\ntarget: {}\n");
	CHECK_STR(e, "mpbuild.lock:2:1: error: unknown key 'target' in mpbuild.lock\n");
	free(e);
	e = bad_lock("version: 1\ntargets:\n  T-001: [x]\n");
	CHECK_STR(e, "mpbuild.lock:3:10: error: target T-001 must be a mapping\n");
	free(e);
	e = bad_lock("<<<<<<< HEAD\nversion: 1\n=======\n");
	CHECK(e && strncmp(e, "mpbuild.lock:", 13) == 0);
	free(e);
	e = bad_lock("version: 1\nrules:\n  c:\n    hash: " H1 "\n    examples:\n      - examples/a.c\n");
	CHECK_STR(e, "mpbuild.lock:6:9: error: a pinned example of rule c must be one 'path: sha256:...' entry\n");
	free(e);
	e = bad_lock("version: 1\nrules:\n  c:\n    hash: " H1 "\n    examples: {a.c: " H2 "}\n");
	CHECK_STR(e, "mpbuild.lock:5:15: error: examples of rule c must be a list of 'path: sha256:...' entries\n");
	free(e);
	e = bad_lock("version: 1\nrules:\n  c:\n    hash: " H1 "\n    examples:\n      - a.c: sha256:12\n");
	CHECK_STR(e, "mpbuild.lock:6:14: error: expected a hash like sha256:<64 hex digits>\n");
	free(e);
	e = bad_lock("version: 1\nrules:\n  c: x\n");
	CHECK_STR(e, "mpbuild.lock:3:6: error: rule c must be a mapping\n");
	free(e);
	e = bad_lock("version: 1\nrules: [c]\n");
	CHECK_STR(e, "mpbuild.lock:2:8: error: 'rules' must be a mapping\n");
	free(e);
	e = bad_lock("version: 1\ntargets:\n  T-001:\n    key: " H1 "\n    outputs:\n      a.py: {hash: " H2
		     ", interface: " H3 "}\n");
	CHECK_STR(e, "mpbuild.lock:6:104: error: the output a.py of T-001 needs both an interface and its extractor\n");
	free(e);
	e = bad_lock("version: 1\ntargets:\n  T-001:\n    key: " H1 "\n    outputs:\n      a.py: {hash: " H2
		     ", interface: sha256:12, extractor: " H3 "}\n");
	CHECK_STR(e, "mpbuild.lock:6:104: error: expected a hash like sha256:<64 hex digits>\n");
	free(e);
	e = bad_lock("version: 1\ntargets:\n  T-001:\n    key: " H1 "\n    outputs:\n      a.py: {interface: " H2
		     ", extractor: " H3 "}\n");
	CHECK_STR(e, "mpbuild.lock:6:13: error: expected a hash like sha256:<64 hex digits>\n");
	free(e);
	e = bad_lock("- a\n");
	CHECK_STR(e, "mpbuild.lock:1:1: error: the lock must be a mapping\n");
	free(e);
}
