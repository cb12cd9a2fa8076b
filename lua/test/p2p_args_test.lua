-- createListenSocketP2P and connectP2P with bad arguments: each returns its
-- failure value (nil for a listen socket, 0 for a connection) and a reason,
-- never raises, never crashes. The suite runs without MIST_SIGNALING, so a
-- well-formed connectP2P fails too, saying why.
local T = require 'testlib'
local Steam, ns = T.Steam, T.ns

-- Before Steam.init they raise, like every other networkingSockets call.
T.raises('Steam.init() must be called first', 'createListenSocketP2P before init', ns.createListenSocketP2P, 0)
T.raises('Steam.init() must be called first', 'connectP2P before init', ns.connectP2P,
	Steam.extra.parseUint64('76561198000000001'), 0)
T.ok('P2P calls before init raise')

T.truthy(Steam.init(), 'Steam.init')

local function fails(what, want, got, why)
	T.eq(got, want, what)
	T.eq(type(why), 'string', what .. ' (reason)')
	T.truthy(#why > 0, what .. ' (reason not empty)')
end

local badPorts = {
	{ 'nil', nil }, { 'false', false }, { 'true', true }, { 'a string', 'x' }, { 'a numeric string', '0' },
	{ 'a table', {} }, { 'a function', print }, { '-1', -1 }, { '65536', 65536 }, { '2^31', 2 ^ 31 },
	{ '2^32', 2 ^ 32 }, { '2^53', 2 ^ 53 }, { '2^63', 2 ^ 63 }, { '-2^63', -2 ^ 63 }, { '1e300', 1e300 },
	{ 'math.huge', math.huge }, { '-math.huge', -math.huge }, { 'NaN', 0 / 0 }, { '1.5', 1.5 },
	{ 'a uint64', Steam.extra.parseUint64('1') },
}

-- createListenSocketP2P(virtualPort, options)
local function listenFails(what, ...)
	local sock, why = ns.createListenSocketP2P(...)
	fails('createListenSocketP2P(' .. what .. ')', nil, sock, why)
	return why
end
listenFails('no arguments')
for _, c in ipairs(badPorts) do
	local why = listenFails(c[1], c[2])
	T.truthy(string.find(why, 'virtualPort', 1, true), 'reason names virtualPort: ' .. why)
end
listenFails('0, "options"', 0, 'options')
listenFails('0, 7', 0, 7)
T.truthy(string.find(listenFails('0, {NagleTime = true}', 0, { NagleTime = true }), 'NagleTime', 1, true),
	'reason names the option')
listenFails('0, {NagleTime = 0.5}', 0, { NagleTime = 0.5 })
T.ok('createListenSocketP2P: bad arguments fail')

-- Good arguments work, and the port stays usable after the failures above.
local sock = ns.createListenSocketP2P(0)
T.eq(type(sock), 'userdata', 'createListenSocketP2P(0)')
T.truthy(string.find(tostring(sock), 'listen socket', 1, true), 'tostring(listen socket)')
local why = listenFails('0 again', 0)
T.truthy(string.find(why, 'virtual port', 1, true), 'reason for a port in use: ' .. why)
T.eq(ns.closeListenSocket(sock), true, 'closeListenSocket(P2P socket)')
T.eq(ns.closeListenSocket(sock), false, 'closeListenSocket twice')
local big = ns.createListenSocketP2P(65535, { NagleTime = 0, Unknown_Option = 1 })
T.eq(type(big), 'userdata', 'createListenSocketP2P(65535, options)')
local again = ns.createListenSocketP2P(0, nil)
T.eq(type(again), 'userdata', 'createListenSocketP2P(0, nil) after close')
T.eq(ns.closeListenSocket(again), true, 'close')
T.eq(ns.closeListenSocket(big), true, 'close')
T.ok('createListenSocketP2P: good arguments listen')

-- connectP2P(steamID, virtualPort, options)
local id = Steam.extra.parseUint64('76561198000000001')
local function connectFails(what, ...)
	local conn, reason = ns.connectP2P(...)
	fails('connectP2P(' .. what .. ')', 0, conn, reason)
	return reason
end
connectFails('no arguments')
for _, c in ipairs({ { 'nil', nil }, { 'a number', 76561198000000001 }, { 'a string', '76561198000000001' },
	{ 'a table', {} }, { 'true', true }, { 'a listen socket', ns.createListenSocketP2P(7) } }) do
	local reason = connectFails(c[1] .. ', 0', c[2], 0)
	T.truthy(string.find(reason, 'steamID', 1, true), 'reason names steamID: ' .. reason)
end
for _, c in ipairs(badPorts) do
	local reason = connectFails('id, ' .. c[1], id, c[2])
	T.truthy(string.find(reason, 'virtualPort', 1, true), 'reason names virtualPort: ' .. reason)
end
connectFails('id, 0, "options"', id, 0, 'options')
connectFails('id, 0, {SendBufferSize = "x"}', id, 0, { SendBufferSize = 'x' })
local reason = connectFails('steamID 0', Steam.extra.parseUint64('0'), 0)
T.truthy(string.find(reason, 'SteamID', 1, true), 'reason for SteamID 0: ' .. reason)
connectFails('steamID 2^64-1', Steam.extra.parseUint64('18446744073709551615'), 0)
-- Well-formed, but no signaling server is configured (MIST_SIGNALING unset).
reason = connectFails('id, 0 without a signaling server', id, 0)
T.truthy(string.find(reason, 'signaling', 1, true), 'reason without signaling: ' .. reason)
T.ok('connectP2P: bad arguments fail')

-- Nothing above left a connection behind: no callbacks are due.
local events = 0
function ns.onConnectionChanged() events = events + 1 end
for _ = 1, 50 do Steam.runCallbacks() end
T.eq(events, 0, 'connection events after failed calls')
Steam.shutdown()
T.ok('no connection was created')
