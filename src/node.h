/*
 * node.h -- this node's identity and the cluster's node table
 * (sql/010-nodes.sql): the master registers its row, heartbeats it and
 * marks it left (node.c); the status and agent families read the list.
 */
#ifndef NODE_H
#define NODE_H

#include <stddef.h>
#include <stdint.h>

#include "portcullis.h"

struct conf;
struct store;

/* Member status, as Serf numbers it (Consul's /v1/agent/members). */
#define NODE_ALIVE	1
#define NODE_LEFT	3
#define NODE_FAILED	4

/* One row of the node table (node_list(): strings owned by the array). */
struct node {
	char		*node_id;
	char		*name;
	char		*address;	/* "ip:port" */
	char		*datacenter;
	char		*version;	/* Portcullis release */
	int64_t		 started_at;	/* ms since the epoch */
	int64_t		 last_heartbeat;
	int64_t		 left_at;	/* 0: running */
	int		 status;	/* NODE_ALIVE, NODE_LEFT, NODE_FAILED */
};

void		 node_init(const char *);
const char	*node_self_id(void);
int64_t		 node_now_ms(void);
int		 node_list(struct store *, const struct conf *, struct node **,
		    size_t *, struct perr *) PC_MUSTCHECK;
void		 node_list_free(struct node *, size_t);
const struct node *node_leader(const struct node *, size_t);
int		 node_ping(struct store *, struct perr *) PC_MUSTCHECK;
int		 node_addr_split(const char *, char *, size_t, int *);

/* Master: the row's life (main.c). */
void		 node_master_start(const struct conf *);
int64_t		 node_master_timeout(int64_t);
void		 node_master_run(const struct conf *, int64_t);
void		 node_master_stop(void);

#endif /* NODE_H */
