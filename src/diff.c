/* diff.c: a shortest edit script between two texts' lines (Myers' O(ND)
 * algorithm in linear space: the middle snake found from both ends, then each
 * half recursively) turned into the hunks of a unified diff.  Lines compare
 * by content including their newline, through integer ids, so a last line
 * without a newline differs from the same line with one, as in diff(1). */
#include "diff.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* the edit distance bisect searches before it gives up on a region and
 * replaces it whole: bounds the time on large, very different texts (the
 * diff stays correct, only no longer minimal there) */
#define MAX_COST 4096

/* the lines of one text */
struct lines {
	const char **at;        /* start of each line */
	size_t *len;            /* its length, newline included when present */
	int *id;                /* equal lines have equal ids */
	size_t n;
};

/* an open-addressing table from line content to id */
struct idtab {
	size_t cap;
	const char **key;
	size_t *klen;
	int *val;
	int next;
};

static uint64_t fnv(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static int line_id(struct idtab *t, const char *s, size_t n)
{
	size_t i = (size_t)fnv(s, n) & (t->cap - 1);

	while (t->key[i]) {
		if (t->klen[i] == n && memcmp(t->key[i], s, n) == 0)
			return t->val[i];
		i = (i + 1) & (t->cap - 1);
	}
	t->key[i] = s;
	t->klen[i] = n;
	return t->val[i] = t->next++;
}

static void split_lines(const char *s, size_t len, struct lines *l)
{
	size_t i, start = 0, cap = 16;

	l->at = xcalloc(cap, sizeof(*l->at));
	l->len = xcalloc(cap, sizeof(*l->len));
	l->n = 0;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '\n')
			continue;
		if (i == len && start == len)
			break;          /* no empty line after a final newline */
		if (l->n == cap) {
			cap *= 2;
			l->at = xreallocarray(l->at, cap, sizeof(*l->at));
			l->len = xreallocarray(l->len, cap, sizeof(*l->len));
		}
		l->at[l->n] = s + start;
		l->len[l->n] = i - start + (i < len);
		l->n++;
		start = i + 1;
	}
}

static void number_lines(struct lines *l, struct idtab *t)
{
	size_t i;

	l->id = xcalloc(l->n + 1, sizeof(*l->id));
	for (i = 0; i < l->n; i++)
		l->id[i] = line_id(t, l->at[i], l->len[i]);
}

/* what the recursion shares: the two id sequences, the marks and scratch */
struct myers {
	const int *a, *b;
	char *del, *ins;        /* del[i]: line i of a is removed; ins[j]: line j of b is added */
	int *v1, *v2;           /* furthest reaching paths, forward and backward */
};

static void compare(struct myers *m, int a0, int a1, int b0, int b1);

/* the middle snake of a[a0,a1) and b[b0,b1) (both non-empty, no common
 * prefix or suffix), then each side of it; see Myers 1986, section 4b */
static void bisect(struct myers *m, int a0, int a1, int b0, int b1)
{
	const int *a = m->a + a0, *b = m->b + b0;
	int n = a1 - a0, k = b1 - b0;
	int maxd = (n + k + 1) / 2, off = maxd, vlen = 2 * maxd;
	int delta = n - k, front = (delta & 1) != 0;
	int k1start = 0, k1end = 0, k2start = 0, k2end = 0, d, i;
	int *v1 = m->v1, *v2 = m->v2;

	for (i = 0; i < vlen; i++)
		v1[i] = v2[i] = -1;
	v1[off + 1] = v2[off + 1] = 0;
	for (d = 0; d < maxd && d < MAX_COST; d++) {
		int k1, k2;

		for (k1 = -d + k1start; k1 <= d - k1end; k1 += 2) {
			int o1 = off + k1, x1, y1;

			x1 = k1 == -d || (k1 != d && v1[o1 - 1] < v1[o1 + 1]) ? v1[o1 + 1] : v1[o1 - 1] + 1;
			y1 = x1 - k1;
			while (x1 < n && y1 < k && a[x1] == b[y1])
				x1++, y1++;
			v1[o1] = x1;
			if (x1 > n) {
				k1end += 2;
			} else if (y1 > k) {
				k1start += 2;
			} else if (front) {
				int o2 = off + delta - k1;

				if (o2 >= 0 && o2 < vlen && v2[o2] != -1 && x1 >= n - v2[o2]) {
					compare(m, a0, a0 + x1, b0, b0 + y1);
					compare(m, a0 + x1, a1, b0 + y1, b1);
					return;
				}
			}
		}
		for (k2 = -d + k2start; k2 <= d - k2end; k2 += 2) {
			int o2 = off + k2, x2, y2;

			x2 = k2 == -d || (k2 != d && v2[o2 - 1] < v2[o2 + 1]) ? v2[o2 + 1] : v2[o2 - 1] + 1;
			y2 = x2 - k2;
			while (x2 < n && y2 < k && a[n - x2 - 1] == b[k - y2 - 1])
				x2++, y2++;
			v2[o2] = x2;
			if (x2 > n) {
				k2end += 2;
			} else if (y2 > k) {
				k2start += 2;
			} else if (!front) {
				int o1 = off + delta - k2;

				if (o1 >= 0 && o1 < vlen && v1[o1] != -1) {
					int x1 = v1[o1], y1 = off + x1 - o1;

					if (x1 >= n - x2) {
						compare(m, a0, a0 + x1, b0, b0 + y1);
						compare(m, a0 + x1, a1, b0 + y1, b1);
						return;
					}
				}
			}
		}
	}
	/* nothing in common, or too expensive to find out */
	memset(m->del + a0, 1, (size_t)n);
	memset(m->ins + b0, 1, (size_t)k);
}

