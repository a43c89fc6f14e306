-- 009-uuid-nocase.sql -- case-insensitive lookups of UUID-keyed objects
-- (issue #12, item 9).  Applied once, in one transaction; recorded in
-- PRAGMA user_version.
--
-- Why: Consul's memdb keys AccessorID, policy, role, binding rule and
-- intention IDs with a UUID field index, which parses the hex: "4C2E..."
-- and "4c2e..." are one key, and a create with either casing of an
-- existing ID is refused ("AccessorID is already in use").  We store the
-- ID as given (Consul echoes it so) and look it up with COLLATE NOCASE
-- (sql/queries/acl.sql, intention.sql); these indexes serve those
-- lookups.  The SecretID stays case-sensitive, as Consul's SecretID
-- index is a plain string index.  Not UNIQUE: a store written before
-- this migration may hold two casings of one ID, which must not stop
-- the server from starting; new writes are checked by the handlers.
-- Binding rule IDs need none: they are always generated, lowercase,
-- and looked up with lower(:id).
CREATE INDEX acl_token_accessor_nocase ON acl_token
    (accessor_id COLLATE NOCASE);	-- AccessorID, any letter case
CREATE INDEX acl_policy_id_nocase ON acl_policy
    (id COLLATE NOCASE);		-- policy ID, any letter case
CREATE INDEX acl_role_id_nocase ON acl_role
    (id COLLATE NOCASE);		-- role ID, any letter case
CREATE INDEX intention_legacy_id_nocase ON intention
    (legacy_id COLLATE NOCASE)
    WHERE legacy_id IS NOT NULL;	-- legacy intention ID, any case
