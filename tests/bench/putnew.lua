-- putnew.lua: wrk writers, each request a PUT intentions/exact for a
-- destination of its own (a new row per write); run.sh and pg.sh.
-- Each thread of each run takes a random tag of its own, so that no two
-- threads, and no two runs against the same instance, write the same
-- names (math.random alone starts from the same seed in every thread
-- and run: later runs updated the rows of the first).
counter = 0
tag = "x"
init = function(args)
	local f = io.open("/proc/sys/kernel/random/uuid", "r")
	if f then
		tag = string.sub(f:read("*l"), 1, 13)
		f:close()
	end
end
request = function()
	counter = counter + 1
	local id = tag .. "-" .. counter
	return wrk.format("PUT", "/v1/connect/intentions/exact?source=w" .. id .. "&destination=d" .. id, nil, '{"Action":"allow"}')
end
