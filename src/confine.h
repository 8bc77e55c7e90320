/* confine.h: where a generated file may go.  An output path from a plan or an
 * answer is resolved inside the project, following the project's own
 * symbolic links, and refused when it leaves the project, reaches a place
 * mpbuild or git owns (.git, cache, plans, rules, mpbuild.lock,
 * mpbuild.yaml), or names something that is not a regular file.  Files are
 * then created with openat on directories opened without following links, so
 * that nothing planted in the tree (a link named like a temporary, a link
 * swapped in for a directory) redirects a write. */
#ifndef MPBUILD_CONFINE_H
#define MPBUILD_CONFINE_H

#include "util.h"

/* the path rel (relative, normalised) resolves to inside root, following the
 * links on the way that stay inside; malloc'd, or NULL with the reason in err
 * (a link leading out or reaching a reserved place, a directory, a link or a
 * device where the file would go).  rel itself naming a reserved place is the
 * plan loader's to refuse (plan_path_problem) */
char *confine_resolve(const char *root, const char *rel, struct buffer *err);
/* 1 when confine_resolve accepts rel, else 0 with the reason in err */
int confine_check(const char *root, const char *rel, struct buffer *err);
/* open the directory holding rel (a resolved path: no link on the way),
 * creating the missing directories when create is set; a directory
 * descriptor, or -1 with errno set (ELOOP or ENOTDIR: a link on the way);
 * *base is set to rel's last component */
int confine_parent(const char *root, const char *rel, int create, const char **base);
/* why path (relative, normalised) is a place mpbuild or git owns: "is under
 * cache/", "is .git", ...; NULL when it is not */
const char *confine_reserved(const char *path);
/* a project entry mpbuild writes into (cache, plans, mpbuild.lock) that is a
 * symbolic link, or NULL: a cloned repository may carry one to send
 * mpbuild's own writes elsewhere */
const char *confine_project_links(const char *root);

#endif
