/* land.c: atomic landing.  All new files are written to temporary names and
 * synced first; then the intent (target, key, new hashes) is committed to
 * state.db; then the renames; then the record, which clears the intent in the
 * same transaction.  A kill -9 anywhere leaves either the old files with no
 * intent, or an intent whose temporaries let the next run roll forward. */
#include "land.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	json = intent_json(r);
	if (state_intent_put(st, r->target, json) < 0)
		goto out;
	for (i = 0; i < a->n; i++) {
		if (rename(tmps[i], paths[i]) < 0) {
			error("%s: cannot rename %s to %s:", r->target, tmps[i], paths[i]);
			goto out;
		}
		fsync_parent(paths[i]);
	}
	if (state_land_commit(st, r) < 0)
		goto out;
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

int land_recover(struct state *st, const char *root)
{
	char **targets, **jsons;
	size_t n, i, j;
	int finished = 0;

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
			state_intent_clear(st, targets[i]);
			json_decref(o);
			continue;
		}
		if (!json_is_array(files)) {
			warn("%s: unreadable landing record; it is dropped", targets[i]);
			state_intent_clear(st, targets[i]);
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
		} else {
			warn("%s: an interrupted landing could not be finished; the target will be rebuilt", targets[i]);
			state_intent_clear(st, targets[i]);
		}
		record_clear(&r);
		json_decref(o);
	}
	for (i = 0; i < n; i++) {
		free(targets[i]);
		free(jsons[i]);
	}
	free(targets);
	free(jsons);
	return finished;
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
