-- pg/ca.sql -- PostgreSQL texts of ca.sql queries: parameters whose
-- type nothing around them says are cast.

-- name: ca_serial_next
INSERT INTO ca_serial (id, last) VALUES (1, :start)
    ON CONFLICT (id) DO UPDATE SET last = ca_serial.last + 1
    RETURNING last;

-- name: ca_serial_reserve
INSERT INTO ca_serial (id, last) VALUES (1, :start::bigint + :n::bigint - 1)
    ON CONFLICT (id) DO UPDATE SET last = ca_serial.last + :n::bigint
    RETURNING last;
