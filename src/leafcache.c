/*
 * leafcache.c -- the agent leaf cache (leaf.c), shared by every worker.
 *
 * Consul's agent keeps each service's current leaf certificate and
 * private key in memory and reuses it until it nears expiry.  We have
 * several workers and no agent, so the master maps one anonymous
 * shared region before it forks (leafcache_init()) and every worker
 * serves the leaves any of them issued.  Nothing here touches the disk:
 * the leaves' private keys are never written to the store (migration
 * 006 took them out of it), the region is left out of core dumps, and a
 * slot is zeroed before it is reused.  A restart of the master forgets
 * the cache, as a restart of Consul's agent does: the next call for a
 * service issues a fresh leaf.  A reload (SIGHUP) keeps it: the master
 * and its mapping stay.
 *
 * Why not the store, where sessions 1-3 kept it: every issuance then
 * wrote the chain and the key (~1.3 KB) into its ca_leaf row and every
 * call read it back in a SQLite read transaction; under the leaf
 * benchmark the store was the largest cost of an issuance after the
 * crypto (issue #3), and keys at rest in the database file are worse
 * than keys in memory.
 *
 * Layout: LC_SLOTS slots of LC_SLOT_BYTES, addressed by an FNV-1a hash
 * of the service name over a window of LC_PROBE slots; when the window
 * is full the entry due for renewal first is evicted (the next call for
 * it issues again).  An entry that does not fit a slot (a service name
 * of more than ~1.5 KB) is not cached.  Pages of the region are only
 * backed by memory once a slot on them has been used.
 *
 * Locking: one process-shared robust mutex.  A lookup copies its entry
 * out under it (a few microseconds).  A worker that dies holding it may
 * have left a slot half-written, so the next process to take it wipes
 * every entry (it is only a cache) and marks the mutex consistent.
 * Validity (root, renewal time, revocation) is the caller's to judge.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portcullis.h"
#include "leafcache.h"

#define LC_SLOTS	4096
#define LC_SLOT_BYTES	8192
#define LC_PROBE	8

struct lc_head {
	uint32_t	 len[4];	/* service, uri, cert, key, each + NUL */
	uint64_t	 serial;
	uint64_t	 index;
	int64_t		 not_before, not_after;	/* renewal: lc_shm.renew */
	char		 skid[LEAFCACHE_SKID_MAX];
};

#define LC_DATA		(LC_SLOT_BYTES - sizeof(struct lc_head))

struct lc_slot {
	struct lc_head	 h;
	char		 data[LC_DATA];	/* service, uri, cert, key */
};

/* Hashes and renewal times apart: probing reads no slot's page. */
struct lc_shm {
	pthread_mutex_t	 mtx;
	uint32_t	 hash[LC_SLOTS];	/* 0: empty */
	int64_t		 renew[LC_SLOTS];
	struct lc_slot	 slot[LC_SLOTS];
};

static struct lc_shm	*lc;

/*
 * Master, before forking the workers: map the cache.  Without it (unit
 * tests, tools) every lookup misses and nothing is kept.
 */
void
leafcache_init(void)
{
	pthread_mutexattr_t	 a;
	void			*p;

	if (lc != NULL)
		return;
	p = mmap(NULL, sizeof(*lc), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("mmap leaf cache");
	(void)madvise(p, sizeof(*lc), MADV_DONTDUMP);	/* private keys */
	lc = p;
	if (pthread_mutexattr_init(&a) != 0 ||
	    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&lc->mtx, &a) != 0)
		fatalx("leaf cache mutex");
	pthread_mutexattr_destroy(&a);
}

static void
slot_wipe(size_t i)
{
	struct lc_slot	*s = &lc->slot[i];
	size_t		 used;

	lc->hash[i] = 0;
	lc->renew[i] = 0;
	used = (size_t)s->h.len[0] + s->h.len[1] + s->h.len[2] + s->h.len[3];
	explicit_bzero(s->data, used < LC_DATA ? used : LC_DATA);
	memset(&s->h, 0, sizeof(s->h));
}

/*
 * Take the cache's lock; after a holder died, wipe every entry first.
 * Returns 0, or -1 when there is no cache or the lock failed.
 */
int
leafcache_lock(void)
{
	size_t	i;
	int	r;

	if (lc == NULL)
		return -1;
	if ((r = pthread_mutex_lock(&lc->mtx)) == EOWNERDEAD) {
		log_warnx("leaf cache: a worker died holding it; emptied");
		for (i = 0; i < LC_SLOTS; i++)
			if (lc->hash[i] != 0)
				slot_wipe(i);
		pthread_mutex_consistent(&lc->mtx);
		return 0;
	}
	return r == 0 ? 0 : -1;
}

