/*
 * test_x509.c -- x509.c: CA keys, roots, cross-signing, CSRs, leaves
 * and CRLs.  Every certificate GnuTLS makes here is read back by an
 * independent parser (python3-cryptography, tests/unit/check_cert.py)
 * field by field, and chains are verified by "openssl verify
 * -x509_strict" when openssl is installed.  Inputs GnuTLS did not make
 * (operator keys and roots, odd CSRs) come from check_cert.py too.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <gnutls/x509-ext.h>

#include "portcullis.h"
#include "spiffe.h"
#include "x509.h"
#include "tap.h"

#define CLUSTER	"11111111-2222-3333-4444-555555555555"
#define TD	CLUSTER ".consul"
#define SVC_URI	"spiffe://" TD "/ns/default/dc/dc1/svc/web"
#define DAY	86400

static char	 tmpdir[64];
static char	 script[PATH_MAX];
static int	 have_openssl;

/* "key=value" lines of the last check_cert.py dump. */
static struct kv {
	char	*k, *v;
}		 kvs[64];
static int	 nkv;

static const char *
tpath(const char *name)
{
	static char	buf[4][256];
	static int	i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

static void
write_file(const char *name, const char *s)
{
	FILE	*f;

	if ((f = fopen(tpath(name), "w")) == NULL) {
		perror(name);
		exit(2);
	}
	fputs(s, f);
	fclose(f);
}

/* Print a tool's output as TAP comment lines. */
static void
comment(const char *who, const char *out)
{
	const char	*p, *nl;

	printf("# %s:\n", who);
	for (p = out; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL) {
			printf("#   %s\n", p);
			break;
		}
		printf("#   %.*s\n", (int)(nl - p), p);
	}
}

/* Run a shell command; return its exit status, output in *out. */
static int
run(char **out, const char *fmt, ...)
{
	va_list	 ap;
	char	*cmd, *buf = NULL;
	size_t	 n = 0, cap = 0, r;
	FILE	*p;
	int	 st;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		exit(2);
	va_end(ap);
	if ((p = popen(cmd, "r")) == NULL)
		exit(2);
	for (;;) {
		if (cap - n < 4096) {
			cap = cap * 2 + 4096;
			buf = xrealloc(buf, cap);
		}
		if ((r = fread(buf + n, 1, cap - n - 1, p)) == 0)
			break;
		n += r;
	}
	buf[n] = '\0';
	st = pclose(p);
	free(cmd);
	if (out != NULL)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run check_cert.py with args and load its key=value output. */
static int
dump(const char *args)
{
	char	*out, *line, *save, *eq;
	int	 i, rc;

	for (i = 0; i < nkv; i++) {
		free(kvs[i].k);
		free(kvs[i].v);
	}
	nkv = 0;
	rc = run(&out, "cd %s && /usr/bin/python3 %s %s 2>&1", tmpdir, script,
	    args);
	for (line = strtok_r(out, "\n", &save); line != NULL && nkv < 64;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		kvs[nkv].k = xstrndup(line, (size_t)(eq - line));
		kvs[nkv].v = xstrdup(eq + 1);
		nkv++;
	}
	if (rc != 0)
		comment("check_cert.py failed", out);
	free(out);
	return rc;
}

static const char *
dv(const char *k)
{
	int	i;

	for (i = 0; i < nkv; i++)
		if (strcmp(kvs[i].k, k) == 0)
			return kvs[i].v;
	return "(missing)";
}

static char *
py_make(const char *args)
{
	char	*out;

	if (run(&out, "cd %s && /usr/bin/python3 %s %s", tmpdir, script,
	    args) != 0) {
		printf("# check_cert.py %s failed\n", args);
		exit(2);
	}
	return out;
}

/* openssl verify -x509_strict; returns 1 when the chain verifies. */
static int
ossl_verify(const char *ca, const char *untrusted, const char *leaf)
{
	char	*out;
	int	 rc;

	rc = run(&out, "openssl verify -x509_strict -CAfile %s %s%s %s 2>&1",
	    tpath(ca), untrusted ? "-untrusted " : "",
	    untrusted ? tpath(untrusted) : "", tpath(leaf));
	if (rc != 0)
		comment("openssl", out);
	free(out);
	return rc == 0;
}

static char *
lltoa(long long v)
{
	static char	buf[4][32];
	static int	i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%lld", v);
	return buf[i];
}

/* Every line of a PEM is at most 64 characters; it ends in "\n". */
static int
pem_lines_ok(const char *pem)
{
	const char	*p, *nl;

	for (p = pem; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			return 0;
		if (nl - p > 64 && strncmp(p, "-----", 5) != 0)
			return 0;
	}
	return pem[0] != '\0';
}

static void
test_serial_hex(void)
{
	static const struct {
		uint64_t	 v;
		const char	*want;
	} t[] = {
		{ 8, "08" },
		{ 300, "01:2c" },
		{ 200, "c8" },
		{ 255, "ff" },
		{ 256, "01:00" },
		{ 0, "" },
		{ 0x8000000000000000ULL, "80:00:00:00:00:00:00:00" },
		{ UINT64_MAX, "ff:ff:ff:ff:ff:ff:ff:ff" },
	};
	char	buf[X509_SERIAL_HEXLEN];
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		x509_serial_hex(t[i].v, buf, sizeof(buf));
		is_str(buf, t[i].want, "serial %llu formats as Consul's hex",
		    (unsigned long long)t[i].v);
	}
}

static void
test_keygen_errors(void)
{
	static const struct {
		const char	*type;
		int		 bits;
		const char	*want;
	} t[] = {
		{ "ec", 255, "error generating ECDSA private key: unknown "
		    "curve length 255" },
		{ "rsa", 256, "RSA key length must be 2048 or 4096 bits" },
		{ "rsa", 1024, "RSA key length must be 2048 or 4096 bits" },
		{ "dsa", 2048, "unknown private key type requested: dsa" },
	};
	struct x509_key	*k;
	struct perr	 e;
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		perr_clear(&e);
		ok(x509_key_generate(t[i].type, t[i].bits, &k, &e) == -1 &&
		    k == NULL, "generating %s/%d fails", t[i].type, t[i].bits);
		is_int(e.status, 400, "... with 400");
		is_str(e.msg, t[i].want, "... and Consul's text");
	}
}

/*
 * Generate a key, make a root, and have both read back independently.
 */
