/* cache.c: the cache verb, `mpbuild cache stats|gc|verify|export|import`
 * (SPEC 4, 10.14): it walks the entries of the content store under cache/
 * (store.c), keeps what mpbuild.lock and state.db still name when it
 * collects garbage, and moves entries in and out of .tar.zst archives. */
#include "cache.h"
#include "archive.h"
#include "hash.h"
#include "lockfile.h"
#include "state.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_AGE 3600            /* seconds after which gc removes a stray temporary file */

/* one file of the store, as the cache commands see it */
struct entry {
	char *path;
	char hex[65];
	int ac;                 /* an action entry, else a blob */
	off_t size;             /* bytes on disk */
	time_t used;            /* the later of atime and mtime */
	int gone;               /* removed by this command */
};

struct entries {
	struct entry *v;
	size_t n, cap;
};

/* add the entries of dir/kind/XX/ to es; stray temporary files older than
 * TMP_AGE are removed when clean is set */
static void scan(const char *dir, const char *kind, struct entries *es, int clean)
{
	char *top = path_join(dir, kind);
	DIR *d = opendir(top), *sd;
	struct dirent *de, *e;

	if (!d) {
		if (errno != ENOENT)
			warn("cannot open %s:", top);
		free(top);
		return;
	}
	while ((de = readdir(d))) {
		char *sub;

		if (strlen(de->d_name) != 2 || !strchr("0123456789abcdef", de->d_name[0]) ||
		    !strchr("0123456789abcdef", de->d_name[1]))
			continue;
		sub = path_join(top, de->d_name);
		if (!(sd = opendir(sub))) {
			warn("cannot open %s:", sub);
			free(sub);
			continue;
		}
		while ((e = readdir(sd))) {
			char hex[65], *p;
			struct stat st;

			if (e->d_name[0] == '.')
				continue;
			p = path_join(sub, e->d_name);
			if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
				free(p);
				continue;
			}
			if (strstr(e->d_name, ".mpbuild-tmp.")) {
				if (clean && st.st_mtime + TMP_AGE < time(NULL))
					unlink(p);
				free(p);
				continue;
			}
			if (strlen(e->d_name) != 64 || hash_digits(e->d_name, hex) < 0 || strncmp(hex, de->d_name, 2) != 0) {
				free(p);
				continue;
			}
			if (es->n == es->cap) {
				es->cap = es->cap ? es->cap * 2 : 256;
				es->v = xreallocarray(es->v, es->cap, sizeof(*es->v));
			}
			es->v[es->n] = (struct entry){p, "", !strcmp(kind, "ac"), st.st_size,
						      st.st_atime > st.st_mtime ? st.st_atime : st.st_mtime, 0};
			memcpy(es->v[es->n].hex, hex, 65);
			es->n++;
		}
		closedir(sd);
		free(sub);
	}
	closedir(d);
	free(top);
}

static int cmp_path(const void *x, const void *y)
{
	return strcmp(((const struct entry *)x)->path, ((const struct entry *)y)->path);
}

static int cmp_used(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;

	if (a->used != b->used)
		return a->used < b->used ? -1 : 1;
	return strcmp(a->path, b->path);
}

/* every entry of the store, sorted by path */
static void scan_all(const char *dir, struct entries *es, int clean)
{
	scan(dir, "cas", es, clean);
	scan(dir, "ac", es, clean);
	if (es->n)
		qsort(es->v, es->n, sizeof(*es->v), cmp_path);
}

static void entries_free(struct entries *es)
{
	size_t i;

	for (i = 0; i < es->n; i++)
		free(es->v[i].path);
	free(es->v);
	memset(es, 0, sizeof(*es));
}

/* n bytes for people */
static const char *human(double n, char buf[32])
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	size_t u = 0;

	while (n >= 1024 && u + 1 < LEN(units))
		n /= 1024, u++;
	if (u == 0)
		snprintf(buf, 32, "%.0f B", n);
	else
		snprintf(buf, 32, "%.1f %s", n, units[u]);
	return buf;
}

