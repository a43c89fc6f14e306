/*
 * seal.c -- secrets at rest: the CA private keys and the secret fields
 * of auth-method and CA configs are stored as ciphertexts
 *
 *     seal:1:<key ID, 16 hex>:<base64url(nonce || ciphertext || tag)>
 *
 * made with AES-256-GCM (GnuTLS gnutls_aead_cipher_*) under the seal
 * key, which never enters the store: a file (<data_dir>/seal.key by
 * default, created at first start; or seal { key_file }) holding 64
 * hex digits, or an environment variable (seal { key_env }) holding
 * the same.  The associated data is "table\0row\0column", so a
 * ciphertext copied into another row, or another column, does not
 * open.  The key ID is a hash of the key: it tells "wrong key" from
 * "altered ciphertext" without revealing anything.
 *
 * The process keeps a small ring of keys: the current one seals, any
 * of them opens.  A ciphertext under a key the ring lacks makes it
 * re-read the key file once (seal_key_reload_id()), so running workers
 * follow `portcullis seal rotate` without a restart.  seal_db.c walks
 * the store (start-up check, migration, rotation); this file never
 * touches the store, so its unit test and fuzz target need none.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <json-c/json.h>

#include "portcullis.h"
#include "conf.h"
#include "json.h"
#include "jwt.h"
#include "seal.h"
#include "util.h"

#define RING_MAX	4

/* The secret fields of each sealed JSON column (matched case-blind). */
const char *const seal_auth_method_fields[] = {
	"OIDCClientSecret", "ServiceAccountJWT", NULL
};
const char *const seal_ca_config_fields[] = { "PrivateKey", NULL };

static struct {
	unsigned char	key[SEAL_KEY_LEN];
	char		id[SEAL_ID_LEN + 1];
} ring[RING_MAX];
static int		nring;		/* ring[0] is the current key */
static char		*key_file;	/* NULL: key_env */
static char		*key_where;	/* for messages */
static int		key_default;	/* key_file is <data_dir>/seal.key */
static pthread_mutex_t	ring_mtx = PTHREAD_MUTEX_INITIALIZER;

/*
 * Parse a key: 64 hex digits, surrounding white space ignored.
 * Returns 0 with key filled, or -1 (500) naming what is wrong.
 */
