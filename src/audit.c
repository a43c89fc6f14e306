/*
 * audit.c -- the audit log: a hash chain of records, one per committed
 * change to the ACL system, intentions and the CA (and one per failed
 * login), kept in the store (sql/NNN-audit.sql), streamed to a sink,
 * pruned by retention, checked by `portcullis audit verify`, and read
 * by GET /v1/operator/audit (audit_api.c).
 *
 * Few touch points: the pipeline (http.c) tells the store connection
 * on whose behalf it writes (store_audit_ctx(); acl.c adds the token
 * once resolved, store_audit_actor()); families mark what
 * they write with store_touch() / store_touch_id(); store_commit()
 * calls audit_record() just before COMMIT, which writes the record in
 * that same transaction -- a change that rolls back leaves none -- and
 * audit_emit() after it, which hands the record to the sink.  A commit
 * that touched no audited table (leaf issuance, OIDC login states)
 * records nothing.
 *
 * The chain: record n carries the SHA-256 of record n-1 (prev) and its
 * own (hash, over every field but seq, each length-prefixed: see
 * rec_hash()).  audit_head holds the last record's seq and hash, and
 * the anchor: the last record pruned.  Writers are serialized by the
 * store's write lock (SQLite: flock + BEGIN IMMEDIATE; PostgreSQL: the
 * row lock of the global index, taken by store_begin() on any node),
 * and the head is read and moved under it, so concurrent writers on
 * every node of a cluster extend ONE chain.
 *
 * The sink: JSON lines appended (O_APPEND, one write(2) per line) to
 * audit.sink_file and/or stdout, after COMMIT (a crash in between
 * loses the line, never the record).  Past audit.sink_max_bytes the
 * writer renames the file to "<file>.1" under flock(2); every writer
 * reopens the path when it no longer names the file it holds (another
 * worker rotated, logrotate moved it) and SIGHUP restarts the workers,
 * which open it anew.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <json-c/json.h>

#include "portcullis.h"
#include "audit.h"
#include "conf.h"
#include "store.h"
#include "store_be.h"

#define HASH_HEX	65	/* 64 hex digits and a NUL */
#define VERIFY_PAGE	1000

/* What audit_configure() copied from the configuration. */
static const char	*node = "portcullis";
static int		 max_count;
static int64_t		 max_age_s;
static const char	*sink_path;
static int		 sink_stdout;
static int64_t		 sink_max;

/* The sink file, shared by this process's threads. */
static pthread_mutex_t	 sink_mtx = PTHREAD_MUTEX_INITIALIZER;
static int		 sink_fd = -1;

/* One record; strings borrowed. */
struct rec {
	int64_t		 seq;
	int64_t		 idx;
	const char	*time, *node, *actor, *source, *method, *route;
	const char	*kind, *object, *outcome, *prev, *hash;
};

/*
 * The text fields, in the order rec_hash() hashes them (after the
 * index), rec_json() shows them (after Seq and Index; Hash last, not
 * hashed) and the audit_log columns hold them (after seq and idx:
 * sql/queries/audit.sql).  The order is part of the chain's format:
 * reordering breaks the verification of every stored record.
 */
static const struct {
	const char	*name;	/* JSON */
	const char	*param;	/* of audit_insert */
	size_t		 off;	/* of the const char * in struct rec */
} rec_text[] = {
	{ "Time",	":time",	offsetof(struct rec, time) },
	{ "Node",	":node",	offsetof(struct rec, node) },
	{ "Actor",	":actor",	offsetof(struct rec, actor) },
	{ "Source",	":source",	offsetof(struct rec, source) },
	{ "Method",	":method",	offsetof(struct rec, method) },
	{ "Route",	":route",	offsetof(struct rec, route) },
	{ "Kind",	":kind",	offsetof(struct rec, kind) },
	{ "Object",	":object",	offsetof(struct rec, object) },
	{ "Outcome",	":outcome",	offsetof(struct rec, outcome) },
	{ "PrevHash",	":prev",	offsetof(struct rec, prev) },
};
#define REC_NTEXT	(sizeof(rec_text) / sizeof(rec_text[0]))

