-- acl.sql -- queries of the ACL family (acl.c, acl_token.c,
-- acl_policy.c, acl_role.c, acl_misc.c).  Each table's reads return the
-- same columns in the same order, decoded by one function per type.
-- IDs (not SecretIDs) are UUIDs matched in any letter case, as Consul's
-- UUID indexes match them (indexes: 009-uuid-nocase.sql).

-- name: acl_token_all
SELECT accessor_id, secret_id, description, policies, roles,
       service_identities, node_identities, local, auth_method,
       expiration_time, expiration_ns, create_time, hash, create_index,
       modify_index
  FROM acl_token ORDER BY accessor_id;

-- name: acl_token_get
SELECT accessor_id, secret_id, description, policies, roles,
       service_identities, node_identities, local, auth_method,
       expiration_time, expiration_ns, create_time, hash, create_index,
       modify_index
  FROM acl_token WHERE accessor_id = :id COLLATE NOCASE;

-- name: acl_token_id_in_use
-- AccessorIDs compare as UUIDs (any letter case), SecretIDs exactly.
-- :h is :v as stored (its HMAC under acl.hash_secrets, seal.c).
SELECT 1 FROM acl_token WHERE accessor_id = :v COLLATE NOCASE
    OR secret_id = :h;

-- name: acl_token_secret_exists
SELECT accessor_id FROM acl_token WHERE secret_id = :secret;

-- name: acl_token_upsert
INSERT INTO acl_token (accessor_id, secret_id, description, policies,
    roles, service_identities, node_identities, local, auth_method,
    expiration_time, expiration_ns, create_time, hash, create_index,
    modify_index)
    VALUES (:accessor_id, :secret_id, :description, :policies, :roles,
    :service_identities, :node_identities, :local, :auth_method,
    :expiration_time, :expiration_ns, :create_time, :hash, :idx, :idx)
    ON CONFLICT (accessor_id) DO UPDATE
    SET description = excluded.description, policies = excluded.policies,
        roles = excluded.roles,
        service_identities = excluded.service_identities,
        node_identities = excluded.node_identities,
        hash = excluded.hash, modify_index = excluded.modify_index;

-- name: acl_token_delete
DELETE FROM acl_token WHERE accessor_id = :id COLLATE NOCASE;

-- name: acl_token_reap
DELETE FROM acl_token WHERE expiration_ns IS NOT NULL
   AND expiration_ns <= :now;

-- name: acl_policy_all
SELECT id, name, description, rules, datacenters, hash, create_index,
       modify_index
  FROM acl_policy ORDER BY id;

-- name: acl_policy_get
SELECT id, name, description, rules, datacenters, hash, create_index,
       modify_index
  FROM acl_policy WHERE id = :id COLLATE NOCASE;

-- name: acl_policy_get_name
SELECT id, name, description, rules, datacenters, hash, create_index,
       modify_index
  FROM acl_policy WHERE name_key = lower(:name);

-- name: acl_policy_upsert
INSERT INTO acl_policy (id, name, name_key, description, rules,
    datacenters, hash, create_index, modify_index)
    VALUES (:id, :name, lower(:name), :description, :rules, :datacenters,
    :hash, :idx, :idx)
    ON CONFLICT (id) DO UPDATE
    SET name = excluded.name, name_key = excluded.name_key,
        description = excluded.description, rules = excluded.rules,
        datacenters = excluded.datacenters, hash = excluded.hash,
        modify_index = excluded.modify_index;

-- name: acl_policy_delete
DELETE FROM acl_policy WHERE id = :id COLLATE NOCASE;

-- name: acl_role_all
SELECT id, name, description, policies, service_identities,
       node_identities, hash, create_index, modify_index
  FROM acl_role ORDER BY id;

-- name: acl_role_get
SELECT id, name, description, policies, service_identities,
       node_identities, hash, create_index, modify_index
  FROM acl_role WHERE id = :id COLLATE NOCASE;

-- name: acl_role_get_name
SELECT id, name, description, policies, service_identities,
       node_identities, hash, create_index, modify_index
  FROM acl_role WHERE name_key = lower(:name);

-- name: acl_role_upsert
INSERT INTO acl_role (id, name, name_key, description, policies,
    service_identities, node_identities, hash, create_index, modify_index)
    VALUES (:id, :name, lower(:name), :description, :policies,
    :service_identities, :node_identities, :hash, :idx, :idx)
    ON CONFLICT (id) DO UPDATE
    SET name = excluded.name, name_key = excluded.name_key,
        description = excluded.description, policies = excluded.policies,
        service_identities = excluded.service_identities,
        node_identities = excluded.node_identities, hash = excluded.hash,
        modify_index = excluded.modify_index;

-- name: acl_role_delete
DELETE FROM acl_role WHERE id = :id COLLATE NOCASE;
