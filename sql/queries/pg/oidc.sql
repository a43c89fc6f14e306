-- pg/oidc.sql -- pending OIDC flows of the cluster (acl_login.c;
-- sql/pg/004-oidc-pending.sql).  Run outside store_begin(): ephemeral
-- state carries no modify index and wakes no blocking query.

-- Insert within the caps (the function's comment); one row: outcome,
-- first_expiry.
-- name: oidc_pending_put
SELECT outcome, first_expiry FROM acl_oidc_pending_put(:key, :source,
    :now, :expires, :method, :nonce, :redirect_uri, :client_nonce, :meta,
    :cap, :per_source);

-- Single use: the row is gone once one caller has it, so two nodes
-- cannot both redeem a state (the caller checks the expiry: an expired
-- row is dropped as well).
-- name: oidc_pending_take
DELETE FROM acl_oidc_pending WHERE state_key = :key
    RETURNING expires_at, auth_method, nonce, redirect_uri, client_nonce,
    meta;
