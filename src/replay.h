/* replay.h: the offline provider (replay.c), answering from a cassette. */
#ifndef MPBUILD_REPLAY_H
#define MPBUILD_REPLAY_H

#include "wire.h"

/* the replay provider on a cassette directory (or .tar.zst); family is the
 * wire family its keys were made for */
struct provider *replay_open(const char *cassette, const char *family);

#endif
