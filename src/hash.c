/* hash.c: SHA-256 of bytes and files with libcrypto's EVP interface. */
#include "hash.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>

void sha256_init(struct sha256 *h)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL))
		fatal("libcrypto: cannot start SHA-256");
	h->ctx = c;
}

void sha256_update(struct sha256 *h, const void *p, size_t n)
{
	if (n && !EVP_DigestUpdate(h->ctx, p, n))
		fatal("libcrypto: SHA-256 update failed");
}

void sha256_final_hex(struct sha256 *h, char out[HASH_HEX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	if (!EVP_DigestFinal_ex(h->ctx, md, &len))
		fatal("libcrypto: SHA-256 final failed");
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
	memcpy(out, "sha256:", 7);
	for (i = 0; i < len; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[7 + 2 * len] = '\0';
}

void sha256_hex(const void *p, size_t n, char out[HASH_HEX])
{
	struct sha256 h;

	sha256_init(&h);
	sha256_update(&h, p, n);
	sha256_final_hex(&h, out);
}

int sha256_file(const char *path, char out[HASH_HEX])
{
	char buf[65536];
	struct sha256 h;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	sha256_init(&h);
	for (;;) {
		r = read(fd, buf, sizeof(buf));
		if (r < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			EVP_MD_CTX_free(h.ctx);
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		sha256_update(&h, buf, (size_t)r);
	}
	close(fd);
	sha256_final_hex(&h, out);
	return 0;
}

int hash_valid(const char *s)
{
	size_t i;

	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
		return 0;
	for (i = 7; i < 71; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int hash_digits(const char *s, char hex[65])
{
	char full[HASH_HEX];

	if (!strncmp(s, "sha256:", 7))
		s += 7;
	if (strlen(s) != 64)
		return -1;
	snprintf(full, sizeof(full), "sha256:%s", s);
	if (!hash_valid(full))
		return -1;
	memcpy(hex, s, 65);
	return 0;
}
