/* fuzz_lock.c: mpbuild.lock as lockfile_read reads it.  A lock that reads
 * must render to bytes that read back and render the same (the lock is
 * rewritten from what was read, so a lossy round trip would corrupt it). */
#include "fuzz.h"
#include "lockfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lockfile lk, again;
	struct buffer once = {0}, twice = {0};

	fuzz_write("mpbuild.lock", data, size);
	if (lockfile_read(fuzz_project(), &lk, NULL) == 0) {
		lockfile_render(&lk, &once);
		fuzz_write("mpbuild.lock", (const uint8_t *)once.data, once.len);
		if (lockfile_read(fuzz_project(), &again, NULL) != 0) {
			fprintf(stderr, "a rendered lock does not read back:\n%s", buf_str(&once));
			abort();
		}
		lockfile_render(&again, &twice);
		if (once.len != twice.len || memcmp(once.data, twice.data, once.len) != 0) {
			fprintf(stderr, "a rendered lock renders differently when read back:\n%s---\n%s",
				buf_str(&once), buf_str(&twice));
			abort();
		}
		lockfile_free(&again);
		lockfile_free(&lk);
	}
	buf_free(&once);
	buf_free(&twice);
	fuzz_restore("mpbuild.lock");
	return 0;
}
