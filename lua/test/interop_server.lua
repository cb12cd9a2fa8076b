-- Lua server for the interop test: echoes messages from the Go client
-- (cmd/mistpeer client) prefixed with "echo:" until that client leaves.
local T = require 'testlib'
local Steam, ns = T.Steam, T.ns

T.eq(Steam.init(), true, 'Steam.init')
local conns, echoed, left = {}, 0, false
T.trackConnections(function(data)
	print('Connection changed', data.connection, data.state, data.state_old, data.endReason, data.debug)
	if data.state == 'Connecting' then
		T.eq(ns.acceptConnection(data.connection), 'OK', 'acceptConnection')
	elseif data.state == 'Connected' then
		conns[data.connection] = true
	elseif data.state == 'ClosedByPeer' or data.state == 'ProblemDetectedLocally' then
		ns.closeConnection(data.connection)
		conns[data.connection] = nil
		left = true
	end
end)
local sock = ns.createListenSocketIP('[::]:' .. T.port)
T.truthy(sock, 'createListenSocketIP')
print('listening on', T.port)
T.waitFor('the Go client to finish', function()
	for conn in pairs(conns) do
		local n, msgs = ns.receiveMessagesOnConnection(conn)
		for _, m in ipairs(msgs or {}) do
			print('received', m)
			T.eq(ns.sendMessageToConnection(conn, 'echo:' .. m, ns.flags.Send_Reliable), 'OK', 'echo')
			echoed = echoed + 1
		end
	end
	return left
end, 60)
T.truthy(echoed >= 1, 'echoed at least one message')
T.eq(ns.closeListenSocket(sock), true, 'closeListenSocket')
Steam.shutdown()
print('PASS interop_server')
