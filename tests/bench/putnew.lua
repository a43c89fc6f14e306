-- putnew.lua: wrk writers, each request a PUT intentions/exact for a
-- destination of its own (a new row per write); run.sh and pg.sh.
counter = 0
request = function()
	counter = counter + 1
	local id = counter .. "-" .. math.random(1e9)
	return wrk.format("PUT", "/v1/connect/intentions/exact?source=w" .. id .. "&destination=d" .. id, nil, '{"Action":"allow"}')
end