static void
test_root(const char *type, int bits, const char *label,
    const char *want_key, const char *want_hash)
{
	struct x509_key		*k = NULL, *k2 = NULL;
	struct x509_ca		*ca = NULL;
	struct x509_info	 info;
	struct perr		 e;
	char			*kpem = NULL, *root = NULL, want[128];
	time_t			 now = time(NULL);
	int			 r;

	perr_clear(&e);
	r = x509_key_generate(type, bits, &k, &e);
	ok(r == 0, "%s/%d key generated (%s)", type, bits, e.msg);
	if (r != 0)
		return;
	is_str(x509_key_type(k), type, "key type is %s", type);
	is_int(x509_key_bits(k), bits, "key bits is %d", bits);
	ok(x509_key_pem(k, &kpem, &e) == 0, "key exports as PEM");
	snprintf(want, sizeof(want), "-----BEGIN %s-----\n", label);
	ok(strncmp(kpem, want, strlen(want)) == 0, "PEM label is %s", label);
	ok(pem_lines_ok(kpem), "PEM lines are 64 columns, ends in newline");
	ok(x509_key_load(kpem, &k2, &e) == 0 &&
	    strcmp(x509_key_type(k2), type) == 0 && x509_key_bits(k2) == bits,
	    "exported key loads back as %s/%d", type, bits);

	ok(x509_root_create(k, CLUSTER, 8, now, 10 * 365 * DAY, &root,
	    &e) == 0, "root created (%s)", e.msg);
	write_file("root.pem", root);
	ok(dump("cert root.pem") == 0, "python reads the root");
	is_str(dv("version"), "v3", "root: v3");
	is_str(dv("serial"), "8", "root: serial 8");
	ok(strncmp(dv("subject"), "CN=pri-", 7) == 0 &&
	    strlen(dv("subject")) == strlen("CN=pri-12345678.consul.ca."
	    "11111111.consul") &&
	    strcmp(dv("subject") + 15, ".consul.ca.11111111.consul") == 0,
	    "root: CN=pri-<8>.consul.ca.<8 of cluster>.consul (%s)",
	    dv("subject"));
	is_str(dv("issuer"), dv("subject"), "root: issuer = subject");
	is_str(dv("not_before"), lltoa(now), "root: NotBefore = now");
	is_str(dv("not_after"), lltoa(now + 10 * 365 * DAY),
	    "root: NotAfter = now + TTL");
	is_str(dv("ku"), "critical:digital_signature,key_cert_sign,crl_sign",
	    "root: critical KU digitalSignature, keyCertSign, cRLSign");
	is_str(dv("bc"), "critical:ca=true,pathlen=none",
	    "root: critical CA:TRUE, no pathlen");
	is_str(dv("eku"), "none", "root: no EKU");
	snprintf(want, sizeof(want), "noncritical:%s", dv("spki_sha256"));
	is_str(dv("ski"), want, "root: SKI = SHA-256 of SPKI");
	is_str(dv("aki"), want, "root: AKI = SKI");
	is_str(dv("san"), "noncritical:URI:spiffe://" TD,
	    "root: one non-critical URI SAN spiffe://<td>");
	is_str(dv("ext_oids"), "2.5.29.14,2.5.29.15,2.5.29.17,2.5.29.19,"
	    "2.5.29.35", "root: SKI, KU, SAN, BC, AKI and nothing else");
	is_str(dv("key"), want_key, "root: key %s", want_key);
	is_str(dv("sig_hash"), want_hash, "root: signed with %s", want_hash);
	is_str(dv("self_sig"), "valid", "root: self-signature verifies");

	ok(x509_cert_info(root, &info, &e) == 0, "x509_cert_info reads root");
	is_str(info.id, dv("sha1"), "info: ID = SHA-1 of DER, colon hex");
	is_int(strlen(info.id), 59, "info: ID is 59 characters");
	is_str(info.subject_key_id, dv("spki_sha256"),
	    "info: SigningKeyID = SKI colon hex");
	is_int(strlen(info.subject_key_id), 95, "info: key id 95 chars");
	is_int(info.serial, 8, "info: serial 8");
	is_str(info.serial_hex, "08", "info: serial hex 08");
	is_int(info.not_before, now, "info: NotBefore");
	is_int(info.not_after, now + 10 * 365 * DAY, "info: NotAfter");
	is_str(info.key_type, type, "info: key type");
	is_int(info.key_bits, bits, "info: key bits");
	is_int(info.is_ca, 1, "info: is CA");
	is_str(info.uri, "spiffe://" TD, "info: URI");
	ok(strncmp(info.subject, "CN=pri-", 7) == 0, "info: subject");
	x509_info_clear(&info);

	ok(x509_ca_load(kpem, root, &ca, &e) == 0, "key and root load as CA");
	if (have_openssl)
		ok(ossl_verify("root.pem", NULL, "root.pem"),
		    "openssl -x509_strict accepts the root");
	x509_ca_free(ca);
	x509_key_free(k);
	x509_key_free(k2);
	secret_free(kpem);
	free(root);
}

/* A CA on a fresh P-256 key; its PEMs are left in *kpem and *root. */
static struct x509_ca *
make_ca(const char *type, int bits, uint64_t serial, time_t now,
    char **kpem, char **root)
{
	struct x509_key	*k;
	struct x509_ca	*ca;
	struct perr	 e;

	if (x509_key_generate(type, bits, &k, &e) == -1 ||
	    x509_key_pem(k, kpem, &e) == -1 ||
	    x509_root_create(k, CLUSTER, serial, now, 365 * DAY, root,
	    &e) == -1 || x509_ca_load(*kpem, *root, &ca, &e) == -1) {
		printf("# make_ca: %s\n", e.msg);
		exit(2);
	}
	x509_key_free(k);
	return ca;
}

