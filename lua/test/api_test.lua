-- Return shapes and error behaviour that need no traffic: lifecycle, values,
-- invalid handles, argument errors, callbacks.
local T = require 'testlib'
local Steam, ns = T.Steam, T.ns

-- Module layout.
for _, name in ipairs({ 'createListenSocketP2P', 'connectP2P', 'createListenSocketIP', 'connectByIPAddress',
	'acceptConnection', 'closeConnection', 'closeListenSocket', 'sendMessageToConnection', 'sendMessages',
	'flushMessagesOnConnection', 'receiveMessagesOnConnection', 'receiveMessagesOnPollGroup',
	'initAuthentication', 'getAuthenticationStatus', 'getConnectionInfo', 'getIdentity', 'createPollGroup',
	'destroyPollGroup', 'setConnectionPollGroup' }) do
	T.eq(type(ns[name]), 'function', 'networkingSockets.' .. name)
end
T.eq(ns.flags.Send_Unreliable, 0, 'flags.Send_Unreliable')
T.eq(ns.flags.Send_UnreliableNoNagle, 1, 'flags.Send_UnreliableNoNagle')
T.eq(ns.flags.Send_UnreliableNoDelay, 5, 'flags.Send_UnreliableNoDelay')
T.eq(ns.flags.Send_Reliable, 8, 'flags.Send_Reliable')
T.eq(ns.flags.Send_ReliableNoNagle, 9, 'flags.Send_ReliableNoNagle')
T.eq(ns.flags.Reliable, nil, 'flags.Reliable (luasteam has no such key)')
T.ok('module layout and flags')

-- Before init: Lua errors, not crashes; runCallbacks is harmless.
T.raises('Steam.init() must be called first', 'createPollGroup before init', ns.createPollGroup)
T.raises('Steam.init() must be called first', 'connectByIPAddress before init', ns.connectByIPAddress, '127.0.0.1:1')
T.raises('Steam.init() must be called first', 'receive before init', ns.receiveMessagesOnConnection, 1)
T.raises('Steam.init() must be called first', 'getSteamID before init', Steam.user.getSteamID)
Steam.runCallbacks()
T.ok('calls before init raise')

-- uint64 values: shared metatable with __eq and __tostring.
local a = Steam.extra.parseUint64('76561197960287930')
local b = Steam.extra.parseUint64('76561197960287930')
T.eq(type(a), 'userdata', 'parseUint64 type')
T.eq(a == b, true, 'uint64 equality')
T.eq(tostring(a), '76561197960287930', 'uint64 tostring')
T.eq(getmetatable(a) == getmetatable(b), true, 'shared metatable')
T.eq(a == Steam.extra.parseUint64('1'), false, 'uint64 inequality')
T.eq(tostring(Steam.extra.parseUint64('junk')), '0', 'parseUint64 invalid text')
T.eq(tostring(Steam.extra.parseUint64('18446744073709551615')), '18446744073709551615', 'parseUint64 max')
T.eq(tostring(Steam.extra.parseUint64('99999999999999999999')), '18446744073709551615', 'parseUint64 saturates')
T.raises('bad argument', 'parseUint64 without argument', Steam.extra.parseUint64)
T.ok('uint64 values')

-- init with a chosen identity.
T.eq(Steam.init({ steamID = a }), true, 'Steam.init')
T.eq(Steam.init(), true, 'second Steam.init')
local id = ns.getIdentity()
T.eq(id == a, true, 'getIdentity is the configured SteamID')
T.eq(Steam.user.getSteamID() == a, true, 'user.getSteamID')
T.eq(select('#', ns.getIdentity()), 1, 'getIdentity returns one value')
T.ok('init and identity')

