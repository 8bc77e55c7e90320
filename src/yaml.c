/* yaml.c: libyaml events -> a node tree with positions, under limits that make
 * hostile input fail fast, and a deterministic renderer for node trees.
 * Aliases share the anchored node instead of copying it; each node carries its
 * expanded weight so an alias bomb is caught before anyone walks it. */
#include "yaml.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

int yaml_errors;

/* "file:line:col: error: ..." to the calling thread's message sink (util.h) */
static void vdiag(const char *kind, const char *file, int line, int col, const char *fmt, va_list ap)
{
	struct buffer b = {0};

	if (line > 0)
		buf_printf(&b, "%s:%d:%d: %s: ", file, line, col, kind);
	else
		buf_printf(&b, "%s: %s: ", file, kind);
	buf_vprintf(&b, fmt, ap);
	diag_line(strcmp(kind, "warning") == 0, buf_str(&b));
	buf_free(&b);
}

void yerror(const char *file, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag("error", file, n ? n->line : 0, n ? n->col : 0, fmt, ap);
	va_end(ap);
	yaml_errors++;
}

void ywarning(const char *file, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag("warning", file, n ? n->line : 0, n ? n->col : 0, fmt, ap);
	va_end(ap);
}

static void perr(const char *file, int line, int col, const char *fmt, ...) PRINTF(4, 5);
static void perr(const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag("error", file, line, col, fmt, ap);
	va_end(ap);
	yaml_errors++;
}

/* an error at a libyaml mark (0-based) */
static void perr_at(const char *file, const yaml_mark_t *m, const char *fmt, ...) PRINTF(3, 4);
static void perr_at(const char *file, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag("error", file, (int)m->line + 1, (int)m->column + 1, fmt, ap);
	va_end(ap);
	yaml_errors++;
}

/* a parsed document's memory: chunks freed together (a 10,000-task plan has
 * a million nodes; one malloc each was a fifth of a no-op build) */
struct arena {
	struct arena *next;
	size_t used, cap;
	max_align_t data[];
};

static void *aalloc(struct ydoc *d, size_t n)
{
	struct arena *a = d->arena;
	void *p;

	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	if (!a || a->cap - a->used < n) {
		size_t cap = n > ((size_t)64 << 10) ? n : (size_t)64 << 10;

		a = xmalloc(sizeof(*a) + cap);
		a->used = 0;
		a->cap = cap;
		a->next = d->arena;
		d->arena = a;
	}
	p = (char *)a->data + a->used;
	a->used += n;
	return p;
}

static struct ynode *newnode(struct ydoc *d, enum ykind k, const yaml_mark_t *m)
{
	struct ynode *n = aalloc(d, sizeof(*n));

	memset(n, 0, sizeof(*n));
	n->kind = k;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	n->weight = 1;
	return n;
}

static void addkid(struct ydoc *d, struct ynode *p, struct ynode *k)
{
	/* grow in powers of two: n is the count, capacity is implied */
	if ((p->n & (p->n - 1)) == 0) {
		struct ynode **kids = aalloc(d, (p->n ? p->n * 2 : 1) * sizeof(*kids));

		if (p->n)
			memcpy(kids, p->kids, p->n * sizeof(*kids));
		p->kids = kids;
	}
	p->kids[p->n++] = k;
}

void ydoc_free(struct ydoc *d)
{
	if (!d)
		return;
	while (d->arena) {
		struct arena *a = d->arena;

		d->arena = a->next;
		free(a);
	}
	free(d->path);
	free(d);
}