int
seal_key_parse(const char *s, size_t n, unsigned char key[SEAL_KEY_LEN],
    struct perr *e)
{
	size_t	i;
	int	hi, lo;

	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	if (n != 2 * SEAL_KEY_LEN)
		return perr_set(e, 500, "a seal key is %d hex digits, not %zu "
		    "characters", 2 * SEAL_KEY_LEN, n);
	for (i = 0; i < SEAL_KEY_LEN; i++) {
		if ((hi = hex_digit((unsigned char)s[2 * i])) == -1 ||
		    (lo = hex_digit((unsigned char)s[2 * i + 1])) == -1)
			return perr_set(e, 500, "a seal key is hex digits only");
		key[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* The ID of key: the first 8 bytes of SHA-256("portcullis seal" key). */
void
seal_key_id(const unsigned char key[SEAL_KEY_LEN], char id[SEAL_ID_LEN + 1])
{
	static const char	 hx[] = "0123456789abcdef";
	unsigned char		 buf[15 + SEAL_KEY_LEN], d[32];
	int			 i;

	memcpy(buf, "portcullis seal", 15);
	memcpy(buf + 15, key, SEAL_KEY_LEN);
	gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, sizeof(buf), d);
	gnutls_memset(buf, 0, sizeof(buf));
	for (i = 0; i < SEAL_ID_LEN / 2; i++) {
		id[2 * i] = hx[d[i] >> 4];
		id[2 * i + 1] = hx[d[i] & 15];
	}
	id[SEAL_ID_LEN] = '\0';
}

/* Make key the current key, keeping the others for opening. */
void
seal_key_adopt(const unsigned char key[SEAL_KEY_LEN])
{
	char	id[SEAL_ID_LEN + 1];
	int	i;

	seal_key_id(key, id);
	pthread_mutex_lock(&ring_mtx);
	for (i = 0; i < nring; i++)
		if (strcmp(ring[i].id, id) == 0)
			break;
	if (i == nring && nring < RING_MAX)
		nring++;
	if (i == nring)
		i = nring - 1;
	memmove(&ring[1], &ring[0], (size_t)i * sizeof(ring[0]));
	memcpy(ring[0].key, key, SEAL_KEY_LEN);
	memcpy(ring[0].id, id, sizeof(id));
	pthread_mutex_unlock(&ring_mtx);
}

/* Forget every key and make key the only one (tests, rotation). */
void
seal_key_set(const unsigned char key[SEAL_KEY_LEN])
{
	pthread_mutex_lock(&ring_mtx);
	gnutls_memset(ring, 0, sizeof(ring));
	nring = 0;
	pthread_mutex_unlock(&ring_mtx);
	seal_key_adopt(key);
}

/*
 * The current key's ID, or "" when there is none: a copy made under
 * the ring's lock, in thread-local storage (valid until the next call
 * in the same thread).
 */
const char *
seal_key_current_id(void)
{
	static __thread char	id[SEAL_ID_LEN + 1];

	pthread_mutex_lock(&ring_mtx);
	memcpy(id, nring > 0 ? ring[0].id : "", nring > 0 ?
	    sizeof(id) : 1);
	pthread_mutex_unlock(&ring_mtx);
	return id;
}

/* Where the key comes from, for messages ("file X", "$VAR"). */
const char *
seal_key_where(void)
{
	return key_where != NULL ? key_where : "(no seal key configured)";
}

/* The key file's path, or NULL when the key comes from key_env. */
const char *
seal_key_file(void)
{
	return key_file;
}

/* 1 when the key file is the default <data_dir>/seal.key. */
int
seal_key_is_default(void)
{
	return key_default;
}

/* Up to cap bytes of path into buf; 0, or -1 with errno (ENOENT). */
static int
read_small(const char *path, char *buf, size_t cap, size_t *n)
{
	ssize_t	r;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	*n = 0;
	while (*n < cap && (r = read(fd, buf + *n, cap - *n)) > 0)
		*n += (size_t)r;
	close(fd);
	return 0;
}

/*
 * Read the key the configuration names (seal { key_file | key_env },
 * else <data_dir>/seal.key) and make it the current key.  *missing is
 * 1 (and nothing loaded, 0 returned) when the file or variable does
 * not exist, so that the caller decides whether to create one.
 * Returns 0, or -1 (500) for an unreadable or malformed key.
 */
int
seal_key_load(const struct conf *c, int *missing, struct perr *e)
{
	unsigned char	 key[SEAL_KEY_LEN];
	const char	*v;
	char		 buf[256];
	size_t		 n;
	struct stat	 sb;

	*missing = 0;
	free(key_file);
	free(key_where);
	key_file = key_where = NULL;
	key_default = 0;
	if (c->seal.key_env != NULL) {
		xasprintf(&key_where, "environment variable %s",
		    c->seal.key_env);
		if ((v = getenv(c->seal.key_env)) == NULL || *v == '\0') {
			*missing = 1;
			return 0;
		}
		if (seal_key_parse(v, strlen(v), key, e) == -1)
			return perr_prefix(e, "seal key in %s: ", key_where);
	} else {
		if (c->seal.key_file != NULL)
			key_file = xstrdup(c->seal.key_file);
		else {
			xasprintf(&key_file, "%s/seal.key", c->data_dir);
			key_default = 1;
		}
		xasprintf(&key_where, "file %s", key_file);
		if (read_small(key_file, buf, sizeof(buf), &n) == -1) {
			if (errno == ENOENT) {
				*missing = 1;
				return 0;
			}
			return perr_set(e, 500, "seal key %s: %s", key_where,
			    strerror(errno));
		}
		if (stat(key_file, &sb) == 0 && (sb.st_mode & 077) != 0)
			log_warnx("seal key %s is open to others (mode %04o); "
			    "chmod 600 it", key_file,
			    (unsigned)(sb.st_mode & 07777));
		if (seal_key_parse(buf, n, key, e) == -1) {
			gnutls_memset(buf, 0, sizeof(buf));
			return perr_prefix(e, "seal key %s: ", key_where);
		}
		gnutls_memset(buf, 0, sizeof(buf));
	}
	seal_key_set(key);
	gnutls_memset(key, 0, sizeof(key));
	return 0;
}

/* Fill key with fresh random bytes (GnuTLS's key-grade generator). */
void
seal_key_generate(unsigned char key[SEAL_KEY_LEN])
{
	if (gnutls_rnd(GNUTLS_RND_KEY, key, SEAL_KEY_LEN) != 0)
		fatalx("seal: no random bytes");
}

/*
 * Write key to a new file path (0600, refused when it exists), as 64
 * hex digits and a newline, synced.  Returns 0 or -1 (500).
 */
int
seal_key_write(const char *path, const unsigned char key[SEAL_KEY_LEN],
    struct perr *e)
{
	static const char	 hx[] = "0123456789abcdef";
	char			 buf[2 * SEAL_KEY_LEN + 1];
	int			 fd, i, ok;

	for (i = 0; i < SEAL_KEY_LEN; i++) {
		buf[2 * i] = hx[key[i] >> 4];
		buf[2 * i + 1] = hx[key[i] & 15];
	}
	buf[2 * SEAL_KEY_LEN] = '\n';
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1)
		return perr_set(e, 500, "seal key %s: %s", path,
		    strerror(errno));
	ok = write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf) &&
	    fsync(fd) == 0;
	gnutls_memset(buf, 0, sizeof(buf));
	if (close(fd) == -1 || !ok) {
		unlink(path);
		return perr_set(e, 500, "seal key %s: cannot write it", path);
	}
	return 0;
}

