/* confine.c: resolving output paths inside the project and creating files
 * there without following links (see confine.h for the rules). */
#include "confine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LINKS 40            /* links followed in one path, as the kernel's ELOOP */

const char *confine_reserved(const char *path)
{
	static const char *const top[] = {"cache", "plans", "rules"};
	const char *s, *e;
	size_t i, n;

	for (s = path; *s; s = *e ? e + 1 : e) {
		e = strchr(s, '/');
		if (!e)
			e = s + strlen(s);
		n = (size_t)(e - s);
		/* a nested repository's .git is as dangerous as the project's */
		if (n == 4 && !strncmp(s, ".git", 4))
			return *e || s != path ? "is under .git/" : "is .git";
		if (s != path)
			continue;
		for (i = 0; i < LEN(top); i++) {
			if (n != strlen(top[i]) || strncmp(s, top[i], n) != 0)
				continue;
			if (!*e)
				return i == 0 ? "is cache/, which mpbuild owns" : i == 1 ? "is plans/, which mpbuild owns"
											: "is rules/, which mpbuild owns";
			return i == 0 ? "is under cache/" : i == 1 ? "is under plans/" : "is under rules/";
		}
	}
	if (!strcmp(path, "mpbuild.yaml") || !strcmp(path, "mpbuild.lock"))
		return "is a file mpbuild owns";
	return NULL;
}

/* drop the last component of the resolved path r (a buffer) */
static void pop(struct buffer *r)
{
	char *slash;

	buf_str(r);
	slash = strrchr(r->data, '/');
	r->len = slash ? (size_t)(slash - r->data) : 0;
	r->data[r->len] = '\0';
}

char *confine_resolve(const char *root, const char *rel, struct buffer *err)
{
	char *rroot = realpath(root, NULL), *rest = xstrdup(rel), *s, *out = NULL, *first = NULL;
	struct buffer r = {0};
	const char *why;
	int links = 0, via_link = 0;
	size_t nroot;

	if (!rroot) {
		buf_printf(err, "cannot resolve the project directory: %s", strerror(errno));
		free(rest);
		return NULL;
	}
	nroot = strlen(rroot);
	s = rest;
	while (*s) {
		char *e = strchr(s, '/'), *full, *target;
		int last;
		struct stat sb;
		ssize_t n;

		if (e)
			*e = '\0';
		last = !e || !e[1];
		if (!*s || !strcmp(s, ".")) {
			s = e ? e + 1 : s + strlen(s);
			continue;
		}
		if (!strcmp(s, "..")) {
			if (!r.len) {
				if (first)
					buf_printf(err, "%s leads out of the project through the symbolic link %s", rel, first);
				else
					buf_printf(err, "%s leads out of the project", rel);
				goto out;
			}
			pop(&r);
			s = e ? e + 1 : s + strlen(s);
			continue;
		}
		full = xasprintf("%s/%s%s%s", rroot, buf_str(&r), r.len ? "/" : "", s);
		if (lstat(full, &sb) < 0) {
			int enoent = errno == ENOENT;

			free(full);
			if (!enoent) {
				buf_printf(err, "cannot look at %s: %s", rel, strerror(errno));
				goto out;
			}
		} else if (S_ISLNK(sb.st_mode)) {
			char lnk[PATH_MAX];

			if (last) {
				buf_printf(err, "%s %s a symbolic link; mpbuild does not write through links and keeps it", rel,
					   via_link ? "leads to" : "is");
				free(full);
				goto out;
			}
			n = readlink(full, lnk, sizeof(lnk) - 1);
			free(full);
			/* messages name the first link of rel itself */
			if (!first)
				first = xasprintf("%s%s%s", buf_str(&r), r.len ? "/" : "", s);
			if (n < 0 || ++links > MAX_LINKS) {
				buf_printf(err, "cannot follow the symbolic links in %s: %s", rel,
					   n < 0 ? strerror(errno) : "too many levels");
				goto out;
			}
			lnk[n] = '\0';
			if (lnk[0] == '/') {
				if (strncmp(lnk, rroot, nroot) != 0 || (lnk[nroot] != '/' && lnk[nroot] != '\0')) {
					buf_printf(err, "%s leads out of the project through the symbolic link %s", rel, first);
					goto out;
				}
				r.len = 0;
				memmove(lnk, lnk + nroot, strlen(lnk + nroot) + 1);
			}
			/* the link's target takes the place of this component in what is left */
			target = xasprintf("%s/%s", lnk, e ? e + 1 : "");
			free(rest);
			rest = s = target;
			via_link = 1;
			continue;
		} else {
			free(full);
			if (S_ISDIR(sb.st_mode) && last) {
				buf_printf(err, "%s is a directory; mpbuild writes only regular files and keeps it", rel);
				goto out;
			}
			if (!S_ISDIR(sb.st_mode) && !last) {
				buf_printf(err, "%s cannot be created: %s%s%s is not a directory", rel, buf_str(&r),
					   r.len ? "/" : "", s);
				goto out;
			}
			if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode)) {
				buf_printf(err, "%s is not a regular file (a device, a pipe or a socket); mpbuild keeps it", rel);
				goto out;
			}
		}
		if (r.len)
			buf_putc(&r, '/');
		buf_puts(&r, s);
		s = e ? e + 1 : s + strlen(s);
	}
	if (!r.len) {
		buf_printf(err, "%s is the project directory", rel);
		goto out;
	}
	/* a path named directly was checked by the plan loader (which lets only
	 * mpbuild's own plan files into plans/); a link must reach no such place */
	if (strcmp(buf_str(&r), rel) != 0 && (why = confine_reserved(r.data))) {
		buf_printf(err, "%s leads to %s through a symbolic link, which %s", rel, r.data, why);
		goto out;
	}
	out = buf_take(&r);
out:
	buf_free(&r);
	free(rroot);
	free(rest);
	free(first);
	return out;
}

int confine_check(const char *root, const char *rel, struct buffer *err)
{
	char *real = confine_resolve(root, rel, err);

	free(real);
	return real != NULL;
}

int confine_parent(const char *root, const char *rel, int create, const char **base)
{
	char *walk = xstrdup(rel), *s, *slash;
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), e;

	slash = strrchr(rel, '/');
	*base = slash ? slash + 1 : rel;
	for (s = walk; fd >= 0 && (slash = strchr(s, '/')); s = slash + 1) {
		int next;

		*slash = '\0';
		next = openat(fd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, s, 0777) < 0 && errno != EEXIST)
				break;
			next = openat(fd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		e = errno;
		close(fd);
		errno = e;
		fd = next;
	}
	if (fd >= 0 && slash) {
		e = errno;
		close(fd);
		errno = e;
		fd = -1;
	}
	free(walk);
	return fd;
}

const char *confine_project_links(const char *root)
{
	/* rules/ and mpbuild.yaml are only read: a link to shared rules is fine */
	static const char *const owned[] = {"cache", "plans", "mpbuild.lock"};
	size_t i;

	for (i = 0; i < LEN(owned); i++) {
		char *p = path_join(root, owned[i]);
		struct stat sb;
		int link = lstat(p, &sb) == 0 && S_ISLNK(sb.st_mode);

		free(p);
		if (link)
			return owned[i];
	}
	return NULL;
}