/* check the raw bytes: NUL and UTF-8, with a position for the first bad byte */
static int check_bytes(const char *shown, const unsigned char *s, size_t len)
{
	int line = 1, col = 1;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t need, k;
		unsigned long cp;

		if (c == 0) {
			perr(shown, line, col, "NUL byte in file (plan files are UTF-8 text)");
			return -1;
		}
		if (c < 0x80) {
			i++;
			if (c == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, cp = c & 0x07;
		else
			goto bad;
		for (k = 1; k <= need; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		i += need + 1;
		col++;
	}
	return 0;
bad:
	perr(shown, line, col, "invalid UTF-8 byte 0x%02x (plan files are UTF-8 text)", s[i]);
	return -1;
}

struct anchor {
	char *name;
	struct ynode *node;
	int open;               /* still being parsed: an alias to it would be a cycle */
};

/* one parse in progress: the collections still open, the anchors seen so far
 * and the running totals the limits are held against */
struct parse {
	const char *shown;      /* the file's name in messages */
	struct ydoc *d;         /* the document being built */
	struct ynode *stack[YAML_MAX_DEPTH + 1]; /* the open collections, innermost last */
	int depth;              /* how many of stack are open */
	int docs;               /* documents begun: more than one is an error */
	struct anchor *anchors; /* every anchor so far, in the order met */
	size_t nanchors;
	size_t total;           /* nodes, each alias counted as its expansion */
	size_t total_bytes;     /* the file's bytes plus what aliases repeat */
};

/* libyaml's complaint about the input, with a hint when it tripped on a tab */
static void syntax_error(const char *shown, const yaml_parser_t *p, const char *data, size_t len)
{
	perr(shown, (int)p->problem_mark.line + 1, (int)p->problem_mark.column + 1, "%s%s%s%s",
	     p->problem ? p->problem : "syntax error", p->context ? " " : "", p->context ? p->context : "",
	     p->problem_mark.index < len && data[p->problem_mark.index] == '\t' ? " (indent with spaces, not tabs)" : "");
}

/* a new scalar node for ev, or NULL (reported) when it is over the size limit */
static struct ynode *scalar_node(struct parse *P, const yaml_event_t *ev)
{
	struct ynode *n;

	if (ev->data.scalar.length > YAML_MAX_SCALAR) {
		perr_at(P->shown, &ev->start_mark, "scalar of %zu bytes is larger than the limit of %u MiB",
			ev->data.scalar.length, YAML_MAX_SCALAR >> 20);
		return NULL;
	}
	n = newnode(P->d, Y_SCALAR, &ev->start_mark);
	n->str = aalloc(P->d, ev->data.scalar.length + 1);
	memcpy(n->str, ev->data.scalar.value, ev->data.scalar.length);
	n->str[ev->data.scalar.length] = '\0';
	n->len = ev->data.scalar.length;
	n->bytes = n->len;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return n;
}

/* a new, empty sequence or mapping for ev, or NULL (reported) when it nests too deep */
static struct ynode *collection_node(struct parse *P, const yaml_event_t *ev)
{
	if (P->depth >= YAML_MAX_DEPTH) {
		perr_at(P->shown, &ev->start_mark, "nesting deeper than %d levels", YAML_MAX_DEPTH);
		return NULL;
	}
	return newnode(P->d, ev->type == YAML_MAPPING_START_EVENT ? Y_MAP : Y_SEQ, &ev->start_mark);
}

/* the anchor (&name) on the node ev starts, or NULL */
static const char *event_anchor(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return (const char *)ev->data.scalar.anchor;
	case YAML_MAPPING_START_EVENT:
		return (const char *)ev->data.mapping_start.anchor;
	case YAML_SEQUENCE_START_EVENT:
		return (const char *)ev->data.sequence_start.anchor;
	default:
		return NULL;
	}
}

/* n becomes the root, or the next kid of the innermost open collection */
static void attach(struct parse *P, struct ynode *n)
{
	if (P->depth == 0)
		P->d->root = n;
	else
		addkid(P->d, P->stack[P->depth - 1], n);
}

/* count a new node n against the limit, attach it, remember its anchor and
 * open it when it is a collection; -1 (reported) past the node limit */
static int place_node(struct parse *P, struct ynode *n, const char *anchor)
{
	if (++P->total > YAML_MAX_NODES) {
		perr(P->shown, n->line, n->col, "more than %u nodes", YAML_MAX_NODES);
		return -1;
	}
	attach(P, n);
	if (anchor) {
		P->anchors = xreallocarray(P->anchors, P->nanchors + 1, sizeof(*P->anchors));
		P->anchors[P->nanchors].name = xstrdup(anchor);
		P->anchors[P->nanchors].node = n;
		P->anchors[P->nanchors].open = n->kind != Y_SCALAR;
		P->nanchors++;
	}
	if (n->kind != Y_SCALAR)
		P->stack[P->depth++] = n;
	return 0;
}

/* a mapping's keys must be distinct plain strings; -1 (reported) at the first that is not */
static int check_keys(const char *shown, const struct ynode *m)
{
	struct htab seen = {0};
	size_t i;
	int rc = 0;

	for (i = 0; i < m->n; i += 2) {
		struct ynode *k = m->kids[i];

		if (k->kind != Y_SCALAR) {
			perr(shown, k->line, k->col, "mapping keys must be plain strings");
			rc = -1;
			break;
		}
		if (htab_put(&seen, k->str, k)) {
			perr(shown, k->line, k->col, "duplicate key '%s'", k->str);
			rc = -1;
			break;
		}
	}
	htab_free(&seen);
	return rc;
}

/* close the innermost collection: its expanded weight and bytes are now
 * known (capped just past the limits), an alias to it is no longer a cycle,
 * and a mapping's keys can be checked */
static int close_collection(struct parse *P)
{
	struct ynode *c = P->stack[--P->depth];
	size_t i;

	for (i = 0; i < c->n; i++) {
		c->weight += c->kids[i]->weight;
		if (c->weight > YAML_MAX_NODES)
			c->weight = YAML_MAX_NODES + 1;
		c->bytes += c->kids[i]->bytes;
		if (c->bytes > YAML_MAX_EXPANDED)
			c->bytes = YAML_MAX_EXPANDED + 1;
	}
	for (i = 0; i < P->nanchors; i++)
		if (P->anchors[i].node == c)
			P->anchors[i].open = 0;
	return c->kind == Y_MAP ? check_keys(P->shown, c) : 0;
}

/* an alias (*name) shares the anchored node; its expansion counts against
 * the limits here, so an alias bomb fails before anyone walks it */
static int resolve_alias(struct parse *P, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct anchor *a = NULL;
	size_t i;

	for (i = 0; i < P->nanchors && !a; i++)
		if (strcmp(P->anchors[i].name, name) == 0)
			a = &P->anchors[i];
	if (!a) {
		perr_at(P->shown, &ev->start_mark, "unknown alias '*%s'", name);
		return -1;
	}
	if (a->open) {
		perr_at(P->shown, &ev->start_mark, "alias '*%s' refers to a node that contains it", name);
		return -1;
	}
	P->total += a->node->weight;
	P->total_bytes += a->node->bytes;
	if (P->total_bytes > YAML_MAX_EXPANDED) {
		perr_at(P->shown, &ev->start_mark, "aliases expand to more than %u MiB of text (an alias bomb?)",
			YAML_MAX_EXPANDED >> 20);
		return -1;
	}
	if (P->total > YAML_MAX_NODES) {
		perr_at(P->shown, &ev->start_mark, "aliases expand to more than %u nodes (an alias bomb?)",
			YAML_MAX_NODES);
		return -1;
	}
	attach(P, a->node);
	return 0;
}

/* take one event into the tree; -1 (reported) when it breaks a rule or a limit */
static int parse_event(struct parse *P, const yaml_event_t *ev)
{
	struct ynode *n;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++P->docs > 1) {
			perr_at(P->shown, &ev->start_mark, "more than one YAML document in the file");
			return -1;
		}
		return 0;
	case YAML_SCALAR_EVENT:
		n = scalar_node(P, ev);
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		n = collection_node(P, ev);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return close_collection(P);
	case YAML_ALIAS_EVENT:
		return resolve_alias(P, ev);
	default:
		return 0;
	}
	return n ? place_node(P, n, event_anchor(ev)) : -1;
}

