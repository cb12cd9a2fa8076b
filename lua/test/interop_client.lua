-- Lua client for the interop test: connects to the Go echo server
-- (cmd/mistpeer server), sends one message, checks the echo, closes.
local T = require 'testlib'
local Steam, ns = T.Steam, T.ns

T.eq(Steam.init(), true, 'Steam.init')
local conn = ns.connectByIPAddress('127.0.0.1:' .. T.port)
T.truthy(conn ~= 0, 'connectByIPAddress')
T.trackConnections(function(data)
	print('Connection changed', data.connection, data.state, data.state_old, data.endReason, data.debug)
end)
T.waitFor('Connected', function() return T.state[conn] == 'Connected' end)
T.eq(ns.sendMessageToConnection(conn, 'hello from lua', ns.flags.Send_Reliable), 'OK', 'send')
local reply = T.receiveN(conn, 1, 'the echo')[1]
print('received', reply)
T.eq(reply, 'echo:hello from lua', 'echo from the Go server')
T.eq(ns.closeConnection(conn, true), true, 'closeConnection')
Steam.shutdown()
print('PASS interop_client')
