-- 012-snap-tombstones.sql -- what was deleted, and when, so that the
-- per-worker snapshots (src/snap.c) can be patched with the rows changed
-- since their index instead of being read whole (issue #16, item 3).
-- Changed rows are found by their modify_index; deleted ones leave a
-- tombstone here, written by a trigger in the deleting transaction, so
-- no delete path (the API, cascades, the token reaper, auth method
-- deletion) can forget one.  The trigger takes the transaction's index
-- from the 'raft' row that store_begin() has already bumped.
--
-- Tombstones are reaped by the same trigger once 10,000 indexes old; the
-- horizon says up to where, and a snapshot older than it is read whole.
CREATE TABLE snap_tombstone (
	tbl	TEXT NOT NULL,		-- table_index name: 'intentions', 'acl-tokens'
	key	TEXT NOT NULL,		-- the row's key: destination, AccessorID
	idx	INTEGER NOT NULL	-- modify index of the deleting transaction
);
CREATE INDEX snap_tombstone_by_idx ON snap_tombstone (idx);

-- One row: tombstones below idx may have been reaped.
CREATE TABLE snap_tombstone_horizon (
	one	INTEGER PRIMARY KEY CHECK (one = 1),
	idx	INTEGER NOT NULL	-- a snapshot older than this is read whole
);
INSERT INTO snap_tombstone_horizon (one, idx) VALUES (1, 0);

-- An intention destination's entry goes when its last intention does
-- (its intentions cascade with it); the others are patched through the
-- entry's modify_index.
CREATE TRIGGER intention_entry_tombstone AFTER DELETE ON intention_entry
BEGIN
	INSERT INTO snap_tombstone (tbl, key, idx) VALUES ('intentions',
	    old.dest_name, (SELECT idx FROM table_index WHERE name = 'raft'));
END;

CREATE TRIGGER acl_token_tombstone AFTER DELETE ON acl_token
BEGIN
	INSERT INTO snap_tombstone (tbl, key, idx) VALUES ('acl-tokens',
	    old.accessor_id, (SELECT idx FROM table_index WHERE name = 'raft'));
END;

CREATE TRIGGER snap_tombstone_reap AFTER INSERT ON snap_tombstone
BEGIN
	DELETE FROM snap_tombstone WHERE idx < new.idx - 10000;
	UPDATE snap_tombstone_horizon SET idx = new.idx - 10000
	    WHERE idx < new.idx - 10000;
END;

-- The rows changed since a snapshot's index.
CREATE INDEX intention_entry_by_modify ON intention_entry (modify_index);
CREATE INDEX acl_token_by_modify ON acl_token (modify_index);
