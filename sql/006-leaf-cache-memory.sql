-- 006-leaf-cache-memory.sql -- the agent leaf cache leaves the store
-- (issue #3).  Applied once, in one transaction; recorded in
-- PRAGMA user_version.
--
-- Why: 005 kept each service's cached leaf -- its chain and private
-- key -- in its ca_leaf row, so every issuance wrote ~1.3 KB more and
-- every call to the leaf endpoint read it back in a SQLite read
-- transaction.  The cache now lives in memory shared by the workers
-- (src/leafcache.c), as Consul's agent keeps it in memory, and no leaf
-- private key is written to disk.  The keys stored by 005 are dropped
-- here, their bytes overwritten (secure_delete) rather than left in
-- free pages; the first call for each service after the upgrade issues
-- a fresh leaf.
PRAGMA secure_delete = ON;
UPDATE ca_leaf SET private_key_pem = NULL, cert_pem = NULL
 WHERE private_key_pem IS NOT NULL OR cert_pem IS NOT NULL;
ALTER TABLE ca_leaf DROP COLUMN private_key_pem;
ALTER TABLE ca_leaf DROP COLUMN cert_pem;
ALTER TABLE ca_leaf DROP COLUMN signing_key_id;
ALTER TABLE ca_leaf DROP COLUMN renew_at;
PRAGMA secure_delete = OFF;
