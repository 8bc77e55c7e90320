/* fuzz_plans.c: plans/masterplan.yaml as plan_load reads it, in a small valid project. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_plan_file("plans/masterplan.yaml", data, size);
	return 0;
}
