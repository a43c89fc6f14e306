/*
 * node.c -- this node's identity and its row in the store's node table
 * (sql/010-nodes.sql, queries in sql/queries/node.sql), which the
 * status and agent families read (/v1/status/leader, /v1/status/peers,
 * /v1/agent/members).
 *
 * The node ID is a UUID kept in <data_dir>/node-id, as Consul keeps
 * its own: made on first start, the same for every later run.  The
 * master registers the row before it forks (node_master_start()),
 * refreshes last_heartbeat every heartbeat_interval_ms from its poll
 * loop (node_master_run()), and sets left_at when it stops cleanly
 * (node_master_stop()).  A row whose heartbeat is older than
 * heartbeat_timeout_ms is a failed node; one with left_at has left.
 *
 * These writes go outside store_begin(): they carry no modify index and
 * wake no blocking query (Consul's member list is gossip, not Raft
 * state), and on PostgreSQL each node updates only its own row, so no
 * writer waits for another.  On SQLite the update still takes SQLite's
 * write lock for one short statement, waiting behind a worker's
 * transaction at worst; a heartbeat that fails is logged and retried at
 * the next period.  The master uses one connection of its own for them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portcullis.h"
#include "conf.h"
#include "node.h"
#include "store.h"
#include "util.h"

/* Consul's reconnect_timeout: rows gone this long are deleted. */
#define NODE_REAP_MS	(72LL * 3600 * 1000)

static char		 self_id[37];
static struct store	*hb;		/* the master's connection */
static char		*hb_path;
static int64_t		 hb_next;	/* mono ms of the next heartbeat */
static int		 hb_failing;	/* a failure was logged */

/*
 * Load this node's ID from <data_dir>/node-id, or make one and write it
 * there (0600, through a rename so a crash leaves no half file).
 * Master, before the store is opened; fatal when the file cannot be
 * read or written, or holds something that is not a UUID.
 */
void
node_init(const char *data_dir)
{
	char	*path, *tmp, buf[64];
	ssize_t	 n;
	int	 fd;

	xasprintf(&path, "%s/node-id", data_dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n < 0)
			fatal("read %s", path);
		buf[n] = '\0';
		buf[strcspn(buf, " \t\r\n")] = '\0';
		if (!uuid_valid(buf))
			fatalx("%s does not hold a node ID (a UUID); remove it "
			    "to make a new one", path);
		strcpy(self_id, buf);
		free(path);
		return;
	}
	if (errno != ENOENT)
		fatal("open %s", path);
	uuid_generate_v4(self_id);
	xasprintf(&tmp, "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		fatal("open %s", tmp);
	n = (ssize_t)strlen(self_id);
	if (write(fd, self_id, (size_t)n) != n || write(fd, "\n", 1) != 1 ||
	    fsync(fd) == -1)
		fatal("write %s", tmp);
	close(fd);
	if (rename(tmp, path) == -1)
		fatal("rename %s", tmp);
	log_info("new node ID %s", self_id);
	free(tmp);
	free(path);
}

/* This node's ID (node_init() ran in the master, before the fork). */
const char *
node_self_id(void)
{
	return self_id;
}

/* Wall-clock milliseconds since the epoch: the node table's times. */
int64_t
node_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Split "ip:port" (or "[v6]:port") into the address, without brackets,
 * and the port.  Returns 0, or -1 when it is not of that form.
 */
int
node_addr_split(const char *addr, char *ip, size_t len, int *port)
{
	const char	*colon;
	size_t		 n;
	int		 v6 = addr[0] == '[';

	if ((colon = strrchr(addr, ':')) == NULL)
		return -1;
	n = (size_t)(colon - addr);
	if (v6) {
		if (n < 2 || addr[n - 1] != ']')
			return -1;
		addr++;
		n -= 2;
	}
	if (n >= len)
		return -1;
	memcpy(ip, addr, n);
	ip[n] = '\0';
	*port = atoi(colon + 1);
	return 0;
}

