-- Every networkingSockets function over real loopback connections inside
-- one Steam instance: states, messages, poll groups, batches, flush, the
-- 32-message receive cap, linger, closing.
local T = require 'testlib'
local Steam, ns = T.Steam, T.ns
local R = ns.flags.Send_Reliable

-- Runs callbacks for about the given CPU seconds (the loop is busy, so CPU
-- time tracks wall time).
local function spin(seconds)
	local stop = os.clock() + seconds
	while os.clock() < stop do Steam.runCallbacks() end
end

T.eq(Steam.init(), true, 'Steam.init')
ns.initAuthentication()

local sock, client, server = T.connectedPair(T.port, { NagleTime = 0 })
T.eq(type(sock), 'userdata', 'listen socket is userdata')
T.truthy(tostring(sock):find('listen socket', 1, true), 'listen socket tostring')
T.eq(type(client), 'number', 'connection handle type')
-- The client saw None -> Connecting -> Connected, with state names as strings.
local clientEvents = {}
for _, e in ipairs(T.events) do
	if e.connection == client then clientEvents[#clientEvents + 1] = e end
end
T.eq(clientEvents[1].state, 'Connecting', 'client first state')
T.eq(clientEvents[1].state_old, 'None', 'client first old state')
T.eq(clientEvents[2].state, 'Connected', 'client second state')
T.eq(clientEvents[2].state_old, 'Connecting', 'client second old state')
T.eq(clientEvents[2].endReason, 0, 'endReason while connected')
T.eq(type(clientEvents[2].debug), 'string', 'debug is a string')
T.ok('connect, accept, state callbacks')

local code, desc = ns.getConnectionInfo(client)
T.eq(code, 'OK', 'getConnectionInfo code')
T.eq(type(desc), 'string', 'getConnectionInfo description type')
T.truthy(#desc > 0, 'getConnectionInfo description not empty')
T.eq(ns.acceptConnection(client), 'InvalidState', 'accepting a connected outbound connection')
T.eq(ns.acceptConnection(server), 'InvalidState', 'accepting twice')
T.ok('getConnectionInfo and accept results')

-- Messages: text, binary with NULs, empty, large, unreliable.
local big = string.rep('0123456789abcdef', 6400) -- 100 KiB
T.eq(ns.sendMessageToConnection(client, 'hello', R), 'OK', 'send hello')
T.eq(ns.sendMessageToConnection(client, 'a\0b\255', R), 'OK', 'send binary')
T.eq(ns.sendMessageToConnection(client, '', R), 'OK', 'send empty')
T.eq(ns.sendMessageToConnection(client, big, ns.flags.Send_ReliableNoNagle), 'OK', 'send 100 KiB')
T.eq(ns.flushMessagesOnConnection(client), 'OK', 'flush')
local got = T.receiveN(server, 4, 'four messages')
T.eq(got[1], 'hello', 'text message')
T.eq(got[2], 'a\0b\255', 'binary message')
T.eq(got[3], '', 'empty message')
T.eq(got[4] == big, true, 'large message intact')
T.eq(ns.sendMessageToConnection(server, 'back', ns.flags.Send_UnreliableNoNagle), 'OK', 'unreliable send')
T.eq(T.receiveN(client, 1, 'unreliable message')[1], 'back', 'unreliable message on loopback')
T.eq(ns.sendMessageToConnection(client, string.rep('x', 512 * 1024 + 1), R), 'InvalidParam', 'oversized message')
T.ok('send, flush, receive')

-- sendMessages with a mix of good and bad entries.
local results = ns.sendMessages(3, {
	{ conn = client, msg = 'batch1', flag = R },
	{ conn = 987654, msg = 'lost', flag = R },
	{ conn = client, msg = 42, flag = R },
})
T.eq(results[1], true, 'sendMessages good entry')
T.eq(results[2], false, 'sendMessages bad connection')
T.eq(results[3], true, 'sendMessages numeric payload')
got = T.receiveN(server, 2, 'batch messages')
T.eq(got[1], 'batch1', 'batch message 1')
T.eq(got[2], '42', 'batch message 2 (number sent as its text)')
T.ok('sendMessages mixed results')

-- The 32-message cap: 100 queued messages come out as 32, 32, 32, 4.
for i = 1, 100 do
	T.eq(ns.sendMessageToConnection(client, 'm' .. i, R), 'OK', 'queue message ' .. i)
end
ns.flushMessagesOnConnection(client)
spin(1.5)
local counts, all = {}, {}
repeat
	local n, msgs = ns.receiveMessagesOnConnection(server)
	counts[#counts + 1] = n
	for _, m in ipairs(msgs) do all[#all + 1] = m end
until n < 32
T.eq(counts[1], 32, 'first receive is capped at 32')
T.eq(#all, 100, 'all messages received by looping while n == 32')
for i = 1, 100 do T.eq(all[i], 'm' .. i, 'message order') end
T.ok('32-message receive cap')

-- Poll groups.
local g = ns.createPollGroup()
T.eq(ns.setConnectionPollGroup(server, g), true, 'setConnectionPollGroup')
T.eq(ns.setConnectionPollGroup(server, 999), false, 'setConnectionPollGroup invalid group')
ns.sendMessageToConnection(client, 'pg1', R)
ns.sendMessageToConnection(client, 'pg2', R)
local pg = {}
T.waitFor('poll group messages', function()
	local n, msgs = ns.receiveMessagesOnPollGroup(g)
	T.truthy(n >= 0 and n <= 32, 'poll group count')
	for _, m in ipairs(msgs) do pg[#pg + 1] = m end
	return #pg >= 2
end)
T.eq(pg[1].msg, 'pg1', 'poll group message 1')
T.eq(pg[1].conn, server, 'poll group message connection')
T.eq(pg[2].msg, 'pg2', 'poll group message 2')
T.eq(ns.setConnectionPollGroup(server, 0), true, 'leave poll group')
ns.sendMessageToConnection(client, 'direct', R)
T.eq(T.receiveN(server, 1, 'message outside the group')[1], 'direct', 'message after leaving the group')
T.eq(ns.receiveMessagesOnPollGroup(g), 0, 'group empty after leaving')
T.eq(ns.destroyPollGroup(g), true, 'destroyPollGroup')
T.ok('poll groups')

-- Linger: reliable data queued before closeConnection(conn, true) is still
-- delivered, then the peer sees ClosedByPeer with App_Generic (1000).
local chunk = string.rep('L', 16 * 1024)
for i = 1, 16 do
	T.eq(ns.sendMessageToConnection(client, i .. chunk, R), 'OK', 'queue linger data ' .. i)
end
T.eq(ns.closeConnection(client, true), true, 'closeConnection with linger')
T.eq(ns.sendMessageToConnection(client, 'x', R), 'InvalidParam', 'send after close')
T.eq(ns.receiveMessagesOnConnection(client), -1, 'receive after close')
local lingered = {}
T.waitFor('lingered data and ClosedByPeer', function()
	local n, msgs = ns.receiveMessagesOnConnection(server)
	for _, m in ipairs(msgs or {}) do lingered[#lingered + 1] = m end
	return #lingered == 16 and T.state[server] == 'ClosedByPeer'
end, 30)
for i = 1, 16 do T.eq(lingered[i], i .. chunk, 'lingered message ' .. i) end
local last
for _, e in ipairs(T.events) do
	if e.connection == server and e.state == 'ClosedByPeer' then last = e end
end
T.eq(last.state_old, 'Connected', 'ClosedByPeer old state')
T.eq(last.endReason, 1000, 'close reason App_Generic')
T.eq(ns.sendMessageToConnection(server, 'x', R), 'NoConnection', 'send on ClosedByPeer')
T.eq(ns.flushMessagesOnConnection(server), 'NoConnection', 'flush on ClosedByPeer')
T.eq(ns.getConnectionInfo(server), 'OK', 'info on ClosedByPeer')
T.eq(ns.closeConnection(server), true, 'close after ClosedByPeer')
T.ok('linger close delivers queued reliable data')

-- Closing the listen socket: true once, then false; it also destroys the
-- connections accepted on it.
local client2 = ns.connectByIPAddress('127.0.0.1:' .. T.port)
local server2
T.trackConnections(function(data)
	if data.state == 'Connecting' and data.connection ~= client2 then
		server2 = data.connection
		ns.acceptConnection(server2)
	end
end)
T.waitFor('second connection', function() return server2 and T.state[server2] == 'Connected' end)
T.eq(ns.closeListenSocket(sock), true, 'closeListenSocket')
T.eq(ns.closeListenSocket(sock), false, 'closeListenSocket twice')
T.truthy(tostring(sock):find('closed', 1, true), 'closed listen socket tostring')
T.eq(ns.acceptConnection(server2), 'InvalidParam', 'accepted connection destroyed with its listen socket')
T.eq(ns.receiveMessagesOnConnection(server2), -1, 'receive on destroyed connection')
T.eq(ns.closeConnection(client2), true, 'close the client end')
-- The port is free again.
local sock2 = ns.createListenSocketIP('127.0.0.1:' .. T.port)
T.truthy(sock2, 'listen again on the same port')
T.eq(sock2 == sock, false, 'a new listen socket value')
T.eq(ns.closeListenSocket(sock2), true, 'close the new listen socket')
T.ok('closeListenSocket')

-- Options tables reach the connection: with TimeoutInitial = 300 ms a
-- connection to a port nobody listens on fails within moments, with
-- Misc_Timeout (5003), instead of the default 10 s.
local started = os.time()
local lonely = ns.connectByIPAddress('127.0.0.1:' .. (T.port + 5), { TimeoutInitial = 300, Bogus = 1 })
T.truthy(lonely ~= 0, 'connect with options')
local ended
T.trackConnections(function(data)
	if data.connection == lonely and data.state == 'ProblemDetectedLocally' then ended = data end
end)
T.waitFor('the short initial timeout', function() return ended ~= nil end, 8)
T.eq(ended.endReason, 5003, 'timeout end reason')
T.truthy(os.time() - started <= 5, 'timed out well before the default 10 s')
T.eq(ns.closeConnection(lonely), true, 'close the timed-out connection')
T.ok('options tables')

Steam.shutdown()
print('PASS sockets_test')