-- Authentication: the change to 100 arrives at the next runCallbacks.
local authEvents = {}
local status = ns.initAuthentication()
T.eq(type(status), 'number', 'initAuthentication type')
function ns.onAuthenticationStatus(data) authEvents[#authEvents + 1] = data end
T.eq(#authEvents, 0, 'no callback outside runCallbacks')
Steam.runCallbacks()
T.eq(#authEvents, 1, 'one auth callback')
T.eq(authEvents[1].status, 100, 'auth status')
T.eq(type(authEvents[1].debugMsg), 'string', 'auth debugMsg type')
local st, msg = ns.getAuthenticationStatus()
T.eq(st, 100, 'getAuthenticationStatus')
T.eq(type(msg), 'string', 'getAuthenticationStatus message')
Steam.runCallbacks()
T.eq(#authEvents, 1, 'no repeated auth callback')
T.ok('authentication status')

-- Invalid handles give what luasteam gives.
local bad = 12345
T.eq(ns.acceptConnection(bad), 'InvalidParam', 'acceptConnection invalid')
T.eq(ns.sendMessageToConnection(bad, 'x', ns.flags.Send_Reliable), 'InvalidParam', 'send invalid')
T.eq(ns.flushMessagesOnConnection(bad), 'InvalidParam', 'flush invalid')
T.eq(select('#', ns.receiveMessagesOnConnection(bad)), 1, 'receive invalid returns one value')
T.eq(ns.receiveMessagesOnConnection(bad), -1, 'receive invalid')
T.eq(ns.receiveMessagesOnPollGroup(bad), -1, 'receive on invalid poll group')
T.eq(select('#', ns.receiveMessagesOnPollGroup(bad)), 1, 'poll group invalid returns one value')
local code, desc = ns.getConnectionInfo(bad)
T.eq(code, 'None', 'getConnectionInfo invalid code')
T.eq(desc, '', 'getConnectionInfo invalid description')
T.eq(ns.closeConnection(bad), false, 'closeConnection invalid')
T.eq(ns.destroyPollGroup(bad), false, 'destroyPollGroup invalid')
T.eq(ns.setConnectionPollGroup(bad, 0), false, 'setConnectionPollGroup invalid connection')
T.eq(ns.acceptConnection(-1), 'InvalidParam', 'negative handle')
T.eq(ns.acceptConnection(2 ^ 40), 'InvalidParam', 'handle beyond 32 bits')
T.eq(ns.closeListenSocket(nil), false, 'closeListenSocket(nil) is ignored')
T.eq(ns.closeListenSocket({}), false, 'closeListenSocket(table) is ignored')
local results = ns.sendMessages(2, { { conn = bad, msg = 'a', flag = 8 }, { conn = 0, msg = 'b', flag = 8 } })
T.eq(#results, 2, 'sendMessages result length')
T.eq(results[1], false, 'sendMessages invalid connection')
T.eq(results[2], false, 'sendMessages connection 0')
T.eq(#ns.sendMessages(0, {}), 0, 'sendMessages with n = 0')
T.ok('invalid handles')

-- Poll groups without connections.
local g = ns.createPollGroup()
T.eq(type(g), 'number', 'createPollGroup type')
T.truthy(g ~= 0, 'poll group handle')
local n, msgs = ns.receiveMessagesOnPollGroup(g)
T.eq(n, 0, 'empty poll group')
T.eq(type(msgs), 'table', 'empty poll group table')
T.eq(ns.setConnectionPollGroup(bad, g), false, 'invalid connection into group')
T.eq(ns.destroyPollGroup(g), true, 'destroyPollGroup')
T.eq(ns.destroyPollGroup(g), false, 'destroyPollGroup twice')
T.eq(ns.receiveMessagesOnPollGroup(g), -1, 'receive on destroyed group')
T.ok('poll groups')

-- Argument errors are ordinary Lua argument errors.
T.raises('bad argument #1', 'acceptConnection("x")', ns.acceptConnection, 'x')
T.raises('bad argument #1', 'acceptConnection()', ns.acceptConnection)
T.raises('bad argument #3', 'send without flags', ns.sendMessageToConnection, bad, 'x')
T.raises('bad argument #2', 'send without data', ns.sendMessageToConnection, bad)
T.raises('bad argument #1', 'createListenSocketIP()', ns.createListenSocketIP)
T.raises('bad argument #2', 'sendMessages without table', ns.sendMessages, 1)
T.raises('messages[1] must be a table', 'sendMessages missing entry', ns.sendMessages, 1, {})
T.raises('messages[1].flag must be an integer', 'sendMessages missing flag', ns.sendMessages, 1, { { conn = 1, msg = 'x' } })
T.raises('messages[1].conn must be an integer', 'sendMessages missing conn', ns.sendMessages, 1, { { flag = 8, msg = 'x' } })
T.raises('option NagleTime must be an integer', 'option with a boolean value',
	ns.connectByIPAddress, '127.0.0.1:1', { NagleTime = true })
T.ok('argument errors')

-- Addresses that cannot be used: nil plus a reason for listen sockets, 0 for
-- connections.
local sock, why = ns.createListenSocketIP('not an address')
T.eq(sock, nil, 'createListenSocketIP bad address')
T.eq(type(why), 'string', 'createListenSocketIP failure reason')
T.eq(ns.createListenSocketIP('127.0.0.1:0'), nil, 'createListenSocketIP port 0')
T.eq(ns.connectByIPAddress('not an address'), 0, 'connectByIPAddress bad address')
T.ok('unusable addresses')

-- A Lua error inside a callback reaches the caller of runCallbacks; the
-- events behind it stay queued for the next call.
local seen = {}
function ns.onConnectionChanged(data)
	seen[#seen + 1] = data.state
	if #seen == 1 then error('boom from callback') end
end
local c1 = ns.connectByIPAddress('127.0.0.1:' .. T.port)
local c2 = ns.connectByIPAddress('127.0.0.1:' .. (T.port + 1))
T.truthy(c1 ~= 0 and c2 ~= 0, 'connections created')
T.eq(ns.acceptConnection(c1), 'InvalidParam', 'accepting an own outbound connection')
local ok, err = pcall(Steam.runCallbacks)
T.eq(ok, false, 'runCallbacks raised')
T.truthy(string.find(tostring(err), 'boom from callback', 1, true), 'error text propagated: ' .. tostring(err))
T.eq(#seen, 1, 'delivery stopped at the error')
Steam.runCallbacks()
T.truthy(#seen >= 2, 'remaining events delivered by the next call')
T.eq(seen[1], 'Connecting', 'first event state')
T.eq(seen[2], 'Connecting', 'second event state')
-- A non-function callback is an error too (as calling it would be in luasteam).
ns.onConnectionChanged = 42
T.eq(ns.closeConnection(c1), true, 'closeConnection')
T.eq(ns.closeConnection(c1), false, 'closeConnection twice')
T.raises('attempt to call', 'non-function callback', Steam.runCallbacks)
ns.onConnectionChanged = nil
T.eq(ns.closeConnection(c2, false), true, 'closeConnection with linger=false')
Steam.runCallbacks()
T.ok('callback errors')

-- shutdown, then everything raises again; init works again afterwards.
Steam.shutdown()
T.raises('Steam.init() must be called first', 'after shutdown', ns.createPollGroup)
Steam.shutdown()
T.eq(Steam.init(), true, 'init after shutdown')
T.truthy(not (ns.getIdentity() == a), 'new random identity after re-init')
Steam.shutdown()
T.ok('shutdown and re-init')
print('PASS api_test')
