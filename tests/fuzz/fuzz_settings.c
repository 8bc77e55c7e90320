/* fuzz_settings.c: mpbuild.yaml as plan_load reads it, in a small valid project. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_plan_file("mpbuild.yaml", data, size);
	return 0;
}
