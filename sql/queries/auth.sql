-- auth.sql -- queries of auth methods, binding rules, login and OIDC
-- (acl_auth_method.c, acl_binding_rule.c, acl_login.c).  Each table's
-- reads return the same columns in the same order.

-- name: auth_method_all
SELECT name, type, display_name, description, max_token_ttl,
       token_locality, config, create_index, modify_index
  FROM acl_auth_method ORDER BY name_key;

-- name: auth_method_get
SELECT name, type, display_name, description, max_token_ttl,
       token_locality, config, create_index, modify_index
  FROM acl_auth_method WHERE name_key = lower(:name);

-- name: auth_method_upsert
INSERT INTO acl_auth_method (name, name_key, type, display_name,
    description, max_token_ttl, token_locality, config, create_index,
    modify_index)
    VALUES (:name, lower(:name), :type, :display_name, :description,
    :max_token_ttl, :token_locality, :config, :idx, :idx)
    ON CONFLICT (name_key) DO UPDATE
    SET name = excluded.name, display_name = excluded.display_name,
        description = excluded.description,
        max_token_ttl = excluded.max_token_ttl,
        token_locality = excluded.token_locality, config = excluded.config,
        modify_index = excluded.modify_index;

-- name: auth_method_delete
DELETE FROM acl_auth_method WHERE name_key = lower(:name);

-- name: auth_method_delete_rules
DELETE FROM acl_binding_rule WHERE lower(auth_method) = lower(:name);

-- name: auth_method_delete_tokens
DELETE FROM acl_token WHERE auth_method != ''
   AND lower(auth_method) = lower(:name);

-- name: binding_rule_all
SELECT id, description, auth_method, selector, bind_type, bind_name,
       bind_vars, create_index, modify_index
  FROM acl_binding_rule ORDER BY id;

-- name: binding_rule_by_method
SELECT id, description, auth_method, selector, bind_type, bind_name,
       bind_vars, create_index, modify_index
  FROM acl_binding_rule WHERE lower(auth_method) = lower(:method)
  ORDER BY id;

-- name: binding_rule_get
SELECT id, description, auth_method, selector, bind_type, bind_name,
       bind_vars, create_index, modify_index
  FROM acl_binding_rule WHERE id = lower(:id);

-- name: binding_rule_upsert
INSERT INTO acl_binding_rule (id, description, auth_method, selector,
    bind_type, bind_name, bind_vars, create_index, modify_index)
    VALUES (:id, :description, :auth_method, :selector, :bind_type,
    :bind_name, :bind_vars, :idx, :idx)
    ON CONFLICT (id) DO UPDATE
    SET description = excluded.description,
        selector = excluded.selector, bind_type = excluded.bind_type,
        bind_name = excluded.bind_name, bind_vars = excluded.bind_vars,
        modify_index = excluded.modify_index;

-- name: binding_rule_delete
DELETE FROM acl_binding_rule WHERE id = lower(:id);