static int cmd_stats(const char *dir)
{
	struct entries es = {0};
	struct store_counts c;
	double acbytes = 0, disk = 0, raw = 0, worth = 0;
	size_t nac = 0, nblob = 0, i;
	char b1[32], b2[32], b3[32];

	scan_all(dir, &es, 0);
	for (i = 0; i < es.n; i++) {
		struct entry *e = &es.v[i];

		if (e->ac) {
			struct action a;
			const char *why;

			nac++;
			acbytes += (double)e->size;
			if (action_load(e->path, &a, &why) == 0 && a.cost > 0)
				worth += a.cost;
			action_clear(&a);
		} else {
			long long size = store_blob_size(e->path);

			nblob++;
			disk += (double)e->size;
			raw += size >= 0 ? (double)size : (double)e->size;
		}
	}
	store_stats_read(dir, &c);
	printf("cache: %s\n", dir);
	printf("actions: %zu (%s)\n", nac, human(acbytes, b1));
	printf("blobs: %zu (%s on disk, %s uncompressed)\n", nblob, human(disk, b2), human(raw, b3));
	printf("total: %s on disk\n", human(disk + acbytes, b1));
	printf("lookups: %ld hits (%ld local, %ld remote), %ld misses, %ld uploads\n", c.hits_local + c.hits_remote,
	       c.hits_local, c.hits_remote, c.misses, c.uploads);
	printf("saved: $%.4f by restoring instead of calling\n", c.saved);
	printf("worth: $%.4f (what the cached actions cost to build)\n", worth);
	entries_free(&es);
	return EXIT_OK;
}

/* "100M", "2G", "512k", "1000": bytes, or -1 */
static long long parse_size(const char *s)
{
	char *end;
	double v;
	long long mult = 1;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !(v >= 0 && v < 9e18))
		return -1;
	switch (*end) {
	case 'k': case 'K': mult = 1LL << 10; end++; break;
	case 'm': case 'M': mult = 1LL << 20; end++; break;
	case 'g': case 'G': mult = 1LL << 30; end++; break;
	case 't': case 'T': mult = 1LL << 40; end++; break;
	default: break;
	}
	if (mult > 1 && *end == 'i')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v * (double)mult > 9e18)
		return -1;
	return (long long)(v * (double)mult);
}

/* keys and hashes (as hex, owned by the table) that entries must keep */
static void protect(struct htab *h, const char *hash)
{
	char hex[65];

	if (hash_digits(hash, hex) == 0 && !htab_get(h, hex))
		htab_put(h, xstrdup(hex), (void *)1);
}

/* the project directory holding cachedir */
static char *project_root(const char *dir)
{
	char *copy = xstrdup(dir), *slash;
	size_t n = strlen(copy);

	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	slash = strrchr(copy, '/');
	if (!slash) {
		free(copy);
		return xstrdup(".");
	}
	if (slash == copy)
		slash[1] = '\0';
	else
		*slash = '\0';
	return copy;
}

/* the pinned bytes of rules' examples keep a layer stable when a pinned file changes */
static void protect_pins(struct htab *h, const struct rule_rec *rr, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < rr[i].n; j++)
			protect(h, rr[i].hashes[j]);
}

/* a record's key, its outputs and their interfaces' texts */
static void protect_record(struct htab *h, const struct record *r)
{
	const char *iface, *by;
	size_t j;

	protect(h, r->key);
	for (j = 0; j < r->n; j++) {
		protect(h, r->hashes[j]);
		if ((iface = record_iface(r, j, &by)))
			protect(h, iface);
	}
}

/* protect every key, output hash, interface and pinned example that mpbuild.lock
 * (beside cachedir) and state.db record; -1 when they cannot be read (then
 * nothing may go) */
