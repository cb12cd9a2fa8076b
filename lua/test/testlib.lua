-- Functions shared by the *_test.lua scripts: assertions that raise
-- with a useful message, bounded waits that keep running callbacks, and a
-- loopback server/client pair inside one Steam instance.
local Steam = require 'luasteam'

local T = { Steam = Steam, ns = Steam.networkingSockets }

T.port = tonumber(os.getenv('MIST_PORT') or '') or 27090

function T.eq(got, want, what)
	if got ~= want then
		error(string.format('%s: got %s (%s), want %s (%s)', what, tostring(got), type(got), tostring(want), type(want)), 2)
	end
end

function T.truthy(v, what)
	if not v then error(what .. ': got ' .. tostring(v), 2) end
end

-- Calls f and expects it to raise an error whose text contains pattern.
function T.raises(pattern, what, f, ...)
	local ok, err = pcall(f, ...)
	if ok then error(what .. ': expected an error', 2) end
	if not string.find(tostring(err), pattern, 1, true) then
		error(string.format('%s: error %q does not contain %q', what, tostring(err), pattern), 2)
	end
end

-- Runs callbacks until cond() is true; fails after seconds (default 20).
function T.waitFor(what, cond, seconds)
	local deadline = os.time() + (seconds or 20)
	while true do
		Steam.runCallbacks()
		if cond() then return end
		if os.time() > deadline then error('timed out waiting for ' .. what, 2) end
	end
end

-- Records every onConnectionChanged event: T.events (list) and
-- T.state[conn] (latest state).
T.events, T.state = {}, {}
function T.trackConnections(onEvent)
	function T.ns.onConnectionChanged(data)
		T.events[#T.events + 1] = data
		T.state[data.connection] = data.state
		if onEvent then onEvent(data) end
	end
end

-- Listens on 127.0.0.1:port, connects to it, accepts, and waits until both
-- ends are Connected. Returns listenSocket, clientConn, serverConn.
function T.connectedPair(port, options)
	local server
	T.trackConnections(function(data)
		if data.state == 'Connecting' and data.state_old == 'None' and data.connection ~= T.client then
			server = data.connection
			T.eq(T.ns.acceptConnection(server), 'OK', 'acceptConnection')
		end
	end)
	local sock = T.ns.createListenSocketIP('127.0.0.1:' .. port, options)
	T.truthy(sock, 'createListenSocketIP')
	T.client = T.ns.connectByIPAddress('127.0.0.1:' .. port, options)
	T.truthy(T.client ~= 0, 'connectByIPAddress returned a handle')
	T.waitFor('both ends connected', function()
		return server and T.state[server] == 'Connected' and T.state[T.client] == 'Connected'
	end)
	return sock, T.client, server
end

-- Receives on a connection until count messages arrived, checking the
-- 32-message cap; returns them in order.
function T.receiveN(conn, count, what)
	local got = {}
	T.waitFor(what, function()
		while true do
			local n, msgs = T.ns.receiveMessagesOnConnection(conn)
			T.truthy(n >= 0 and n <= 32, 'receive count in 0..32')
			T.eq(#msgs, n, 'receive table length')
			for _, m in ipairs(msgs) do got[#got + 1] = m end
			if n < 32 then break end
		end
		return #got >= count
	end)
	return got
end

function T.ok(name) print('ok ' .. name) end

return T
