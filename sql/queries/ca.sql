-- ca.sql -- queries of the Connect CA, leaf and authorize families
-- (ca.c, leaf.c).

-- name: ca_config_get
SELECT provider, config, force_without_cross_signing, create_index,
       modify_index
  FROM ca_config WHERE id = 1;

-- name: ca_config_put
INSERT INTO ca_config (id, provider, config, force_without_cross_signing,
    create_index, modify_index)
    VALUES (1, :provider, :config, :force, :idx, :idx)
    ON CONFLICT (id) DO UPDATE
    SET provider = excluded.provider, config = excluded.config,
        force_without_cross_signing = excluded.force_without_cross_signing,
        modify_index = excluded.modify_index;

-- name: ca_root_all
SELECT id, name, serial, signing_key_id, external_trust_domain, not_before,
       not_after, root_cert, intermediate_certs, active, private_key_type,
       private_key_bits, rotated_out_at, create_index, modify_index
  FROM ca_root ORDER BY id;

-- name: ca_root_active_key
SELECT id, root_cert, private_key, state_key, intermediate_certs
  FROM ca_root WHERE active = 1;

-- name: ca_root_insert
INSERT INTO ca_root (id, name, serial, signing_key_id, external_trust_domain,
    not_before, not_after, root_cert, intermediate_certs, active,
    private_key_type, private_key_bits, private_key, state_key,
    create_index, modify_index)
    VALUES (:id, :name, :serial, :skid, :etd, :nb, :na, :cert, :inter, 1,
    :ktype, :kbits, :key, :state, :idx, :idx);

-- name: ca_root_retire
UPDATE ca_root SET active = 0, rotated_out_at = :now WHERE active = 1;

-- name: ca_root_touch_all
UPDATE ca_root SET modify_index = :idx;

-- name: ca_root_prune
DELETE FROM ca_root
 WHERE active = 0 AND rotated_out_at IS NOT NULL
   AND rotated_out_at + :keep < :now;

-- name: ca_serial_next
INSERT INTO ca_serial (id, last) VALUES (1, :start)
    ON CONFLICT (id) DO UPDATE SET last = last + 1
    RETURNING last;

-- name: ca_serial_reserve
-- A block of :n serials for one process's leaves; returns its last.
INSERT INTO ca_serial (id, last) VALUES (1, :start + :n - 1)
    ON CONFLICT (id) DO UPDATE SET last = last + :n
    RETURNING last;

-- name: ca_leaf_insert
INSERT INTO ca_leaf (serial, service, uri, not_before, not_after, root_id,
    create_index)
    VALUES (:serial, :service, :uri, :nb, :na, :root, :idx);

-- name: ca_leaf_revoked
SELECT serial, revoked_at FROM ca_leaf
 WHERE revoked_at IS NOT NULL AND not_after > :now ORDER BY serial;

-- name: ca_leaf_get
SELECT serial, revoked_at, not_after FROM ca_leaf WHERE serial = :serial;

-- name: ca_leaf_revoke
UPDATE ca_leaf SET revoked_at = :now
 WHERE serial = :serial AND revoked_at IS NULL;

-- name: ca_leaf_revoke_service
UPDATE ca_leaf SET revoked_at = :now
 WHERE service = :service AND revoked_at IS NULL AND not_after > :now
 RETURNING serial;

-- name: ca_leaf_expire
-- Records expired before :before (ca_leaf_by_not_after).
DELETE FROM ca_leaf WHERE not_after < :before;
