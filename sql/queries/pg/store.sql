-- pg/store.sql -- PostgreSQL texts of store.sql queries.

-- name: tx_begin
-- No BEGIN IMMEDIATE: the write lock is the 'raft' row of table_index
-- (sql/pg/001-init.sql), held until COMMIT.  Four commands, one round
-- trip (store_pg.c prepares each on its own and sends them as one
-- pipeline, in front of the transaction's first statement; none may
-- hold a ';' of its own): BEGIN,
-- an asynchronous commit for this transaction only, so that the locks
-- are released without waiting for the WAL flush (tx_commit waits for
-- it after), the next global index, whose row lock makes every other
-- writer wait, and then that index with the audit chain's head
-- (audit_head_get's columns), which audit_record() would otherwise ask
-- for under the lock.  The SELECT is a command of its own so that it
-- reads a snapshot taken once the lock was granted (READ COMMITTED
-- takes one per command): the previous writer's head, not the one from
-- before the wait.
BEGIN;
SET LOCAL synchronous_commit = off;
UPDATE table_index SET idx = idx + 1 WHERE name = 'raft';
SELECT t.idx, h.seq, h.hash, h.anchor_seq
  FROM table_index t LEFT JOIN audit_head h ON h.id = 1
 WHERE t.name = 'raft';

-- name: tx_commit
-- The end of a write transaction, one round trip (a pipeline of its
-- commands, each prepared, as tx_begin): the touched tables' indexes
-- (index_touch, for every table of the comma-separated :names at once),
-- the announcement to every node's watch connection on the channel
-- 'portcullis' (STORE_PG_CHANNEL), delivered at COMMIT in commit order,
-- then the COMMIT, which is asynchronous (tx_begin) and so releases the
-- index's row lock and PostgreSQL's NOTIFY lock at once, then a
-- transaction of its own that makes it durable before the reply.  That
-- one commits synchronously (the session's synchronous_commit: the
-- server's, or the DSN's) and waits for the WAL to be flushed (and
-- replicated, if so configured) up to its own commit record, which lies
-- past ours: WAL is flushed in order, so ours is on disk when it
-- returns, and concurrent writers share PostgreSQL's flushes.  It must
-- have an xid and WAL of its own: a transaction that wrote no WAL
-- (pg_current_xact_id() alone) commits without flushing.  A
-- transactional logical message is the smallest such write: one WAL
-- record, no table, nothing to vacuum (logical decoding consumers see
-- it, with this prefix).  The same statement reads every table's index
-- (index_all's columns after the flush's LSN), in a snapshot taken after
-- our COMMIT, for the node's shared index page: it may hold other
-- nodes' commits, and a query of its own would cost a round trip more.
-- The LEFT JOIN keeps the flush from depending on the join order.
-- The flush runs in an implicit transaction of its own, committed at
-- the pipeline's Sync, before the server answers it.  Deferred writes
-- (store_defer()) are sent in front of all this, in the same pipeline:
-- the first error stops the rest, COMMIT included.
INSERT INTO table_index (name, idx)
    SELECT unnest(string_to_array(:names, ',')), :idx::bigint
    ON CONFLICT (name) DO UPDATE SET idx = excluded.idx;
SELECT pg_notify('portcullis', :idx::text || ' ' || :names);
COMMIT;
SELECT f.lsn, t.name, t.idx
  FROM (SELECT pg_logical_emit_message(true, 'portcullis', 'flush') AS lsn) f
  LEFT JOIN table_index t ON true;
