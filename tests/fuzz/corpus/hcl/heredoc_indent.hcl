a = <<-EOT
    first
      second
    EOT
b = <<-EOT
  less
    EOT
