/* fuzz.h: what the fuzz harnesses share.  Each tests/fuzz/fuzz_FORMAT.c
 * defines LLVMFuzzerTestOneInput for one input format and calls the real
 * loader in src/; libFuzzer drives it under `make fuzz`, and driver.c feeds it
 * the stored corpus under `make check`.  Loaders that read a project
 * directory get the input written into a per-process scratch project. */
#ifndef MPBUILD_FUZZ_H
#define MPBUILD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* the entry point every harness defines (libFuzzer's name and signature) */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* this process's scratch project directory, made (with a small valid plan:
 * discovery, questions, masterplan, a generic rule) on the first call and
 * removed at exit; $MPBUILD_RULES points at its rules/ */
const char *fuzz_project(void);
/* write size bytes of data to rel under the scratch project, creating its
 * directory; aborts when it cannot (a harness that cannot write tests nothing) */
void fuzz_write(const char *rel, const uint8_t *data, size_t size);
/* put the scratch project's file rel back as fuzz_project made it (or remove
 * it when it made none), so one input does not change the next one's project */
void fuzz_restore(const char *rel);
/* write data as rel in the scratch project, then load and free the whole plan
 * with plan_load and plan_free, and restore rel */
void fuzz_plan_file(const char *rel, const uint8_t *data, size_t size);

#endif