struct ydoc *ydoc_parse(const char *shown, const char *data, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct parse P = {.shown = shown, .total_bytes = len};
	size_t i;
	int done = 0, failed = 0, startv = yaml_errors;

	if (len > YAML_MAX_FILE) {
		perr(shown, 0, 0, "file is larger than %u MiB", YAML_MAX_FILE >> 20);
		return NULL;
	}
	if (check_bytes(shown, (const unsigned char *)data, len) < 0)
		return NULL;
	P.d = xcalloc(1, sizeof(*P.d));
	P.d->path = xstrdup(shown);
	if (!yaml_parser_initialize(&p))
		fatal("libyaml: out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	while (!done && !failed) {
		if (!yaml_parser_parse(&p, &ev)) {
			syntax_error(shown, &p, data, len);
			failed = 1;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		failed = parse_event(&P, &ev) < 0;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	for (i = 0; i < P.nanchors; i++)
		free(P.anchors[i].name);
	free(P.anchors);
	if (failed || yaml_errors != startv) {
		ydoc_free(P.d);
		return NULL;
	}
	return P.d;
}

struct ydoc *ydoc_load(const char *path, const char *shown)
{
	struct buffer b = {0};
	struct ydoc *d;

	if (read_file(path, &b, YAML_MAX_FILE) < 0) {
		int e = errno;

		buf_free(&b);
		if (e == EFBIG)
			perr(shown, 0, 0, "file is larger than %u MiB", YAML_MAX_FILE >> 20);
		else if (e != ENOENT)
			perr(shown, 0, 0, "cannot read: %s", strerror(e));
		errno = e;
		return NULL;
	}
	d = ydoc_parse(shown, b.data ? b.data : "", b.len);
	buf_free(&b);
	if (!d)
		errno = EINVAL;
	return d;
}

struct ynode *ymap_get(const struct ynode *m, const char *key)
{
	size_t i;

	if (!m || m->kind != Y_MAP)
		return NULL;
	for (i = 0; i < m->n; i += 2)
		if (strcmp(m->kids[i]->str, key) == 0)
			return m->kids[i + 1];
	return NULL;
}

int yis_null(const struct ynode *n)
{
	return !n || (n->kind == Y_SCALAR && n->plain &&
		      (n->len == 0 || strcmp(n->str, "null") == 0 || strcmp(n->str, "~") == 0 ||
		       strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0));
}

const char *ykind_name(const struct ynode *n)
{
	if (yis_null(n))
		return "null";
	switch (n->kind) {
	case Y_MAP: return "a mapping";
	case Y_SEQ: return "a list";
	default: return "a scalar";
	}
}

static void indent_to(struct buffer *b, int n)
{
	while (n-- > 0)
		buf_putc(b, ' ');
}

/* can s be written as a plain scalar and read back as the same string? */
/* the length of the UTF-8 character at p when YAML cannot hold it as it is,
 * else 0: C1 controls (U+0080-U+009F, U+0085 a line break among them), the
 * line and paragraph separators U+2028 and U+2029 (line breaks to a YAML
 * reader), the byte order mark U+FEFF, and the non-characters U+FFFE and
 * U+FFFF.  A double-quoted scalar escapes them; no other style can */
static size_t unsafe_char(const unsigned char *p)
{
	if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
		return 2;
	if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
		return 3;
	if (p[0] == 0xef && ((p[1] == 0xbb && p[2] == 0xbf) || (p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf))))
		return 3;
	return 0;
}

static int plain_ok(const char *s, int was_plain)
{
	static const char *const special[] = {"null", "Null", "NULL", "~", "true", "True", "TRUE",
					      "false", "False", "FALSE", "yes", "Yes", "YES", "no",
					      "No", "NO", "on", "On", "ON", "off", "Off", "OFF"};
	size_t len = strlen(s), i;
	const char *p;

	if (len == 0 || s[0] == ' ' || s[len - 1] == ' ' || s[len - 1] == ':')
		return 0;
	if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]) && !(s[0] == '-' && len > 1 && s[1] != ' ' && s[1] != '-'))
		return 0;
	for (p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f || (c >= 0xc2 && unsafe_char((const unsigned char *)p)))
			return 0;
		if ((c == ':' && p[1] == ' ') || (c == ' ' && p[1] == '#'))
			return 0;
	}
	if (!was_plain) {
		char *end;

		/* each special word starts with one of these */
		for (i = 0; strchr("nN~tTfFyYoO", s[0]) && i < LEN(special); i++)
			if (strcmp(s, special[i]) == 0)
				return 0;
		strtod(s, &end);
		if (*end == '\0')
			return 0;
	}
	return 1;
}

