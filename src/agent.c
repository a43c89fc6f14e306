/*
 * agent.c -- Consul's agent endpoints about the node itself:
 *
 *   GET /v1/agent/self      Config, DebugConfig, Coord, Member, Stats,
 *                           Meta; agent:read on this node's name
 *   GET /v1/agent/members   every node of the node table in Serf's
 *                           member shape, filtered by node:read
 *
 * The shapes are Consul 1.22's (AGENT_CONSUL_VERSION): agent/self's
 * Config is the stable struct of agent_endpoint.go (Datacenter,
 * PrimaryDatacenter, NodeName, NodeID, Revision, Server, Version,
 * BuildDate), Member and each member are serf.Member as the api
 * package decodes it.  DebugConfig is a safe subset of the runtime
 * configuration: no DSN, no token, no key, none of the ACL tokens
 * block.  xDS is left out, as Consul leaves it out without an xDS
 * server; Coord is null, as with disable_coordinates.
 *
 * A member's Addr and Port are the node's advertise_addr (our HTTP
 * address, where Consul's are the Serf LAN address); its tags carry
 * role=consul, dc, id, port and build like a Consul server's.  Status is
 * 1 (alive) while the node heartbeats, 3 (left) after a clean stop, 4
 * (failed) once its heartbeat is older than heartbeat_timeout_ms
 * (node.c).  agent/self needs no store: this node answers, so it is
 * alive.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "portcullis.h"
#include "acl.h"
#include "agent.h"
#include "bexpr.h"
#include "conf.h"
#include "node.h"
#include "req.h"

/* Serf's protocol and delegate versions as a Consul 1.22 server shows. */
#define PROTO_MIN	1
#define PROTO_MAX	5
#define PROTO_CUR	2
#define DELEGATE_MIN	2
#define DELEGATE_MAX	5
#define DELEGATE_CUR	4

/* The Revision field: which Portcullis build answers. */
#define AGENT_REVISION	"portcullis-" PACKAGE_VERSION

/* Selectors of ?filter= on the member list (serf.Member's fields). */
static const struct bexpr_field member_filter_schema[] = {
	{ "Name", BF_STRING, NULL },
	{ "Addr", BF_STRING, NULL },
	{ "Port", BF_INT, NULL },
	{ "Tags", BF_MAP_STRING, NULL },
	{ "Status", BF_INT, NULL },
	{ "ProtocolMin", BF_INT, NULL },
	{ "ProtocolMax", BF_INT, NULL },
	{ "ProtocolCur", BF_INT, NULL },
	{ "DelegateMin", BF_INT, NULL },
	{ "DelegateMax", BF_INT, NULL },
	{ "DelegateCur", BF_INT, NULL },
	{ NULL, 0, NULL }
};

static void
add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

/*
 * One member in serf.Member's JSON shape.  name is the member's name
 * (node.dc on the WAN); version is its Portcullis release.
 */
static struct json_object *
member_json(const char *name, const char *address, const char *dc,
    const char *id, const char *version, int acls, int status)
{
	struct json_object	*o, *t;
	char			 ip[64], buf[128];
	int			 port = 0;

	if (node_addr_split(address, ip, sizeof(ip), &port) == -1)
		snprintf(ip, sizeof(ip), "%s", address);
	o = json_object_new_object();
	add_str(o, "Name", name);
	add_str(o, "Addr", ip);
	json_object_object_add(o, "Port", json_object_new_int(port));
	t = json_object_new_object();
	add_str(t, "acls", acls ? "1" : "0");
	snprintf(buf, sizeof(buf), "%s:portcullis-%s", AGENT_CONSUL_VERSION,
	    version);
	add_str(t, "build", buf);
	add_str(t, "dc", dc);
	add_str(t, "id", id);
	snprintf(buf, sizeof(buf), "%d", port);
	add_str(t, "port", buf);
	add_str(t, "raft_vsn", "3");
	add_str(t, "role", "consul");
	add_str(t, "segment", "");
	add_str(t, "vsn", "2");
	add_str(t, "vsn_max", "3");
	add_str(t, "vsn_min", "2");
	json_object_object_add(o, "Tags", t);
	json_object_object_add(o, "Status", json_object_new_int(status));
	json_object_object_add(o, "ProtocolMin", json_object_new_int(PROTO_MIN));
	json_object_object_add(o, "ProtocolMax", json_object_new_int(PROTO_MAX));
	json_object_object_add(o, "ProtocolCur", json_object_new_int(PROTO_CUR));
	json_object_object_add(o, "DelegateMin",
	    json_object_new_int(DELEGATE_MIN));
	json_object_object_add(o, "DelegateMax",
	    json_object_new_int(DELEGATE_MAX));
	json_object_object_add(o, "DelegateCur",
	    json_object_new_int(DELEGATE_CUR));
	return o;
}