static void
test_key_load(void)
{
	static const struct {
		const char	*kind;	/* check_cert.py genkey KIND */
		const char	*type;
		int		 bits;
		const char	*err;
	} t[] = {
		{ "ec256", "ec", 256, NULL },			/* PKCS#8 */
		{ "ec384-trad", "ec", 384, NULL },		/* SEC1 */
		{ "ec521", "ec", 521, NULL },
		{ "rsa2048-trad", "rsa", 2048, NULL },		/* PKCS#1 */
		{ "rsa2048", "rsa", 2048, NULL },		/* PKCS#8 */
		{ "ed25519", NULL, 0, "unsupported private key type: EdDSA "
		    "(Ed25519)" },
		{ "eck1-trad", NULL, 0, "error parsing private key: ASN1 "
		    "parser: Error in DER parsing." },	/* unknown curve */
		{ "rsa1024-trad", NULL, 0, "RSA key length must be at least "
		    "2048 bits" },
	};
	static const struct {
		const char	*pem;
		const char	*err;
	} bad[] = {
		{ "", "no PEM-encoded data found" },
		{ "garbage", "no PEM-encoded data found" },
		{ "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
		    "\n", "unknown PEM block type for signing key: "
		    "CERTIFICATE" },
		{ "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END "
		    "ENCRYPTED PRIVATE KEY-----\n", "unknown PEM block type "
		    "for signing key: ENCRYPTED PRIVATE KEY" },
		{ "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE "
		    "KEY-----\n", NULL },
		{ "-----BEGIN EC PRIVATE KEY-----\n!!!!\n-----END EC PRIVATE "
		    "KEY-----\n", "no PEM-encoded data found" },
	};
	struct x509_key	*k;
	struct perr	 e;
	char		*pem;
	size_t		 i;
	int		 r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char	args[64];

		snprintf(args, sizeof(args), "genkey %s", t[i].kind);
		pem = py_make(args);
		perr_clear(&e);
		r = x509_key_load(pem, &k, &e);
		if (t[i].err == NULL) {
			ok(r == 0 && strcmp(x509_key_type(k), t[i].type) == 0 &&
			    x509_key_bits(k) == t[i].bits,
			    "operator key %s loads as %s/%d (%s)", t[i].kind,
			    t[i].type, t[i].bits, e.msg);
			x509_key_free(k);
		} else {
			ok(r == -1 && k == NULL && e.status == 400,
			    "operator key %s is refused with 400", t[i].kind);
			is_str(e.msg, t[i].err, "... saying so");
		}
		ok(strstr(e.msg, "PRIVATE KEY-----") == NULL &&
		    strstr(e.msg, pem + 40) == NULL,
		    "... and the key is not in the message");
		free(pem);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		perr_clear(&e);
		r = x509_key_load(bad[i].pem, &k, &e);
		ok(r == -1 && e.status == 400, "bad key PEM %zu refused", i);
		if (bad[i].err != NULL)
			is_str(e.msg, bad[i].err, "... with Consul's text");
		else
			ok(strncmp(e.msg, "error parsing private key: ", 27) ==
			    0, "... as unparseable (%s)", e.msg);
	}
	/* An EC PRIVATE KEY label around an RSA key is refused. */
	pem = py_make("genkey rsa2048-trad");
	memcpy(strstr(pem, "RSA PRIVATE"), " EC PRIVATE", 11);
	memcpy(strstr(pem, "RSA PRIVATE"), " EC PRIVATE", 11);
	r = x509_key_load(strstr(pem, "-----BEGIN"), &k, &e);
	ok(r == -1, "RSA key under an EC label is refused (%s)", e.msg);
	free(pem);
}

static void
test_ca_load(void)
{
	struct x509_ca	*ca, *ca2;
	struct x509_info info;
	struct x509_csr	*csr;
	struct perr	 e;
	char		*kpem, *root, *kpem2, *root2, *opkey, *oproot, *leaf;
	char		*key, *csrpem, args[300], want[256];
	time_t		 now = time(NULL);

	ca = make_ca("ec", 256, 5, now, &kpem, &root);
	ca2 = make_ca("ec", 256, 6, now, &kpem2, &root2);
	x509_ca_free(ca2);
	perr_clear(&e);
	ok(x509_ca_load(kpem2, root, &ca2, &e) == -1 && ca2 == NULL,
	    "a key that is not the root's is refused");
	is_int(e.status, 400, "... with 400");
	is_str(e.msg, "private key does not match the CA certificate",
	    "... saying so");
	ok(x509_ca_load(kpem, "", &ca2, &e) == -1 &&
	    strcmp(e.msg, "no PEM-encoded data found") == 0,
	    "an empty root is refused");
	ok(x509_ca_load(kpem, kpem, &ca2, &e) == -1 &&
	    strcmp(e.msg, "first PEM-block should be CERTIFICATE type") == 0,
	    "a key where the root should be is refused");

	/* Operator root (python-made, SHA-1 SKI, serial > 2^63). */
	opkey = py_make("genkey ec256");
	write_file("opkey.pem", opkey);
	snprintf(args, sizeof(args), "mkroot %s", tpath("opkey.pem"));
	oproot = py_make(args);
	ok(x509_ca_load(opkey, oproot, &ca2, &e) == 0,
	    "operator PKCS#8 key and root load (%s)", e.msg);
	ok(x509_cert_info(oproot, &info, &e) == 0, "operator root info");
	is_int(strlen(info.subject_key_id), 59, "its SKI is 20 bytes");
	is_int(info.serial, UINT64_MAX - 4, "serial above 2^63 is unsigned");
	is_str(info.serial_hex, "ff:ff:ff:ff:ff:ff:ff:fb",
	    "... and its hex has no sign byte");
	ok(x509_leaf_keygen(SVC_URI, &key, &csrpem, &e) == 0 &&
	    x509_csr_parse(csrpem, &csr, &e) == 0 &&
	    x509_csr_check(csr, TD, "dc1", &e) == 0 &&
	    x509_leaf_sign(ca2, csr, 9, now, 3 * DAY, &leaf, &e) == 0,
	    "operator CA signs a leaf (%s)", e.msg);
	write_file("opleaf.pem", leaf);
	write_file("oproot.pem", oproot);
	dump("cert opleaf.pem");
	snprintf(want, sizeof(want), "noncritical:%s", info.subject_key_id);
	is_str(dv("aki"), want, "leaf AKI = operator root's SHA-1 SKI");
	if (have_openssl)
		ok(ossl_verify("oproot.pem", NULL, "opleaf.pem"),
		    "openssl verifies the leaf against the operator root");
	x509_info_clear(&info);
	x509_csr_free(csr);
	secret_free(key);
	free(csrpem);
	free(leaf);
	x509_ca_free(ca2);
	free(oproot);

	/* A non-CA cert with its own key is no CA. */
	snprintf(args, sizeof(args), "mkroot %s noca", tpath("opkey.pem"));
	oproot = py_make(args);
	ok(x509_ca_load(opkey, oproot, &ca2, &e) == -1 && e.status == 400,
	    "a CA:FALSE certificate is refused as CA (%s)", e.msg);
	free(oproot);
	secret_free(opkey);

	ok(x509_ca_check_expired(ca, now, &e) == 0, "fresh root not expired");
	ok(x509_ca_check_expired(ca, now + 366 * DAY, &e) == -1,
	    "root past NotAfter is expired");
	is_int(e.status, 500, "... 500");
	ok(strncmp(e.msg, "root expired: certificate expired, expiration "
	    "date: ", 51) == 0 && strcmp(e.msg + strlen(e.msg) - 5, " UTC ")
	    == 0, "... with Consul's text (%s)", e.msg);

	x509_ca_free(ca);
	secret_free(kpem);
	secret_free(kpem2);
	free(root);
	free(root2);
}

