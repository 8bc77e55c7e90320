/* archive.h: .tar.zst files through libarchive, the only room that includes
 * libarchive's headers: the cache's export and import (SPEC 4) and replay
 * cassettes packed as one file (SPEC 5).  Names inside an archive are
 * relative and '/'-separated; only regular files are written or read. */
#ifndef MPBUILD_ARCHIVE_H
#define MPBUILD_ARCHIVE_H

#include <stddef.h>

#define ARCHIVE_ENTRY_MAX ((size_t)256 << 20)   /* largest file read from an archive */

struct tarzst;

/* start writing a tar + zstd archive to path, through a temporary file in the
 * same directory that archive_finish renames into place; NULL after a message */
struct tarzst *archive_create(const char *path);
/* add a regular file called name holding len bytes; -1 after a message */
int archive_add(struct tarzst *w, const char *name, const void *data, size_t len);
/* when ok, complete the archive (fsync, rename, fsync of the directory) and
 * return 0, or -1 after a message; when !ok, discard it; either way w is freed
 * and nothing half-written is left at the path */
int archive_finish(struct tarzst *w, int ok);
/* call fn(name, data, len, arg) for each regular file of the archive at path
 * (tar, compressed or not) in archive order, with names normalised ("./"
 * removed); a name that is absolute or holds ".." fails the whole read; stops
 * and returns fn's value when it is not 0; -1 after a message naming the file */
int archive_each(const char *path, int (*fn)(const char *name, const void *data, size_t len, void *arg),
		 void *arg);
/* pack every regular file under dir (names relative to dir, sorted) into
 * out_tarzst; -1 after a message */
int archive_pack_dir(const char *dir, const char *out_tarzst);
/* extract a .tar.zst (a cassette) into a fresh temporary directory and return
 * its malloc'd path; the caller frees it after archive_remove_temp; NULL after
 * a message */
char *archive_extract_temp(const char *tarzst);
/* remove dir and everything under it (no symbolic link is followed); -1 on error */
int archive_remove_temp(const char *dir);

#endif