/*
 * Create the key file seal_key_load() found missing, with a new key,
 * and make it current.  Only for a key file (not key_env).  Returns 0
 * or -1 (500).
 */
int
seal_key_create(struct perr *e)
{
	unsigned char	key[SEAL_KEY_LEN];

	if (key_file == NULL)
		return perr_set(e, 500, "seal key %s is not set",
		    seal_key_where());
	seal_key_generate(key);
	if (seal_key_write(key_file, key, e) == -1) {
		gnutls_memset(key, 0, sizeof(key));
		return -1;
	}
	seal_key_set(key);
	gnutls_memset(key, 0, sizeof(key));
	return 0;
}

/* Adopt the key in path if its ID is want; 1 when it is. */
static int
adopt_from(const char *path, const char *want)
{
	unsigned char	key[SEAL_KEY_LEN];
	char		buf[256], id[SEAL_ID_LEN + 1];
	size_t		n;
	struct perr	e;
	int		ok = 0;

	if (read_small(path, buf, sizeof(buf), &n) == -1)
		return 0;
	perr_clear(&e);
	if (seal_key_parse(buf, n, key, &e) == 0) {
		seal_key_id(key, id);
		if (strcmp(id, want) == 0) {
			seal_key_adopt(key);
			log_info("seal: now sealing under key %s (from %s)", id,
			    path);
			ok = 1;
		}
	}
	gnutls_memset(buf, 0, sizeof(buf));
	gnutls_memset(key, 0, sizeof(key));
	return ok;
}

/*
 * The store moved to key want (a rotation by another process): look
 * for it in the key file, then in <key file>.new (where a rotation
 * puts it until it has committed), and make it current.  Returns 1
 * when want is now the current key, else 0.
 */
int
seal_key_reload_id(const char *want)
{
	char	*p;
	int	 ok;

	if (strcmp(want, seal_key_current_id()) == 0)
		return 1;
	if (key_file == NULL)
		return 0;
	if (adopt_from(key_file, want))
		return 1;
	xasprintf(&p, "%s.new", key_file);
	ok = adopt_from(p, want);
	free(p);
	return ok;
}

/* 1 when s has the form of a ciphertext (it may still be malformed). */
int
seal_is_sealed(const char *s)
{
	return s != NULL && strncmp(s, SEAL_PREFIX, strlen(SEAL_PREFIX)) == 0;
}