/* Leaf key + CSR for the agent, checked by python. */
static void
test_leaf_keygen(void)
{
	struct perr	 e;
	char		*key, *csr;

	ok(x509_leaf_keygen(SVC_URI, &key, &csr, &e) == 0,
	    "leaf key and CSR generated");
	ok(strncmp(key, "-----BEGIN EC PRIVATE KEY-----\n", 31) == 0,
	    "leaf key is SEC1 EC PRIVATE KEY");
	ok(pem_lines_ok(key) && pem_lines_ok(csr), "64-column PEM");
	write_file("csr.pem", csr);
	ok(dump("csr csr.pem") == 0, "python reads the CSR");
	is_str(dv("pem_label"), "-----BEGIN CERTIFICATE REQUEST-----",
	    "CSR: PEM label CERTIFICATE REQUEST");
	is_str(dv("subject"), "", "CSR: empty subject");
	is_str(dv("san"), "critical:URI:" SVC_URI, "CSR: one critical URI SAN");
	is_str(dv("key"), "ec:256", "CSR: EC P-256");
	is_str(dv("sig_hash"), "sha256", "CSR: ECDSA-SHA256");
	is_str(dv("sig"), "valid", "CSR: signature verifies");
	secret_free(key);
	free(csr);

	ok(x509_leaf_keygen("http://x/", &key, &csr, &e) == -1 &&
	    e.status == 400 && key == NULL && csr == NULL,
	    "no CSR for a non-SPIFFE URI");
}

static void
test_csr_errors(void)
{
	static const struct {
		const char	*kind;	/* check_cert.py mkcsr KIND */
		const char	*err;
	} t[] = {
		{ "two-uris", "CSR SAN contains an invalid number of URIs: 2" },
		{ "no-uri", "CSR SAN contains an invalid number of URIs: 0" },
		{ "no-san", "CSR SAN contains an invalid number of URIs: 0" },
		{ "email", "CSR SAN does not allow specifying email "
		    "addresses" },
		{ "bad-uri", "SPIFFE ID must have 'spiffe' scheme" },
		{ "bad-sig", "CSR signature is invalid" },
		{ "rsa1024", "CSR RSA key length must be at least 2048 bits" },
		{ "ed25519", "unsupported CSR public key type: EdDSA "
		    "(Ed25519)" },
		{ "secp256k1", "error parsing CSR public key: The curve is "
		    "unsupported" },
	};
	static const struct {
		const char	*pem;
		const char	*err;
	} bad[] = {
		{ "", "no PEM-encoded data found" },
		{ "-----BEGIN CERTIFICATE REQUEST-----\n", "no PEM-encoded "
		    "data found" },
		{ "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE"
		    "-----\n", "first PEM-block should be CERTIFICATE REQUEST "
		    "type" },
		{ "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END "
		    "CERTIFICATE REQUEST-----\n", NULL },
	};
	struct x509_csr	*c;
	struct perr	 e;
	char		*pem, args[64];
	size_t		 i;
	int		 r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(args, sizeof(args), "mkcsr %s", t[i].kind);
		pem = py_make(args);
		perr_clear(&e);
		r = x509_csr_parse(pem, &c, &e);
		ok(r == -1 && c == NULL && e.status == 400,
		    "CSR %s refused with 400", t[i].kind);
		is_str(e.msg, t[i].err, "... saying so");
		free(pem);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		perr_clear(&e);
		r = x509_csr_parse(bad[i].pem, &c, &e);
		ok(r == -1 && e.status == 400, "malformed CSR PEM %zu refused",
		    i);
		if (bad[i].err != NULL)
			is_str(e.msg, bad[i].err, "... with Consul's text");
		else
			ok(strncmp(e.msg, "error parsing CSR: ", 19) == 0,
			    "... as unparseable (%s)", e.msg);
	}
	/* An RSA 2048 CSR is fine. */
	pem = py_make("mkcsr rsa2048");
	ok(x509_csr_parse(pem, &c, &e) == 0, "RSA 2048 CSR accepted");
	x509_csr_free(c);
	free(pem);
}

static void
test_csr_check(void)
{
	static const struct {
		const char	*uri;
		const char	*err;	/* NULL: accepted */
		const char	*after;	/* URI the leaf will carry */
	} t[] = {
		{ SVC_URI, NULL, SVC_URI },
		{ "spiffe://11111111-2222-3333-4444-555555555555.CONSUL/ns/"
		    "default/dc/dc1/svc/web", NULL, "spiffe://11111111-2222-"
		    "3333-4444-555555555555.CONSUL/ns/default/dc/dc1/svc/web" },
		{ "spiffe://" TD "/ns/default/dc/dc2/svc/web",
		    "SPIFFE ID in CSR from a different datacenter: dc2, we are "
		    "dc1", NULL },
		{ "spiffe://other.consul/ns/default/dc/dc1/svc/web",
		    "SPIFFE ID in CSR from a different trust domain: "
		    "other.consul, we are " TD, NULL },
		{ "spiffe://" TD "/gateway/mesh/dc/dc1", NULL,
		    "spiffe://" TD "/gateway/mesh/dc/dc1" },
		{ "spiffe://" TD "/gateway/mesh/dc/dc9",
		    "SPIFFE ID in CSR from a different datacenter: dc9, we are "
		    "dc1", NULL },
		{ "spiffe://other.consul/gateway/mesh/dc/dc1",
		    "SPIFFE ID in CSR from a different trust domain: "
		    "other.consul, we are " TD, NULL },
		{ "spiffe://dummy.consul/agent/client/dc/dc7/id/node1", NULL,
		    "spiffe://" TD "/agent/client/dc/dc7/id/node1" },
		{ "spiffe://" TD "/agent/server/dc/dc1",
		    "SPIFFE ID in CSR must be a service, mesh-gateway, or agent "
		    "ID", NULL },
		{ "spiffe://" TD, "SPIFFE ID in CSR must be a service, "
		    "mesh-gateway, or agent ID", NULL },
	};
	struct x509_csr	*c;
	struct perr	 e;
	char		*key, *pem;
	size_t		 i;
	int		 r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		perr_clear(&e);
		if (x509_leaf_keygen(t[i].uri, &key, &pem, &e) == -1 ||
		    x509_csr_parse(pem, &c, &e) == -1) {
			ok(0, "CSR for %s: %s", t[i].uri, e.msg);
			continue;
		}
		is_str(x509_csr_uri(c), t[i].uri, "CSR URI read back");
		r = x509_csr_check(c, TD, "dc1", &e);
		if (t[i].err == NULL) {
			ok(r == 0, "%s accepted (%s)", t[i].uri, e.msg);
			is_str(x509_csr_uri(c), t[i].after, "... leaf URI");
		} else {
			ok(r == -1 && e.status == 400, "%s refused", t[i].uri);
			is_str(e.msg, t[i].err, "... with Consul's text");
		}
		x509_csr_free(c);
		secret_free(key);
		free(pem);
	}
}

