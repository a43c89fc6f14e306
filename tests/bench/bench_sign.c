/*
 * bench_sign.c -- the raw GnuTLS baseline for leaf issuance
 * (tests/bench/ca.sh): per iteration a fresh EC P-256 key and a
 * certificate for it signed by an EC P-256 CA key, the two things the
 * leaf endpoint cannot avoid.  Runs NPROC processes for SECONDS and
 * prints the total rate (per second) and the CPU time one operation
 * cost its processes (microseconds, getrusage of the children): on a
 * machine shared with other work the rate moves with their load, the
 * CPU time per operation far less.
 *
 *   bench_sign SECONDS NPROC
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long
loop(double seconds)
{
	gnutls_x509_privkey_t	 ca, k;
	gnutls_x509_crt_t	 crt;
	unsigned char		 serial[8];
	double			 end = now() + seconds;
	long			 n = 0;
	time_t			 t = time(NULL);

	gnutls_x509_privkey_init(&ca);
	gnutls_x509_privkey_generate(ca, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	while (now() < end) {
		gnutls_x509_privkey_init(&k);
		if (gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
		    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0)
			exit(1);
		gnutls_x509_crt_init(&crt);
		gnutls_x509_crt_set_version(crt, 3);
		serial[0] = 1;
		serial[1] = (unsigned char)n;
		gnutls_x509_crt_set_serial(crt, serial, 2);
		gnutls_x509_crt_set_activation_time(crt, t - 60);
		gnutls_x509_crt_set_expiration_time(crt, t + 72 * 3600);
		gnutls_x509_crt_set_key(crt, k);
		gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
		gnutls_x509_crt_set_key_usage(crt,
		    GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT);
		gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_URI,
		    "spiffe://x.consul/ns/default/dc/dc1/svc/web", 43,
		    GNUTLS_FSAN_SET);
		if (gnutls_x509_crt_sign2(crt, crt, ca, GNUTLS_DIG_SHA256, 0) < 0)
			exit(1);
		gnutls_x509_crt_deinit(crt);
		gnutls_x509_privkey_deinit(k);
		n++;
	}
	gnutls_x509_privkey_deinit(ca);
	return n;
}

int
main(int argc, char **argv)
{
	double		 seconds = argc > 1 ? atof(argv[1]) : 5;
	int		 nproc = argc > 2 ? atoi(argv[2]) : 2, i;
	struct rusage	 ru;
	double		 cpu;
	long		*counts;

	counts = mmap(NULL, sizeof(long) * (size_t)nproc, PROT_READ |
	    PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	for (i = 0; i < nproc; i++)
		if (fork() == 0) {
			gnutls_global_init();
			counts[i] = loop(seconds);
			_exit(0);
		}
	while (wait(NULL) > 0)
		;
	for (i = 1; i < nproc; i++)
		counts[0] += counts[i];
	getrusage(RUSAGE_CHILDREN, &ru);
	cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	printf("%.0f %.1f\n", counts[0] / seconds,
	    counts[0] > 0 ? cpu * 1e6 / counts[0] : 0);
	return 0;
}
