-- pg/acl.sql -- PostgreSQL texts of acl.sql queries: COLLATE NOCASE
-- becomes lower() on both sides (indexes in sql/pg/001-init.sql).

-- name: acl_token_get
SELECT accessor_id, secret_id, description, policies, roles,
       service_identities, node_identities, local, auth_method,
       expiration_time, expiration_ns, create_time, hash, create_index,
       modify_index
  FROM acl_token WHERE lower(accessor_id) = lower(:id);

-- name: acl_token_id_in_use
SELECT 1 FROM acl_token WHERE lower(accessor_id) = lower(:v)
    OR secret_id = :h;

-- name: acl_token_delete
DELETE FROM acl_token WHERE lower(accessor_id) = lower(:id);

-- name: acl_policy_get
SELECT id, name, description, rules, datacenters, hash, create_index,
       modify_index
  FROM acl_policy WHERE lower(id) = lower(:id);

-- name: acl_policy_delete
DELETE FROM acl_policy WHERE lower(id) = lower(:id);

-- name: acl_role_get
SELECT id, name, description, policies, service_identities,
       node_identities, hash, create_index, modify_index
  FROM acl_role WHERE lower(id) = lower(:id);

-- name: acl_role_delete
DELETE FROM acl_role WHERE lower(id) = lower(:id);
