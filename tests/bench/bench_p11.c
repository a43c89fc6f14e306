/*
 * bench_p11.c -- leaf signing through a CA key in a PKCS#11 token
 * (SoftHSM) against the same with the CA key in memory: one thread,
 * x509_leaf_sign() on a prepared request, ROUNDS interleaved rounds of
 * SECONDS each, the ratio per round and its median.  Run by
 * tests/bench/pkcs11.sh, which makes the token:
 *
 *   bench_p11 MODULE URL PIN_FILE [SECONDS [ROUNDS]]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "portcullis.h"
#include "x509.h"

#define CID	"11111111-2222-3333-4444-555555555555"
#define URI	"spiffe://" CID ".consul/ns/default/dc/dc1/svc/web"

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct x509_ca *
make_ca(int token)
{
	struct x509_key	*k;
	struct x509_ca	*ca;
	struct perr	 e;
	char		*kpem, *root;

	perr_clear(&e);
	if ((token ? x509_ca_keygen("ec", 256, &k, &e) :
	    x509_key_generate("ec", 256, &k, &e)) == -1 ||
	    x509_key_pem(k, &kpem, &e) == -1 ||
	    x509_root_create(k, CID, 1, time(NULL), 86400, &root, &e) == -1 ||
	    x509_ca_load(kpem, root, &ca, &e) == -1) {
		fprintf(stderr, "bench_p11: %s\n", e.msg);
		exit(1);
	}
	x509_key_free(k);
	secret_free(kpem);
	free(root);
	return ca;
}

/* Leaves per second signed by ca for secs. */
static double
rate(struct x509_ca *ca, const struct x509_csr *csr, double secs)
{
	struct perr	 e;
	double		 t0 = now(), t;
	char		*pem;
	long		 n = 0;

	perr_clear(&e);
	do {
		if (x509_leaf_sign(ca, csr, (uint64_t)n + 2, time(NULL), 3600,
		    &pem, &e) == -1) {
			fprintf(stderr, "bench_p11: %s\n", e.msg);
			exit(1);
		}
		free(pem);
		n++;
	} while ((t = now()) - t0 < secs);
	return (double)n / (t - t0);
}

static int
cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	struct x509_ca	*mem, *tok;
	struct x509_csr	*csr;
	struct perr	 e;
	double		 secs, r[32], m, t;
	char		*key;
	int		 rounds, i;

	if (argc < 4)
		return 2;
	secs = argc > 4 ? atof(argv[4]) : 2;
	rounds = argc > 5 ? atoi(argv[5]) : 5;
	if (rounds < 1 || rounds > 32)
		rounds = 5;
	perr_clear(&e);
	if (x509_pkcs11_init(argv[1], argv[2], argv[3], &e) == -1 ||
	    x509_leaf_request(URI, &key, &csr, &e) == -1) {
		fprintf(stderr, "bench_p11: %s\n", e.msg);
		return 1;
	}
	secret_free(key);
	mem = make_ca(0);
	tok = make_ca(1);
	printf("%-34s %12s %12s %8s\n", "leaf signing, 1 thread (round)",
	    "memory/s", "SoftHSM/s", "ratio");
	for (i = 0; i < rounds; i++) {
		m = rate(mem, csr, secs);
		t = rate(tok, csr, secs);
		r[i] = t / m;
		printf("%-34d %12.0f %12.0f %8.3f\n", i + 1, m, t, r[i]);
	}
	qsort(r, (size_t)rounds, sizeof(r[0]), cmp);
	printf("SoftHSM / in-memory signing throughput ratio: median %.3f "
	    "(min %.3f, max %.3f, %d rounds)\n", r[rounds / 2], r[0],
	    r[rounds - 1], rounds);
	x509_ca_free(mem);
	x509_ca_free(tok);
	x509_csr_free(csr);
	return 0;
}
