/* diff.h: unified diffs of two texts, line by line, as `diff -u` writes them.
 * Re-planning shows a model what changed in a plan's inputs since the plan
 * was made (SPEC 10.1 keeps these hints out of the key). */
#ifndef MPBUILD_DIFF_H
#define MPBUILD_DIFF_H

#include <stddef.h>
#include "util.h"

/* append to out the unified diff from a (alen bytes) to b (blen bytes) with
 * `context` lines of context around each change, headed "--- LABEL_A" and
 * "+++ LABEL_B" (e.g. "a/plans/discovery.yaml"); a last line without a
 * newline is followed by "\ No newline at end of file".  Appends nothing when
 * the texts are equal.  Returns the number of hunks. */
size_t diff_unified(const char *a, size_t alen, const char *b, size_t blen, const char *label_a,
		    const char *label_b, int context, struct buffer *out);

#endif
