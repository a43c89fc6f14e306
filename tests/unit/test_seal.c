/*
 * test_seal.c -- seal.c: keys (parsing, IDs, files), sealing and
 * opening bound to a row, the ciphertext parser on malformed input,
 * the JSON secret fields, and a key the ring gains from the key file.
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portcullis.h"
#include "conf.h"
#include "seal.h"
#include "tap.h"

#define K1	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define K2	"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

/* Malformed ciphertexts: each must be refused by seal_parse(). */
static const char *const bad[] = {
	"", "seal:", "seal:1:", "seal:2:0011223344556677:AAAA",
	"seal:1:001122334455667:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	"seal:1:00112233445566778:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	"seal:1:0011223344556677AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	"seal:1:00112233445566GG:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	"seal:1:00112233445566AA:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	"seal:1:0011223344556677:",
	"seal:1:0011223344556677:AAAA",		/* shorter than nonce + tag */
	"seal:1:0011223344556677:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!A",
	"seal:1:0011223344556677:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
	"seal:1:0011223344556677:A",
	"-----BEGIN PRIVATE KEY-----",
};

int
main(void)
{
	unsigned char	 k1[SEAL_KEY_LEN], k2[SEAL_KEY_LEN];
	char		 id1[SEAL_ID_LEN + 1], id2[SEAL_ID_LEN + 1];
	char		*ct, *ct2, *pt, *js, dir[] = "/tmp/test_seal.XXXXXX", *path;
	struct seal_box	 b;
	struct perr	 e;
	struct conf	 c;
	size_t		 i, n;
	int		 changed, missing;

	perr_clear(&e);
	ok(seal_key_parse(K1, strlen(K1), k1, &e) == 0, "a 64-hex-digit key "
	    "parses");
	ok(seal_key_parse(" " K2 "\n", strlen(K2) + 2, k2, &e) == 0,
	    "white space around a key is ignored");
	ok(seal_key_parse(K1, 63, k1, &e) == -1 && e.status == 500,
	    "a short key is refused");
	perr_clear(&e);
	ok(seal_key_parse("zz" K2, strlen(K1), k1, &e) == -1,
	    "a key with a non-hex digit is refused");
	perr_clear(&e);
	ok(seal_key_parse(K1, strlen(K1), k1, &e) == 0, "reparse");
	seal_key_id(k1, id1);
	seal_key_id(k2, id2);
	ok(strlen(id1) == SEAL_ID_LEN && strcmp(id1, id2) != 0,
	    "two keys have two 16-digit IDs");

	ok(seal_close("x", 1, "t", "r", "c", &ct, &e) == -1,
	    "sealing without a key fails cleanly");
	perr_clear(&e);
	seal_key_set(k1);
	is_str(seal_key_current_id(), id1, "the current key is the one set");
	ok(seal_close("secret", 6, "ca_root", "AA:BB", "private_key", &ct,
	    &e) == 0 && seal_is_sealed(ct), "a value seals");
	ok(strstr(ct, "secret") == NULL && strstr(ct, id1) != NULL,
	    "the ciphertext names its key and hides the value");
	ok(seal_open(ct, "ca_root", "AA:BB", "private_key", &pt, &n, &e) == 0 &&
	    n == 6 && strcmp(pt, "secret") == 0, "it opens in its own row");
	secret_free(pt);
	ok(seal_open(ct, "ca_root", "AA:BC", "private_key", &pt, &n, &e) ==
	    -1 && e.status == 500 && strstr(e.msg, "another row") != NULL &&
	    pt == NULL, "it does not open in another row: %s", e.msg);
	perr_clear(&e);
	ok(seal_open(ct, "ca_root", "AA:BB", "state_key", &pt, &n, &e) == -1,
	    "nor in another column");
	perr_clear(&e);
	ok(seal_open(ct, "ca_config", "AA:BB", "private_key", &pt, &n, &e) ==
	    -1, "nor in another table");
	perr_clear(&e);
	ct2 = xstrdup(ct);
	ct2[strlen(ct2) - 3] = ct2[strlen(ct2) - 3] == 'A' ? 'B' : 'A';
	ok(seal_open(ct2, "ca_root", "AA:BB", "private_key", &pt, &n, &e) ==
	    -1, "an altered ciphertext does not open");
	perr_clear(&e);
	free(ct2);
	ok(seal_close("secret", 6, "ca_root", "AA:BB", "private_key", &ct2,
	    &e) == 0 && strcmp(ct, ct2) != 0, "two seals of one value differ "
	    "(random nonce)");
	free(ct2);

	seal_key_set(k2);
	ok(seal_open(ct, "ca_root", "AA:BB", "private_key", &pt, &n, &e) ==
	    -1 && strstr(e.msg, "sealed under key") != NULL &&
	    strstr(e.msg, id1) != NULL, "under another key it says which key "
	    "it needs: %s", e.msg);
	perr_clear(&e);
	seal_key_adopt(k1);
	seal_key_adopt(k2);
	ok(seal_open(ct, "ca_root", "AA:BB", "private_key", &pt, &n, &e) == 0,
	    "an older key of the ring still opens");
	secret_free(pt);
	is_str(seal_key_current_id(), id2, "the last adopted key seals");
	free(ct);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		perr_clear(&e);
		ok(seal_parse(bad[i], strlen(bad[i]), &b, &e) == -1 &&
		    e.status == 500 && e.msg[0] != '\0' && b.buf == NULL,
		    "malformed ciphertext %zu is refused: %s", i, e.msg);
		perr_clear(&e);
		ok(seal_open(bad[i], "t", "r", "c", &pt, &n, &e) == -1 &&
		    pt == NULL, "and does not open");
	}
	perr_clear(&e);

	/* JSON secret fields. */
	ok(seal_json("{\"OIDCClientSecret\":\"s3cr3t\",\"OIDCClientID\":"
	    "\"id\",\"serviceaccountjwt\":\"eyJ\",\"N\":1}", SEAL_CLOSE,
	    "acl_auth_method", "oidc", seal_auth_method_fields, &js, &changed,
	    &e) == 0 && changed, "secret fields of a config seal");
	ok(js != NULL && strstr(js, "s3cr3t") == NULL &&
	    strstr(js, "eyJ\"") == NULL && strstr(js, "\"id\"") != NULL,
	    "the secrets are hidden, the rest left: %s", js);
	ok(seal_json(js, SEAL_OPEN, "acl_auth_method", "oidc",
	    seal_auth_method_fields, &pt, &changed, &e) == 0 && changed &&
	    strstr(pt, "\"s3cr3t\"") != NULL && strstr(pt, "\"eyJ\"") != NULL,
	    "and open again: %s", pt);
	free(pt);
	ok(seal_json(js, SEAL_OPEN, "acl_auth_method", "other",
	    seal_auth_method_fields, &pt, &changed, &e) == -1 &&
	    strstr(e.msg, "other") != NULL, "a config moved to another method "
	    "does not open: %s", e.msg);
	perr_clear(&e);
	free(js);
	ok(seal_json("{\"OIDCClientSecret\":\"plain\"}", SEAL_OPEN,
	    "acl_auth_method", "m", seal_auth_method_fields, &pt, &changed,
	    &e) == -1 && strstr(e.msg, "not sealed") != NULL,
	    "a plaintext secret is refused on read");
	perr_clear(&e);
	ok(seal_json("{\"A\":1}", SEAL_OPEN, "acl_auth_method", "m",
	    seal_auth_method_fields, &pt, &changed, &e) == 0 && !changed &&
	    pt == NULL, "a config without secrets is left alone");
	ok(seal_json("[1]", SEAL_CLOSE, "t", "r", seal_auth_method_fields,
	    &pt, &changed, &e) == -1, "a non-object config is refused");
	perr_clear(&e);

	/* Key files: load, missing, reload from <file>.new. */
	if (mkdtemp(dir) == NULL)
		return 1;
	memset(&c, 0, sizeof(c));
	c.data_dir = dir;
	ok(seal_key_load(&c, &missing, &e) == 0 && missing,
	    "a missing default key file is reported as missing");
	ok(seal_key_is_default() && seal_key_create(&e) == 0,
	    "it is created");
	path = xstrdup(seal_key_file());
	{
		struct stat	sb;

		ok(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600,
		    "mode 0600");
	}
	snprintf(id1, sizeof(id1), "%s", seal_key_current_id());
	seal_key_set(k2);
	ok(seal_key_load(&c, &missing, &e) == 0 && !missing &&
	    strcmp(seal_key_current_id(), id1) == 0, "it loads back");
	ok(seal_key_create(&e) == -1, "an existing key file is never "
	    "overwritten");
	perr_clear(&e);
	{
		char	*np;

		xasprintf(&np, "%s.new", path);
		ok(seal_key_write(np, k2, &e) == 0, "a rotation's new key");
		seal_key_id(k2, id2);
		ok(seal_key_reload_id(id2) && strcmp(seal_key_current_id(),
		    id2) == 0, "is picked up from <key file>.new");
		ok(!seal_key_reload_id("0000000000000000"),
		    "an unknown key ID is not found");
		unlink(np);
		free(np);
	}
	c.seal.key_env = "TEST_SEAL_KEY_NOT_SET";
	ok(seal_key_load(&c, &missing, &e) == 0 && missing &&
	    seal_key_file() == NULL, "an unset key_env is missing");
	setenv("TEST_SEAL_KEY", K1, 1);
	c.seal.key_env = "TEST_SEAL_KEY";
	seal_key_id(k1, id1);
	ok(seal_key_load(&c, &missing, &e) == 0 && !missing &&
	    strcmp(seal_key_current_id(), id1) == 0, "key_env loads");
	setenv("TEST_SEAL_KEY", "nothex", 1);
	ok(seal_key_load(&c, &missing, &e) == -1 &&
	    strstr(e.msg, "TEST_SEAL_KEY") != NULL && strstr(e.msg, "nothex")
	    == NULL, "a bad key_env names the variable, not its value: %s",
	    e.msg);
	unlink(path);
	rmdir(dir);
	free(path);
	return tap_done();
}