/* A leaf, field by field, and its chain. */
static void
test_leaf(const char *catype, int cabits)
{
	struct x509_ca	 *ca;
	struct x509_csr	 *c;
	struct x509_info info;
	struct perr	 e;
	char		*kpem, *root, *key, *csr, *leaf, want[160];
	time_t		 now = time(NULL);

	ca = make_ca(catype, cabits, 8, now, &kpem, &root);
	write_file("root.pem", root);
	dump("cert root.pem");
	snprintf(want, sizeof(want), "noncritical:%s", dv("spki_sha256"));

	ok(x509_leaf_keygen(SVC_URI, &key, &csr, &e) == 0 &&
	    x509_csr_parse(csr, &c, &e) == 0 &&
	    x509_csr_check(c, TD, "dc1", &e) == 0,
	    "CSR made, parsed, checked");
	ok(x509_leaf_sign(ca, c, 300, now, 3 * DAY, &leaf, &e) == 0,
	    "%s/%d CA signs the leaf (%s)", catype, cabits, e.msg);
	write_file("leaf.pem", leaf);
	ok(dump("cert leaf.pem") == 0, "python reads the leaf");
	is_str(dv("version"), "v3", "leaf: v3");
	is_str(dv("serial"), "300", "leaf: serial 300");
	is_str(dv("subject"), "", "leaf: empty subject");
	ok(strncmp(dv("issuer"), "CN=pri-", 7) == 0, "leaf: issuer = CA");
	is_str(dv("not_before"), lltoa(now - 60), "leaf: NotBefore now-1m");
	is_str(dv("not_after"), lltoa(now - 60 + 3 * DAY),
	    "leaf: NotAfter = NotBefore + TTL");
	is_str(dv("key"), "ec:256", "leaf: EC P-256 key from the CSR");
	is_str(dv("ku"), "critical:digital_signature,key_encipherment,"
	    "data_encipherment,key_agreement", "leaf: critical KU");
	is_str(dv("eku"), "noncritical:clientAuth,serverAuth",
	    "leaf: EKU clientAuth, serverAuth in that order");
	is_str(dv("bc"), "critical:ca=false,pathlen=none",
	    "leaf: critical CA:FALSE");
	is_str(dv("aki"), want, "leaf: AKI = CA key id");
	is_str(dv("aki_issuer"), "no", "leaf: AKI holds only the key id");
	snprintf(want, sizeof(want), "noncritical:%s", dv("spki_sha256"));
	is_str(dv("ski"), want, "leaf: SKI = SHA-256 of leaf SPKI");
	is_str(dv("san"), "critical:URI:" SVC_URI, "leaf: critical URI SAN");
	is_str(dv("ext_oids"), "2.5.29.14,2.5.29.15,2.5.29.17,2.5.29.19,"
	    "2.5.29.35,2.5.29.37", "leaf: exactly KU EKU BC SKI AKI SAN");
	is_str(dv("sig_hash"), "sha256", "leaf: SHA-256 whatever the CA");
	ok(x509_cert_info(leaf, &info, &e) == 0, "leaf info");
	is_str(info.serial_hex, "01:2c", "leaf: SerialNumber 01:2c");
	is_int(info.not_after - info.not_before, 3 * DAY,
	    "leaf: ValidBefore - ValidAfter = TTL");
	is_str(info.uri, SVC_URI, "leaf: ServiceURI");
	is_str(info.subject, "", "leaf: subject empty");
	is_int(info.is_ca, 0, "leaf: not a CA");
	x509_info_clear(&info);
	if (have_openssl)
		ok(ossl_verify("root.pem", NULL, "leaf.pem"),
		    "openssl -x509_strict verifies leaf against root");
	free(leaf);

	ok(x509_leaf_sign(ca, c, 9, now, 0, &leaf, &e) == -1 &&
	    e.status == 400, "zero TTL refused");
	ok(x509_leaf_sign(ca, c, 9, now, INT64_MAX, &leaf, &e) == -1 &&
	    e.status == 400, "absurd TTL refused, no overflow");
	x509_csr_free(c);
	secret_free(key);
	free(csr);
	x509_ca_free(ca);
	secret_free(kpem);
	free(root);
}

/* DNS and IP SANs of a CSR are copied into the leaf. */
static void
test_leaf_extra_sans(void)
{
	struct x509_ca	*ca;
	struct x509_csr	*c;
	struct perr	 e;
	char		*kpem, *root, *csr, *leaf;
	time_t		 now = time(NULL);

	ca = make_ca("ec", 256, 8, now, &kpem, &root);
	csr = py_make("mkcsr dns-ip");
	ok(x509_csr_parse(csr, &c, &e) == 0 &&
	    x509_csr_check(c, TD, "dc1", &e) == 0 &&
	    x509_leaf_sign(ca, c, 10, now, DAY, &leaf, &e) == 0,
	    "CSR with DNS and IP SANs signed (%s)", e.msg);
	write_file("leaf.pem", leaf);
	dump("cert leaf.pem");
	is_str(dv("san"), "critical:DNS:web.example,IP:10.0.0.1,URI:" SVC_URI,
	    "leaf: DNS, IP and URI SANs, critical");
	x509_csr_free(c);
	free(csr);
	free(leaf);
	x509_ca_free(ca);
	secret_free(kpem);
	free(root);
}

/*
 * The TBSCertificate inside a certificate's DER (outer SEQUENCE, first
 * element): sets *off and *n and returns 0, or -1 if der is too short.
 */
static int
tbs_of(const unsigned char *der, size_t len, size_t *off, size_t *n)
{
	size_t	i = 1, k, hdr, body = 0;

	if (len < 4 || der[0] != 0x30)
		return -1;
	i += (der[i] & 0x80) ? 1 + (der[i] & 0x7f) : 1;	/* outer length */
	if (i + 2 > len || der[i] != 0x30)
		return -1;
	if (der[i + 1] & 0x80) {
		k = der[i + 1] & 0x7f;
		for (hdr = 0; hdr < k; hdr++)
			body = body << 8 | der[i + 2 + hdr];
		hdr = 2 + k;
	} else {
		body = der[i + 1];
		hdr = 2;
	}
	if (i + hdr + body > len)
		return -1;
	*off = i;
	*n = hdr + body;
	return 0;
}

static gnutls_datum_t
pem_der(const char *label, const char *pem)
{
	gnutls_datum_t	in = { (unsigned char *)(uintptr_t)pem,
			    (unsigned)strlen(pem) }, der = { NULL, 0 };

	if (gnutls_pem_base64_decode2(label, &in, &der) < 0)
		der.size = 0;
	return der;
}

/*
 * x509_leaf_sign() writes the TBSCertificate from a DER template
 * (der.c) instead of GnuTLS's certificate API, for speed.  Build the
 * same leaf the way it used to be built, with gnutls_x509_crt_t, and
 * require identical TBSCertificate bytes: same field order, encodings
 * (UTCTime vs GeneralizedTime at 2050, INTEGER sign byte, critical
 * flags, algorithm parameters) and extension order.  csr_pem NULL: the
 * agent's in-memory request for SVC_URI; else a CSR whose SANs are
 * DNS web.example and IP 10.0.0.1 besides SVC_URI.
 */