/*
 * Every row of the node table, oldest run first, then by name, with
 * each row's status by conf's heartbeat_timeout_ms.  Returns 0 and a
 * new array in *out (node_list_free()) of *n rows, or -1 with 500.
 */
int
node_list(struct store *st, const struct conf *conf, struct node **out,
    size_t *n, struct perr *e)
{
	struct store_q	*q;
	struct node	*v = NULL, *x;
	size_t		 len = 0, cap = 0;
	int64_t		 now;
	int		 rc;

	*out = NULL;
	*n = 0;
	if ((q = store_stmt(st, SQL_NODE_LIST)) == NULL)
		return perr_set(e, 500, "internal store error");
	now = node_now_ms();
	while ((rc = store_step(st, q, e)) == STORE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		x = &v[len++];
		x->node_id = store_col_dup(q, 0);
		x->name = store_col_dup(q, 1);
		x->address = store_col_dup(q, 2);
		x->datacenter = store_col_dup(q, 3);
		x->version = store_col_dup(q, 4);
		x->started_at = store_col_int(q, 5);
		x->last_heartbeat = store_col_int(q, 6);
		x->left_at = store_col_isnull(q, 7) ? 0 : store_col_int(q, 7);
		if (x->left_at != 0)
			x->status = NODE_LEFT;
		else if (now - x->last_heartbeat > conf->heartbeat_timeout_ms)
			x->status = NODE_FAILED;
		else
			x->status = NODE_ALIVE;
	}
	store_reset(q);
	if (rc == STORE_ERR) {
		node_list_free(v, len);
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

/* Free node_list()'s array of n rows (NULL is fine). */
void
node_list_free(struct node *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(v[i].node_id);
		free(v[i].name);
		free(v[i].address);
		free(v[i].datacenter);
		free(v[i].version);
	}
	free(v);
}

/*
 * The leader /v1/status/leader names: the live node whose current run
 * began first, ties broken by name -- the first alive row of
 * node_list()'s order, so every node that reads the same table names
 * the same one.  NULL when no node is alive.  Points into v.
 */
const struct node *
node_leader(const struct node *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (v[i].status == NODE_ALIVE)
			return &v[i];
	return NULL;
}

/*
 * The trivial query of the store health check.  Returns 0 when the
 * store answered, else -1 with 500 (the backend logged why).
 */
int
node_ping(struct store *st, struct perr *e)
{
	struct store_q	*q;
	int		 rc;

	if ((q = store_stmt(st, SQL_NODE_PING)) == NULL)
		return perr_set(e, 500, "internal store error");
	rc = store_step(st, q, e);
	store_reset(q);
	return rc == STORE_ROW ? 0 : (rc == STORE_ERR ? -1 :
	    perr_set(e, 500, "internal store error"));
}

/* Bind and run one write of the node table; 0 or -1 (500). */
static int
run(struct store_q *q, struct perr *e)
{
	int	rc;

	rc = store_step(hb, q, e);
	store_reset(q);
	return rc == STORE_ERR ? -1 : 0;
}

/*
 * Write this node's row for a new run.  A row of another node ID with
 * our name is replaced when that node left or failed; while it is
 * alive we refuse, as Consul refuses a member whose name another node
 * ID holds.
 */
static int
node_register(const struct conf *c, struct perr *e)
{
	struct store_q	*q;
	int64_t		 now, beat, left;
	char		*holder = NULL;
	int		 rc;

	now = node_now_ms();
	if ((q = store_stmt(hb, SQL_NODE_NAME_HOLDER)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(q, ":name", c->node_name);
	store_bind_text(q, ":node_id", self_id);
	if ((rc = store_step(hb, q, e)) == STORE_ROW) {
		holder = store_col_dup(q, 0);
		beat = store_col_int(q, 1);
		left = store_col_isnull(q, 2) ? 0 : store_col_int(q, 2);
		if (left == 0 && now - beat <= c->heartbeat_timeout_ms) {
			store_reset(q);
			perr_set(e, 409, "node_name \"%s\" is in use by the live "
			    "node %s (heartbeat %" PRId64 " ms ago); stop it "
			    "or choose another node_name", c->node_name,
			    holder, now - beat);
			free(holder);
			return -1;
		}
		log_warnx("node_name \"%s\" was node %s's, which %s; taking "
		    "it over", c->node_name, holder, left ? "left" :
		    "failed");
		free(holder);
	}
	store_reset(q);
	if (rc == STORE_ERR)
		return -1;
	if ((q = store_stmt(hb, SQL_NODE_DELETE_NAME)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(q, ":name", c->node_name);
	store_bind_text(q, ":node_id", self_id);
	if (run(q, e) == -1)
		return -1;
	if ((q = store_stmt(hb, SQL_NODE_REAP)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(q, ":before", now - NODE_REAP_MS);
	if (run(q, e) == -1)
		return -1;
	if ((q = store_stmt(hb, SQL_NODE_UPSERT)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_text(q, ":node_id", self_id);
	store_bind_text(q, ":name", c->node_name);
	store_bind_text(q, ":address", c->advertise_addr);
	store_bind_text(q, ":datacenter", c->datacenter);
	store_bind_text(q, ":version", PACKAGE_VERSION);
	store_bind_int(q, ":now", now);
	if (store_step(hb, q, e) == STORE_ERR) {
		rc = store_conflict(hb);
		store_reset(q);
		if (rc)	/* another node took the name meanwhile */
			return perr_set(e, 409, "node_name \"%s\" is in use by "
			    "another node", c->node_name);
		return -1;
	}
	store_reset(q);
	return 0;
}

/*
 * Master, before the first fork: open the heartbeat connection and
 * register this node's row.  Fatal when the row cannot be written (a
 * live node holds the name, or the store refuses).
 */
void
node_master_start(const struct conf *c)
{
	struct perr	e;

	perr_clear(&e);
	free(hb_path);
	xasprintf(&hb_path, "%s/portcullis.db", c->data_dir);
	if (store_open(hb_path, &hb, &e) == -1 ||
	    node_register(c, &e) == -1)
		fatalx("node %s: %s", c->node_name, e.msg);
	log_info("node %s (%s) advertising %s", c->node_name, self_id,
	    c->advertise_addr);
	hb_next = mono_ms() + c->heartbeat_ms;
}

/* Milliseconds from now (monotonic) until the next heartbeat is due. */
int64_t
node_master_timeout(int64_t now)
{
	return hb_next <= now ? 0 : hb_next - now;
}

/*
 * Master, after each poll: refresh the row when due (with the address
 * of the current configuration, which SIGHUP may have changed).  A
 * failure is logged once until a heartbeat succeeds again.
 */
void
node_master_run(const struct conf *c, int64_t now)
{
	struct store_q	*q;
	struct perr	 e;

	if (hb == NULL || now < hb_next)
		return;
	hb_next = now + c->heartbeat_ms;
	perr_clear(&e);
	if ((q = store_stmt(hb, SQL_NODE_HEARTBEAT)) == NULL)
		perr_set(&e, 500, "internal store error");
	else {
		store_bind_int(q, ":now", node_now_ms());
		store_bind_text(q, ":address", c->advertise_addr);
		store_bind_text(q, ":node_id", self_id);
		(void)run(q, &e);
	}
	if (e.status != 0 && !hb_failing) {
		log_warnx("node heartbeat: %s; retrying every %d ms", e.msg,
		    c->heartbeat_ms);
		hb_failing = 1;
	} else if (e.status == 0 && hb_failing) {
		log_info("node heartbeat: the store answers again");
		hb_failing = 0;
	}
}

/* Master, stopping cleanly: mark the row left and close. */
void
node_master_stop(void)
{
	struct store_q	*q;
	struct perr	 e;

	if (hb == NULL)
		return;
	perr_clear(&e);
	if ((q = store_stmt(hb, SQL_NODE_LEAVE)) != NULL) {
		store_bind_int(q, ":now", node_now_ms());
		store_bind_text(q, ":node_id", self_id);
		if (run(q, &e) == -1)
			log_warnx("node leave: %s", e.msg);
	}
	store_close(hb);
	hb = NULL;
}
