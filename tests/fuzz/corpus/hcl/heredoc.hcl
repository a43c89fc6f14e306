rules = <<EOF
service "web" { policy = "read" }
  ${interp}
EOF
x = [<<A
one
A
, <<B
B
]