static int protect_project(const char *dir, struct htab *h)
{
	char *root = project_root(dir), *db = path_join(dir, "state.db");
	struct lockfile lk = {0};
	size_t i, n = 0;
	int rc = lockfile_read(root, &lk, NULL);

	if (rc < 0) {
		error("%s/mpbuild.lock cannot be read: nothing removed", root);
		goto out;
	}
	for (i = 0; i < lk.ntargets; i++)
		protect_record(h, &lk.targets[i]);
	protect_pins(h, lk.rules, lk.nrules);
	rc = 0;
	if (path_exists(db)) {
		struct state *st = state_open(dir, 1);
		struct record *r;
		struct rule_rec *rr;

		if (!st) {
			rc = error("%s cannot be read: nothing removed", db);
			goto out;
		}
		r = state_records(st, &n);
		for (i = 0; i < n; i++)
			protect_record(h, &r[i]);
		record_free_all(r, n);
		rr = state_rules(st, &n);
		protect_pins(h, rr, n);
		rule_rec_free_all(rr, n);
		state_close(st);
	}
out:
	lockfile_free(&lk);
	free(root);
	free(db);
	return rc;
}

/* 1 when every blob of a is present */
static int blobs_present(const char *dir, const struct action *a, const char **missing)
{
	const char *hex;
	size_t i;

	for (i = 0; (hex = action_blob(a, i)); i++) {
		char *p = store_path(dir, "cas", hex);
		int there = path_exists(p);

		free(p);
		if (!there) {
			*missing = hex;
			return 0;
		}
	}
	return 1;
}

static int cmd_gc(const char *dir, char **args, size_t n)
{
	struct entries es = {0};
	struct htab keep = {0};
	long long max = -1, total = 0, freed = 0, kept = 0;
	size_t i, removed = 0, nkept = 0, nprot = 0;
	char b1[32], b2[32], b3[32];

	for (i = 0; i < n; i++) {
		const char *v = NULL;

		if (!strcmp(args[i], "--max-size") && i + 1 < n)
			v = args[++i];
		else if (!strncmp(args[i], "--max-size=", 11))
			v = args[i] + 11;
		if (!v) {
			error("cache gc: unknown argument '%s' (usage: mpbuild cache gc [--max-size SIZE])", args[i]);
			return EXIT_BADINPUT;
		}
		if ((max = parse_size(v)) < 0) {
			error("cache gc: bad size '%s' (a number of bytes, or with K, M, G or T)", v);
			return EXIT_BADINPUT;
		}
	}
	if (protect_project(dir, &keep) < 0) {
		htab_free_owned(&keep, NULL);
		return EXIT_FAILED;
	}
	scan_all(dir, &es, 1);
	/* the blobs of protected actions (their answers too) are protected */
	for (i = 0; i < es.n; i++) {
		struct action a;
		const char *why, *hex;
		size_t j;

		if (!es.v[i].ac || !htab_get(&keep, es.v[i].hex) || action_load(es.v[i].path, &a, &why) < 0)
			continue;
		for (j = 0; (hex = action_blob(&a, j)); j++)
			protect(&keep, hex);
		action_clear(&a);
	}
	for (i = 0; i < es.n; i++)
		total += es.v[i].size;
	if (max >= 0 && total > max) {
		struct entry *sorted = xcalloc(es.n ? es.n : 1, sizeof(*sorted));

		/* least recently used first; sort a copy so es keeps path order */
		memcpy(sorted, es.v, es.n * sizeof(*sorted));
		qsort(sorted, es.n, sizeof(*sorted), cmp_used);
		for (i = 0; i < es.n && total > max; i++) {
			struct entry *e = bsearch(&sorted[i], es.v, es.n, sizeof(*es.v), cmp_path);

			if (htab_get(&keep, e->hex))
				continue;
			if (unlink(e->path) < 0 && errno != ENOENT) {
				warn("cannot remove %s:", e->path);
				continue;
			}
			e->gone = 1;
			total -= e->size;
		}
		free(sorted);
	}
	/* an action whose blobs are gone restores nothing: drop it */
	for (i = 0; i < es.n; i++) {
		struct entry *e = &es.v[i];
		struct action a;
		const char *why, *missing;

		if (!e->ac || e->gone || htab_get(&keep, e->hex) || action_load(e->path, &a, &why) < 0)
			continue;
		if (!blobs_present(dir, &a, &missing) && unlink(e->path) == 0)
			e->gone = 1;
		action_clear(&a);
	}
	for (i = 0; i < es.n; i++) {
		if (es.v[i].gone) {
			removed++;
			freed += es.v[i].size;
		} else {
			nkept++;
			kept += es.v[i].size;
			nprot += htab_get(&keep, es.v[i].hex) != NULL;
		}
	}
	printf("gc: removed %zu entries (%s); kept %zu (%s), %zu of them needed by mpbuild.lock\n", removed,
	       human((double)freed, b1), nkept, human((double)kept, b2), nprot);
	if (max >= 0 && kept > max)
		warn("the entries mpbuild.lock needs take %s, more than --max-size %s", human((double)kept, b1),
		     human((double)max, b3));
	entries_free(&es);
	htab_free_owned(&keep, NULL);
	return EXIT_OK;
}

