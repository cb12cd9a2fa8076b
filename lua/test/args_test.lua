-- Calls every function with every combination of up to three awkward
-- arguments: each call must either return or raise an ordinary Lua error
-- (a string), never crash the interpreter.
local T = require 'testlib'
local Steam, ns = T.Steam, T.ns

T.eq(Steam.init(), true, 'Steam.init')
local sock = ns.createListenSocketIP('127.0.0.1:' .. T.port)
T.truthy(sock, 'listen socket')
local values = {
	nil, true, 0, -1, 2 ^ 53, 1.5, 'x', '', '127.0.0.1:1', {}, { { conn = 1, msg = 'm', flag = 8 } },
	print, Steam.extra.parseUint64('1'), sock,
}
local nvalues = 14 -- explicit: the list holds a nil
local calls, errors = 0, 0
local function try(f, ...)
	calls = calls + 1
	local ok, err = pcall(f, ...)
	if not ok then
		errors = errors + 1
		T.eq(type(err), 'string', 'error value type')
	end
end
local names = {}
for name, f in pairs(ns) do
	if type(f) == 'function' then names[#names + 1] = name end
end
table.sort(names)
for _, name in ipairs(names) do
	local f = ns[name]
	-- closeListenSocket would close the one socket the loop reuses; it is
	-- exercised with the others last.
	if name ~= 'closeListenSocket' then
		try(f)
		for i = 1, nvalues do
			try(f, values[i])
			for j = 1, nvalues do
				try(f, values[i], values[j])
				for k = 1, nvalues do try(f, values[i], values[j], values[k]) end
			end
		end
	end
end
for i = 1, nvalues do try(ns.closeListenSocket, values[i]) end
T.truthy(errors > 0 and errors < calls, string.format('some calls failed (%d of %d)', errors, calls))
-- Whatever was created along the way is cleaned up by shutdown.
Steam.shutdown()
print(string.format('PASS args_test (%d calls, %d Lua errors)', calls, errors))
