service "web" { policy = "write" intentions = "read" }
service_prefix "" { policy = "read" }
key_prefix "foo/" { policy = "deny" }
node "n1" { policy = "write" }
operator = "read"
acl = "write"