/* Field i of rec_text[] in r. */
static const char *
rec_field(const struct rec *r, size_t i)
{
	return *(const char * const *)((const char *)r + rec_text[i].off);
}

/* Set field i of rec_text[] in r to v (borrowed). */
static void
rec_set(struct rec *r, size_t i, const char *v)
{
	*(const char **)((char *)r + rec_text[i].off) = v;
}

/*
 * Take the settings of the audit block (conf must outlive every later
 * call: the process's configuration).
 */
void
audit_configure(const struct conf *c)
{
	node = c->node_name != NULL ? c->node_name : "portcullis";
	max_count = c->audit.max_count;
	max_age_s = c->audit.max_age_s;
	sink_path = c->audit.sink_file;
	sink_stdout = c->audit.sink_stdout;
	sink_max = c->audit.sink_max_bytes;
}

/* Tables whose changes are audited. */
static int
audited(int t)
{
	return t != TBL_RAFT && t != TBL_CA_LEAVES && t != TBL_AUDIT;
}

static void
hash_field(gnutls_hash_hd_t h, const char *v)
{
	char	len[24];
	int	n;

	n = snprintf(len, sizeof(len), "%zu:", strlen(v));
	gnutls_hash(h, len, (size_t)n);
	gnutls_hash(h, v, strlen(v));
}

/*
 * The record's hash (hex into out): SHA-256 over every field but seq,
 * each as "<length>:<bytes>", so no two records serialize alike.  Seq
 * is left out so that an inserted or removed record shows as that, not
 * as every later record being altered (the chain fixes positions).
 */
