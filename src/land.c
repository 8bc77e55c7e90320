/* land.c: atomic landing.  All new files are written to temporary names and
 * synced first; then the intent (target, key, new hashes) is committed to
 * state.db; then the renames; then the record, which clears the intent in the
 * same transaction.  A kill -9 anywhere leaves either the old files with no
 * intent, or an intent whose temporaries let the next run roll forward; that
 * run also clears away the temporaries the killed process left. */
#include "land.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static char *tmp_name(const char *path)
{
	return xasprintf("%s.mpbuild-new", path);
}

/* write data to path (not atomically: it is a temporary), fsync it */
static int write_synced(const char *path, const char *data, size_t len)
{
	char *dir = xstrdup(path);
	int fd;

	if (mkdirs(dirname(dir)) < 0) {
		free(dir);
		return -1;
	}
	free(dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t w = write(fd, data, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		data += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static char *intent_json(const struct record *r)
{
	json_t *o = json_object(), *files = json_array();
	char *s;
	size_t i;

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

int land_answer(struct state *st, struct fscache *fc, const char *root, struct record *r, const struct answer *a)
{
	char **paths = xcalloc(a->n + 1, sizeof(*paths)), **tmps = xcalloc(a->n + 1, sizeof(*tmps));
	char *json = NULL;
	size_t i;
	int rc = -1;

	for (i = 0; i < a->n; i++) {
		sha256_hex(a->files[i].content, a->files[i].len, r->hashes[i]);
		paths[i] = path_join(root, a->files[i].path);
		tmps[i] = tmp_name(paths[i]);
		if (write_synced(tmps[i], a->files[i].content, a->files[i].len) < 0) {
			error("%s: cannot write %s:", r->target, tmps[i]);
			goto out;
		}
	}
	crashpoint("land-staged");
	json = intent_json(r);
	if (state_intent_put(st, r->target, json) < 0)
		goto out;
	crashpoint("land-intent");
	for (i = 0; i < a->n; i++) {
		if (rename(tmps[i], paths[i]) < 0) {
			error("%s: cannot rename %s to %s:", r->target, tmps[i], paths[i]);
			goto out;
		}
		fsync_parent(paths[i]);
		crashpoint("land-rename");
	}
	crashpoint("land-renamed");
	if (state_land_commit(st, r) < 0)
		goto out;
	crashpoint("land-committed");
	for (i = 0; i < a->n; i++)
		fscache_note(fc, a->files[i].path, r->hashes[i]);
	rc = 0;
out:
	for (i = 0; i < a->n; i++) {
		if (rc < 0 && tmps[i])
			unlink(tmps[i]);
		free(paths[i]);
		free(tmps[i]);
	}
	free(paths);
	free(tmps);
	free(json);
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
 * recorded outputs (land_answer reuses the others).  Without a crash only
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

int land_recover(struct state *st, const char *root)
{
	char **targets, **jsons;
	struct htab dirs = {0};
	size_t n, i, j;
	int finished = 0, stuck = 0;

	if (state_intents(st, &targets, &jsons, &n) < 0)
		return 0;
	for (i = 0; i < n; i++) {
		json_t *o = json_loads(jsons[i], 0, NULL), *files, *f;
		struct record r = {0};
		int complete = 1;

		files = o ? json_object_get(o, "files") : NULL;
		if (json_is_true(json_object_get(o, "trial")) && json_is_array(files)) {
			/* a crash while a candidate was being checked: put the tree back */
			json_array_foreach(files, j, f) {
				const char *rel = json_string_value(json_object_get(f, "path"));
				char *path, *old;

				if (!rel)
					continue;
				note_dir(&dirs, root, rel);
				path = path_join(root, rel);
				old = xasprintf("%s.mpbuild-old", path);
				if (json_is_true(json_object_get(f, "old"))) {
					if (path_exists(old) && rename(old, path) < 0)
						warn("%s: cannot put back %s:", targets[i], path);
				} else {
					unlink(path);
				}
				free(path);
				free(old);
			}
			stuck |= state_intent_clear(st, targets[i]) < 0;
			json_decref(o);
			continue;
		}
		if (!json_is_array(files)) {
			warn("%s: unreadable landing record; it is dropped", targets[i]);
			stuck |= state_intent_clear(st, targets[i]) < 0;
			json_decref(o);
			continue;
		}
		r.target = xstrdup(targets[i]);
		snprintf(r.key, sizeof(r.key), "%s", json_string_value(json_object_get(o, "key")));
		r.model = xstrdup(json_string_value(json_object_get(o, "model")) ? json_string_value(json_object_get(o, "model")) : "");
		r.generated = json_is_true(json_object_get(o, "generated"));
		if (json_is_string(json_object_get(o, "manifest")))
			r.manifest = xstrdup(json_string_value(json_object_get(o, "manifest")));
		r.paths = xcalloc(json_array_size(files) + 1, sizeof(*r.paths));
		r.hashes = xcalloc(json_array_size(files) + 1, sizeof(*r.hashes));
		json_array_foreach(files, j, f) {
			const char *rel = json_string_value(json_object_get(f, "path"));
			const char *want = json_string_value(json_object_get(f, "hash"));
			char *path, *tmp, h[HASH_HEX];

			if (!rel || !want) {
				complete = 0;
				continue;
			}
			note_dir(&dirs, root, rel);
			path = path_join(root, rel);
			tmp = tmp_name(path);
			/* roll forward: the temporary holds the new bytes if it survived */
			if (sha256_file(tmp, h) == 0 && strcmp(h, want) == 0) {
				if (rename(tmp, path) == 0)
					fsync_parent(path);
			} else {
				unlink(tmp);
			}
			if (sha256_file(path, h) < 0 || strcmp(h, want) != 0)
				complete = 0;
			r.paths[r.n] = xstrdup(rel);
			snprintf(r.hashes[r.n], HASH_HEX, "%s", want);
			r.n++;
			free(path);
			free(tmp);
		}
		if (complete) {
			if (state_land_commit(st, &r) == 0)
				finished++;
			else
				stuck = 1;
		} else {
			warn("%s: an interrupted landing could not be finished; the target will be rebuilt", targets[i]);
			stuck |= state_intent_clear(st, targets[i]) < 0;
		}
		record_clear(&r);
		json_decref(o);
	}
	sweep(st, root, &dirs, n > 0 || state_run_unfinished(st), !stuck);
	for (i = 0; i < dirs.cap; i++)
		free((char *)dirs.keys[i]);
	htab_free(&dirs);
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
