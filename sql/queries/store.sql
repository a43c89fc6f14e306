-- store.sql -- queries of the store core (store.c).

-- name: meta_get
SELECT value FROM meta WHERE key = :key;

-- name: meta_put
INSERT INTO meta (key, value) VALUES (:key, :value)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value;

-- name: index_get
SELECT idx FROM table_index WHERE name = :name;

-- name: index_all
SELECT name, idx FROM table_index;

-- name: index_bump
UPDATE table_index SET idx = idx + 1 WHERE name = 'raft' RETURNING idx;

-- name: index_touch
INSERT INTO table_index (name, idx) VALUES (:name, :idx)
    ON CONFLICT (name) DO UPDATE SET idx = excluded.idx;

-- Transaction control, prepared once per connection like the rest
-- (sqlite3_exec would parse them on every write).
-- name: tx_begin
BEGIN IMMEDIATE;

-- name: tx_commit
COMMIT;

-- name: tx_rollback
ROLLBACK;
