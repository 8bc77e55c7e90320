/* land.c: atomic landing.  All new files are written to temporary names and
 * synced first; then the intent (target, key, new hashes) is committed to
 * state.db; then the renames; then the record, which clears the intent in the
 * same transaction.  A kill -9 anywhere leaves either the old files with no
 * intent, or an intent whose temporaries let the next run roll forward; that
 * run also clears away the temporaries the killed process left. */
#include "land.h"
#include "confine.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp_name(const char *path)
{
	return xasprintf("%s.mpbuild-new", path);
}

/* the intent record of r; staging: the temporaries are being written (a
 * crash then drops them) rather than all written and checked (a crash then
 * rolls forward) */
static char *intent_json(const struct record *r, int staging)
{
	json_t *o = json_object(), *files = json_array();
	char *s;
	size_t i;

	if (staging)
		json_object_set_new(o, "staging", json_true());
	json_object_set_new(o, "key", json_string(r->key));
	json_object_set_new(o, "model", json_string(r->model ? r->model : ""));
	json_object_set_new(o, "generated", json_boolean(r->generated));
	json_object_set_new(o, "manifest", r->manifest ? json_string(r->manifest) : json_null());
	for (i = 0; i < r->n; i++) {
		json_t *f = json_object();

		json_object_set_new(f, "path", json_string(r->paths[i]));
		json_object_set_new(f, "hash", json_string(r->hashes[i]));
		json_array_append_new(files, f);
	}
	json_object_set_new(o, "files", files);
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

/* 1 if path is a regular file (not a link to one) */
static int is_regular(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* 1 when the file at rel is no longer what was expected of it (a hash, or
 * "" for no file): a person wrote it while the target was being built */
static int changed_meanwhile(const char *root, const char *rel, const char *want)
{
	char *path = path_join(root, rel), h[HASH_HEX];
	int gone = !path_exists(path), moved;

	moved = *want ? gone || sha256_file(path, h) < 0 || strcmp(h, want) != 0 : !gone;
	free(path);
	return moved;
}

int land_files(struct state *st, struct fscache *fc, const char *root, struct record *r, const struct answer *a,
	       const char *const *expect, const char **edited)
{
	int *dirs = xcalloc(a->n + 1, sizeof(*dirs));
	char **tmps = xcalloc(a->n + 1, sizeof(*tmps)), **real = xcalloc(a->n + 1, sizeof(*real));
	const char **base = xcalloc(a->n + 1, sizeof(*base));
	struct buffer why = {0};
	char *json = NULL;
	size_t i, staged = 0;
	int rc = -1, intent = 0;

	for (i = 0; i < a->n; i++)
		dirs[i] = -1;
	for (i = 0; i < a->n; i++) {
		sha256_hex(a->files[i].content, a->files[i].len, r->hashes[i]);
		/* resolved again now: the tree may have changed since the answer was judged */
		real[i] = confine_resolve(root, a->files[i].path, &why);
		if (!real[i]) {
			error("%s: %s", r->target, buf_str(&why));
			goto out;
		}
		dirs[i] = confine_parent(root, real[i], 1, &base[i]);
		if (dirs[i] < 0) {
			error("%s: cannot open the directory of %s:", r->target, real[i]);
			goto out;
		}
		tmps[i] = tmp_name(base[i]);
	}
	/* the temporaries are announced before they exist, so that a crash
	 * while they are written leaves nothing the next run cannot name */
	json = intent_json(r, 1);
	if (state_intent_put(st, r->target, json) < 0)
		goto out;
	intent = 1;
	for (i = 0; i < a->n; i++) {
		if (write_new_at(dirs[i], tmps[i], a->files[i].content, a->files[i].len) < 0) {
			if (errno == EEXIST)
				error("%s: %s.mpbuild-new exists and mpbuild did not create it; it is kept (remove it to build)",
				      r->target, real[i]);
			else
				error("%s: cannot write %s.mpbuild-new:", r->target, real[i]);
			goto out;
		}
		staged = i + 1;
	}
	crashpoint("land-staged");
	/* hand edits win at every moment: a file that changed since the target
	 * was evaluated is a person's (the window left is this loop's) */
	for (i = 0; expect && i < a->n; i++) {
		if (changed_meanwhile(root, a->files[i].path, expect[i])) {
			*edited = a->files[i].path;
			rc = 1;
			goto out;
		}
	}
	free(json);
	json = intent_json(r, 0);
	if (state_intent_put(st, r->target, json) < 0)
		goto out;
	intent = 2;
	crashpoint("land-intent");
	for (i = 0; i < a->n; i++) {
		if (renameat(dirs[i], tmps[i], dirs[i], base[i]) < 0) {
			error("%s: cannot rename %s.mpbuild-new to %s:", r->target, real[i], real[i]);
			goto out;
		}
		fsync(dirs[i]);
		crashpoint("land-rename");
	}
	staged = 0;
	crashpoint("land-renamed");
	if (state_land_commit(st, r) < 0)
		goto out;
	intent = 0;
	crashpoint("land-committed");
	for (i = 0; i < a->n; i++)
		fscache_note(fc, a->files[i].path, r->hashes[i]);
	rc = 0;
out:
	/* a failure before the renames leaves the tree as it was, with no intent */
	if (intent == 1)
		state_intent_clear(st, r->target);
	for (i = 0; i < a->n; i++) {
		if (i < staged)
			unlinkat(dirs[i], tmps[i], 0);
		if (dirs[i] >= 0)
			close(dirs[i]);
		free(tmps[i]);
		free(real[i]);
	}
	free(dirs);
	free(tmps);
	free(real);
	free(base);
	free(json);
	buf_free(&why);
	return rc;
}

/* add dir (malloc'd; the table takes it) to a set of directories */
static void add_dir(struct htab *dirs, char *dir)
{
	if (htab_get(dirs, dir))
		free(dir);
	else
		htab_put(dirs, dir, (void *)1);
}

/* add the directory of root/rel */
static void note_dir(struct htab *dirs, const char *root, const char *rel)
{
	char *path = path_join(root, rel), *slash = strrchr(path, '/');

	if (slash) {
		*slash = '\0';
		add_dir(dirs, path);
	} else {
		free(path);
		add_dir(dirs, xstrdup(root));
	}
}

/* the temporaries a crash left: write_file_atomic's of a process that has
 * gone, in root, plans/, beside every recorded or intended output and in
 * cache/; and, unless an intent is still open, the staged FILE.mpbuild-new of
 * recorded outputs (a landing reuses the others).  Without a crash only
 * cache/ itself is looked at (one small directory): a build writes
 * cache/stats.json after it has marked its run finished. */
static void sweep(struct state *st, const char *root, struct htab *dirs, int crashed, int staged_too)
{
	struct record *recs;
	size_t n = 0, i, j;
	char *cache = path_join(root, "cache");

	if (!crashed) {
		tmp_sweep(cache, 0);
		free(cache);
		return;
	}
	add_dir(dirs, xstrdup(root));
	add_dir(dirs, path_join(root, "plans"));
	recs = state_records(st, &n);
	for (i = 0; i < n; i++) {
		for (j = 0; j < recs[i].n; j++) {
			note_dir(dirs, root, recs[i].paths[j]);
			if (staged_too) {
				char *path = path_join(root, recs[i].paths[j]), *tmp = tmp_name(path);

				unlink(tmp);
				free(path);
				free(tmp);
			}
		}
	}
	record_free_all(recs, n);
	for (i = 0; i < dirs->cap; i++)
		if (dirs->keys[i])
			tmp_sweep(dirs->keys[i], 0);
	tmp_sweep(cache, 3);
	free(cache);
}

/* a crash while the temporaries of a landing were written: drop them */
static void drop_staged(const char *root, json_t *files)
{
	json_t *f;
	size_t j;

	json_array_foreach(files, j, f) {
		const char *rel = json_string_value(json_object_get(f, "path"));
		char *path, *tmp;

		if (!rel)
			continue;
		path = path_join(root, rel);
		tmp = tmp_name(path);
		if (is_regular(tmp))
			unlink(tmp);
		free(path);
		free(tmp);
	}
}

/* a crash while an older mpbuild, which tried candidates in the tree, had
 * one in place: put the tree back */
static void undo_trial(const char *root, const char *target, json_t *files, struct htab *dirs)
{
	json_t *f;
	size_t j;

	json_array_foreach(files, j, f) {
		const char *rel = json_string_value(json_object_get(f, "path"));
		char *path, *old;

		if (!rel)
			continue;
		note_dir(dirs, root, rel);
		path = path_join(root, rel);
		old = xasprintf("%s.mpbuild-old", path);
		if (json_is_true(json_object_get(f, "old"))) {
			if (path_exists(old) && rename(old, path) < 0)
				warn("%s: cannot put back %s:", target, path);
		} else {
			unlink(path);
		}
		free(path);
		free(old);
	}
}

/* roll the landing of intent o forward: each temporary that holds the new
 * bytes is renamed into place; the record r (filled here) is complete when
 * every file then has them: returns 1, else 0 */
static int roll_forward(const char *root, json_t *o, json_t *files, struct record *r, struct htab *dirs)
{
	const char *model = json_string_value(json_object_get(o, "model"));
	json_t *f;
	size_t j;
	int complete = 1;

	snprintf(r->key, sizeof(r->key), "%s", json_string_value(json_object_get(o, "key")));
	r->model = xstrdup(model ? model : "");
	r->generated = json_is_true(json_object_get(o, "generated"));
	if (json_is_string(json_object_get(o, "manifest")))
		r->manifest = xstrdup(json_string_value(json_object_get(o, "manifest")));
	r->paths = xcalloc(json_array_size(files) + 1, sizeof(*r->paths));
	r->hashes = xcalloc(json_array_size(files) + 1, sizeof(*r->hashes));
	json_array_foreach(files, j, f) {
		const char *rel = json_string_value(json_object_get(f, "path"));
		const char *want = json_string_value(json_object_get(f, "hash"));
		char *path, *tmp, h[HASH_HEX];

		if (!rel || !want) {
			complete = 0;
			continue;
		}
		note_dir(dirs, root, rel);
		path = path_join(root, rel);
		tmp = tmp_name(path);
		/* the temporary holds the new bytes if it survived */
		if (is_regular(tmp) && sha256_file(tmp, h) == 0 && strcmp(h, want) == 0) {
			if (rename(tmp, path) == 0)
				fsync_parent(path);
		} else {
			unlink(tmp);
		}
		if (sha256_file(path, h) < 0 || strcmp(h, want) != 0)
			complete = 0;
		r->paths[r->n] = xstrdup(rel);
		snprintf(r->hashes[r->n], HASH_HEX, "%s", want);
		r->n++;
		free(path);
		free(tmp);
	}
	return complete;
}

int land_recover(struct state *st, const char *root)
{
	char **targets, **jsons;
	struct htab dirs = {0};
	size_t n, i;
	int finished = 0, stuck = 0;

	if (state_intents(st, &targets, &jsons, &n) < 0)
		return 0;
	for (i = 0; i < n; i++) {
		json_t *o = json_loads(jsons[i], 0, NULL), *files = o ? json_object_get(o, "files") : NULL;
		struct record r = {0};

		if (!json_is_array(files)) {
			warn("%s: unreadable landing record; it is dropped", targets[i]);
			stuck |= state_intent_clear(st, targets[i]) < 0;
		} else if (json_is_true(json_object_get(o, "staging"))) {
			drop_staged(root, files);
			stuck |= state_intent_clear(st, targets[i]) < 0;
		} else if (json_is_true(json_object_get(o, "trial"))) {
			undo_trial(root, targets[i], files, &dirs);
			stuck |= state_intent_clear(st, targets[i]) < 0;
		} else {
			r.target = xstrdup(targets[i]);
			if (!roll_forward(root, o, files, &r, &dirs)) {
				warn("%s: an interrupted landing could not be finished; the target will be rebuilt", targets[i]);
				stuck |= state_intent_clear(st, targets[i]) < 0;
			} else if (state_land_commit(st, &r) == 0) {
				finished++;
			} else {
				stuck = 1;
			}
			record_clear(&r);
		}
		json_decref(o);
	}
	sweep(st, root, &dirs, n > 0 || state_run_unfinished(st), !stuck);
	htab_free_owned(&dirs, NULL);
	for (i = 0; i < n; i++) {
		free(targets[i]);
		free(jsons[i]);
	}
	free(targets);
	free(jsons);
	return finished;
}

void land_recover_idle(const char *root)
{
	char *lock = path_join(root, "cache/lock"), *cache = path_join(root, "cache"), *db = path_join(cache, "state.db");
	int fd = path_exists(db) ? open(lock, O_RDWR | O_CLOEXEC) : -1;

	/* a build holding the lock has its intents in flight, not interrupted */
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
		struct state *st = state_open(cache, 0);

		if (st) {
			land_recover(st, root);
			state_close(st);
		}
	}
	if (fd >= 0)
		close(fd);
	free(lock);
	free(cache);
	free(db);
}

char *land_backup(const char *root, const char *rel)
{
	struct buffer b = {0};
	char *path = path_join(root, rel), *bak = NULL, *bakpath = NULL;
	int n;

	if (read_file(path, &b, (size_t)1 << 40) < 0) {
		error("cannot read %s:", rel);
		goto out;
	}
	for (n = 1;; n++) {
		bak = xasprintf("%s.orig.%d", rel, n);
		bakpath = path_join(root, bak);
		if (!path_exists(bakpath))
			break;
		free(bak);
		free(bakpath);
	}
	if (write_file_atomic(bakpath, b.data ? b.data : "", b.len) < 0) {
		error("cannot write %s:", bak);
		free(bak);
		bak = NULL;
	}
	free(bakpath);
out:
	free(path);
	buf_free(&b);
	return bak;
}
