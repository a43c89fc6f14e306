/*
 * test_node.c -- the node table as the status and agent families read
 * it (node.c): each row's status by heartbeat age and clean stop, the
 * leader rule (oldest live run, ties by name), the store ping, and
 * advertise_addr splitting.  SQLite only: the PostgreSQL side runs in
 * tests/e2e/test_agent.py with several real nodes.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portcullis.h"
#include "conf.h"
#include "node.h"
#include "store.h"
#include "tap.h"

/* One row as node_register() writes it, with chosen times. */
static int
put(struct store *s, const char *id, const char *name, const char *addr,
    int64_t started, int64_t beat, int64_t left)
{
	struct store_q	*q;
	struct perr	 e;
	int		 rc;

	perr_clear(&e);
	if ((q = store_stmt(s, SQL_NODE_UPSERT)) == NULL)
		return -1;
	store_bind_text(q, ":node_id", id);
	store_bind_text(q, ":name", name);
	store_bind_text(q, ":address", addr);
	store_bind_text(q, ":datacenter", "dc1");
	store_bind_text(q, ":version", "0.0.0");
	store_bind_int(q, ":now", started);
	rc = store_step(s, q, &e);
	store_reset(q);
	if (rc < 0)
		return -1;
	q = store_stmt(s, left ? SQL_NODE_LEAVE : SQL_NODE_HEARTBEAT);
	store_bind_int(q, ":now", left ? left : beat);
	if (!left)
		store_bind_text(q, ":address", addr);
	store_bind_text(q, ":node_id", id);
	rc = store_step(s, q, &e);
	store_reset(q);
	return rc < 0 ? -1 : 0;
}

static const struct node *
find(const struct node *v, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static void
test_addr_split(void)
{
	char	ip[64];
	int	port = 0;

	ok(node_addr_split("10.0.0.5:8500", ip, sizeof(ip), &port) == 0 &&
	    strcmp(ip, "10.0.0.5") == 0 && port == 8500, "ipv4:port splits");
	ok(node_addr_split("[fd00::1]:8501", ip, sizeof(ip), &port) == 0 &&
	    strcmp(ip, "fd00::1") == 0 && port == 8501,
	    "[ipv6]:port splits without the brackets");
	ok(node_addr_split("10.0.0.5", ip, sizeof(ip), &port) == -1,
	    "an address without a port is refused");
	ok(node_addr_split("[fd00::1:8501", ip, sizeof(ip), &port) == -1,
	    "an unclosed bracket is refused");
	ok(node_addr_split("10.0.0.5:1", ip, 4, &port) == -1,
	    "an address longer than the buffer is refused");
}

int
main(void)
{
	char			 dir[] = "/tmp/pc-node-XXXXXX", path[128];
	struct conf		 c;
	struct store		*s;
	struct perr		 e;
	struct node		*v;
	const struct node	*l;
	size_t			 n;
	int64_t			 now;

	test_addr_split();
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/test.db", dir);
	perr_clear(&e);
	ok(store_open(path, &s, &e) == 0 && store_migrate(s, &e) == 0,
	    "store opened and migrated");
	ok(node_ping(s, &e) == 0, "the ping answers on a working store");
	memset(&c, 0, sizeof(c));
	c.heartbeat_timeout_ms = 15000;
	now = node_now_ms();
	ok(node_list(s, &c, &v, &n, &e) == 0 && n == 0 &&
	    node_leader(v, n) == NULL, "no rows: no leader");
	node_list_free(v, n);
	/* b started first but failed; a and aa tie; c left. */
	ok(put(s, "id-a", "a", "10.0.0.1:8500", now - 60000, now, 0) == 0 &&
	    put(s, "id-aa", "aa", "10.0.0.2:8500", now - 60000, now - 1000,
	    0) == 0 &&
	    put(s, "id-b", "b", "10.0.0.3:8500", now - 90000, now - 20000,
	    0) == 0 &&
	    put(s, "id-c", "c", "10.0.0.4:8500", now - 99000, now, now) == 0,
	    "four rows written");
	ok(node_list(s, &c, &v, &n, &e) == 0 && n == 4, "four rows listed");
	ok(find(v, n, "a")->status == NODE_ALIVE &&
	    find(v, n, "aa")->status == NODE_ALIVE,
	    "fresh heartbeats are alive (1)");
	ok(find(v, n, "b")->status == NODE_FAILED,
	    "a heartbeat older than the timeout is failed (4)");
	ok(find(v, n, "c")->status == NODE_LEFT, "a clean stop is left (3)");
	l = node_leader(v, n);
	ok(l != NULL && strcmp(l->name, "a") == 0 &&
	    strcmp(l->address, "10.0.0.1:8500") == 0,
	    "the leader is the oldest live run, ties broken by name");
	node_list_free(v, n);
	c.heartbeat_timeout_ms = 500;
	ok(node_list(s, &c, &v, &n, &e) == 0 &&
	    find(v, n, "aa")->status == NODE_FAILED &&
	    strcmp(node_leader(v, n)->name, "a") == 0,
	    "the timeout decides: with 500 ms aa has failed, a still leads");
	node_list_free(v, n);
	store_close(s);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path) != 0)
		return 1;
	return tap_done();
}
