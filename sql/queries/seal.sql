-- seal.sql -- the sealed columns, walked whole by seal_db.c at start-up
-- (sealing plaintext rows) and by `portcullis seal rotate`.  Every
-- sealed value lives in one of these columns; a new one is added here
-- and to seal_db.c's table.

-- name: seal_ca_root_keys
SELECT id, private_key FROM ca_root ORDER BY id;

-- name: seal_ca_root_key_put
UPDATE ca_root SET private_key = :v WHERE id = :id;

-- name: seal_ca_config
SELECT '1', config FROM ca_config WHERE id = 1;

-- name: seal_ca_config_put
UPDATE ca_config SET config = :v WHERE id = 1 AND '1' = :id;

-- name: seal_auth_methods
SELECT name_key, config FROM acl_auth_method WHERE config IS NOT NULL
 ORDER BY name_key;

-- name: seal_auth_method_put
UPDATE acl_auth_method SET config = :v WHERE name_key = :id;

-- name: seal_tokens
-- SecretIDs to hash when acl.hash_secrets is turned on.
SELECT accessor_id, secret_id FROM acl_token ORDER BY accessor_id;

-- name: seal_token_put
-- A change like any other (the write's index): every node's token
-- snapshot patches the rows whose modify_index moved (snap.c).
UPDATE acl_token SET secret_id = :v, modify_index = :idx
 WHERE accessor_id = :id;

-- name: seal_meta_token_key
SELECT key, value FROM meta WHERE key = 'token_hash_key';

-- name: seal_meta_token_key_put
UPDATE meta SET value = :v WHERE key = :id;
