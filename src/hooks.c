/*
 * hooks.c -- THE table of lifecycle hooks: what each family needs done
 * at master start-up, at worker start and when a worker dies.  With
 * routes.c it is the only file of the pipeline that names a family, so
 * main.c and worker.c walk a table instead of calling ca.c, acl_misc.c
 * and the like (#17 layering).  Rows run in order: the CA and the
 * shared-memory tables exist before the ACL bootstrap writes tokens.
 *
 * A separate file rather than rows in routes.c: routes.c is about
 * requests (the router and its unit test walk it); this is about
 * processes.  Adapters here fit a family's function to a hook's type
 * where they differ, so the family files stay as they are.
 */
#include "config.h"

#include <inttypes.h>
#include <stdint.h>

#include "portcullis.h"
#include "acl.h"
#include "acl_login.h"
#include "ca.h"
#include "conf.h"
#include "hooks.h"
#include "leafcache.h"
#include "metrics.h"
#include "router.h"
#include "store.h"

/* The leaf cache's shared memory, mapped before the fork. */
static int
leafcache_boot(struct store *st, const struct conf *c, struct perr *e)
{
	(void)st;
	(void)c;
	(void)e;
	leafcache_init();
	return 0;
}

/* OIDC flow states and login failure counts: shared memory too. */
static int
acl_login_boot(struct store *st, const struct conf *c, struct perr *e)
{
	(void)st;
	(void)c;
	(void)e;
	acl_login_init();
	return 0;
}

/* The metrics' shared memory, a slot per route (metrics.c). */
static int
metrics_boot(struct store *st, const struct conf *c, struct perr *e)
{
	size_t	i;

	(void)st;
	(void)e;
	metrics_init(!c->telemetry.disable, c->workers, nroutes);
	for (i = 0; i < nroutes; i++)
		metrics_route_name(i, method_name(routes[i].method),
		    routes[i].pattern);
	return 0;
}

/* The CSR signings a dead worker had in flight (CSRMaxConcurrent). */
static void
ca_gone(int slot, int pid)
{
	int64_t	held;

	if ((held = ca_worker_gone(slot)) > 0)
		log_warnx("worker %d (pid %d) died signing; gave back "
		    "%" PRId64 " CSRMaxConcurrent share(s)", slot, pid, held);
}

/* The writer gate entries a dead worker held (store_pg.c). */
static void
store_gone(int slot, int pid)
{
	int64_t	held;

	if ((held = store_worker_gone(slot)) > 0)
		log_warnx("worker %d (pid %d) died in a write; gave back "
		    "%" PRId64 " writer gate entr%s", slot, pid, held,
		    held == 1 ? "y" : "ies");
}

const struct hook hooks[] = {
/*	 name			boot		worker_start	worker_gone */
	{ "store writer gate",	NULL,		store_worker_start, store_gone },
	{ "connect CA bootstrap", ca_bootstrap,	ca_worker_start, ca_gone },
	{ "leaf cache",		leafcache_boot,	NULL,		NULL },
	{ "ACL login state",	acl_login_boot,	NULL,		NULL },
	{ "ACL bootstrap",	acl_store_init,	NULL,		NULL },
	{ "metrics",		metrics_boot,	metrics_worker_start, NULL },
};
const size_t	nhooks = sizeof(hooks) / sizeof(hooks[0]);