/* The safe subset of the runtime configuration (nothing secret). */
static struct json_object *
debug_config(const struct conf *c)
{
	struct json_object	*o, *r;
	char			 ip[64];
	int			 port = 0;

	if (node_addr_split(c->advertise_addr, ip, sizeof(ip), &port) == -1)
		snprintf(ip, sizeof(ip), "%s", c->advertise_addr);
	o = json_object_new_object();
	json_object_object_add(o, "ACLsEnabled",
	    json_object_new_boolean(c->acl.enabled));
	r = json_object_new_object();
	add_str(r, "ACLDefaultPolicy", c->acl.default_policy);
	add_str(r, "ACLDownPolicy", c->acl.down_policy);
	json_object_object_add(r, "ACLsEnabled",
	    json_object_new_boolean(c->acl.enabled));
	add_str(r, "Datacenter", c->datacenter);
	add_str(r, "NodeName", c->node_name);
	json_object_object_add(o, "ACLResolverSettings", r);
	add_str(o, "AdvertiseAddrLAN", ip);
	add_str(o, "AdvertiseAddr", c->advertise_addr);
	json_object_object_add(o, "ConnectEnabled",
	    json_object_new_boolean(c->connect.enabled));
	add_str(o, "DataDir", c->data_dir);
	add_str(o, "Datacenter", c->datacenter);
	json_object_object_add(o, "HeartbeatIntervalMS",
	    json_object_new_int(c->heartbeat_ms));
	json_object_object_add(o, "HeartbeatTimeoutMS",
	    json_object_new_int(c->heartbeat_timeout_ms));
	add_str(o, "NodeID", node_self_id());
	add_str(o, "NodeName", c->node_name);
	add_str(o, "PrimaryDatacenter", c->datacenter);
	add_str(o, "Revision", AGENT_REVISION);
	json_object_object_add(o, "ServerMode", json_object_new_boolean(1));
	add_str(o, "StoreBackend", c->store.backend);
	json_object_object_add(o, "Threads", json_object_new_int(c->threads));
	add_str(o, "Version", AGENT_CONSUL_VERSION);
	json_object_object_add(o, "Workers", json_object_new_int(c->workers));
	return o;
}

/*
 * GET /v1/agent/self
 * Reply: this node's Config, DebugConfig, Coord, Member, Stats, Meta.
 * 403 without agent:read on the node's name (Consul's AgentSelf).
 */
