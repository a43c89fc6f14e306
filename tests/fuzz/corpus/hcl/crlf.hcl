acl {
  enabled = true
  x = <<EOF
line
EOF
}
