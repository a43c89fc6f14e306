/*
 * fuzz_pem.c -- fuzz the PEM/DER parsers of x509.c with one input fed
 * to each: x509_csr_parse() (then x509_csr_check() and, when both
 * accept, x509_leaf_sign() with a CA made on first use, which copies
 * the CSR's SANs), x509_cert_info() and x509_key_load().  Every
 * refusal must be a 400 with a message.  Corpus: tests/fuzz/corpus/pem/.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "portcullis.h"
#include "x509.h"

#define FUZZ_CLUSTER	"11111111-2222-3333-4444-555555555555"
#define FUZZ_TD		FUZZ_CLUSTER ".consul"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct x509_ca	*ca;

static void
refused(const struct perr *e)
{
	if (e->status != 400 || e->msg[0] == '\0')
		abort();
}

static void
make_ca(void)
{
	struct x509_key	*k;
	struct perr	 e;
	char		*kpem, *root;

	if (x509_key_generate("ec", 256, &k, &e) == -1 ||
	    x509_key_pem(k, &kpem, &e) == -1 ||
	    x509_root_create(k, FUZZ_CLUSTER, 1, time(NULL), 86400, &root,
	    &e) == -1 || x509_ca_load(kpem, root, &ca, &e) == -1)
		abort();
	x509_key_free(k);
	secret_free(kpem);
	free(root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct x509_csr		*csr;
	struct x509_info	 info;
	struct x509_key		*key;
	struct perr		 e;
	char			*s, *leaf;

	if (size > 65536)
		return 0;
	if (ca == NULL)
		make_ca();
	s = xstrndup((const char *)data, size);

	if (x509_csr_parse(s, &csr, &e) == 0) {
		if (x509_csr_check(csr, FUZZ_TD, "dc1", &e) == 0) {
			if (x509_leaf_sign(ca, csr, 2, time(NULL), 3600, &leaf,
			    &e) == -1)
				abort();
			if (x509_cert_info(leaf, &info, &e) == -1)
				abort();
			x509_info_clear(&info);
			free(leaf);
		} else
			refused(&e);
		x509_csr_free(csr);
	} else
		refused(&e);

	if (x509_cert_info(s, &info, &e) == 0)
		x509_info_clear(&info);
	else
		refused(&e);

	if (x509_key_load(s, &key, &e) == 0)
		x509_key_free(key);
	else
		refused(&e);

	free(s);
	return 0;
}