static int cmd_verify(const char *dir)
{
	struct entries es = {0};
	size_t i, nac = 0, nblob = 0, bad = 0;

	scan_all(dir, &es, 0);
	/* blobs first, so that an action whose blob was just removed is caught */
	for (i = 0; i < es.n; i++) {
		struct entry *e = &es.v[i];
		struct buffer b = {0};
		int rc;

		if (e->ac)
			continue;
		nblob++;
		rc = store_load_blob(e->path, e->hex, &b);
		buf_free(&b);
		if (rc == 2) {
			error("%s: corrupt blob (its content does not match its name); removed", e->path);
			unlink(e->path);
		}
		bad += rc != 0;
	}
	for (i = 0; i < es.n; i++) {
		struct entry *e = &es.v[i];
		struct action a;
		const char *why = NULL, *missing = NULL;

		if (!e->ac)
			continue;
		nac++;
		if (action_load(e->path, &a, &why) < 0) {
			error("%s: corrupt action entry (%s); removed", e->path, why);
			unlink(e->path);
			bad++;
		} else if (!blobs_present(dir, &a, &missing)) {
			error("%s: names blob sha256:%s, which is missing; removed", e->path, missing);
			unlink(e->path);
			bad++;
		}
		action_clear(&a);
	}
	printf("verify: %zu blobs and %zu actions checked, %zu bad\n", nblob, nac, bad);
	entries_free(&es);
	return bad ? EXIT_FAILED : EXIT_OK;
}

/* a list of distinct hex names */
struct names {
	struct htab seen;       /* hex -> non-NULL; keys are the strings of v */
	char **v;
	size_t n, cap;
};

static void names_add(struct names *ns, const char *hex)
{
	char *s;

	if (htab_get(&ns->seen, hex))
		return;
	s = xstrdup(hex);
	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 64;
		ns->v = xreallocarray(ns->v, ns->cap, sizeof(*ns->v));
	}
	ns->v[ns->n++] = s;
	htab_put(&ns->seen, s, (void *)1);
}

