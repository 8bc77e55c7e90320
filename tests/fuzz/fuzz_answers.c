/* fuzz_answers.c: plans/answers.yaml as plan_load reads it, in a small valid project. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_plan_file("plans/answers.yaml", data, size);
	return 0;
}
