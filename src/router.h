/*
 * router.h -- the routing table (routes.c) and the matcher (router.c);
 * the row type is in route.h.
 */
#ifndef ROUTER_H
#define ROUTER_H

#include "req.h"
#include "route.h"
#include "store.h"

extern const struct route	routes[];
extern const size_t		nroutes;

enum route_match {
	ROUTE_FOUND,
	ROUTE_NO_PATH,		/* 404 */
	ROUTE_NO_METHOD		/* 405 */
};

enum route_match	 router_match(struct req *, char *, size_t);
int			 pattern_match(const char *, const char *,
			    struct kv *, size_t *, struct arena *);

#endif /* ROUTER_H */
