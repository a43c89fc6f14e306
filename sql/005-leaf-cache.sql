-- 005-leaf-cache.sql -- the agent leaf cache moves into ca_leaf (issue #3).
-- Applied once, in one transaction; recorded in PRAGMA user_version.
--
-- Why: 002 kept the cache in its own WITHOUT ROWID table keyed by
-- service.  Every issuance then wrote a leaf row, its two indexes, a
-- cache row and the cache's key: ~7 pages per commit, each a WAL frame
-- and later a checkpoint write (~8 us a page here), and each ~1.3 KB
-- cache row was an index-b-tree key spilling to an overflow page that
-- SQLite reads whole at every comparison of a search (a cold lookup
-- read ~20 pages).  Now the leaf row itself carries the certificate
-- chain and private key while it is its service's cached agent leaf;
-- the lookup walks ca_leaf_by_service (service, serial) backwards.
-- Issuing a new agent leaf clears those columns on the service's older
-- rows, so only the current leaf's key is kept, as before.
ALTER TABLE ca_leaf ADD COLUMN cert_pem TEXT;		-- CertPEM: leaf + intermediates, while cached
ALTER TABLE ca_leaf ADD COLUMN private_key_pem TEXT;	-- PrivateKeyPEM (secret), while cached
ALTER TABLE ca_leaf ADD COLUMN signing_key_id TEXT;	-- SigningKeyID of the root at issue time
ALTER TABLE ca_leaf ADD COLUMN renew_at INTEGER;	-- Unix seconds: 60-90 % into its life

UPDATE ca_leaf
   SET cert_pem = c.cert_pem, private_key_pem = c.private_key_pem,
       signing_key_id = c.signing_key_id, renew_at = c.renew_at
  FROM ca_leaf_cache c
 WHERE c.serial = ca_leaf.serial;
DROP TABLE ca_leaf_cache;

-- The purge (ca_leaf_expire, every SERIAL_BLOCK issuances) finds expired
-- records through this index.  A bounded scan of the oldest records
-- instead read every page of them -- the records of cached leaves are
-- large -- about 12 page reads per issuance under the leaf benchmark,
-- where the index costs one page write per commit.
CREATE INDEX ca_leaf_by_not_after ON ca_leaf (not_after);
