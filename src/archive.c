/* archive.c: libarchive behind archive.h.  Archives are POSIX tar (ustar)
 * through a zstd filter, written to a temporary file and renamed so that an
 * interrupted export never leaves half an archive; reading accepts any tar
 * libarchive knows, compressed or not, and never follows what an entry says
 * outside its name (no links, devices, owners or absolute paths). */
#include "archive.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXTRACT_TOTAL_MAX ((size_t)4 << 30)   /* bytes one extraction may write */
#define CHUNK ((size_t)64 << 10)              /* bytes read at a time */

struct tarzst {
	struct archive *a;
	char *path;     /* where the archive goes */
	char *tmp;      /* where it is written first */
	int fd;
};

struct tarzst *archive_create(const char *path)
{
	struct tarzst *w = xcalloc(1, sizeof(*w));

	w->path = xstrdup(path);
	w->tmp = xasprintf("%s.mpbuild-tmp.%ld", path, (long)getpid());
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (w->fd < 0) {
		error("%s: cannot create:", path);
		goto fail;
	}
	w->a = archive_write_new();
	if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    archive_write_add_filter_zstd(w->a) != ARCHIVE_OK ||
	    archive_write_open_fd(w->a, w->fd) != ARCHIVE_OK) {
		error("%s: %s", path, archive_error_string(w->a));
		archive_write_free(w->a);
		close(w->fd);
		unlink(w->tmp);
		goto fail;
	}
	return w;
fail:
	free(w->path);
	free(w->tmp);
	free(w);
	return NULL;
}

int archive_add(struct tarzst *w, const char *name, const void *data, size_t len)
{
	struct archive_entry *e = archive_entry_new();
	const char *p = data;
	int rc = 0;

	/* fixed metadata: the archive's bytes depend on names and contents only */
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_mtime(e, 0, 0);
	if (archive_write_header(w->a, e) != ARCHIVE_OK) {
		rc = error("%s: %s: %s", w->path, name, archive_error_string(w->a));
		goto out;
	}
	while (len > 0) {
		la_ssize_t n = archive_write_data(w->a, p, len);

		if (n <= 0) {
			rc = error("%s: %s: %s", w->path, name, archive_error_string(w->a));
			goto out;
		}
		p += n;
		len -= (size_t)n;
	}
out:
	archive_entry_free(e);
	return rc;
}

int archive_finish(struct tarzst *w, int ok)
{
	int rc = 0;

	if (ok && archive_write_close(w->a) != ARCHIVE_OK)
		rc = error("%s: %s", w->path, archive_error_string(w->a));
	archive_write_free(w->a);
	if (ok && rc == 0 && fsync(w->fd) < 0)
		rc = error("%s: cannot write:", w->path);
	if (close(w->fd) < 0 && ok && rc == 0)
		rc = error("%s: cannot write:", w->path);
	if (ok && rc == 0 && rename(w->tmp, w->path) < 0)
		rc = error("%s: cannot rename %s into place:", w->path, w->tmp);
	if (ok && rc == 0)
		fsync_parent(w->path);
	if (!ok || rc < 0)
		unlink(w->tmp);
	free(w->path);
	free(w->tmp);
	free(w);
	return ok ? rc : -1;
}

/* name without leading "./" and "/" doubling; NULL when it is absolute,
 * empty or climbs with ".."; the result is malloc'd */
static char *clean_name(const char *name)
{
	struct buffer b = {0};
	const char *p = name, *q;

	if (*name == '/')
		return NULL;
	while (*p) {
		size_t n;

		q = strchr(p, '/');
		n = q ? (size_t)(q - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			buf_free(&b);
			return NULL;
		}
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (b.len)
				buf_putc(&b, '/');
			buf_add(&b, p, n);
		}
		p += n;
		if (*p == '/')
			p++;
	}
	if (!b.len)
		return NULL;
	return buf_take(&b);
}

int archive_each(const char *path, int (*fn)(const char *name, const void *data, size_t len, void *arg),
		 void *arg)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct buffer data = {0};
	char *chunk = xmalloc(CHUNK);
	int rc = 0, r;

	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 64 << 10) != ARCHIVE_OK) {
		rc = error("%s: cannot open: %s", path, archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *raw = archive_entry_pathname(e);
		char *name;
		la_ssize_t n;

		if (archive_entry_filetype(e) == AE_IFDIR)
			continue;
		if (archive_entry_filetype(e) != AE_IFREG) {
			warn("%s: %s: not a regular file; skipped", path, raw ? raw : "?");
			continue;
		}
		if (!raw || !(name = clean_name(raw))) {
			rc = error("%s: unsafe entry name '%s'", path, raw ? raw : "");
			goto out;
		}
		if (archive_entry_size_is_set(e) && (size_t)archive_entry_size(e) > ARCHIVE_ENTRY_MAX) {
			rc = error("%s: %s: larger than %zu bytes", path, name, ARCHIVE_ENTRY_MAX);
			free(name);
			goto out;
		}
		buf_reset(&data);
		while ((n = archive_read_data(a, chunk, CHUNK)) > 0 && data.len + (size_t)n <= ARCHIVE_ENTRY_MAX)
			buf_add(&data, chunk, (size_t)n);
		if (n != 0) {
			rc = error("%s: %s: %s", path, name,
				   n > 0 ? "larger than the largest entry accepted" : archive_error_string(a));
			free(name);
			goto out;
		}
		rc = fn(name, data.data ? data.data : "", data.len, arg);
		free(name);
		if (rc)
			goto out;
	}
	if (r != ARCHIVE_EOF)
		rc = error("%s: %s", path, archive_error_string(a));
out:
	archive_read_free(a);
	buf_free(&data);
	free(chunk);
	return rc;
}

