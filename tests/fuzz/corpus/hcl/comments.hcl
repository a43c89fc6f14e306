# hash
// slashes
/* block
   comment */ a /* x */ = /* y */ 1 # end
b = 2, c = 3 d = 4,