/* Release what seal_parse() filled in. */
void
seal_box_clear(struct seal_box *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

/*
 * Parse the ciphertext text of n bytes into *b (release with
 * seal_box_clear(); nothing to release after a failure): the prefix,
 * a key ID of 16 lowercase hex digits, ':', then unpadded base64url of
 * at least a nonce and a tag.  Returns 0, or -1 (500) saying why.
 */
int
seal_parse(const char *s, size_t n, struct seal_box *b, struct perr *e)
{
	size_t	 pl = strlen(SEAL_PREFIX), i;

	memset(b, 0, sizeof(*b));
	if (n < pl || memcmp(s, SEAL_PREFIX, pl) != 0)
		return perr_set(e, 500, "not a sealed value");
	s += pl;
	n -= pl;
	if (n < SEAL_ID_LEN + 1 || s[SEAL_ID_LEN] != ':')
		return perr_set(e, 500, "sealed value without a key ID");
	for (i = 0; i < SEAL_ID_LEN; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return perr_set(e, 500, "sealed value with a bad key "
			    "ID");
		b->key_id[i] = s[i];
	}
	b->key_id[SEAL_ID_LEN] = '\0';
	s += SEAL_ID_LEN + 1;
	n -= SEAL_ID_LEN + 1;
	if (memchr(s, '=', n) != NULL || memchr(s, '\0', n) != NULL ||
	    b64url_decode(s, n, &b->buf, &b->len) == -1) {
		b->buf = NULL;
		return perr_set(e, 500, "sealed value with bad base64url");
	}
	if (b->len < SEAL_NONCE_LEN + SEAL_TAG_LEN) {
		seal_box_clear(b);
		return perr_set(e, 500, "sealed value too short");
	}
	return 0;
}

/* "table\0row\0column" into a new buffer of *n bytes. */
static unsigned char *
assoc(const char *table, const char *row, const char *column, size_t *n)
{
	size_t		 lt = strlen(table), lr = strlen(row),
			 lc = strlen(column);
	unsigned char	*a;

	*n = lt + lr + lc + 2;
	a = xmalloc(*n);
	memcpy(a, table, lt);
	a[lt] = '\0';
	memcpy(a + lt + 1, row, lr);
	a[lt + 1 + lr] = '\0';
	memcpy(a + lt + lr + 2, column, lc);
	return a;
}

/*
 * Seal the n bytes of plain for column of row of table under the
 * current key.  *out is a new NUL-terminated ciphertext text (free()).
 * Returns 0, or -1 (500) when there is no key or GnuTLS fails.
 */
int
seal_close(const char *plain, size_t n, const char *table, const char *row,
    const char *column, char **out, struct perr *e)
{
	gnutls_aead_cipher_hd_t	 h = NULL;
	gnutls_datum_t		 k;
	unsigned char		 key[SEAL_KEY_LEN], *ad, *buf;
	char			 id[SEAL_ID_LEN + 1], *b64;
	size_t			 adn, ctn;
	int			 rc;

	*out = NULL;
	pthread_mutex_lock(&ring_mtx);
	if (nring == 0) {
		pthread_mutex_unlock(&ring_mtx);
		return perr_set(e, 500, "no seal key loaded");
	}
	memcpy(key, ring[0].key, sizeof(key));
	memcpy(id, ring[0].id, sizeof(id));
	pthread_mutex_unlock(&ring_mtx);
	k.data = key;
	k.size = sizeof(key);
	rc = gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &k);
	gnutls_memset(key, 0, sizeof(key));
	if (rc < 0)
		return perr_set(e, 500, "seal: %s", gnutls_strerror(rc));
	buf = xmalloc(SEAL_NONCE_LEN + n + SEAL_TAG_LEN);
	ad = assoc(table, row, column, &adn);
	ctn = n + SEAL_TAG_LEN;
	if ((rc = gnutls_rnd(GNUTLS_RND_NONCE, buf, SEAL_NONCE_LEN)) < 0 ||
	    (rc = gnutls_aead_cipher_encrypt(h, buf, SEAL_NONCE_LEN, ad, adn,
	    SEAL_TAG_LEN, plain, n, buf + SEAL_NONCE_LEN, &ctn)) < 0) {
		gnutls_aead_cipher_deinit(h);
		free(ad);
		free(buf);
		return perr_set(e, 500, "seal: %s", gnutls_strerror(rc));
	}
	gnutls_aead_cipher_deinit(h);
	free(ad);
	b64 = b64url_encode(buf, SEAL_NONCE_LEN + ctn);
	free(buf);
	xasprintf(out, "%s%s:%s", SEAL_PREFIX, id, b64);
	free(b64);
	return 0;
}