int
agent_self(struct req *req, struct perr *e)
{
	const struct conf	*c = req->worker->conf;
	struct json_object	*o, *cfg, *st, *b, *m;

	if (acl_require(req, ACL_RES_AGENT, ACL_ACCESS_READ, c->node_name,
	    e) == -1)
		return -1;
	o = json_object_new_object();
	cfg = json_object_new_object();
	add_str(cfg, "Datacenter", c->datacenter);
	add_str(cfg, "PrimaryDatacenter", c->datacenter);
	add_str(cfg, "NodeName", c->node_name);
	add_str(cfg, "NodeID", node_self_id());
	add_str(cfg, "Revision", AGENT_REVISION);
	json_object_object_add(cfg, "Server", json_object_new_boolean(1));
	add_str(cfg, "Version", AGENT_CONSUL_VERSION);
	add_str(cfg, "BuildDate", "0001-01-01T00:00:00Z");
	json_object_object_add(o, "Config", cfg);
	json_object_object_add(o, "DebugConfig", debug_config(c));
	json_object_object_add(o, "Coord", NULL);
	json_object_object_add(o, "Member", member_json(c->node_name,
	    c->advertise_addr, c->datacenter, node_self_id(), PACKAGE_VERSION,
	    c->acl.enabled, NODE_ALIVE));
	st = json_object_new_object();
	b = json_object_new_object();
	add_str(b, "prerelease", "");
	add_str(b, "revision", AGENT_REVISION);
	add_str(b, "version", AGENT_CONSUL_VERSION);
	add_str(b, "version_metadata", "");
	json_object_object_add(st, "build", b);
	json_object_object_add(o, "Stats", st);
	m = json_object_new_object();
	add_str(m, "consul-network-segment", "");
	add_str(m, "consul-version", AGENT_CONSUL_VERSION);
	json_object_object_add(o, "Meta", m);
	req->reply = o;
	return 0;
}

/*
 * GET /v1/agent/members?wan=&segment=&filter=
 * Reply: every node of the table as a member, those the token may not
 * node:read dropped, as Consul's filterMembers does, then ?filter=
 * applied to what is left (so an expression never sees what the token
 * may not read).  X-Consul-Results-Filtered-By-ACLs: true when the ACL
 * dropped some and a token was given (Consul sets it only then).  As
 * in Consul, any non-empty wan asks
 * for the WAN pool, whose names are "node.dc"; a segment other than ""
 * or "_all" is 400 "Cannot provide a segment with wan=true" on the WAN
 * and 500 "Network segments are not supported in this version of
 * Consul" on the LAN (CE has no segments).
 */
int
agent_members(struct req *req, struct perr *e)
{
	const struct conf	*c = req->worker->conf;
	struct json_object	*a, *o;
	struct bexpr		*f = NULL;
	struct node		*v;
	const char		*wanq, *seg, *filter;
	char			*name;
	size_t			 i, n;
	int			 wan, filtered = 0;

	wanq = req_query(req, "wan");
	wan = wanq != NULL && *wanq != '\0';
	seg = req_query(req, "segment");
	if (seg != NULL && *seg != '\0' && strcmp(seg, "_all") != 0) {
		if (wan)
			return perr_set(e, 400,
			    "Cannot provide a segment with wan=true");
		return perr_set(e, 500, "Network segments are not supported "
		    "in this version of Consul");
	}
	filter = req_query(req, "filter");
	if (filter != NULL && *filter != '\0' &&
	    bexpr_compile(filter, member_filter_schema, &f, e) == -1)
		return -1;
	if (node_list(req->store, c, &v, &n, e) == -1) {
		bexpr_free(f);
		return -1;
	}
	a = json_object_new_array();
	for (i = 0; i < n; i++) {
		if (wan)
			xasprintf(&name, "%s.%s", v[i].name, v[i].datacenter);
		else
			name = xstrdup(v[i].name);
		if (!acl_allowed(req, ACL_RES_NODE, ACL_ACCESS_READ, name)) {
			filtered = 1;
			free(name);
			continue;
		}
		o = member_json(name, v[i].address, v[i].datacenter,
		    v[i].node_id, v[i].version, c->acl.enabled, v[i].status);
		free(name);
		if (f != NULL && !bexpr_match(f, o))
			json_object_put(o);
		else
			json_object_array_add(a, o);
	}
	node_list_free(v, n);
	bexpr_free(f);
	if (filtered && *acl_req_secret(req) != '\0')
		req_header(req, "X-Consul-Results-Filtered-By-ACLs", "true");
	req->reply = a;
	return 0;
}