static void
rec_hash(const struct rec *r, char out[HASH_HEX])
{
	gnutls_hash_hd_t	 h;
	unsigned char		 d[32];
	char			 idx[24];
	size_t			 i;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) != 0)
		fatalx("gnutls_hash_init");
	snprintf(idx, sizeof(idx), "%lld", (long long)r->idx);
	hash_field(h, idx);
	for (i = 0; i < REC_NTEXT; i++)
		hash_field(h, rec_field(r, i));
	gnutls_hash_deinit(h, d);
	for (i = 0; i < sizeof(d); i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The record as the API and the sink show it (a new object). */
static struct json_object *
rec_json(const struct rec *r)
{
	struct json_object	*o;
	size_t			 i;

	o = json_object_new_object();
	json_object_object_add(o, "Seq", json_object_new_int64(r->seq));
	json_object_object_add(o, "Index", json_object_new_int64(r->idx));
	for (i = 0; i < REC_NTEXT; i++)
		json_object_object_add(o, rec_text[i].name,
		    json_object_new_string(rec_field(r, i)));
	json_object_object_add(o, "Hash", json_object_new_string(r->hash));
	return o;
}

/* ts as fixed-width UTC text (compares as text: retention). */
static void
fmt_time(const struct timespec *ts, char out[32])
{
	struct tm	tm;
	size_t		n;

	gmtime_r(&ts->tv_sec, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%06ldZ", ts->tv_nsec / 1000);
}

/* Run a one-shot statement of the open transaction; 0 or -1 (500). */
static int
run(struct store *s, struct store_q *st, struct perr *e)
{
	int	rc;

	rc = store_step(s, st, e);
	store_reset(st);
	return rc < 0 ? -1 : 0;
}

/*
 * Retention, inside the writing transaction: drop the records past
 * audit.retention_max_count and those older than max_age, keeping the
 * last one dropped as the anchor.  Never drops record seq (the newest).
 */
static int
prune(struct store *s, int64_t seq, int64_t anchor, struct perr *e)
{
	struct store_q	*st;
	struct timespec	 ts;
	char		 cut_time[32], hash[HASH_HEX];
	int64_t		 cut = 0;
	int		 rc;

	if (max_count > 0 && seq - anchor > max_count)
		cut = seq - max_count;
	if (max_age_s > 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec -= max_age_s;
		fmt_time(&ts, cut_time);
		if ((st = store_stmt(s, SQL_AUDIT_LAST_BEFORE)) == NULL)
			return perr_set(e, 500, "internal store error");
		store_bind_text(st, ":time", cut_time);
		if ((rc = store_step(s, st, e)) == STORE_ROW &&
		    store_col_int(st, 0) > cut)
			cut = store_col_int(st, 0);
		store_reset(st);
		if (rc < 0)
			return -1;
	}
	if (cut >= seq)
		cut = seq - 1;
	if (cut <= anchor)
		return 0;
	if ((st = store_stmt(s, SQL_AUDIT_HASH_OF)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(st, ":seq", cut);
	if ((rc = store_step(s, st, e)) == STORE_ROW)
		snprintf(hash, sizeof(hash), "%s", store_col_text(st, 0));
	store_reset(st);
	if (rc < 0)
		return -1;
	if (rc != STORE_ROW) {
		log_warnx("audit: record %lld missing; not pruning",
		    (long long)cut);
		return 0;
	}
	if ((st = store_stmt(s, SQL_AUDIT_PRUNE)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(st, ":seq", cut);
	if (run(s, st, e) == -1)
		return -1;
	if ((st = store_stmt(s, SQL_AUDIT_ANCHOR_PUT)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(st, ":seq", cut);
	store_bind_text(st, ":hash", hash);
	return run(s, st, e);
}

/*
 * The JSON line of record r for the sink, or NULL when there is none
 * (malloc'ed).
 */
static char *
sink_line(const struct rec *r)
{
	struct json_object	*o;
	char			*line;

	if (sink_path == NULL && !sink_stdout)
		return NULL;
	o = rec_json(r);
	xasprintf(&line, "%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return line;
}

/*
 * Called by store_commit() just before COMMIT: when the open
 * transaction touched an audited table (or is a failed login's,
 * audit_failure()), append its record to the chain, move the head,
 * apply retention and keep the sink line for audit_emit().  Returns 0,
 * or -1 with 500 (the caller rolls back: no change without a record).
 */
int
audit_record(struct store *s, struct perr *e)
{
	struct store_q		*st;
	struct rec		 r;
	struct timespec		 ts;
	char			 tbuf[32], prev[HASH_HEX], hash[HASH_HEX];
	int64_t			 head, anchor;
	uint64_t		 idx;
	size_t			 i;
	int			 t, kind = s->audit_kind, rc;

	if (kind == -1 || !audited(kind))
		for (kind = -1, t = 0; t < TBL__MAX; t++)
			if (s->touched[t] && audited(t)) {
				kind = t;
				break;
			}
	if (kind == -1 && s->audit_outcome == NULL)
		return 0;
	/*
	 * The head, unless the backend read it with the transaction's
	 * first round trip (PostgreSQL: under the lock already held; the
	 * index is asked for first, since that may be that round trip).
	 */
	idx = store_tx_index(s);
	if (s->head_known) {
		rc = STORE_ROW;
		head = s->head_seq;
		snprintf(prev, sizeof(prev), "%s", s->head_hash);
		anchor = s->head_anchor;
	} else {
		if ((st = store_stmt(s, SQL_AUDIT_HEAD_GET)) == NULL)
			return perr_set(e, 500, "internal store error");
		if ((rc = store_step(s, st, e)) == STORE_ROW) {
			head = store_col_int(st, 0);
			snprintf(prev, sizeof(prev), "%s",
			    store_col_text(st, 1));
			anchor = store_col_int(st, 2);
		}
		store_reset(st);
		if (rc < 0)
			return -1;
	}
	if (rc != STORE_ROW) {
		log_warnx("audit: no chain head (audit_head is empty)");
		return perr_set(e, 500, "internal store error");
	}

	memset(&r, 0, sizeof(r));
	clock_gettime(CLOCK_REALTIME, &ts);
	fmt_time(&ts, tbuf);
	r.seq = head + 1;
	r.idx = (int64_t)idx;
	r.time = tbuf;
	r.node = node;
	r.actor = s->audit_on ? s->audit_actor : "";
	r.source = s->audit_on && s->audit_source ? s->audit_source : "";
	r.method = s->audit_on && s->audit_method ? s->audit_method : "";
	r.route = s->audit_on ? s->audit_route : "";
	r.kind = s->audit_outcome != NULL ? "login" :
	    store_table_name((enum table)kind);
	r.object = s->audit_obj;
	r.outcome = s->audit_outcome != NULL ? s->audit_outcome : "ok";
	r.prev = prev;
	rec_hash(&r, hash);
	r.hash = hash;

	if ((st = store_stmt(s, SQL_AUDIT_INSERT)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(st, ":seq", r.seq);
	store_bind_int(st, ":idx", r.idx);
	for (i = 0; i < REC_NTEXT; i++)
		store_bind_text(st, rec_text[i].param, rec_field(&r, i));
	store_bind_text(st, ":hash", r.hash);
	/*
	 * The record and the head's move go with the COMMIT (store_defer():
	 * on PostgreSQL, no round trip of their own under the lock).
	 */
	if (store_defer(s, st, e) == -1)
		return -1;
	if ((st = store_stmt(s, SQL_AUDIT_HEAD_PUT)) == NULL)
		return perr_set(e, 500, "internal store error");
	store_bind_int(st, ":seq", r.seq);
	store_bind_text(st, ":hash", r.hash);
	if (store_defer(s, st, e) == -1 || prune(s, r.seq, anchor, e) == -1)
		return -1;
	store_touch(s, TBL_AUDIT);
	free(s->audit_line);
	s->audit_line = sink_line(&r);
	return 0;
}

/* Drop the sink line of a transaction that did not commit. */
void
audit_discard(struct store *s)
{
	free(s->audit_line);
	s->audit_line = NULL;
}

/* Open the sink file when it is closed or no longer at its path. */
static void
sink_open(void)
{
	struct stat	 a, b;

	if (sink_fd != -1 && (stat(sink_path, &a) == -1 ||
	    fstat(sink_fd, &b) == -1 || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev)) {
		close(sink_fd);
		sink_fd = -1;
	}
	if (sink_fd == -1 && (sink_fd = open(sink_path, O_WRONLY | O_APPEND |
	    O_CREAT | O_CLOEXEC, 0600)) == -1)
		log_warn("audit: %s", sink_path);
}

/*
 * Past sink_max bytes: rename the file to "<file>.1" (replacing an
 * older one), under an exclusive flock so that of several writers
 * crossing the limit together only one rotates.
 */
static void
sink_rotate(void)
{
	struct stat	 a, b;
	char		*old;

	if (sink_max <= 0 || fstat(sink_fd, &b) == -1 || b.st_size < sink_max)
		return;
	if (flock(sink_fd, LOCK_EX) == -1)
		return;
	if (stat(sink_path, &a) == 0 && a.st_ino == b.st_ino &&
	    a.st_dev == b.st_dev && a.st_size >= sink_max) {
		xasprintf(&old, "%s.1", sink_path);
		if (rename(sink_path, old) == -1)
			log_warn("audit: rename %s", sink_path);
		free(old);
	}
	flock(sink_fd, LOCK_UN);
	close(sink_fd);
	sink_fd = -1;
	sink_open();
}

static void
write_all(int fd, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("audit: sink write");
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/*
 * Called by store_commit() after COMMIT: stream the committed record
 * to the sink (file and/or stdout).  A sink that fails is logged; the
 * record is in the store either way.
 */
void
audit_emit(struct store *s)
{
	char	*line = s->audit_line;

	if (line == NULL)
		return;
	s->audit_line = NULL;
	pthread_mutex_lock(&sink_mtx);
	if (sink_path != NULL) {
		sink_open();
		if (sink_fd != -1) {
			write_all(sink_fd, line, strlen(line));
			sink_rotate();
		}
	}
	if (sink_stdout)
		write_all(STDOUT_FILENO, line, strlen(line));
	pthread_mutex_unlock(&sink_mtx);
	free(line);
}

/*
 * A failed login (routes flagged R_AUDITFAIL; http.c), on the request
 * context already set on s: its record in a small transaction of its
 * own, since the login's own rolled back.  object: the auth method
 * named (or NULL); status: the refusal's.  Rate-limit refusals (429)
 * are not recorded: a flood of them would turn into a flood of writes.
 * Failures to record are logged.
 */
void
audit_failure(struct store *s, const char *object, int status)
{
	struct perr	 e;
	char		 outcome[32];

	if (status == 429)
		return;
	store_rollback(s);
	perr_clear(&e);
	if (store_begin(s, &e) == -1)
		goto fail;
	snprintf(outcome, sizeof(outcome), "failed: %d", status);
	s->audit_outcome = outcome;
	snprintf(s->audit_obj, sizeof(s->audit_obj), "%s",
	    object != NULL ? object : "");
	if (store_commit(s, &e) == -1)
		goto fail;
	return;
fail:
	log_warnx("audit: cannot record a failed login: %s", e.msg);
}

/* A row of audit_list: seq, idx, the text fields in order, hash. */
static void
rec_from_row(struct store_q *st, struct rec *r)
{
	size_t	i;

	r->seq = store_col_int(st, 0);
	r->idx = store_col_int(st, 1);
	for (i = 0; i < REC_NTEXT; i++)
		rec_set(r, i, store_col_text(st, 2 + (int)i));
	r->hash = store_col_text(st, 2 + (int)REC_NTEXT);
}

/* What verify keeps of a row. */
struct vrow {
	int64_t	seq;
	int	ok;			/* content matches hash */
	char	prev[HASH_HEX];
	char	hash[HASH_HEX];
};

/* Verify's walk: where it is in the chain. */
struct walk {
	FILE	*out;
	int64_t	 head, anchor;
	int64_t	 expect;		/* seq the next row must have */
	char	 running[HASH_HEX];	/* hash the next row must carry */
};

/*
 * Judge row cur, knowing the row after it (next, NULL at the end).
 * Returns 0 when cur extends the chain, 1 after naming what is wrong.
 * Renumbered rows still show as what happened: seq is not hashed, so a
 * forged row slipped in before intact ones is "inserted" (the next row
 * chains to the one before it) and a gap closed by renumbering is
 * "removed" (an intact row that chains to an unknown one).
 */
static int
judge(struct walk *w, const struct vrow *cur, const struct vrow *next)
{
	long long	seq = (long long)cur->seq;

	if (cur->seq < w->expect)
		fprintf(w->out, "audit: record %lld inserted (before the "
		    "chain's anchor, record %lld)\n", seq,
		    (long long)w->anchor);
	else if (cur->seq > w->expect)
		fprintf(w->out, "audit: record %lld removed\n",
		    (long long)w->expect);
	else if (cur->seq > w->head)
		fprintf(w->out, "audit: record %lld inserted (after the chain "
		    "head, record %lld)\n", seq, (long long)w->head);
	else if (cur->ok && strcmp(cur->prev, w->running) == 0) {
		snprintf(w->running, sizeof(w->running), "%s", cur->hash);
		w->expect++;
		return 0;
	} else if (next != NULL && next->ok &&
	    strcmp(next->prev, w->running) == 0)
		fprintf(w->out, "audit: record %lld inserted (record %lld "
		    "follows the one before it)\n", seq, (long long)next->seq);
	else if (cur->ok)
		fprintf(w->out, "audit: record %lld removed (the record now "
		    "numbered %lld does not follow record %lld)\n", seq, seq,
		    seq - 1);
	else
		fprintf(w->out, "audit: record %lld altered (its content does "
		    "not match its hash)\n", seq);
	return 1;
}

/* Fill v from the current row of st (query audit_list). */
static void
vrow_fill(struct store_q *st, struct vrow *v)
{
	struct rec	r;
	char		h[HASH_HEX];

	rec_from_row(st, &r);
	v->seq = r.seq;
	snprintf(v->prev, HASH_HEX, "%s", r.prev != NULL ? r.prev : "");
	snprintf(v->hash, HASH_HEX, "%s", r.hash != NULL ? r.hash : "");
	v->ok = 0;
	if (r.time == NULL || r.node == NULL || r.actor == NULL ||
	    r.source == NULL || r.method == NULL || r.route == NULL ||
	    r.kind == NULL || r.object == NULL || r.outcome == NULL ||
	    r.prev == NULL || r.hash == NULL)
		return;
	rec_hash(&r, h);
	v->ok = strcmp(h, r.hash) == 0;
}

/*
 * Walk the chain in the store from the anchor to the head, a page of
 * rows at a time, and report on out.  Returns 0 when it is whole, 1
 * naming the first altered, inserted or removed record, -1 when the
 * store cannot be read.
 */
int
audit_verify(struct store *s, FILE *out)
{
	struct store_q	*st;
	struct perr	 e;
	struct walk	 w;
	struct vrow	 rows[2];
	char		 head_hash[HASH_HEX];
	int64_t		 after, got;
	int		 rc, have = 0, cur = 0, bad = 0;

	perr_clear(&e);
	memset(&w, 0, sizeof(w));
	w.out = out;
	if ((st = store_stmt(s, SQL_AUDIT_HEAD_GET)) == NULL)
		return -1;
	if ((rc = store_step(s, st, &e)) != STORE_ROW) {
		store_reset(st);
		if (rc == STORE_DONE)
			fprintf(out, "audit: the chain head is missing\n");
		return rc < 0 ? -1 : 1;
	}
	w.head = store_col_int(st, 0);
	snprintf(head_hash, sizeof(head_hash), "%s", store_col_text(st, 1));
	w.anchor = store_col_int(st, 2);
	snprintf(w.running, sizeof(w.running), "%s", store_col_text(st, 3));
	store_reset(st);
	w.expect = w.anchor + 1;

	/* Every row in seq order (those before the anchor too). */
	for (after = INT64_MIN; !bad; ) {
		if ((st = store_stmt(s, SQL_AUDIT_LIST)) == NULL)
			return -1;
		store_bind_int(st, ":after", after);
		store_bind_int(st, ":limit", VERIFY_PAGE);
		got = 0;
		while (!bad && (rc = store_step(s, st, &e)) == STORE_ROW) {
			vrow_fill(st, &rows[have ? !cur : cur]);
			after = rows[have ? !cur : cur].seq;
			got++;
			if (have) {
				bad = judge(&w, &rows[cur], &rows[!cur]);
				cur = !cur;
			}
			have = 1;
		}
		store_reset(st);
		if (!bad && rc < 0)
			return -1;
		if (got < VERIFY_PAGE)
			break;
	}
	if (!bad && have)
		bad = judge(&w, &rows[cur], NULL);
	if (!bad && w.expect - 1 < w.head) {
		fprintf(out, "audit: record %lld removed (the chain head is "
		    "record %lld)\n", (long long)w.expect, (long long)w.head);
		bad = 1;
	} else if (!bad && strcmp(w.running, head_hash) != 0) {
		fprintf(out, "audit: record %lld altered (its hash does not "
		    "match the chain head's)\n", (long long)w.head);
		bad = 1;
	}
	if (bad)
		return 1;
	fprintf(out, "audit: chain OK: %lld records (%lld..%lld), anchor "
	    "%lld, head %s\n", (long long)(w.head - w.anchor),
	    (long long)w.anchor + 1, (long long)w.head, (long long)w.anchor,
	    head_hash);
	return 0;
}

/*
 * The record in st's current row (of query audit_list) as the API shows
 * it: a new object, or NULL for a row with a NULL field (tampered
 * with: verify names it).
 */
struct json_object *
audit_row_json(struct store_q *st)
{
	struct rec	r;

	rec_from_row(st, &r);
	if (r.time == NULL || r.node == NULL || r.actor == NULL ||
	    r.source == NULL || r.method == NULL || r.route == NULL ||
	    r.kind == NULL || r.object == NULL || r.outcome == NULL ||
	    r.prev == NULL || r.hash == NULL)
		return NULL;
	return rec_json(&r);
}