static int
find_key(const char *id, unsigned char key[SEAL_KEY_LEN])
{
	int	i, found = 0;

	pthread_mutex_lock(&ring_mtx);
	for (i = 0; i < nring && !found; i++)
		if (strcmp(ring[i].id, id) == 0) {
			memcpy(key, ring[i].key, SEAL_KEY_LEN);
			found = 1;
		}
	pthread_mutex_unlock(&ring_mtx);
	return found;
}

/*
 * Open the ciphertext text of column of row of table.  *plain is a new
 * NUL-terminated buffer of *n bytes (a secret: secret_free()).
 * Returns 0, or -1 (500) with a message naming the row (never the
 * secret): malformed, under a key this process lacks, or not opening
 * (altered, or moved from another row).
 */
int
seal_open(const char *text, const char *table, const char *row,
    const char *column, char **plain, size_t *n, struct perr *e)
{
	gnutls_aead_cipher_hd_t	 h = NULL;
	gnutls_datum_t		 k;
	struct seal_box		 b;
	unsigned char		 key[SEAL_KEY_LEN], *ad;
	size_t			 adn, pn;
	char			*p;
	int			 rc;

	*plain = NULL;
	*n = 0;
	if (seal_parse(text, strlen(text), &b, e) == -1)
		return perr_prefix(e, "%s %s %s: ", table, row, column);
	if (!find_key(b.key_id, key) && (!seal_key_reload_id(b.key_id) ||
	    !find_key(b.key_id, key))) {
		perr_set(e, 500, "%s %s %s is sealed under key %s, not under "
		    "the seal key in %s (%s)", table, row, column, b.key_id,
		    seal_key_where(), seal_key_current_id());
		seal_box_clear(&b);
		return -1;
	}
	k.data = key;
	k.size = sizeof(key);
	rc = gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &k);
	gnutls_memset(key, 0, sizeof(key));
	if (rc < 0) {
		seal_box_clear(&b);
		return perr_set(e, 500, "seal: %s", gnutls_strerror(rc));
	}
	ad = assoc(table, row, column, &adn);
	pn = b.len - SEAL_NONCE_LEN;
	p = xmalloc(pn + 1);
	rc = gnutls_aead_cipher_decrypt(h, b.buf, SEAL_NONCE_LEN, ad, adn,
	    SEAL_TAG_LEN, b.buf + SEAL_NONCE_LEN, b.len - SEAL_NONCE_LEN, p,
	    &pn);
	gnutls_aead_cipher_deinit(h);
	free(ad);
	seal_box_clear(&b);
	if (rc < 0) {
		free(p);
		return perr_set(e, 500, "%s %s %s does not open under its seal "
		    "key: it was altered or belongs to another row", table, row,
		    column);
	}
	p[pn] = '\0';
	*plain = p;
	*n = pn;
	return 0;
}

/*
 * Apply mode to the secret fields (fields, NULL-terminated, matched
 * case-insensitively at the top level) of the JSON object text json,
 * stored in column "config" of row of table; each field is bound as
 * "config.<Field>".  *out is the new JSON text (free()), or NULL when
 * nothing changed (*changed 0).  Non-string values are left as they
 * are.  Returns 0, or -1 (500): not JSON, or a field that does not
 * open (SEAL_OPEN, SEAL_REKEY, SEAL_CHECK), or one not sealed
 * (SEAL_OPEN, SEAL_REKEY and SEAL_CHECK accept plaintext only when
 * the mode is SEAL_REKEY, which seals it).
 */
int
seal_json(const char *json, enum seal_mode mode, const char *table,
    const char *row, const char *const *fields, char **out, int *changed,
    struct perr *e)
{
	struct json_object	*o = NULL;
	const char		*const *f, *v;
	char			 col[128], *p = NULL, *c = NULL;
	size_t			 n;
	int			 rc = -1, sealed;