static void
test_leaf_template(const char *catype, int cabits, const char *csr_pem,
    uint64_t serial, time_t now, int64_t ttl)
{
	static const unsigned char	ip4[] = { 10, 0, 0, 1 };
	struct x509_ca			*ca;
	struct x509_csr			*c;
	struct perr			 e;
	gnutls_x509_privkey_t		 cak;
	gnutls_privkey_t		 capk;
	gnutls_x509_crt_t		 cacrt, crt;
	gnutls_pubkey_t			 pub;
	gnutls_x509_crq_t		 crq;
	gnutls_subject_alt_names_t	 sans;
	gnutls_datum_t			 d, ours, ref = { NULL, 0 }, san;
	unsigned char			 kid[32], sn[9];
	unsigned int			 status = 1;
	size_t				 o1, n1, o2, n2, sl = 0;
	char				*kpem, *root, *key = NULL, *leaf;
	uint64_t			 v;
	int				 i, r;

	ca = make_ca(catype, cabits, 8, now, &kpem, &root);
	if (csr_pem == NULL)
		r = x509_leaf_request(SVC_URI, &key, &c, &e);
	else
		r = x509_csr_parse(csr_pem, &c, &e);
	ok(r == 0 && x509_csr_check(c, TD, "dc1", &e) == 0 &&
	    x509_leaf_sign(ca, c, serial, now, ttl, &leaf, &e) == 0,
	    "template: %s/%d leaf signed (%s)", catype, cabits, e.msg);

	/* The reference, through GnuTLS's certificate API. */
	gnutls_x509_privkey_init(&cak);
	d = pem_der(strcmp(catype, "ec") == 0 ? "EC PRIVATE KEY" :
	    "RSA PRIVATE KEY", kpem);
	gnutls_x509_privkey_import(cak, &d, GNUTLS_X509_FMT_DER);
	gnutls_free(d.data);
	gnutls_privkey_init(&capk);
	gnutls_privkey_import_x509(capk, cak, 0);
	gnutls_x509_crt_init(&cacrt);
	d = pem_der("CERTIFICATE", root);
	gnutls_x509_crt_import(cacrt, &d, GNUTLS_X509_FMT_DER);
	gnutls_free(d.data);
	gnutls_pubkey_init(&pub);
	if (csr_pem == NULL) {
		gnutls_x509_privkey_t	lk;

		gnutls_x509_privkey_init(&lk);
		d = pem_der("EC PRIVATE KEY", key);
		gnutls_x509_privkey_import(lk, &d, GNUTLS_X509_FMT_DER);
		gnutls_free(d.data);
		gnutls_x509_crt_init(&crt);
		gnutls_x509_crt_set_key(crt, lk);
		gnutls_x509_privkey_deinit(lk);
	} else {
		gnutls_x509_crq_init(&crq);
		d = pem_der("CERTIFICATE REQUEST", csr_pem);
		gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_DER);
		gnutls_free(d.data);
		gnutls_pubkey_import_x509_crq(pub, crq, 0);
		gnutls_x509_crq_deinit(crq);
		gnutls_x509_crt_init(&crt);
		gnutls_x509_crt_set_pubkey(crt, pub);
	}
	gnutls_x509_crt_set_version(crt, 3);
	for (v = serial, i = 8; i > 0; v >>= 8)
		sn[--i] = (unsigned char)v;
	while (i < 7 && sn[i] == 0)
		i++;
	if (sn[i] & 0x80)
		sn[--i] = 0;
	gnutls_x509_crt_set_serial(crt, sn + i, (size_t)(8 - i));
	gnutls_x509_crt_set_activation_time(crt, now - 60);
	gnutls_x509_crt_set_expiration_time(crt, (time_t)(now - 60 + ttl));
	gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
	    GNUTLS_KEY_KEY_ENCIPHERMENT | GNUTLS_KEY_DATA_ENCIPHERMENT |
	    GNUTLS_KEY_KEY_AGREEMENT);
	gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0);
	gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
	gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
	sl = sizeof(kid);
	gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, kid, &sl);
	gnutls_x509_crt_set_subject_key_id(crt, kid, sl);
	sl = sizeof(kid);
	gnutls_x509_crt_get_subject_key_id(cacrt, kid, &sl, NULL);
	gnutls_x509_crt_set_authority_key_id(crt, kid, sl);
	gnutls_subject_alt_names_init(&sans);
	if (csr_pem != NULL) {
		d.data = (unsigned char *)"web.example";
		d.size = 11;
		gnutls_subject_alt_names_set(sans, GNUTLS_SAN_DNSNAME, &d,
		    NULL);
		d.data = (unsigned char *)(uintptr_t)ip4;
		d.size = 4;
		gnutls_subject_alt_names_set(sans, GNUTLS_SAN_IPADDRESS, &d,
		    NULL);
	}
	d.data = (unsigned char *)SVC_URI;
	d.size = (unsigned)strlen(SVC_URI);
	gnutls_subject_alt_names_set(sans, GNUTLS_SAN_URI, &d, NULL);
	gnutls_x509_ext_export_subject_alt_names(sans, &san);
	gnutls_x509_crt_set_extension_by_oid(crt, "2.5.29.17", san.data,
	    san.size, 1);
	gnutls_free(san.data);
	gnutls_subject_alt_names_deinit(sans);
	r = gnutls_x509_crt_privkey_sign(crt, cacrt, capk, GNUTLS_DIG_SHA256,
	    0);
	if (r >= 0)
		r = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &ref);
	ok(r >= 0, "template: GnuTLS builds the reference (%s)",
	    gnutls_strerror(r));

	ours = pem_der("CERTIFICATE", leaf);
	ok(tbs_of(ours.data, ours.size, &o1, &n1) == 0 &&
	    tbs_of(ref.data, ref.size, &o2, &n2) == 0 && n1 == n2 &&
	    memcmp(ours.data + o1, ref.data + o2, n1) == 0,
	    "template: %s/%d %s, serial %llu, %lld s: TBSCertificate "
	    "identical to GnuTLS's", catype, cabits, csr_pem ? "CSR with "
	    "DNS+IP" : "agent request", (unsigned long long)serial,
	    (long long)ttl);
	/* and the signature verifies with the CA's certificate */
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_init(&crt);
	gnutls_x509_crt_import(crt, &ours, GNUTLS_X509_FMT_DER);
	r = gnutls_x509_crt_verify(crt, &cacrt, 1, 0, &status);
	ok(r == 0 && status == 0, "template: GnuTLS verifies the signature "
	    "against the root");
	gnutls_free(ours.data);
	gnutls_free(ref.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_deinit(cacrt);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(capk);
	gnutls_x509_privkey_deinit(cak);
	x509_csr_free(c);
	free(leaf);
	if (key != NULL)
		secret_free(key);
	x509_ca_free(ca);
	secret_free(kpem);
	free(root);
}

