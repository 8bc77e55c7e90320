/* replay.h: the offline provider (replay.c), answering from a cassette. */
#ifndef MPBUILD_REPLAY_H
#define MPBUILD_REPLAY_H

#include "wire.h"

/* the replay provider on a cassette directory (or .tar.zst); family is the
 * wire family its keys were made for */
struct provider *replay_open(const char *cassette, const char *family);
/* write the entry of one answered request into cassette directory dir
 * (--record), as replay_open reads it back */
void replay_record(const char *dir, const struct request *req, const char *answer, const struct usage *u);

#endif