static int literal_ok(const char *s)
{
	const char *p;

	if (!strchr(s, '\n') || s[0] == ' ' || s[0] == '\t' || s[0] == '\n')
		return 0;
	for (p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f || (c >= 0xc2 && unsafe_char((const unsigned char *)p)))
			return 0;
		if (c == ' ' && p[1] == '\n')
			return 0;
	}
	return 1;
}

static void emit_quoted(struct buffer *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		size_t n = c >= 0xc2 ? unsafe_char((const unsigned char *)s) : 0;

		if (n) {
			/* two or three bytes of UTF-8: a lead byte with 5 or 4 bits of the
			 * code point, then continuation bytes with 6 bits each */
			unsigned cp = n == 2 ? (c & 0x1fu) << 6 | ((unsigned char)s[1] & 0x3fu)
					     : (c & 0x0fu) << 12 | ((unsigned char)s[1] & 0x3fu) << 6 | ((unsigned char)s[2] & 0x3fu);

			buf_printf(b, "\\u%04x", cp);
			s += n - 1;
			continue;
		}

		switch (c) {
		case '"': buf_puts(b, "\\\""); break;
		case '\\': buf_puts(b, "\\\\"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\t': buf_puts(b, "\\t"); break;
		case '\r': buf_puts(b, "\\r"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				buf_printf(b, "\\x%02x", c);
			else
				buf_putc(b, c);
		}
	}
	buf_putc(b, '"');
}

/* a scalar after "key:" or "- ": " value\n" or " |\n" and the block */
static void emit_scalar_value(struct buffer *b, const char *s, int was_plain, int indent)
{
	size_t len = strlen(s);
	const char *p, *e;

	if (literal_ok(s)) {
		buf_puts(b, len && s[len - 1] == '\n' ? (len > 1 && s[len - 2] == '\n' ? "|+\n" : "|\n") : "|-\n");
		for (p = s; *p; p = e + 1) {
			e = strchr(p, '\n');
			if (!e)
				e = s + len;
			if (e > p) {
				indent_to(b, indent);
				buf_add(b, p, (size_t)(e - p));
			}
			buf_putc(b, '\n');
			if (!*e)
				break;
			if (!e[1])
				break;
		}
		return;
	}
	if (plain_ok(s, was_plain))
		buf_puts(b, s);
	else
		emit_quoted(b, s);
	buf_putc(b, '\n');
}

void yemit_scalar(struct buffer *b, const char *s)
{
	if (plain_ok(s, 0))
		buf_puts(b, s);
	else
		emit_quoted(b, s);
}

void yemit_value(struct buffer *b, const struct ynode *v, int indent)
{
	if (v->kind == Y_SCALAR) {
		buf_putc(b, ' ');
		if (yis_null(v))
			buf_puts(b, "null\n");
		else
			emit_scalar_value(b, v->str, v->plain, indent);
	} else if (v->n == 0) {
		buf_puts(b, v->kind == Y_MAP ? " {}\n" : " []\n");
	} else {
		buf_putc(b, '\n');
		yemit(b, v, indent);
	}
}

void yemit(struct buffer *b, const struct ynode *n, int indent)
{
	size_t i;

	if (!n)
		return;
	switch (n->kind) {
	case Y_SCALAR:
		indent_to(b, indent);
		if (yis_null(n))
			buf_puts(b, "null\n");
		else
			emit_scalar_value(b, n->str, n->plain, indent + 2);
		break;
	case Y_MAP:
		for (i = 0; i < n->n; i += 2) {
			indent_to(b, indent);
			yemit_scalar(b, n->kids[i]->str);
			buf_putc(b, ':');
			yemit_value(b, n->kids[i + 1], indent + 2);
		}
		break;
	case Y_SEQ:
		for (i = 0; i < n->n; i++) {
			const struct ynode *k = n->kids[i];

			indent_to(b, indent);
			buf_putc(b, '-');
			if (k->kind == Y_SCALAR || k->n == 0) {
				yemit_value(b, k, indent + 2);
			} else {
				/* render the item two deeper, then drop its first indent: "- " stands there */
				struct buffer t = {0};

				yemit(&t, k, indent + 2);
				buf_putc(b, ' ');
				buf_add(b, t.data + indent + 2, t.len - (size_t)indent - 2);
				buf_free(&t);
			}
		}
		break;
	}
}

/* ---- Writing plan files with libyaml's emitter (used by discover.c). ----
 * Block style, two-space indent, lines folded near 80 columns, UTF-8; a
 * scalar that was quoted (or came from a JSON string) and would read back as
 * something else (null, a bool, a number, a date) is double-quoted, one with
 * line breaks is a literal block.  The same tree always gives the same bytes,
 * and what this writes reads back to a tree that it writes identically. */

struct ynode *ynode_new(enum ykind k)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->kind = k;
	n->weight = 1;
	return n;
}