/*
 * The agent request writes the leaf's SubjectPublicKeyInfo from the
 * point's coordinates, left-padded to 32 bytes.  One coordinate in 256
 * has a leading zero byte: over 512 keys, check that every leaf's key
 * is the private key's (GnuTLS key ids of both), that the pair is
 * consistent (GnuTLS recomputes the point from the scalar), and that a
 * signature by the private key verifies with the leaf's public key.
 * The pair comes from nettle directly (x509.c), not from GnuTLS.
 */
static void
test_leaf_request_keys(void)
{
	struct x509_ca		*ca;
	struct x509_csr		*c;
	struct perr		 e;
	gnutls_x509_crt_t	 crt;
	gnutls_x509_privkey_t	 xk;
	gnutls_privkey_t	 pk;
	gnutls_pubkey_t		 pub;
	gnutls_datum_t		 d, sig;
	const gnutls_datum_t	 msg = { (unsigned char *)"proof", 5 };
	unsigned char		 a[32], b[32];
	size_t			 na, nb;
	char			*kpem, *root, *key, *leaf;
	time_t			 now = time(NULL);
	int			 i, bad = 0;

	ca = make_ca("ec", 256, 8, now, &kpem, &root);
	for (i = 0; i < 512 && bad == 0; i++) {
		if (x509_leaf_request(SVC_URI, &key, &c, &e) == -1 ||
		    x509_leaf_sign(ca, c, 100 + (uint64_t)i, now, DAY, &leaf,
		    &e) == -1) {
			bad = 1;
			break;
		}
		gnutls_x509_crt_init(&crt);
		d = pem_der("CERTIFICATE", leaf);
		gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER);
		gnutls_free(d.data);
		gnutls_x509_privkey_init(&xk);
		d = pem_der("EC PRIVATE KEY", key);
		gnutls_x509_privkey_import(xk, &d, GNUTLS_X509_FMT_DER);
		gnutls_free(d.data);
		/* Our SEC1 PEM is GnuTLS's, byte for byte (scalars and
		 * coordinates with leading zero bytes included). */
		if (gnutls_x509_privkey_export2(xk, GNUTLS_X509_FMT_PEM,
		    &d) < 0 || d.size != strlen(key) ||
		    memcmp(d.data, key, d.size) != 0)
			bad = 3;
		gnutls_free(d.data);
		na = sizeof(a);
		nb = sizeof(b);
		if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, a,
		    &na) < 0 || gnutls_x509_privkey_get_key_id(xk,
		    GNUTLS_KEYID_USE_SHA256, b, &nb) < 0 || na != nb ||
		    memcmp(a, b, na) != 0)
			bad = 2;
		if (gnutls_x509_privkey_verify_params(xk) < 0)
			bad = 4;
		if (i < 16) {	/* a signature each: slower */
			gnutls_privkey_init(&pk);
			gnutls_pubkey_init(&pub);
			sig.data = NULL;
			if (gnutls_privkey_import_x509(pk, xk, 0) < 0 ||
			    gnutls_privkey_sign_data(pk, GNUTLS_DIG_SHA256, 0,
			    &msg, &sig) < 0 ||
			    gnutls_pubkey_import_x509(pub, crt, 0) < 0 ||
			    gnutls_pubkey_verify_data2(pub,
			    GNUTLS_SIGN_ECDSA_SHA256, 0, &msg, &sig) < 0)
				bad = 5;
			gnutls_free(sig.data);
			gnutls_pubkey_deinit(pub);
			gnutls_privkey_deinit(pk);
		}
		gnutls_x509_privkey_deinit(xk);
		gnutls_x509_crt_deinit(crt);
		x509_csr_free(c);
		secret_free(key);
		free(leaf);
	}
	ok(bad == 0, "512 agent requests: every leaf carries its private "
	    "key's public key, the pair is consistent and signs for the "
	    "leaf, and the key's PEM is GnuTLS's own (%d, %s)",
	    bad, bad == 1 ? e.msg : "");
	x509_ca_free(ca);
	secret_free(kpem);
	free(root);
}

static void
test_leaf_templates(void)
{
	char	*csr = py_make("mkcsr dns-ip");
	time_t	 now = time(NULL);

	test_leaf_template("ec", 256, NULL, 300, now, 3 * DAY);
	test_leaf_template("ec", 384, NULL, 0x80, now, DAY);
	test_leaf_template("rsa", 2048, NULL, 0xffffffffffULL, now, DAY);
	test_leaf_template("ec", 256, csr, 7, now, 3 * DAY);
	/* NotAfter in 2051: GeneralizedTime */
	test_leaf_template("ec", 256, NULL, 42, now,
	    (int64_t)(2556144000LL - now));
	free(csr);
}

/*
 * Rotation: the old CA cross-signs the new root; a leaf of the new CA
 * verifies against the old root through that intermediate.
 */
static void
test_cross_sign(const char *ntype, int nbits)
{
	struct x509_ca	*old, *new;
	struct x509_csr	*c;
	struct perr	 e;
	char		*okey, *oroot, *nkey, *nroot, *cross, *key, *csr;
	char		*leaf, oldsub[256], oldski[160], newsub[256];
	char		 newski[160], newsan[256], oldhash[16];
	time_t		 now = time(NULL);

	old = make_ca("ec", 256, 8, now - DAY, &okey, &oroot);
	new = make_ca(ntype, nbits, 20, now, &nkey, &nroot);
	write_file("old.pem", oroot);
	write_file("new.pem", nroot);
	dump("cert old.pem");
	snprintf(oldsub, sizeof(oldsub), "%s", dv("subject"));
	snprintf(oldski, sizeof(oldski), "%s", dv("ski"));
	snprintf(oldhash, sizeof(oldhash), "%s", dv("sig_hash"));
	dump("cert new.pem");
	snprintf(newsub, sizeof(newsub), "%s", dv("subject"));
	snprintf(newski, sizeof(newski), "%s", dv("ski"));
	snprintf(newsan, sizeof(newsan), "%s", dv("san"));

	ok(x509_cross_sign(old, nroot, 21, now, &cross, &e) == 0,
	    "old CA cross-signs new %s/%d root (%s)", ntype, nbits, e.msg);
	write_file("cross.pem", cross);
	ok(dump("cert cross.pem") == 0, "python reads the cross-signed cert");
	is_str(dv("serial"), "21", "cross: new serial");
	is_str(dv("subject"), newsub, "cross: subject = new root's");
	is_str(dv("issuer"), oldsub, "cross: issuer = old root's subject");
	is_str(dv("aki"), oldski, "cross: AKI = old key id");
	is_str(dv("ski"), newski, "cross: SKI = new root's");
	is_str(dv("san"), newsan, "cross: SAN = new root's");
	is_str(dv("bc"), "critical:ca=true,pathlen=none", "cross: CA:TRUE");
	is_str(dv("ku"), "critical:digital_signature,key_cert_sign,crl_sign",
	    "cross: KU kept");
	is_str(dv("not_before"), lltoa(now - 60), "cross: NotBefore now-1m");
	is_str(dv("not_after"), lltoa(now - 60 + 7 * DAY),
	    "cross: NotAfter = NotBefore + 7 days");
	is_str(dv("sig_hash"), oldhash, "cross: old root's hash");

	ok(x509_leaf_keygen(SVC_URI, &key, &csr, &e) == 0 &&
	    x509_csr_parse(csr, &c, &e) == 0 &&
	    x509_leaf_sign(new, c, 22, now, DAY, &leaf, &e) == 0,
	    "new CA signs a leaf");
	write_file("leaf.pem", leaf);
	if (have_openssl) {
		ok(ossl_verify("new.pem", NULL, "leaf.pem"),
		    "leaf verifies against the new root");
		ok(ossl_verify("old.pem", "cross.pem", "leaf.pem"),
		    "leaf verifies against the OLD root via the cross-signed "
		    "intermediate");
		ok(!ossl_verify("old.pem", NULL, "leaf.pem"),
		    "... and not against the old root without it");
		ok(ossl_verify("old.pem", NULL, "cross.pem"),
		    "cross-signed cert verifies against the old root");
	}
	free(cross);
	ok(x509_cross_sign(old, "junk", 23, now, &cross, &e) == -1 &&
	    e.status == 400 && cross == NULL, "junk new root refused");
	x509_csr_free(c);
	secret_free(key);
	free(csr);
	free(leaf);
	free(cross);
	x509_ca_free(old);
	x509_ca_free(new);
	secret_free(okey);
	secret_free(nkey);
	free(oroot);
	free(nroot);
}