static void names_free(struct names *ns)
{
	size_t i;

	for (i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	htab_free(&ns->seen);
	memset(ns, 0, sizeof(*ns));
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the key hex for an export argument: a key, or a target of mpbuild.lock */
static int export_key(const char *dir, const char *arg, char hex[65])
{
	char *root;
	struct lockfile lk = {0};
	size_t i;
	int rc = -1;

	if (hash_digits(arg, hex) == 0)
		return 0;
	root = project_root(dir);
	if (lockfile_read(root, &lk, NULL) == 0)
		for (i = 0; i < lk.ntargets && rc < 0; i++)
			if (!strcmp(lk.targets[i].target, arg))
				rc = hash_digits(lk.targets[i].key, hex);
	lockfile_free(&lk);
	free(root);
	return rc;
}

static int cmd_export(const char *dir, char **args, size_t n)
{
	struct names acs = {0}, blobs = {0};
	struct htab failed = {0};
	struct tarzst *w;
	size_t i, nac = 0, nblob = 0;
	int ok = 1, rc = EXIT_OK;

	if (n < 1) {
		error("cache export: usage: mpbuild cache export FILE.tar.zst [KEY|TARGET...]");
		return EXIT_BADINPUT;
	}
	if (n == 1) {
		struct entries es = {0};

		scan_all(dir, &es, 0);
		for (i = 0; i < es.n; i++)
			names_add(es.v[i].ac ? &acs : &blobs, es.v[i].hex);
		entries_free(&es);
	}
	for (i = 1; i < n; i++) {
		char hex[65], *path;
		struct action a;
		const char *why, *bhex;
		size_t j;

		if (export_key(dir, args[i], hex) < 0) {
			error("cache export: '%s' is neither a key nor a target of mpbuild.lock", args[i]);
			rc = EXIT_BADINPUT;
			goto out;
		}
		path = store_path(dir, "ac", hex);
		if (action_load(path, &a, &why) < 0) {
			error("cache export: %s: %s", path, why);
			free(path);
			rc = EXIT_FAILED;
			goto out;
		}
		free(path);
		names_add(&acs, hex);
		for (j = 0; (bhex = action_blob(&a, j)); j++)
			names_add(&blobs, bhex);
		action_clear(&a);
	}
	if (blobs.n)
		qsort(blobs.v, blobs.n, sizeof(*blobs.v), cmp_name);
	if (acs.n)
		qsort(acs.v, acs.n, sizeof(*acs.v), cmp_name);
	if (!(w = archive_create(args[0]))) {
		rc = EXIT_FAILED;
		goto out;
	}
	/* blobs first, verified, so that an importer reading in order sees an
	 * action's blobs before the action */
	for (i = 0; ok && i < blobs.n; i++) {
		char *path = store_path(dir, "cas", blobs.v[i]), *name;
		struct buffer b = {0};
		int r = store_load_blob(path, blobs.v[i], &b);

		if (r != 0) {
			warn("%s: %s; not exported", path, r == 1 ? "missing" : "corrupt (run mpbuild cache verify)");
			htab_put(&failed, blobs.v[i], (void *)1);
		} else {
			name = xasprintf("cas/%s", blobs.v[i]);
			ok = archive_add(w, name, b.data ? b.data : "", b.len) == 0;
			nblob += ok;
			free(name);
		}
		buf_free(&b);
		free(path);
	}
	for (i = 0; ok && i < acs.n; i++) {
		char *path = store_path(dir, "ac", acs.v[i]), *name, *json;
		struct action a;
		const char *why, *bhex = NULL;
		size_t j;

		if (action_load(path, &a, &why) < 0) {
			warn("%s: %s; not exported", path, why);
			free(path);
			continue;
		}
		for (j = 0; (bhex = action_blob(&a, j)); j++)
			if (htab_get(&failed, bhex) || !htab_get(&blobs.seen, bhex))
				break;
		if (bhex) {
			warn("%s: blob sha256:%s is missing or corrupt; not exported", path, bhex);
		} else {
			json = action_to_json(&a);
			name = xasprintf("ac/%s", acs.v[i]);
			ok = json && archive_add(w, name, json, strlen(json)) == 0;
			nac += ok;
			free(name);
			free(json);
		}
		action_clear(&a);
		free(path);
	}
	if (archive_finish(w, ok) < 0)
		rc = EXIT_FAILED;
	else
		printf("exported %zu actions and %zu blobs to %s\n", nac, nblob, args[0]);
out:
	names_free(&acs);
	names_free(&blobs);
	htab_free(&failed);
	return rc;
}

/* what an import has read so far */
struct import {
	struct store *s;
	const char *file;
	struct names acs;       /* action hex names, in archive order */
	char **texts;           /* their JSON texts, parallel to acs.v */
	size_t nblob, bad;
};

static int import_one(const char *name, const void *data, size_t len, void *arg)
{
	struct import *im = arg;
	char hex[65], got[HASH_HEX];

	if (!strncmp(name, "cas/", 4) && strlen(name + 4) == 64 && hash_digits(name + 4, hex) == 0) {
		sha256_hex(data, len, got);
		if (strcmp(got + 7, hex) != 0) {
			error("%s: %s: content does not match its name; skipped", im->file, name);
			im->bad++;
		} else if (store_put_blob(im->s, data, len, got) < 0) {
			return -1;
		} else {
			im->nblob++;
		}
	} else if (!strncmp(name, "ac/", 3) && strlen(name + 3) == 64 && hash_digits(name + 3, hex) == 0) {
		struct action a;
		const char *why;

		if (action_from_json(data, len, &a, &why) < 0) {
			error("%s: %s: %s; skipped", im->file, name, why);
			im->bad++;
			return 0;
		}
		action_clear(&a);
		if (htab_get(&im->acs.seen, hex))
			return 0;
		names_add(&im->acs, hex);
		im->texts = xreallocarray(im->texts, im->acs.n, sizeof(*im->texts));
		im->texts[im->acs.n - 1] = xstrndup(data, len);
	} else {
		warn("%s: %s: not a cache entry; skipped", im->file, name);
	}
	return 0;
}

static int cmd_import(const char *dir, char **args, size_t n)
{
	struct import im = {0};
	size_t i, nac = 0;
	int rc;

	if (n != 1) {
		error("cache import: usage: mpbuild cache import FILE.tar.zst");
		return EXIT_BADINPUT;
	}
	if (!(im.s = store_open(dir, NULL, 3)))
		return EXIT_FAILED;
	im.file = args[0];
	rc = archive_each(args[0], import_one, &im);
	/* actions last, and only those whose blobs are all here */
	for (i = 0; i < im.acs.n; i++) {
		struct action a;
		const char *why, *missing = NULL;

		action_from_json(im.texts[i], strlen(im.texts[i]), &a, &why);
		if (rc == 0 && !blobs_present(dir, &a, &missing)) {
			error("%s: ac/%s: blob sha256:%s is not in the archive or the cache; skipped", im.file,
			      im.acs.v[i], missing);
			im.bad++;
		} else if (rc == 0) {
			if (store_put_action(im.s, im.acs.v[i], &a) == 0)
				nac++;
			else
				im.bad++;
		}
		action_clear(&a);
		free(im.texts[i]);
	}
	free(im.texts);
	names_free(&im.acs);
	if (rc == 0)
		printf("imported %zu actions and %zu blobs from %s%s\n", nac, im.nblob, im.file,
		       im.bad ? "; some entries were rejected" : "");
	store_close(im.s);
	return rc != 0 || im.bad ? EXIT_FAILED : EXIT_OK;
}

static void usage(FILE *f)
{
	fputs("usage: mpbuild cache stats\n"
	      "       mpbuild cache gc [--max-size SIZE]\n"
	      "       mpbuild cache verify\n"
	      "       mpbuild cache export FILE.tar.zst [KEY|TARGET...]\n"
	      "       mpbuild cache import FILE.tar.zst\n",
	      f);
}

int cache_command(const char *cachedir, char **args, size_t n)
{
	static const char *const cmds[] = {"stats", "gc", "verify", "export", "import"};
	const char *near;

	if (n == 0) {
		usage(stderr);
		return EXIT_BADINPUT;
	}
	if (!strcmp(args[0], "--help") || !strcmp(args[0], "-h") || !strcmp(args[0], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(args[0], "stats") || !strcmp(args[0], "verify")) {
		if (n > 1) {
			error("cache %s: unexpected argument '%s'", args[0], args[1]);
			return EXIT_BADINPUT;
		}
		return !strcmp(args[0], "stats") ? cmd_stats(cachedir) : cmd_verify(cachedir);
	}
	if (!strcmp(args[0], "gc"))
		return cmd_gc(cachedir, args + 1, n - 1);
	if (!strcmp(args[0], "export"))
		return cmd_export(cachedir, args + 1, n - 1);
	if (!strcmp(args[0], "import"))
		return cmd_import(cachedir, args + 1, n - 1);
	near = closest(args[0], cmds, LEN(cmds));
	if (near)
		error("unknown cache command '%s' (did you mean '%s'?)", args[0], near);
	else
		error("unknown cache command '%s' (stats, gc, verify, export or import)", args[0]);
	return EXIT_BADINPUT;
}
