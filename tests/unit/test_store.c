/* test_store.c: the content store: blobs round trip and verify, corruption is
 * caught and removed, actions round trip as JSON, gc by size and LRU with the
 * lock protecting what it needs, verify, export/import, cassette archives;
 * with MPBUILD_TEST_REMOTE=URL (t0021 starts nginx) the remote cache too.
 *
 * With MPBUILD_STORE_DRIVER set the binary is instead a small driver for the
 * shell tests (t0020, t0021), which reach the store through it:
 *   test_store cache CACHEDIR ARGS...        cache_command
 *   test_store put CACHEDIR KEY TARGET FILE...  store FILEs and an action
 *   test_store get CACHEDIR OUTDIR KEY...    restore actions' outputs into OUTDIR
 *   test_store blob CACHEDIR HASH            a blob's bytes on stdout
 *   test_store pack DIR OUT.tar.zst          archive_pack_dir
 *   test_store extract FILE.tar.zst          list what archive_extract_temp made
 * Put, get and blob commands may be chained with ";" arguments to run in one
 * store (one run); the remote comes from MPBUILD_STORE_REMOTE; the exit
 * status is 0, or 1 when something was absent or failed. */
#include "archive.h"
#include "cache.h"
#include "store.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

static char *tmpdir_new(void)
{
	const char *t = getenv("TMPDIR");
	char *d = xasprintf("%s/test_store.XXXXXX", t && *t ? t : "/tmp");

	if (!mkdtemp(d))
		fatal("mkdtemp %s:", d);
	return d;
}

static void tmpdir_free(char *d)
{
	archive_remove_temp(d);
	free(d);
}

static char *blob_path(const char *cache, const char *hash)
{
	return xasprintf("%s/cas/%.2s/%s", cache, hash + 7, hash + 7);
}

static char *ac_path(const char *cache, const char *key)
{
	return xasprintf("%s/ac/%.2s/%s", cache, key + 7, key + 7);
}

/* an action of two outputs whose blobs are stored in s */
static void make_action(struct store *s, const char *target, struct action *a)
{
	static const char *const texts[] = {"int main(void) { return 0; }\n", "# readme\n"};
	char ans[HASH_HEX];
	size_t i;

	memset(a, 0, sizeof(*a));
	a->target = xstrdup(target);
	a->n = 2;
	a->paths = xcalloc(2, sizeof(*a->paths));
	a->hashes = xcalloc(2, sizeof(*a->hashes));
	a->paths[0] = xstrdup("src/main.c");
	a->paths[1] = xstrdup("README.md");
	for (i = 0; i < 2; i++)
		CHECK(store_put_blob(s, texts[i], strlen(texts[i]), a->hashes[i]) == 0);
	CHECK(store_put_blob(s, "{\"files\":[]}", 12, ans) == 0);
	memcpy(a->answer, ans, HASH_HEX);
	a->model = xstrdup("claude-haiku-5-5");
	a->usage = (struct usage){100, 200, 300, 400, 500};
	a->cost = 0.125;
	a->time = 1790000000;
}

static void key_of(const char *s, char key[HASH_HEX])
{
	sha256_hex(s, strlen(s), key);
}

static void set_time(const char *path, time_t t)
{
	struct timespec ts[2] = {{t, 0}, {t, 0}};

	utimensat(AT_FDCWD, path, ts, 0);
}

static int run_cmd(const char *cache, const char *a0, const char *a1, const char *a2)
{
	char *args[] = {(char *)a0, (char *)a1, (char *)a2};

	return cache_command(cache, args, a2 ? 3 : a1 ? 2 : 1);
}

/* silence stdout/stderr of a cache_command while it runs */
static int quiet_fd[2] = {-1, -1};

static void quiet(int on)
{
	if (on) {
		int null = open("/dev/null", O_WRONLY);

		fflush(stdout);
		fflush(stderr);
		quiet_fd[0] = dup(1);
		quiet_fd[1] = dup(2);
		dup2(null, 1);
		dup2(null, 2);
		close(null);
	} else {
		fflush(stdout);
		fflush(stderr);
		dup2(quiet_fd[0], 1);
		dup2(quiet_fd[1], 2);
		close(quiet_fd[0]);
		close(quiet_fd[1]);
	}
}