static void
test_crl(void)
{
	struct x509_revoked	 rev[] = {
		{ 300, 1700000000 },
		{ 0x8000000000000001ULL, 1700000100 },
	};
	struct x509_ca		*ca;
	struct perr		 e;
	unsigned char		*der;
	size_t			 derlen;
	char			*kpem, *root, *pem, want[256], *out;
	time_t			 now = time(NULL);

	ca = make_ca("ec", 384, 8, now, &kpem, &root);
	write_file("root.pem", root);
	dump("cert root.pem");
	snprintf(want, sizeof(want), "noncritical:%s", dv("spki_sha256"));
	ok(x509_crl_create(ca, rev, 2, 7, now, DAY, &pem, &der, &derlen,
	    &e) == 0, "CRL created (%s)", e.msg);
	ok(strncmp(pem, "-----BEGIN X509 CRL-----\n", 25) == 0,
	    "CRL PEM label X509 CRL");
	ok(derlen > 0 && der[0] == 0x30, "CRL DER is a SEQUENCE");
	write_file("crl.pem", pem);
	ok(dump("crl crl.pem root.pem") == 0, "python reads the CRL");
	is_str(dv("sig"), "valid", "CRL: signature verifies with CA key");
	is_str(dv("revoked"), "300@1700000000,9223372036854775809@1700000100",
	    "CRL: both entries with their times");
	is_str(dv("this_update"), lltoa(now), "CRL: thisUpdate = now");
	is_str(dv("next_update"), lltoa(now + DAY), "CRL: nextUpdate");
	is_str(dv("aki"), want, "CRL: AKI = CA key id");
	is_str(dv("crl_number"), "7", "CRL: number 7");
	ok(strncmp(dv("issuer"), "CN=pri-", 7) == 0, "CRL: issuer = CA");
	if (have_openssl) {
		FILE	*f;
		int	 rc;

		if ((f = fopen(tpath("crl.der"), "wb")) == NULL)
			exit(2);
		fwrite(der, 1, derlen, f);
		fclose(f);
		rc = run(&out, "openssl crl -inform DER -in %s -CAfile %s "
		    "-noout 2>&1", tpath("crl.der"), tpath("root.pem"));
		ok(rc == 0 && strstr(out, "verify OK") != NULL,
		    "openssl verifies the DER CRL against the root");
		free(out);
	}
	free(pem);
	free(der);
	ok(x509_crl_create(ca, NULL, 0, 8, now, DAY, &pem, NULL, NULL,
	    &e) == 0, "empty CRL, PEM only");
	free(pem);
	x509_ca_free(ca);
	secret_free(kpem);
	free(root);
}

static void
test_cert_info_errors(void)
{
	struct x509_info	info;
	struct perr		e;

	ok(x509_cert_info("", &info, &e) == -1 && e.status == 400 &&
	    strcmp(e.msg, "no PEM-encoded data found") == 0,
	    "cert info: empty refused");
	ok(x509_cert_info("-----BEGIN CERTIFICATE-----\nAAAA\n-----END "
	    "CERTIFICATE-----\n", &info, &e) == -1 && e.status == 400,
	    "cert info: garbage DER refused (%s)", e.msg);
	ok(info.subject == NULL && info.uri == NULL, "... nothing to free");
}

int
main(void)
{
	char	*dir, *out, rel[512];

	log_init("test_x509", 0);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_x509.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	dir = getenv("srcdir");
	snprintf(rel, sizeof(rel), "%s/tests/unit/check_cert.py",
	    dir != NULL ? dir : ".");
	if (realpath(rel, script) == NULL) {
		printf("Bail out! %s not found (run from the source root or "
		    "set srcdir)\n", rel);
		return 2;
	}
	have_openssl = run(&out, "openssl version 2>&1") == 0;
	free(out);
	/* setup.sh installs openssl: its absence is a failure, not a skip. */
	ok(have_openssl, "openssl is installed (chain checks need it)");

	test_serial_hex();
	test_keygen_errors();
	test_root("ec", 224, "EC PRIVATE KEY", "ec:224", "sha256");
	test_root("ec", 256, "EC PRIVATE KEY", "ec:256", "sha256");
	test_root("ec", 384, "EC PRIVATE KEY", "ec:384", "sha384");
	test_root("ec", 521, "EC PRIVATE KEY", "ec:521", "sha512");
	test_root("rsa", 2048, "RSA PRIVATE KEY", "rsa:2048", "sha256");
	test_root("rsa", 4096, "RSA PRIVATE KEY", "rsa:4096", "sha256");
	test_key_load();
	test_ca_load();
	test_leaf_keygen();
	test_csr_errors();
	test_csr_check();
	test_leaf("ec", 256);
	test_leaf("ec", 384);
	test_leaf("rsa", 2048);
	test_leaf_extra_sans();
	test_leaf_templates();
	test_leaf_request_keys();
	test_cross_sign("ec", 384);
	test_cross_sign("rsa", 2048);
	test_crl();
	test_cert_info_errors();

	run(NULL, "rm -rf %s", tmpdir);
	return tap_done();
}
