-- pg/store.sql -- PostgreSQL texts of store.sql queries.

-- name: tx_begin
-- No BEGIN IMMEDIATE: the write lock is the 'raft' row that index_bump
-- locks next, held until COMMIT (sql/pg/001-init.sql).
BEGIN;