	*out = NULL;
	*changed = 0;
	/*
	 * Leniently, as the readers of these columns parse them (json-c's
	 * tokener): a config stored by an older version may hold NaN.
	 */
	if ((o = json_tokener_parse(json)) == NULL ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return perr_set(e, 500, "%s %s config: not a JSON object",
		    table, row);
	}
	json_object_object_foreach(o, k, val) {
		for (f = fields; *f != NULL; f++)
			if (strcasecmp(k, *f) == 0)
				break;
		if (*f == NULL || !json_object_is_type(val, json_type_string))
			continue;
		snprintf(col, sizeof(col), "config.%s", *f);
		v = json_object_get_string(val);
		sealed = seal_is_sealed(v);
		p = c = NULL;
		switch (mode) {
		case SEAL_CLOSE_PLAIN:
			if (sealed)
				continue;
			/* FALLTHROUGH */
		case SEAL_CLOSE:
			if (seal_close(v, strlen(v), table, row, col, &c,
			    e) == -1)
				goto out;
			break;
		case SEAL_REKEY:
			if (!sealed) {
				if (seal_close(v, strlen(v), table, row, col,
				    &c, e) == -1)
					goto out;
				break;
			}
			/* FALLTHROUGH */
		case SEAL_OPEN:
		case SEAL_CHECK:
			if (!sealed) {
				perr_set(e, 500, "%s %s %s is not sealed",
				    table, row, col);
				goto out;
			}
			if (seal_open(v, table, row, col, &p, &n, e) == -1)
				goto out;
			if (mode == SEAL_CHECK) {
				secret_free(p);
				continue;
			}
			if (mode == SEAL_REKEY) {
				rc = seal_close(p, n, table, row, col, &c, e);
				secret_free(p);
				p = NULL;
				if (rc == -1)
					goto out;
				rc = -1;
			}
			break;
		}
		json_object_object_add(o, k, json_object_new_string(c != NULL ?
		    c : p));
		free(c);
		if (p != NULL)
			secret_free(p);
		*changed = 1;
	}
	if (*changed)
		*out = xstrdup(json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Token secrets hashed at rest (acl { hash_secrets = true }).         */

static unsigned char	tok_key[SEAL_KEY_LEN];
static int		tok_on;

/*
 * Hash SecretIDs from now on with key (random, kept sealed in the
 * store's meta row token_hash_key: seal_db.c).  Master, before fork.
 */
void
seal_token_key_set(const unsigned char key[SEAL_KEY_LEN])
{
	memcpy(tok_key, key, SEAL_KEY_LEN);
	tok_on = 1;
}

/* 1 when SecretIDs are stored hashed. */
int
seal_token_hashing(void)
{
	return tok_on;
}

/* 1 when s is a stored SecretID hash (never shown to anyone). */
int
seal_token_is_hash(const char *s)
{
	return s != NULL && strncmp(s, SEAL_TOKEN_PREFIX,
	    strlen(SEAL_TOKEN_PREFIX)) == 0;
}

/*
 * A SecretID as the store keeps it: secret itself, or, with hashing on,
 * "hmac-sha256:" and the hex HMAC-SHA256 of it, written to buf.
 * Returns secret or buf.
 */
const char *
seal_token_stored(const char *secret, char buf[SEAL_TOKEN_LEN])
{
	static const char	 hx[] = "0123456789abcdef";
	unsigned char		 d[32];
	size_t			 pl = strlen(SEAL_TOKEN_PREFIX);
	int			 i;

	if (!tok_on || secret == NULL)
		return secret;
	gnutls_hmac_fast(GNUTLS_MAC_SHA256, tok_key, SEAL_KEY_LEN, secret,
	    strlen(secret), d);
	memcpy(buf, SEAL_TOKEN_PREFIX, pl);
	for (i = 0; i < 32; i++) {
		buf[pl + 2 * i] = hx[d[i] >> 4];
		buf[pl + 2 * i + 1] = hx[d[i] & 15];
	}
	buf[pl + 64] = '\0';
	return buf;
}
