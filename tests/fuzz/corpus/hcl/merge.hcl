service "a" { policy = "read" }
service "b" { policy = "write" }
service "a" { intentions = "deny" }
acl { enabled = true }
acl { tokens { agent = "x" } }
acl = "write"
a b c d { e = 1 }