struct ynode *ynode_str(const char *s, int plain)
{
	struct ynode *n = ynode_new(Y_SCALAR);

	n->str = xstrdup(s);
	n->len = strlen(s);
	n->plain = plain;
	return n;
}

void ynode_add(struct ynode *parent, struct ynode *kid)
{
	parent->kids = xreallocarray(parent->kids, parent->n + 1, sizeof(*parent->kids));
	parent->kids[parent->n++] = kid;
	parent->weight += kid->weight;
}

void ymap_put(struct ynode *map, const char *key, struct ynode *val)
{
	ynode_add(map, ynode_str(key, 1));
	ynode_add(map, val);
}

void ynode_free(struct ynode *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n; i++)
		ynode_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

/* 1 if s, written plain, would read back as something other than a string */
static int ambiguous(const char *s)
{
	static const char *const words[] = {"null", "Null", "NULL", "~", "true", "True", "TRUE", "false",
					    "False", "FALSE", "yes", "Yes", "YES", "no", "No", "NO", "on", "On",
					    "ON", "off", "Off", "OFF", "y", "Y", "n", "N", ".inf", ".Inf", ".INF",
					    "-.inf", "-.Inf", "-.INF", "+.inf", ".nan", ".NaN", ".NAN", "<<", "="};
	size_t i;

	if (!*s)
		return 1;
	for (i = 0; i < LEN(words); i++)
		if (strcmp(s, words[i]) == 0)
			return 1;
	if ((*s >= '0' && *s <= '9') || ((*s == '-' || *s == '+' || *s == '.') && s[1] >= '0' && s[1] <= '9'))
		return 1;
	return 0;
}

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
	buf_add(data, buffer, size);
	return 1;
}

