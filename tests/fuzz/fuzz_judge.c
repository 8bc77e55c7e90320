/* fuzz_judge.c: a task's JSON answer through the judge's first two checks,
 * structure and paths, for a task with the outputs src/note.py and
 * docs/x.c in the scratch project. */
#include "fuzz.h"
#include "judge.h"

#include <stdlib.h>
#include <string.h>

/* where the last byte of each file goes, so the read cannot be left out */
static volatile unsigned char sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *outputs[] = {"src/note.py", "docs/x.c"};
	struct task t = {0};
	struct answer a;
	struct buffer err = {0};
	char *json = xstrndup((const char *)data, size);   /* the judge takes a C string */
	size_t i;

	t.id = "T-001";
	t.outputs = outputs;
	t.noutputs = LEN(outputs);
	if (judge_structure(json, &a, &err) == 0) {
		if (judge_paths(&a, &t, fuzz_project(), &err) == 0)
			for (i = 0; i < a.n; i++)   /* every byte the answer claims is there */
				sink ^= a.files[i].len ? (unsigned char)a.files[i].content[a.files[i].len - 1] : 0;
		answer_free(&a);
	}
	buf_free(&err);
	free(json);
	return 0;
}
