/*
 * test_leafcache.c -- the agent leaf cache shared by the workers: what
 * one process keeps another finds, a service's new leaf replaces its
 * old one, a full probe window evicts the soonest renewal, an entry
 * too large for a slot is not kept, and a process that dies holding the
 * lock leaves an empty, working cache rather than a stuck one.
 */
#include "config.h"

#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portcullis.h"
#include "leafcache.h"
#include "tap.h"

static void
ent(struct leafcache_ent *e, uint64_t serial, time_t renew)
{
	memset(e, 0, sizeof(*e));
	e->serial = serial;
	e->index = serial + 100;
	e->not_before = 1000;
	e->not_after = 5000;
	e->renew = renew;
	snprintf(e->skid, sizeof(e->skid), "aa:bb:%02x", (unsigned)serial);
	e->uri = "spiffe://t.consul/ns/default/dc/dc1/svc/web";
	e->cert_pem = "-----BEGIN CERTIFICATE-----\nCERT\n";
	e->key_pem = "-----BEGIN EC PRIVATE KEY-----\nKEY\n";
}

/* The serial of service's cached leaf, or 0. */
static uint64_t
serial_of(const char *service)
{
	struct leafcache_ent	e;
	uint64_t		s;

	if (!leafcache_get(service, &e))
		return 0;
	s = e.serial;
	leafcache_ent_clear(&e);
	return s;
}

int
main(void)
{
	struct leafcache_ent	 in, out;
	char			 name[64], *big;
	pid_t			 pid;
	int			 i, status, evicted;

	ent(&in, 1, 3000);
	ok(leafcache_put("web", &in) == 0 && leafcache_get("web", &out) == 0,
	    "before leafcache_init() nothing is kept");

	leafcache_init();
	ok(leafcache_get("web", &out) == 0, "an empty cache misses");
	ok(leafcache_put("web", &in) == 1, "a leaf is kept");
	ok(leafcache_get("web", &out) == 1 && out.serial == 1 &&
	    out.index == 101 && out.not_before == 1000 &&
	    out.not_after == 5000 && out.renew == 3000 &&
	    strcmp(out.skid, "aa:bb:01") == 0 &&
	    strcmp(out.uri, in.uri) == 0 &&
	    strcmp(out.cert_pem, in.cert_pem) == 0 &&
	    strcmp(out.key_pem, in.key_pem) == 0,
	    "and found with every field");
	leafcache_ent_clear(&out);
	ok(out.buf == NULL && out.key_pem == NULL, "a copy is cleared");
	ok(serial_of("api") == 0 && serial_of("we") == 0 &&
	    serial_of("webb") == 0, "other services miss");

	/* Another process: what the parent kept, and what it keeps. */
	if ((pid = fork()) == 0) {
		ent(&in, 2, 3000);
		_exit(serial_of("web") == 1 && leafcache_put("api", &in) == 1 ?
		    0 : 1);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "a forked process finds the parent's leaf and keeps its own");
	ok(serial_of("api") == 2, "which the parent then finds");

	ent(&in, 3, 3500);
	ok(leafcache_put("web", &in) == 1 && serial_of("web") == 3 &&
	    leafcache_count() == 2, "a new leaf replaces the service's old "
	    "one");

	/* Fill far more services than a probe window: nothing breaks. */
	evicted = 0;
	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "svc-%d", i);
		ent(&in, 1000 + (uint64_t)i, 4000 + i);
		if (leafcache_put(name, &in) != 1)
			evicted = -1;
	}
	for (i = 0; i < 5000 && evicted >= 0; i++) {
		snprintf(name, sizeof(name), "svc-%d", i);
		if (serial_of(name) == 0)
			evicted++;
	}
	ok(evicted > 0 && leafcache_count() <= 4096, "5000 services in "
	    "4096 slots: %d evicted, every put kept", evicted);
	snprintf(name, sizeof(name), "svc-%d", 4999);
	ok(serial_of(name) == 1000 + 4999, "the newest put is always kept");
	ok(serial_of("web") == 0 || serial_of("web") == 3,
	    "an evicted service misses, it never reads another's leaf");

	big = malloc(9000);
	memset(big, 'A', 8999);
	big[8999] = '\0';
	ent(&in, 7, 3000);
	in.cert_pem = big;
	ok(leafcache_put("huge", &in) == 0 && serial_of("huge") == 0,
	    "a chain larger than a slot is not kept");
	free(big);

	/* A process that dies holding the lock. */
	if ((pid = fork()) == 0) {
		if (leafcache_lock() == 0)
			_exit(0);	/* dies with it held */
		_exit(1);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "a child exits holding the lock");
	ok(leafcache_count() == 0, "the next locker empties the cache");
	ent(&in, 9, 3000);
	ok(leafcache_put("web", &in) == 1 && serial_of("web") == 9,
	    "and it works again");
	return tap_done();
}
