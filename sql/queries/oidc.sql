-- oidc.sql -- pending OIDC flows in the store (acl_login.c), on the
-- postgres backend only: the texts are in pg/oidc.sql.  SQLite keeps
-- pending flows in shared memory; these stand-ins are never run there,
-- they only keep every query preparable on both backends.

-- name: oidc_pending_put
SELECT NULL, NULL WHERE 0;

-- name: oidc_pending_take
SELECT NULL, NULL, NULL, NULL, NULL, NULL WHERE 0;
