s = "a\nb\tc\"d\\e \u00e9 \U0001F600 \x41 \101 \a\b\f\v\r"
i = "x-${lookup(var.m, "k")}-${a {b} c}"
"quoted key" = "ключ ☃"
café = "${f(1,
2)}"