/* ---- blobs ---- */

TEST(blob_round_trip)
{
	char *d = tmpdir_new(), *cache = path_join(d, "cache"), h[HASH_HEX], h2[HASH_HEX], *p;
	struct store *s = store_open(cache, NULL, 0);
	struct buffer b = {0}, f = {0};
	static const char bin[] = {'a', 0, 'b', (char)0xff, '\n'};

	CHECK(s != NULL);
	CHECK(store_put_blob(s, "hello\n", 6, h) == 0);
	CHECK_STR(h, "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
	p = blob_path(cache, h);
	CHECK(path_exists(p));
	/* on disk it is zstd, not the plain bytes */
	CHECK(read_file(p, &f, 1 << 20) == 0);
	CHECK(f.len >= 4 && memcmp(f.data, "\x28\xb5\x2f\xfd", 4) == 0);
	CHECK(store_get_blob(s, h, &b) == 0);
	CHECK(b.len == 6 && memcmp(b.data, "hello\n", 6) == 0);
	/* putting it again is a no-op; a bare hex digest works too */
	CHECK(store_put_blob(s, "hello\n", 6, h2) == 0);
	CHECK_STR(h, h2);
	buf_reset(&b);
	CHECK(store_get_blob(s, h + 7, &b) == 0 && b.len == 6);
	/* binary and empty blobs */
	CHECK(store_put_blob(s, bin, sizeof(bin), h) == 0);
	buf_reset(&b);
	CHECK(store_get_blob(s, h, &b) == 0 && b.len == sizeof(bin) && memcmp(b.data, bin, sizeof(bin)) == 0);
	CHECK(store_put_blob(s, "", 0, h) == 0);
	buf_reset(&b);
	CHECK(store_get_blob(s, h, &b) == 0 && b.len == 0);
	/* absent and invalid */
	key_of("never stored", h);
	CHECK(store_get_blob(s, h, &b) == -1);
	quiet(1);
	CHECK(store_get_blob(s, "sha256:../../etc/passwd", &b) == -1);
	quiet(0);
	store_close(s);
	buf_free(&b);
	buf_free(&f);
	free(p);
	free(cache);
	tmpdir_free(d);
}

TEST(blob_corruption_detected_and_removed)
{
	char *d = tmpdir_new(), *cache = path_join(d, "cache"), h[HASH_HEX], other[HASH_HEX], *p, *q;
	struct store *s = store_open(cache, NULL, 3);
	struct buffer b = {0}, z = {0};

	CHECK(store_put_blob(s, "the real content\n", 17, h) == 0);
	CHECK(store_put_blob(s, "something else\n", 15, other) == 0);
	p = blob_path(cache, h);
	q = blob_path(cache, other);
	/* a valid zstd frame holding other bytes: only the re-hash catches it */
	CHECK(read_file(q, &z, 1 << 20) == 0);
	CHECK(write_file_atomic(p, z.data, z.len) == 0);
	quiet(1);
	CHECK(store_get_blob(s, h, &b) == -1);
	quiet(0);
	CHECK(b.len == 0);
	CHECK(!path_exists(p));
	/* garbage that is not zstd at all */
	CHECK(store_put_blob(s, "the real content\n", 17, h) == 0);
	CHECK(write_file_atomic(p, "garbage", 7) == 0);
	buf_puts(&b, "kept");
	quiet(1);
	CHECK(store_get_blob(s, h, &b) == -1);
	quiet(0);
	CHECK_STR(buf_str(&b), "kept");
	CHECK(!path_exists(p));
	/* a truncated frame */
	CHECK(store_put_blob(s, "the real content\n", 17, h) == 0);
	buf_reset(&z);
	CHECK(read_file(p, &z, 1 << 20) == 0);
	CHECK(write_file_atomic(p, z.data, z.len - 2) == 0);
	quiet(1);
	CHECK(store_get_blob(s, h, &b) == -1);
	quiet(0);
	CHECK(!path_exists(p));
	store_close(s);
	buf_free(&b);
	buf_free(&z);
	free(p);
	free(q);
	free(cache);
	tmpdir_free(d);
}

/* ---- actions ---- */

TEST(action_round_trip)
{
	char *d = tmpdir_new(), *cache = path_join(d, "cache"), key[HASH_HEX], *p;
	struct store *s = store_open(cache, NULL, 3);
	struct action a, got;
	struct buffer j = {0};

	make_action(s, "T-001", &a);
	key_of("key one", key);
	CHECK(store_get_action(s, key, &got) == 1);
	CHECK(store_put_action(s, key, &a) == 0);
	p = ac_path(cache, key);
	CHECK(read_file(p, &j, 1 << 20) == 0);
	CHECK(strstr(buf_str(&j), "\"target\":\"T-001\"") != NULL);
	CHECK(strstr(buf_str(&j), "\"usage\":{\"input\":100,\"cache_write_5m\":200,\"cache_write_1h\":300,"
				  "\"cache_read\":400,\"output\":500}") != NULL);
	CHECK(store_get_action(s, key, &got) == 0);
	CHECK_STR(got.target, "T-001");
	CHECK(got.n == 2);
	CHECK_STR(got.paths[0], "src/main.c");
	CHECK_STR(got.paths[1], "README.md");
	CHECK_STR(got.hashes[0], a.hashes[0]);
	CHECK_STR(got.hashes[1], a.hashes[1]);
	CHECK_STR(got.answer, a.answer);
	CHECK_STR(got.model, "claude-haiku-5-5");
	CHECK(got.usage.input == 100 && got.usage.cache_write_5m == 200 && got.usage.cache_write_1h == 300 &&
	      got.usage.cache_read == 400 && got.usage.output == 500);
	CHECK(got.cost == 0.125);
	CHECK(got.time == 1790000000);
	action_clear(&got);
	/* unknown cost and no answer or model survive as such */
	a.cost = -1;
	a.answer[0] = '\0';
	free(a.model);
	a.model = NULL;
	CHECK(store_put_action(s, key, &a) == 0);
	CHECK(store_get_action(s, key, &got) == 0);
	CHECK(got.cost < 0 && got.answer[0] == '\0' && got.model == NULL);
	action_clear(&got);
	/* bad keys */
	quiet(1);
	CHECK(store_get_action(s, "sha256:xyz", &got) == -1);
	CHECK(store_put_action(s, "../../x", &a) == -1);
	quiet(0);
	/* an action whose blob is gone restores nothing: absent */
	{
		char *bp = blob_path(cache, a.hashes[1]);

		CHECK(unlink(bp) == 0);
		CHECK(store_get_action(s, key, &got) == 1);
		free(bp);
	}
	/* a corrupt entry is removed and reported absent */
	CHECK(write_file_atomic(p, "{\"outputs\": 3}", 14) == 0);
	quiet(1);
	CHECK(store_get_action(s, key, &got) == 1);
	quiet(0);
	CHECK(!path_exists(p));
	store_close(s);
	/* the lookups were counted */
	{
		char *sp = path_join(cache, "stats.json");

		buf_reset(&j);
		CHECK(read_file(sp, &j, 1 << 20) == 0);
		CHECK(strstr(buf_str(&j), "\"hits_local\":2") != NULL);
		CHECK(strstr(buf_str(&j), "\"misses\":3") != NULL);
		free(sp);
	}
	action_clear(&a);
	buf_free(&j);
	free(p);
	free(cache);
	tmpdir_free(d);
}

/* ---- cache commands ---- */

TEST(gc_by_size_lru_and_lock)
{
	char *d = tmpdir_new(), *cache = path_join(d, "cache"), h[8][HASH_HEX], *p[8], *lock;
	struct store *s = store_open(cache, NULL, 3);
	char data[4096];
	struct buffer lk = {0};
	int i;

	for (i = 0; i < 8; i++) {
		int k;

		/* incompressible enough: each blob takes over 1 KiB on disk */
		for (k = 0; k < (int)sizeof(data); k++)
			data[k] = (char)((k * 7919 + i * 104729) % 251 ^ (k >> 3));
		CHECK(store_put_blob(s, data, 1500, h[i]) == 0);
		p[i] = blob_path(cache, h[i]);
		set_time(p[i], 1000000 + i * 100);      /* blob 0 is the least recently used */
	}
	store_close(s);
	/* the lock needs blob 1, one of the oldest */
	buf_printf(&lk, "version: 1\ntargets:\n  T-001:\n    key: sha256:%064d\n    model: none\n"
			"    generated: true\n    outputs:\n      a.txt: %s\napproved_checks: null\nrules: {}\n",
		   0, h[1]);
	lock = path_join(d, "mpbuild.lock");
	CHECK(write_file_atomic(lock, lk.data, lk.len) == 0);
	quiet(1);
	CHECK(run_cmd(cache, "gc", "--max-size", "nonsense") == EXIT_BADINPUT);
	CHECK(run_cmd(cache, "gc", "--frobnicate", NULL) == EXIT_BADINPUT);
	/* no limit: nothing to drop */
	CHECK(run_cmd(cache, "gc", NULL, NULL) == 0);
	quiet(0);
	for (i = 0; i < 8; i++)
		CHECK(path_exists(p[i]));
	/* room for about five blobs: the three least recently used unprotected go */
	quiet(1);
	CHECK(run_cmd(cache, "gc", "--max-size=8K", NULL) == 0);
	quiet(0);
	CHECK(!path_exists(p[0]));
	CHECK(path_exists(p[1]));       /* protected by the lock */
	CHECK(!path_exists(p[2]));
	for (i = 5; i < 8; i++)
		CHECK(path_exists(p[i]));
	/* a limit of zero keeps only what the lock needs */
	quiet(1);
	CHECK(run_cmd(cache, "gc", "--max-size", "0") == 0);
	quiet(0);
	CHECK(path_exists(p[1]));
	for (i = 2; i < 8; i++)
		CHECK(!path_exists(p[i]));
	for (i = 0; i < 8; i++)
		free(p[i]);
	buf_free(&lk);
	free(lock);
	free(cache);
	tmpdir_free(d);
}

TEST(gc_drops_actions_without_blobs_and_keeps_locked_keys)
{
	char *d = tmpdir_new(), *cache = path_join(d, "cache"), k1[HASH_HEX], k2[HASH_HEX], *a1, *a2, *lock;
	struct store *s = store_open(cache, NULL, 3);
	struct action a;
	struct buffer lk = {0};

	make_action(s, "T-001", &a);
	key_of("k1", k1);
	key_of("k2", k2);
	CHECK(store_put_action(s, k1, &a) == 0);
	CHECK(store_put_action(s, k2, &a) == 0);
	store_close(s);
	a1 = ac_path(cache, k1);
	a2 = ac_path(cache, k2);
	set_time(a1, 1000);
	set_time(a2, 1000);
	buf_printf(&lk, "version: 1\ntargets:\n  T-001:\n    key: %s\n    model: none\n"
			"    generated: true\n    outputs: {}\napproved_checks: null\nrules: {}\n",
		   k1);
	lock = path_join(d, "mpbuild.lock");
	CHECK(write_file_atomic(lock, lk.data, lk.len) == 0);
	quiet(1);
	CHECK(run_cmd(cache, "gc", "--max-size", "0") == 0);
	quiet(0);
	/* k1 is in the lock: it and all its blobs (the answer too) stay */
	CHECK(path_exists(a1));
	CHECK(!path_exists(a2));
	s = store_open(cache, NULL, 3);
	{
		struct action got;

		CHECK(store_get_action(s, k1, &got) == 0);
		action_clear(&got);
	}
	store_close(s);
	action_clear(&a);
	buf_free(&lk);
	free(a1);
	free(a2);
	free(lock);
	free(cache);
	tmpdir_free(d);
}

TEST(verify_finds_and_removes_corrupt_entries)
{
	char *d = tmpdir_new(), *cache = path_join(d, "cache"), key[HASH_HEX], *p;
	struct store *s = store_open(cache, NULL, 3);
	struct action a;

	make_action(s, "T-001", &a);
	key_of("k", key);
	CHECK(store_put_action(s, key, &a) == 0);
	store_close(s);
	quiet(1);
	CHECK(run_cmd(cache, "verify", NULL, NULL) == 0);
	quiet(0);
	p = blob_path(cache, a.hashes[0]);
	CHECK(write_file_atomic(p, "\x28\xb5\x2f\xfd junk", 9) == 0);
	quiet(1);
	CHECK(run_cmd(cache, "verify", NULL, NULL) == 1);
	quiet(0);
	CHECK(!path_exists(p));
	free(p);
	/* the action that needed it went too; the next verify is clean */
	p = ac_path(cache, key);
	CHECK(!path_exists(p));
	quiet(1);
	CHECK(run_cmd(cache, "verify", NULL, NULL) == 0);
	CHECK(run_cmd(cache, "verify", "extra", NULL) == EXIT_BADINPUT);
	CHECK(run_cmd(cache, "veryfy", NULL, NULL) == EXIT_BADINPUT);
	quiet(0);
	action_clear(&a);
	free(p);
	free(cache);
	tmpdir_free(d);
}

TEST(export_import_round_trip)
{
	char *d = tmpdir_new(), *c1 = path_join(d, "c1"), *c2 = path_join(d, "c2"), *c3 = path_join(d, "c3");
	char *all = path_join(d, "all.tar.zst"), *one = path_join(d, "one.tar.zst"), k1[HASH_HEX], k2[HASH_HEX];
	struct store *s = store_open(c1, NULL, 3);
	struct action a, b, got;
	char extra[HASH_HEX];

	make_action(s, "T-001", &a);
	make_action(s, "T-002", &b);
	free(b.paths[1]);
	b.paths[1] = xstrdup("docs/b.md");
	CHECK(store_put_blob(s, "only in b\n", 10, b.hashes[1]) == 0);
	CHECK(store_put_blob(s, "a loose blob\n", 13, extra) == 0);
	key_of("k1", k1);
	key_of("k2", k2);
	CHECK(store_put_action(s, k1, &a) == 0);
	CHECK(store_put_action(s, k2, &b) == 0);
	store_close(s);
	quiet(1);
	CHECK(run_cmd(c1, "export", all, NULL) == 0);
	CHECK(run_cmd(c1, "export", one, k2) == 0);
	CHECK(run_cmd(c1, "export", one, "sha256:0000") == EXIT_BADINPUT);
	CHECK(run_cmd(c2, "import", all, NULL) == 0);
	CHECK(run_cmd(c3, "import", one, NULL) == 0);
	CHECK(run_cmd(c3, "import", "/nonexistent.tar.zst", NULL) == 1);
	quiet(0);
	CHECK(path_exists(one));
	s = store_open(c2, NULL, 3);
	CHECK(store_get_action(s, k1, &got) == 0);
	CHECK_STR(got.target, "T-001");
	action_clear(&got);
	CHECK(store_get_action(s, k2, &got) == 0);
	CHECK_STR(got.paths[1], "docs/b.md");
	action_clear(&got);
	{
		struct buffer x = {0};

		CHECK(store_get_blob(s, extra, &x) == 0 && x.len == 13);
		buf_free(&x);
	}
	store_close(s);
	/* the one-key export carries that action and its blobs only */
	s = store_open(c3, NULL, 3);
	CHECK(store_get_action(s, k2, &got) == 0);
	action_clear(&got);
	CHECK(store_get_action(s, k1, &got) == 1);
	{
		struct buffer x = {0};

		CHECK(store_get_blob(s, extra, &x) == -1);
		buf_free(&x);
	}
	store_close(s);
	action_clear(&a);
	action_clear(&b);
	free(c1);
	free(c2);
	free(c3);
	free(all);
	free(one);
	tmpdir_free(d);
}

TEST(stats_counts_entries)
{
	char *d = tmpdir_new(), *cache = path_join(d, "cache"), key[HASH_HEX];
	struct store *s = store_open(cache, NULL, 3);
	struct action a;

	make_action(s, "T-001", &a);
	key_of("k", key);
	CHECK(store_put_action(s, key, &a) == 0);
	store_close(s);
	quiet(1);
	CHECK(run_cmd(cache, "stats", NULL, NULL) == 0);
	CHECK(run_cmd(cache, "stats", "x", NULL) == EXIT_BADINPUT);
	quiet(0);
	action_clear(&a);
	free(cache);
	tmpdir_free(d);
}

TEST(pack_empty_directory)
{
	char *d = tmpdir_new(), *src = path_join(d, "empty"), *out = path_join(d, "e.tar.zst"), *x;

	CHECK(mkdirs(src) == 0);
	CHECK(archive_pack_dir(src, out) == 0);
	CHECK(path_exists(out));
	x = archive_extract_temp(out);
	CHECK(x != NULL);
	if (x) {
		CHECK(archive_remove_temp(x) == 0);
		free(x);
	}
	free(src);
	free(out);
	tmpdir_free(d);
}

TEST(cassette_archive_round_trip)
{
	char *d = tmpdir_new(), *src = path_join(d, "cassette"), *out = path_join(d, "c.tar.zst"), *x, *f;
	struct buffer b = {0};

	CHECK(write_file_atomic(f = path_join(src, "abc-1.json"), "{\"a\":1}\n", 8) == 0);
	free(f);
	CHECK(write_file_atomic(f = path_join(src, "sub/def-2.json"), "{}", 2) == 0);
	free(f);
	CHECK(archive_pack_dir(src, out) == 0);
	x = archive_extract_temp(out);
	CHECK(x != NULL);
	if (x) {
		f = path_join(x, "abc-1.json");
		CHECK(read_file(f, &b, 1 << 20) == 0);
		CHECK_STR(buf_str(&b), "{\"a\":1}\n");
		free(f);
		f = path_join(x, "sub/def-2.json");
		CHECK(path_exists(f));
		free(f);
		CHECK(archive_remove_temp(x) == 0);
		CHECK(!path_exists(x));
		free(x);
	}
	quiet(1);
	CHECK(archive_extract_temp("/nonexistent.tar.zst") == NULL);
	CHECK(archive_pack_dir("/nonexistent-dir", out) == -1);
	quiet(0);
	buf_free(&b);
	free(src);
	free(out);
	tmpdir_free(d);
}

/* ---- the remote cache (t0021 starts nginx and sets MPBUILD_TEST_REMOTE) ---- */

TEST(unusable_remote_url_is_ignored_with_a_warning)
{
	char *d = tmpdir_new(), *cache = path_join(d, "cache"), h[HASH_HEX];
	struct store *s;
	struct buffer b = {0};

	quiet(1);
	s = store_open(cache, "ftp://user:secret@example.com/cache", 3);
	quiet(0);
	CHECK(s != NULL);
	if (s) {
		CHECK(store_put_blob(s, "x", 1, h) == 0);
		CHECK(store_get_blob(s, h, &b) == 0 && b.len == 1);
		store_close(s);
	}
	buf_free(&b);
	free(cache);
	tmpdir_free(d);
}

TEST(remote_round_trip)
{
	const char *url = getenv("MPBUILD_TEST_REMOTE");
	char *d, *ca, *cb, key[HASH_HEX];
	struct store *s;
	struct action a, got;
	struct buffer b = {0};

	if (!url || !*url) {
		printf("# skipped: MPBUILD_TEST_REMOTE is not set\n");
		return;
	}
	d = tmpdir_new();
	ca = path_join(d, "a");
	cb = path_join(d, "b");
	s = store_open(ca, url, 3);
	make_action(s, "T-001", &a);
	key_of("remote round trip", key);
	CHECK(store_put_action(s, key, &a) == 0);
	store_close(s);
	/* machine b has nothing locally: everything comes from the remote */
	s = store_open(cb, url, 3);
	CHECK(store_get_action(s, key, &got) == 0);
	CHECK_STR(got.target, "T-001");
	CHECK_STR(got.hashes[0], a.hashes[0]);
	CHECK(got.cost == 0.125);
	CHECK(store_get_blob(s, got.hashes[0], &b) == 0);
	CHECK_STR(buf_str(&b), "int main(void) { return 0; }\n");
	action_clear(&got);
	store_close(s);
	/* and is now local: no remote needed */
	s = store_open(cb, NULL, 3);
	CHECK(store_get_action(s, key, &got) == 0);
	action_clear(&got);
	store_close(s);
	/* a key nobody stored is a miss, not an error */
	s = store_open(cb, url, 3);
	key_of("never stored anywhere", key);
	CHECK(store_get_action(s, key, &got) == 1);
	store_close(s);
	action_clear(&a);
	buf_free(&b);
	free(ca);
	free(cb);
	tmpdir_free(d);
}

/* ---- the driver ---- */

static int drive_store(struct store *s, int argc, char **argv);

static int drive(int argc, char **argv)
{
	const char *remote = getenv("MPBUILD_STORE_REMOTE");
	struct store *s;
	int rc = 0, i, j;

	if (argc >= 3 && !strcmp(argv[1], "cache"))
		return cache_command(argv[2], argv + 3, (size_t)(argc - 3));
	if (argc == 4 && !strcmp(argv[1], "pack"))
		return archive_pack_dir(argv[2], argv[3]) == 0 ? 0 : 1;
	if (argc == 3 && !strcmp(argv[1], "extract")) {
		char *x = archive_extract_temp(argv[2]), *cmd;

		if (!x)
			return 1;
		cmd = xasprintf("cd '%s' && find . -type f | sort", x);
		rc = system(cmd) == 0 ? 0 : 1;
		archive_remove_temp(x);
		free(cmd);
		free(x);
		return rc;
	}
	if (argc < 4)
		return 2;
	if (!(s = store_open(argv[2], remote && *remote ? remote : NULL, 3)))
		return 1;
	/* commands separated by ";" share one store: one run */
	for (i = 1; i < argc; i = j + 1) {
		for (j = i; j < argc && strcmp(argv[j], ";"); j++)
			;
		rc |= drive_store(s, j - i, argv + i);
	}
	store_close(s);
	return rc;
}

/* one put, get or blob command on s: argv[0] is the command, argv[1] the cache */
static int drive_store(struct store *s, int argc, char **argv)
{
	int rc = 0, i;

	if (argc < 3)
		return 2;
	if (!strcmp(argv[0], "put") && argc >= 4) {
		struct action a = {0};
		struct buffer b = {0}, all = {0};

		a.target = xstrdup(argv[3]);
		a.n = (size_t)(argc - 4);
		a.paths = xcalloc(a.n + 1, sizeof(*a.paths));
		a.hashes = xcalloc(a.n + 1, sizeof(*a.hashes));
		for (i = 4; i < argc; i++) {
			buf_reset(&b);
			if (read_file(argv[i], &b, 1 << 30) < 0) {
				error("cannot read %s:", argv[i]);
				rc = 1;
				break;
			}
			a.paths[i - 4] = xstrdup(argv[i]);
			store_put_blob(s, b.data ? b.data : "", b.len, a.hashes[i - 4]);
			buf_printf(&all, "%s\n", argv[i]);
			printf("%s %s\n", a.hashes[i - 4], argv[i]);
		}
		store_put_blob(s, buf_str(&all), all.len, a.answer);
		a.model = xstrdup("claude-haiku-5-5");
		a.usage = (struct usage){1000, 0, 0, 0, 200};
		a.cost = 0.25;
		a.time = 1790000000;
		if (rc == 0 && store_put_action(s, argv[2], &a) < 0)
			rc = 1;
		action_clear(&a);
		buf_free(&b);
		buf_free(&all);
	} else if (!strcmp(argv[0], "get") && argc >= 4) {
		struct buffer b = {0};

		for (i = 3; i < argc; i++) {
			struct action a;
			size_t j;
			int found = store_get_action(s, argv[i], &a) == 0;

			for (j = 0; found && j < a.n; j++) {
				char *out = path_join(argv[2], a.paths[j]);

				buf_reset(&b);
				if (store_get_blob(s, a.hashes[j], &b) < 0 ||
				    write_file_atomic(out, b.data ? b.data : "", b.len) < 0)
					found = 0;
				free(out);
			}
			printf("%s %s\n", found ? "found" : "absent", argv[i]);
			rc |= !found;
			action_clear(&a);
		}
		buf_free(&b);
	} else if (!strcmp(argv[0], "blob") && argc == 3) {
		struct buffer b = {0};

		rc = store_get_blob(s, argv[2], &b) == 0 ? 0 : 1;
		if (rc == 0)
			fwrite(b.data ? b.data : "", 1, b.len, stdout);
		buf_free(&b);
	} else {
		rc = 2;
	}
	return rc;
}

/* glibc passes argc and argv to constructors: the driver runs before the unit
 * runner's main and exits */
__attribute__((constructor)) static void driver(int argc, char **argv, char **envp)
{
	(void)envp;
	if (getenv("MPBUILD_STORE_DRIVER")) {
		int rc;

		argv0 = "mpbuild";
		rc = drive(argc, argv);
		fflush(stdout);
		exit(rc);
	}
}
