/* driver.c: a main() for the harnesses without libFuzzer, so `make check`
 * can replay the stored corpus with gcc and the sanitizers.  Each argument is
 * an input file or a directory of them (read in name order); every input is
 * fed to LLVMFuzzerTestOneInput once.  Prints "N inputs" on stdout; a crash
 * is the sanitizers' to report. */
#include "fuzz.h"
#include "util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* run one input file; 0, or -1 when it cannot be read */
static int run(const char *path)
{
	struct buffer b = {0};

	if (read_file(path, &b, (size_t)64 << 20) < 0) {
		perror(path);
		return -1;
	}
	fprintf(stderr, "driver: %s\n", path);   /* the culprit, should the next line be a crash */
	LLVMFuzzerTestOneInput((const uint8_t *)(b.data ? b.data : ""), b.len);
	buf_free(&b);
	return 0;
}

int main(int argc, char **argv)
{
	size_t inputs = 0;
	int i, bad = 0;

	for (i = 1; i < argc; i++) {
		struct dirent **ents;
		struct stat st;
		int n, j;

		if (stat(argv[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
			bad |= run(argv[i]);
			inputs++;
			continue;
		}
		if ((n = scandir(argv[i], &ents, NULL, alphasort)) < 0) {
			perror(argv[i]);
			return 1;
		}
		for (j = 0; j < n; j++) {
			if (ents[j]->d_name[0] != '.') {
				char *path = path_join(argv[i], ents[j]->d_name);

				bad |= run(path);
				inputs++;
				free(path);
			}
			free(ents[j]);
		}
		free(ents);
	}
	printf("%zu inputs\n", inputs);
	return bad ? 1 : 0;
}