static int emit_node(yaml_emitter_t *em, const struct ynode *n, int depth)
{
	yaml_event_t ev;
	size_t i;

	if (depth > YAML_MAX_DEPTH)
		return 0;
	if (n->kind == Y_SCALAR) {
		yaml_scalar_style_t st = YAML_PLAIN_SCALAR_STYLE;
		int plain_implicit = 1;

		if (!n->plain) {
			if (memchr(n->str, '\n', n->len))
				st = YAML_LITERAL_SCALAR_STYLE;
			else if (ambiguous(n->str))
				st = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		}
		if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)n->str, (int)n->len,
						  plain_implicit, 1, st))
			return 0;
		return yaml_emitter_emit(em, &ev);
	}
	if (n->kind == Y_SEQ) {
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return 0;
	} else if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE) ||
		   !yaml_emitter_emit(em, &ev))
		return 0;
	for (i = 0; i < n->n; i++)
		if (!emit_node(em, n->kids[i], depth + 1))
			return 0;
	if (n->kind == Y_SEQ)
		yaml_sequence_end_event_initialize(&ev);
	else
		yaml_mapping_end_event_initialize(&ev);
	return yaml_emitter_emit(em, &ev);
}

int yaml_write(struct buffer *out, const struct ynode *root)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	size_t start = out->len;
	int ok;

	if (!yaml_emitter_initialize(&em))
		return error("cannot start the YAML emitter");
	yaml_emitter_set_output(&em, write_handler, out);
	yaml_emitter_set_encoding(&em, YAML_UTF8_ENCODING);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_indent(&em, 2);
	yaml_emitter_set_width(&em, 80);
	yaml_emitter_set_break(&em, YAML_LN_BREAK);
	ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(&em, &ev) &&
	     yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && yaml_emitter_emit(&em, &ev) &&
	     emit_node(&em, root, 0) && yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
	     yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) && yaml_emitter_flush(&em);
	if (!ok) {
		error("cannot write YAML: %s", em.problem ? em.problem : "too deep or not representable");
		yaml_emitter_delete(&em);
		return -1;
	}
	yaml_emitter_delete(&em);
	/* after a block that keeps its final line breaks ("|+") libyaml ends the
	 * document with "...": the end of the file ends the block as well, and a
	 * plan file is one document, so the marker goes */
	if (out->len - start >= 5 && memcmp(out->data + out->len - 5, "\n...\n", 5) == 0)
		out->data[out->len -= 4] = '\0';
	return 0;
}
