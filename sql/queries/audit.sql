-- audit.sql -- queries of the audit log (audit.c).

-- name: audit_head_get
SELECT seq, hash, anchor_seq, anchor_hash FROM audit_head WHERE id = 1;

-- name: audit_head_put
UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1;

-- name: audit_anchor_put
UPDATE audit_head SET anchor_seq = :seq, anchor_hash = :hash WHERE id = 1;

-- name: audit_insert
INSERT INTO audit_log (seq, idx, time, node, actor, source, method, route,
    kind, object, outcome, prev, hash)
    VALUES (:seq, :idx, :time, :node, :actor, :source, :method, :route,
    :kind, :object, :outcome, :prev, :hash);

-- The newest record older than :time (retention by age).
-- name: audit_last_before
SELECT seq FROM audit_log WHERE time < :time ORDER BY time DESC, seq DESC
    LIMIT 1;

-- name: audit_hash_of
SELECT hash FROM audit_log WHERE seq = :seq;

-- name: audit_prune
DELETE FROM audit_log WHERE seq <= :seq;

-- Records after :after in chain order (the API pages and verify walks).
-- name: audit_list
SELECT seq, idx, time, node, actor, source, method, route, kind, object,
    outcome, prev, hash FROM audit_log WHERE seq > :after ORDER BY seq
    LIMIT :limit;