void
leafcache_unlock(void)
{
	pthread_mutex_unlock(&lc->mtx);
}

static uint32_t
hash(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h == 0 ? 1 : h;
}

/* The slot number holding service, or -1; under the lock. */
static long
find(const char *service, uint32_t h)
{
	size_t	i, k;

	for (i = 0; i < LC_PROBE; i++) {
		k = (h + i) % LC_SLOTS;
		if (lc->hash[k] == h && strcmp(lc->slot[k].data, service) == 0)
			return (long)k;
	}
	return -1;
}

/*
 * The cached leaf of service: returns 1 with *out filled (its strings
 * in out->buf; leafcache_ent_clear() wipes and frees it), or 0 when
 * there is none.
 */
int
leafcache_get(const char *service, struct leafcache_ent *out)
{
	struct lc_slot	*s;
	size_t		 n;
	long		 k;

	memset(out, 0, sizeof(*out));
	if (leafcache_lock() == -1)
		return 0;
	if ((k = find(service, hash(service))) == -1) {
		leafcache_unlock();
		return 0;
	}
	s = &lc->slot[k];
	out->serial = s->h.serial;
	out->index = s->h.index;
	out->not_before = (time_t)s->h.not_before;
	out->not_after = (time_t)s->h.not_after;
	out->renew = (time_t)lc->renew[k];
	memcpy(out->skid, s->h.skid, sizeof(out->skid));
	n = (size_t)s->h.len[1] + s->h.len[2] + s->h.len[3];
	out->buf = xmalloc(n);
	out->buflen = n;
	memcpy(out->buf, s->data + s->h.len[0], n);
	out->uri = out->buf;
	out->cert_pem = out->uri + s->h.len[1];
	out->key_pem = out->cert_pem + s->h.len[2];
	leafcache_unlock();
	return 1;
}

/*
 * Keep in as the cached leaf of service, replacing the one it had.
 * Returns 1, or 0 when it is not kept (no cache; too large).
 */
int
leafcache_put(const char *service, const struct leafcache_ent *in)
{
	struct lc_slot	*s;
	const char	*part[4];
	uint32_t	 h = hash(service), len[4];
	size_t		 i, off, c;
	long		 k;

	part[0] = service;
	part[1] = in->uri;
	part[2] = in->cert_pem;
	part[3] = in->key_pem;
	for (off = 0, i = 0; i < 4; i++) {
		len[i] = (uint32_t)strlen(part[i]) + 1;
		off += len[i];
	}
	if (off > LC_DATA ||
	    strnlen(in->skid, sizeof(in->skid)) == sizeof(in->skid) ||
	    leafcache_lock() == -1)
		return 0;
	if ((k = find(service, h)) == -1) {
		/* An empty slot in the window, else the soonest renewal. */
		for (i = 0; i < LC_PROBE; i++) {
			c = (h + i) % LC_SLOTS;
			if (lc->hash[c] == 0) {
				k = (long)c;
				break;
			}
			if (k == -1 || lc->renew[c] < lc->renew[k])
				k = (long)c;
		}
	}
	slot_wipe((size_t)k);
	s = &lc->slot[k];
	for (off = 0, i = 0; i < 4; i++) {
		memcpy(s->data + off, part[i], len[i]);
		s->h.len[i] = len[i];
		off += len[i];
	}
	s->h.serial = in->serial;
	s->h.index = in->index;
	s->h.not_before = (int64_t)in->not_before;
	s->h.not_after = (int64_t)in->not_after;
	memcpy(s->h.skid, in->skid, sizeof(s->h.skid));
	lc->renew[k] = (int64_t)in->renew;
	lc->hash[k] = h;
	leafcache_unlock();
	return 1;
}

/* Wipe and free what leafcache_get() copied out. */
void
leafcache_ent_clear(struct leafcache_ent *e)
{
	if (e->buf != NULL) {
		explicit_bzero(e->buf, e->buflen);
		free(e->buf);
	}
	memset(e, 0, sizeof(*e));
}

/* How many services have a cached leaf (tests, diagnostics). */
size_t
leafcache_count(void)
{
	size_t	i, n = 0;

	if (leafcache_lock() == -1)
		return 0;
	for (i = 0; i < LC_SLOTS; i++)
		if (lc->hash[i] != 0)
			n++;
	leafcache_unlock();
	return n;
}