/* the regular files under dir/rel, as paths relative to dir, appended to *names */
static int list_files(const char *dir, const char *rel, char ***names, size_t *n, size_t *cap)
{
	char *full = rel ? path_join(dir, rel) : xstrdup(dir);
	DIR *d = opendir(full);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		rc = error("cannot open %s:", full);
		free(full);
		return rc;
	}
	while (rc == 0 && (de = readdir(d))) {
		char *r, *p;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = rel ? path_join(rel, de->d_name) : xstrdup(de->d_name);
		p = path_join(dir, r);
		if (lstat(p, &st) < 0) {
			rc = error("cannot stat %s:", p);
		} else if (S_ISDIR(st.st_mode)) {
			rc = list_files(dir, r, names, n, cap);
		} else if (S_ISREG(st.st_mode)) {
			if (*n == *cap) {
				*cap = *cap ? *cap * 2 : 64;
				*names = xreallocarray(*names, *cap, sizeof(**names));
			}
			(*names)[(*n)++] = r;
			r = NULL;
		}
		free(r);
		free(p);
	}
	closedir(d);
	free(full);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int archive_pack_dir(const char *dir, const char *out_tarzst)
{
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	struct tarzst *w;
	struct buffer b = {0};
	int ok;

	ok = list_files(dir, NULL, &names, &n, &cap) == 0;
	if (ok && n)    /* an empty directory lists nothing: names is NULL, which qsort must not see */
		qsort(names, n, sizeof(*names), cmp_str);
	w = ok ? archive_create(out_tarzst) : NULL;
	ok = w != NULL;
	for (i = 0; ok && i < n; i++) {
		char *p = path_join(dir, names[i]);

		buf_reset(&b);
		if (read_file(p, &b, ARCHIVE_ENTRY_MAX) < 0) {
			error("cannot read %s:", p);
			ok = 0;
		} else
			ok = archive_add(w, names[i], b.data ? b.data : "", b.len) == 0;
		free(p);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	buf_free(&b);
	if (!w)
		return -1;
	return archive_finish(w, ok);
}

/* where extraction writes and how much it has written */
struct extract {
	const char *archive;
	const char *dir;
	size_t total;
};

/* write one entry under the temporary directory; no fsync: the directory is
 * scratch space that nobody reads after a crash */
static int extract_one(const char *name, const void *data, size_t len, void *arg)
{
	struct extract *x = arg;
	char *path = path_join(x->dir, name), *parent = xstrdup(path), *slash = strrchr(parent, '/');
	const char *p = data;
	int fd = -1, rc = 0;

	x->total += len;
	if (x->total > EXTRACT_TOTAL_MAX) {
		rc = error("%s: more than %zu bytes to extract", x->archive, EXTRACT_TOTAL_MAX);
		goto out;
	}
	*slash = '\0';
	if (mkdirs(parent) < 0) {
		rc = error("%s: %s: cannot create %s:", x->archive, name, parent);
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = error("%s: %s: cannot create %s:", x->archive, name, path);
		goto out;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = error("%s: %s: cannot write %s:", x->archive, name, path);
			goto out;
		}
		p += n;
		len -= (size_t)n;
	}
out:
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = error("%s: %s: cannot write %s:", x->archive, name, path);
	free(path);
	free(parent);
	return rc;
}

char *archive_extract_temp(const char *tarzst)
{
	const char *tmpdir = getenv("TMPDIR");
	char *dir = xasprintf("%s/mpbuild-archive.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	struct extract x = {tarzst, dir, 0};

	if (!mkdtemp(dir)) {
		error("%s: cannot create a temporary directory %s:", tarzst, dir);
		free(dir);
		return NULL;
	}
	if (archive_each(tarzst, extract_one, &x) != 0) {
		archive_remove_temp(dir);
		free(dir);
		return NULL;
	}
	return dir;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

int archive_remove_temp(const char *dir)
{
	return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
