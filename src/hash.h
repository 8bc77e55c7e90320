/* hash.h: SHA-256 through libcrypto, the only room that includes OpenSSL.
 * Hashes are shown and stored as "sha256:" followed by 64 hex digits. */
#ifndef MPBUILD_HASH_H
#define MPBUILD_HASH_H

#include <stddef.h>

#define HASH_HEX 72    /* "sha256:" + 64 hex + NUL, rounded up */

struct sha256 {
	void *ctx;     /* EVP_MD_CTX */
};

/* start an incremental hash */
void sha256_init(struct sha256 *h);
/* add bytes */
void sha256_update(struct sha256 *h, const void *p, size_t n);
/* finish into out as "sha256:<hex>"; frees the context */
void sha256_final_hex(struct sha256 *h, char out[HASH_HEX]);
/* hash of a byte string as "sha256:<hex>" */
void sha256_hex(const void *p, size_t n, char out[HASH_HEX]);
/* hash of a file's contents; -1 with errno on error */
int sha256_file(const char *path, char out[HASH_HEX]);
/* 1 if s looks like "sha256:" and 64 lowercase hex digits */
int hash_valid(const char *s);
/* the 64 hex digits of "sha256:HEX" or of a bare HEX into hex; -1 when s is neither */
int hash_digits(const char *s, char hex[65]);

#endif
