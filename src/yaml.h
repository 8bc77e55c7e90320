/* yaml.h: the only room that talks to libyaml.  Files are parsed into a tree of
 * nodes that remember their line and column, with limits that make hostile
 * input (alias bombs, deep nesting, huge scalars, NUL bytes, bad UTF-8) fail
 * fast; and trees are rendered back to deterministic YAML text. */
#ifndef MPBUILD_YAML_H
#define MPBUILD_YAML_H

#include <stddef.h>
#include "util.h"

/* limits on what a plan file may be */
#define YAML_MAX_FILE   (64u << 20)   /* bytes in one file */
#define YAML_MAX_SCALAR (4u << 20)    /* bytes in one scalar */
#define YAML_MAX_DEPTH  64            /* nested collections */
#define YAML_MAX_NODES  (8u << 20)    /* nodes, counting each alias as its expansion */
#define YAML_MAX_EXPANDED (64u << 20) /* scalar bytes, counting each alias as its expansion */

enum ykind { Y_SCALAR, Y_MAP, Y_SEQ };

struct ynode {
	enum ykind kind;        /* scalar, mapping or sequence */
	int line, col;          /* 1-based position of the node's start */
	int plain;              /* scalar written without quotes (so "null" may mean null) */
	char *str;              /* scalar text, NUL-terminated (NULL for collections) */
	size_t len;             /* scalar length in bytes */
	struct ynode **kids;    /* sequence items, or mapping keys and values alternating */
	size_t n;               /* number of kids (twice the pairs for a mapping) */
	size_t weight;          /* nodes in this subtree, aliases expanded */
	size_t bytes;           /* scalar bytes in this subtree, aliases expanded */
};

struct ydoc {
	char *path;             /* the file as named in messages */
	struct ynode *root;     /* NULL for an empty document */
	struct arena *arena;    /* where its nodes, strings and lists live */
};

/* parse path (named as shown in messages); on error print file:line:col: error: ...
 * and return NULL.  A missing file returns NULL with errno ENOENT and no message. */
struct ydoc *ydoc_load(const char *path, const char *shown);
/* parse bytes already in memory, same rules */
struct ydoc *ydoc_parse(const char *shown, const char *data, size_t len);
/* free a document and all its nodes */
void ydoc_free(struct ydoc *d);

/* number of errors printed by yerror since the start */
extern int yaml_errors;
/* print "file:line:col: error: ..." for node n (or line 0 col 0 when n is NULL) */
void yerror(const char *file, const struct ynode *n, const char *fmt, ...) PRINTF(3, 4);
/* the same as a warning */
void ywarning(const char *file, const struct ynode *n, const char *fmt, ...) PRINTF(3, 4);

/* the value under key in mapping m, or NULL */
struct ynode *ymap_get(const struct ynode *m, const char *key);
/* 1 if n is a plain null (null, ~, or empty) */
int yis_null(const struct ynode *n);
/* a short name for the kind of n, for messages ("a mapping") */
const char *ykind_name(const struct ynode *n);

/* the value part of "key:" for v, whose key stands at indent - 2: " value\n"
 * in the style the writer picks (plain, quoted, or a literal block whose lines
 * stand at indent), or a nested block at indent */
void yemit_value(struct buffer *b, const struct ynode *v, int indent);
/* render n as block-style YAML at the given indent, deterministically: the same
 * tree always gives the same bytes (used for prompt layers).  A scalar n is
 * written as the content of a literal block the caller opened ("key: |\n"):
 * its lines at indent, never quoted, final line breaks as one */
void yemit(struct buffer *b, const struct ynode *n, int indent);
/* render a scalar string as a YAML scalar (quoted only when needed) */
void yemit_scalar(struct buffer *b, const char *s);

/* ---- writing plan files (libyaml's emitter); trees built here are owned by
 * the caller and freed with ynode_free ---- */

/* a new empty mapping or sequence */
struct ynode *ynode_new(enum ykind k);
/* a new scalar holding a copy of s; plain: written unquoted whatever it reads as
 * (null, numbers), else a string that gets quoted when it would read otherwise */
struct ynode *ynode_str(const char *s, int plain);
/* append kid to a mapping (keys and values alternate) or a sequence */
void ynode_add(struct ynode *parent, struct ynode *kid);
/* append key: val to a mapping, keeping insertion order */
void ymap_put(struct ynode *map, const char *key, struct ynode *val);
/* free a tree built with the functions above */
void ynode_free(struct ynode *n);
/* append root as one deterministic YAML document to out: block style, keys in
 * tree order, literal blocks for multi-line strings, a final newline; -1 with a
 * message when libyaml refuses */
int yaml_write(struct buffer *out, const struct ynode *root);

#endif
