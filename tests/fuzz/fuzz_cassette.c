/* fuzz_cassette.c: a replay cassette entry as the replay provider reads it.
 * The input is one entry KEYHEX-1.json of a cassette directory: a call with
 * that key parses it as the answer, and a call with another key for target
 * T-001 reads it as the nearest recording to explain the miss.  An input that
 * starts like a tar or zstd file is a packed cassette (cassette.tar.zst),
 * unpacked by archive.c before the same miss path reads every entry. */
#include "fuzz.h"
#include "provider.h"

#include <stdlib.h>
#include <string.h>

#define HEX "1111111111111111111111111111111111111111111111111111111111111111"
#define HIT "sha256:" HEX
#define MISS "sha256:2222222222222222222222222222222222222222222222222222222222222222"

/* one replay call on cassette for key; its result is dropped */
static void call(const char *cassette, const char *key)
{
	struct provider *pv = replay_open(cassette, "anthropic");
	struct request req = {0};
	struct call_result res = {0};
	int i;

	if (!pv)
		return;
	req.target = "T-001";
	req.key = key;
	req.attempt = 1;
	req.model = "claude-haiku-5-5";
	req.max_tokens = 16000;
	for (i = 0; i < NLAYERS; i++)
		req.layer[i] = "";
	pv->call(pv, &req, &res);
	call_result_clear(&res);
	pv->close(pv);
}

static int packed(const uint8_t *data, size_t size)
{
	return (size >= 4 && memcmp(data, "\x28\xb5\x2f\xfd", 4) == 0) ||
	       (size >= 262 && memcmp(data + 257, "ustar", 5) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *rel = packed(data, size) ? "cassette.tar.zst" : "cassette/" HEX "-1.json";
	char *path = path_join(fuzz_project(), packed(data, size) ? "cassette.tar.zst" : "cassette");

	fuzz_write(rel, data, size);
	call(path, HIT);
	call(path, MISS);
	free(path);
	fuzz_restore(rel);
	return 0;
}
