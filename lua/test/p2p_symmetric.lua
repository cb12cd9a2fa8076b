-- Two copies of this script, each with MIST_IDENTITY and MIST_PEER naming
-- the other, connect to each other at the same moment with SymmetricConnect
-- on their listen socket and their connectP2P: each must end up with one
-- connection, Connected, carrying a message each way. Run by test/run.sh.
local Steam = require 'luasteam'
local ns = Steam.networkingSockets

local peer = Steam.extra.parseUint64(os.getenv('MIST_PEER') or '')
assert(Steam.init(), 'Steam.init failed')
local me = tostring(Steam.user.getSteamID())

local connected = {} -- connections that reached Connected
local closed = nil
function ns.onConnectionChanged(d)
	print('event', d.connection, d.state, d.state_old, d.endReason, d.debug)
	if d.state == 'Connecting' then
		ns.acceptConnection(d.connection) -- an incoming request not matched to ours
	elseif d.state == 'Connected' then
		connected[d.connection] = true
	elseif d.state == 'ClosedByPeer' or d.state == 'ProblemDetectedLocally' then
		closed = closed or d
	end
end

local function pump(seconds, cond)
	local deadline = os.time() + seconds
	while os.time() <= deadline do
		Steam.runCallbacks()
		if cond and cond() then return true end
	end
	return false
end

local sock, why = ns.createListenSocketP2P(0, { SymmetricConnect = 1 })
assert(sock, 'createListenSocketP2P: ' .. tostring(why))
-- Both sides wait for a line on stdin, so their connects cross.
print('ready')
io.read('*l')
local conn, reason = ns.connectP2P(peer, 0, { SymmetricConnect = 1 })
assert(conn ~= 0, 'connectP2P: ' .. tostring(reason))

local function count()
	local n, only = 0, nil
	for c in pairs(connected) do n, only = n + 1, c end
	return n, only
end
assert(pump(30, function() return count() > 0 end), 'nothing connected')
local _, c = count()
assert(ns.sendMessageToConnection(c, 'hello from ' .. me, ns.flags.Send_Reliable) == 'OK', 'send')
local got
assert(pump(20, function()
	local n, msgs = ns.receiveMessagesOnConnection(c)
	if n > 0 then got = msgs[1] end
	return got ~= nil
end), 'no message from the peer')
assert(got == 'hello from ' .. tostring(peer), 'got ' .. tostring(got))
assert(not closed, 'a connection ended: ' .. tostring(closed and closed.debug))
-- Give the peer time to receive ours too before either side closes (the
-- peer closing first is fine now).
pump(2)
local n = count()
assert(n == 1, n .. ' connections reached Connected, want 1')
print('symmetric ok', c == conn and 'our own handle' or 'the accepted handle')
ns.closeConnection(c, true)
pump(1)
Steam.shutdown()
