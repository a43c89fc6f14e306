-- 002-connect-ca.sql -- the built-in Connect CA (provider "consul"):
-- its configuration, its roots with their private keys, the serial
-- counter, every issued leaf (with revocation) and the leaf cache the
-- agent endpoint shares across workers.  The database file is 0600:
-- it holds the CA keys and the cached leaf keys, which no endpoint
-- ever returns except a leaf's own key to its leaf endpoint caller.

-- The CA configuration (Consul's CAConfiguration); exactly one row.
CREATE TABLE ca_config (
	id		INTEGER PRIMARY KEY CHECK (id = 1),	-- always 1
	provider	TEXT NOT NULL,		-- Provider: 'consul'
	config		TEXT NOT NULL,		-- Config map, JSON, exactly as PUT
	force_without_cross_signing INTEGER NOT NULL DEFAULT 0,
						-- ForceWithoutCrossSigning of the last PUT
	create_index	INTEGER NOT NULL,	-- CreateIndex (bootstrap)
	modify_index	INTEGER NOT NULL	-- ModifyIndex (last effective change)
);

-- Every root the cluster trusts (Consul's CARoot); one is active.
-- Replaced as a set: a change gives every row the write's ModifyIndex.
CREATE TABLE ca_root (
	id		TEXT PRIMARY KEY,	-- ID: SHA-1 of the DER, colon hex
	name		TEXT NOT NULL,		-- Name: 'Consul CA Primary Cert'
	serial		INTEGER NOT NULL,	-- SerialNumber (uint64 stored as int64 bits)
	signing_key_id	TEXT NOT NULL,		-- SigningKeyID: SKI colon hex, '' if none
	external_trust_domain TEXT NOT NULL,	-- ExternalTrustDomain: the cluster ID
	not_before	INTEGER NOT NULL,	-- NotBefore, Unix seconds
	not_after	INTEGER NOT NULL,	-- NotAfter, Unix seconds
	root_cert	TEXT NOT NULL,		-- RootCert PEM, ends in a newline
	intermediate_certs TEXT,		-- IntermediateCerts: JSON array of PEM, NULL for none
	active		INTEGER NOT NULL,	-- Active: 1 for exactly one row
	private_key_type TEXT NOT NULL,		-- PrivateKeyType: 'ec' or 'rsa'
	private_key_bits INTEGER NOT NULL,	-- PrivateKeyBits
	private_key	TEXT NOT NULL,		-- the CA key, PEM; never returned nor logged
	state_key	TEXT NOT NULL,		-- what made this root: hash of (PrivateKey,
						-- RootCert, PrivateKeyType, PrivateKeyBits);
						-- a config with another hash rotates
	rotated_out_at	INTEGER,		-- Unix seconds it stopped being active, or NULL
	create_index	INTEGER NOT NULL,	-- CreateIndex
	modify_index	INTEGER NOT NULL	-- ModifyIndex
);
CREATE UNIQUE INDEX ca_root_one_active ON ca_root (active) WHERE active = 1;

-- The cluster-wide serial counter shared by roots, cross-signed
-- certificates and leaves; one row.
CREATE TABLE ca_serial (
	id		INTEGER PRIMARY KEY CHECK (id = 1),	-- always 1
	last		INTEGER NOT NULL	-- the last serial handed out
);

-- Every leaf certificate the CA signed (leaf endpoint and
-- /v1/connect/ca/sign), kept while it may be valid, for revocation,
-- the CRL and authorize's revoked-serial check.
CREATE TABLE ca_leaf (
	serial		INTEGER PRIMARY KEY,	-- the certificate's serial
	service		TEXT NOT NULL,		-- service name from the SPIFFE ID
	uri		TEXT NOT NULL,		-- the URI SAN
	not_before	INTEGER NOT NULL,	-- ValidAfter, Unix seconds
	not_after	INTEGER NOT NULL,	-- ValidBefore, Unix seconds
	root_id		TEXT NOT NULL,		-- ID of the root that signed it
	revoked_at	INTEGER,		-- Unix seconds of revocation, NULL if valid
	create_index	INTEGER NOT NULL	-- the index of the write that issued it
);
CREATE INDEX ca_leaf_by_service ON ca_leaf (service);
CREATE INDEX ca_leaf_revoked ON ca_leaf (revoked_at) WHERE revoked_at IS NOT NULL;

-- The agent leaf cache, shared by every worker: the current leaf of
-- each service with its private key, reused until renew_at, a root
-- change or its revocation.
CREATE TABLE ca_leaf_cache (
	service		TEXT PRIMARY KEY,	-- :service of the leaf endpoint
	serial		INTEGER NOT NULL REFERENCES ca_leaf (serial)
			    ON DELETE CASCADE,	-- the cached leaf
	cert_pem	TEXT NOT NULL,		-- CertPEM: leaf + intermediates
	private_key_pem	TEXT NOT NULL,		-- PrivateKeyPEM (secret)
	signing_key_id	TEXT NOT NULL,		-- SigningKeyID of the root at issue time
	renew_at	INTEGER NOT NULL,	-- Unix seconds: 60-90 % into its life
	modify_index	INTEGER NOT NULL	-- Create/ModifyIndex of the reply
) WITHOUT ROWID;
