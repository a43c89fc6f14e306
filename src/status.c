/*
 * status.c -- the status endpoints: Consul's GET /v1/status/leader and
 * GET /v1/status/peers, and our GET /v1/status/store for load
 * balancers.  No ACL, as in Consul (a load balancer has no token), and
 * nothing in them but addresses and a node name.
 *
 * We have no Raft: every node serves reads and writes and PostgreSQL
 * orders the writes.  The "leader" is the one node every node names
 * alike from the node table (node.c: node_leader(): the live node
 * whose run began first, ties by name); the peers are the live nodes,
 * in the same order, so the leader comes first.
 */
#include "config.h"

#include <stdlib.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "conf.h"
#include "node.h"
#include "req.h"
#include "status.h"

/*
 * GET /v1/status/leader
 * Reply: the leader's advertised "ip:port" as a JSON string, "" when no
 * node is alive (Consul's answer without a leader).  500 when the store
 * cannot be read.
 */
int
status_leader(struct req *req, struct perr *e)
{
	const struct node	*l;
	struct node		*v;
	size_t			 n;

	if (node_list(req->store, req->worker->conf, &v, &n, e) == -1)
		return -1;
	l = node_leader(v, n);
	req->reply = json_object_new_string(l != NULL ? l->address : "");
	node_list_free(v, n);
	return 0;
}

/*
 * GET /v1/status/peers
 * Reply: the "ip:port" of every live node, the leader first.
 */
int
status_peers(struct req *req, struct perr *e)
{
	struct json_object	*a;
	struct node		*v;
	size_t			 i, n;

	if (node_list(req->store, req->worker->conf, &v, &n, e) == -1)
		return -1;
	a = json_object_new_array();
	for (i = 0; i < n; i++)
		if (v[i].status == NODE_ALIVE)
			json_object_array_add(a,
			    json_object_new_string(v[i].address));
	node_list_free(v, n);
	req->reply = a;
	return 0;
}

/*
 * GET /v1/status/store (extension)
 * Whether this node reaches its store: 200 {"Node": name, "Store":
 * "reachable"} when a trivial query answers, else 503 "Store
 * unreachable: ..." with the generic store text (the detail is in the
 * node's log; the DSN never appears).
 */
int
status_store(struct req *req, struct perr *e)
{
	struct json_object	*o;
	struct perr		 pe;

	perr_clear(&pe);
	if (node_ping(req->store, &pe) == -1)
		return perr_set(e, 503, "Store unreachable: %s", pe.msg);
	o = json_object_new_object();
	json_object_object_add(o, "Node",
	    json_object_new_string(req->worker->conf->node_name));
	json_object_object_add(o, "Store", json_object_new_string("reachable"));
	req->reply = o;
	return 0;
}
