-- 008-login-state-memory.sql -- pending OIDC flows and failed-login
-- counters leave the store (issue #12).  Applied once, in one
-- transaction; recorded in PRAGMA user_version.
--
-- Why: both tables were written by anonymous callers.  Each
-- POST /v1/acl/oidc/auth-url inserted its Meta for 600 s (400 calls with
-- ~0.9 MB of Meta grew the file by 363 MB, which never shrinks), 10,000
-- cheap calls filled the 10,000-row cap and refused every real user,
-- and concurrent inserts answered 500 "database is locked"; every
-- failed login upserted a counter row.  Both now live in memory shared
-- by the workers, of a fixed size (acl_login.c).  Flows pending at the
-- upgrade are dropped with the table: those browser logins start again.
DROP TABLE IF EXISTS acl_oidc_state;
DROP TABLE IF EXISTS acl_login_failure;
