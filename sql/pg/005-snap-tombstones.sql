-- pg/005-snap-tombstones.sql -- tombstones of deleted rows for patching
-- the per-worker snapshots (src/snap.c); sql/012-snap-tombstones.sql
-- says why and how.  One trigger function for both tables: TG_ARGV[0]
-- is the table_index name, TG_ARGV[1] the key column.  The 'raft' row
-- it reads was bumped (and locked) by this transaction's store_begin().
CREATE TABLE snap_tombstone (
	tbl	TEXT COLLATE "C" NOT NULL,
	key	TEXT COLLATE "C" NOT NULL,
	idx	BIGINT NOT NULL
);
CREATE INDEX snap_tombstone_by_idx ON snap_tombstone (idx);

CREATE TABLE snap_tombstone_horizon (
	one	INTEGER PRIMARY KEY CHECK (one = 1),
	idx	BIGINT NOT NULL
);
INSERT INTO snap_tombstone_horizon (one, idx) VALUES (1, 0);

CREATE FUNCTION snap_tombstone_add() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	i	BIGINT;
BEGIN
	SELECT idx INTO i FROM table_index WHERE name = 'raft';
	INSERT INTO snap_tombstone (tbl, key, idx)
	    VALUES (TG_ARGV[0], to_jsonb(OLD) ->> TG_ARGV[1], i);
	DELETE FROM snap_tombstone WHERE idx < i - 10000;
	UPDATE snap_tombstone_horizon SET idx = i - 10000
	    WHERE idx < i - 10000;
	RETURN OLD;
END
$$;

CREATE TRIGGER intention_entry_tombstone AFTER DELETE ON intention_entry
    FOR EACH ROW EXECUTE FUNCTION snap_tombstone_add('intentions',
    'dest_name');
CREATE TRIGGER acl_token_tombstone AFTER DELETE ON acl_token
    FOR EACH ROW EXECUTE FUNCTION snap_tombstone_add('acl-tokens',
    'accessor_id');

CREATE INDEX intention_entry_by_modify ON intention_entry (modify_index);
CREATE INDEX acl_token_by_modify ON acl_token (modify_index);
