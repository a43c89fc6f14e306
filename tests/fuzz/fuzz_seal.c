/*
 * fuzz_seal.c -- fuzz seal.c's ciphertext parser and opener: any input
 * fed to seal_parse() and seal_open() (under a fixed key) must be
 * refused with a 500 and a message, or (never, for random input) open.
 * The JSON form (seal_json()) gets the same input as a config.
 * Corpus: tests/fuzz/corpus/seal/.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portcullis.h"
#include "seal.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	keyed;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char	 key[SEAL_KEY_LEN] = { 1, 2, 3 };
	struct seal_box			 b;
	struct perr			 e;
	char				*s, *p, *j;
	size_t				 n;
	int				 changed;

	if (!keyed) {
		seal_key_set(key);
		keyed = 1;
	}
	s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	perr_clear(&e);
	if (seal_parse(s, size, &b, &e) == 0)
		seal_box_clear(&b);
	else if (e.status != 500 || e.msg[0] == '\0')
		abort();
	perr_clear(&e);
	if (seal_open(s, "t", "r", "c", &p, &n, &e) == 0)
		secret_free(p);
	else if (e.status != 500 || e.msg[0] == '\0' || p != NULL)
		abort();
	perr_clear(&e);
	if (seal_json(s, SEAL_OPEN, "t", "r", seal_auth_method_fields, &j,
	    &changed, &e) == 0)
		free(j);
	free(s);
	return 0;
}
