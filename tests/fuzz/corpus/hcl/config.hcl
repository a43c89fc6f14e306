datacenter = "dc1"
acl {
  enabled        = true
  default_policy = "deny"
  tokens { initial_management = "7b1d5a3c-0000-4000-8000-000000000001" }
}
connect {
  enabled = true
  ca_config { leaf_cert_ttl = "72h", private_key_bits = 256 }
}
ports { http = 8500, https = -1 }