static void compare(struct myers *m, int a0, int a1, int b0, int b1)
{
	while (a0 < a1 && b0 < b1 && m->a[a0] == m->b[b0])
		a0++, b0++;
	while (a0 < a1 && b0 < b1 && m->a[a1 - 1] == m->b[b1 - 1])
		a1--, b1--;
	if (a0 == a1)
		memset(m->ins + b0, 1, (size_t)(b1 - b0));
	else if (b0 == b1)
		memset(m->del + a0, 1, (size_t)(a1 - a0));
	else
		bisect(m, a0, a1, b0, b1);
}

/* one step of the edit script: ' ' kept, '-' removed, '+' added, with the
 * positions in a and b before it */
struct op {
	char kind;
	size_t ai, bj;
};

static void put_line(struct buffer *out, char kind, const struct lines *l, size_t i)
{
	buf_putc(out, kind);
	buf_add(out, l->at[i], l->len[i]);
	if (!l->len[i] || l->at[i][l->len[i] - 1] != '\n')
		buf_puts(out, "\n\\ No newline at end of file\n");
}

static void range(struct buffer *out, char sign, size_t start, size_t count)
{
	/* diff(1): an empty range names the line before it */
	if (count == 1)
		buf_printf(out, "%c%zu", sign, start + 1);
	else
		buf_printf(out, "%c%zu,%zu", sign, count ? start + 1 : start, count);
}

size_t diff_unified(const char *a, size_t alen, const char *b, size_t blen, const char *label_a,
		    const char *label_b, int context, struct buffer *out)
{
	struct idtab t = {0};
	struct lines la, lb;
	struct myers m;
	struct op *ops;
	size_t nops = 0, i, j, h, hunks = 0, ctx = context < 0 ? 0 : (size_t)context;

	split_lines(a ? a : "", a ? alen : 0, &la);
	split_lines(b ? b : "", b ? blen : 0, &lb);
	/* at most half full, however many lines are distinct */
	for (t.cap = 64; t.cap < 2 * (la.n + lb.n); t.cap *= 2)
		;
	t.key = xcalloc(t.cap, sizeof(*t.key));
	t.klen = xcalloc(t.cap, sizeof(*t.klen));
	t.val = xcalloc(t.cap, sizeof(*t.val));
	number_lines(&la, &t);
	number_lines(&lb, &t);
	m.a = la.id;
	m.b = lb.id;
	m.del = xcalloc(la.n + 1, 1);
	m.ins = xcalloc(lb.n + 1, 1);
	m.v1 = xcalloc(la.n + lb.n + 3, sizeof(int));
	m.v2 = xcalloc(la.n + lb.n + 3, sizeof(int));
	compare(&m, 0, (int)la.n, 0, (int)lb.n);
	ops = xcalloc(la.n + lb.n + 1, sizeof(*ops));
	for (i = j = 0; i < la.n || j < lb.n;) {
		struct op *o = &ops[nops++];

		o->ai = i;
		o->bj = j;
		if (i < la.n && m.del[i])
			o->kind = '-', i++;
		else if (j < lb.n && m.ins[j])
			o->kind = '+', j++;
		else
			o->kind = ' ', i++, j++;
	}
	for (h = 0; h < nops;) {
		size_t first, last, start, end, na = 0, nb = 0, k;

		while (h < nops && ops[h].kind == ' ')
			h++;
		if (h == nops)
			break;
		first = last = h;
		/* take in later changes while the kept lines between them fit twice the context */
		for (k = h + 1; k < nops; k++) {
			if (ops[k].kind == ' ')
				continue;
			if (k - last - 1 > 2 * ctx)
				break;
			last = k;
		}
		start = first > ctx ? first - ctx : 0;
		end = last + 1 + ctx < nops ? last + 1 + ctx : nops;
		for (k = start; k < end; k++) {
			na += ops[k].kind != '+';
			nb += ops[k].kind != '-';
		}
		if (!hunks++)
			buf_printf(out, "--- %s\n+++ %s\n", label_a, label_b);
		buf_puts(out, "@@ ");
		range(out, '-', ops[start].ai, na);
		buf_putc(out, ' ');
		range(out, '+', ops[start].bj, nb);
		buf_puts(out, " @@\n");
		for (k = start; k < end; k++) {
			if (ops[k].kind == '+')
				put_line(out, '+', &lb, ops[k].bj);
			else
				put_line(out, ops[k].kind, &la, ops[k].ai);
		}
		h = end;
	}
	free(ops);
	free(m.del);
	free(m.ins);
	free(m.v1);
	free(m.v2);
	free(la.at);
	free(la.len);
	free(la.id);
	free(lb.at);
	free(lb.len);
	free(lb.id);
	free(t.key);
	free(t.klen);
	free(t.val);
	return hunks;
}
