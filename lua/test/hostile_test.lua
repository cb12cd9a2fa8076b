-- Hostile input: values that change between reads, metamethods that run
-- Lua code (and call back into the module) in the middle of a call,
-- numbers without an integer value, handles from an earlier session. Every
-- call must give its documented result or raise an ordinary Lua error,
-- never crash the interpreter or act on the wrong object.
--
-- Sections run in order; MIST_HOSTILE_ONLY=name runs one of them alone.
local T = require 'testlib'
local Steam, ns = T.Steam, T.ns
local R = ns.flags.Send_Reliable

local sections, order = {}, {}
-- Starts a session with no connection state left from an earlier one.
local function fresh()
	T.events, T.state = {}, {}
	T.eq(Steam.init(), true, 'Steam.init')
end

local function section(name, f)
	sections[name] = f
	order[#order + 1] = name
end

-- A message table whose fields come from an __index function; reads[k]
-- counts how often field k was read. msg(n) gives the payload of the n-th
-- read of msg.
local function trickyMessage(conn, flag, msg)
	local reads = { conn = 0, flag = 0, msg = 0 }
	local m = setmetatable({}, {
		__index = function(_, k)
			if reads[k] == nil then return nil end
			reads[k] = reads[k] + 1
			if k == 'conn' then return conn end
			if k == 'flag' then return flag end
			return msg(reads.msg)
		end,
	})
	return m, reads
end

section('sendMessages reads each field once', function()
	fresh()
	-- The second read of msg would be 10 MB longer than the first.
	local m, reads = trickyMessage(12345, R, function(n)
		if n == 1 then return 'a' end
		return string.rep('x', 10 * 1024 * 1024)
	end)
	local results = ns.sendMessages(1, { m })
	T.eq(results[1], false, 'sent to an invalid connection')
	T.eq(reads.msg, 1, 'msg read once')
	T.eq(reads.conn, 1, 'conn read once')
	T.eq(reads.flag, 1, 'flag read once')
	Steam.shutdown()
end)

section('sendMessages payloads survive collections in metamethods', function()
	fresh()
	local sock, client, server = T.connectedPair(T.port + 1)
	-- Every payload is a fresh string, and every read of a later message
	-- runs a full collection: earlier payloads must stay intact until sent.
	local want, batch = {}, {}
	for i = 1, 20 do
		want[i] = string.rep(string.char(64 + i), 1000 + i) .. i
		batch[i] = setmetatable({}, {
			__index = function(_, k)
				collectgarbage('collect')
				if k == 'conn' then return client end
				if k == 'flag' then return R end
				if k == 'msg' then return string.rep(string.char(64 + i), 1000 + i) .. i end
			end,
		})
	end
	-- The second read of msg (if any) would be longer than the first.
	local grow, reads = trickyMessage(client, R, function(n) return string.rep('g', n * 100000) end)
	batch[21] = grow
	want[21] = string.rep('g', 100000)
	local results = ns.sendMessages(21, batch)
	for i = 1, 21 do T.eq(results[i], true, 'batch entry ' .. i .. ' queued') end
	T.eq(reads.msg, 1, 'msg read once')
	local got = T.receiveN(server, 21, 'the batch')
	for i = 1, 21 do T.eq(got[i] == want[i], true, 'payload ' .. i .. ' intact') end
	Steam.shutdown()
end)

section('numbers without an integer value are refused alike', function()
	fresh()
	-- Lua 5.4 refuses these; Lua 5.1 and LuaJIT used to convert them with
	-- an undefined C cast (NaN became some handle, 1.5 became 1).
	local inexact = { 0 / 0, 1 / 0, -1 / 0, 1e300, -1e300, 2 ^ 63, 1.5 }
	for _, v in ipairs(inexact) do
		local what = ' (' .. tostring(v) .. ')'
		T.raises('no integer representation', 'acceptConnection' .. what, ns.acceptConnection, v)
		T.raises('no integer representation', 'destroyPollGroup' .. what, ns.destroyPollGroup, v)
		T.raises('no integer representation', 'receiveMessagesOnPollGroup' .. what, ns.receiveMessagesOnPollGroup, v)
		T.raises('no integer representation', 'setConnectionPollGroup' .. what, ns.setConnectionPollGroup, 1, v)
		T.raises('no integer representation', 'send flags' .. what, ns.sendMessageToConnection, 1, 'x', v)
		T.raises('no integer representation', 'sendMessages count' .. what, ns.sendMessages, v, {})
		T.raises('messages[1].flag must be an integer', 'sendMessages flag' .. what,
			ns.sendMessages, 1, { { conn = 1, msg = 'x', flag = v } })
		T.raises('messages[1].conn must be an integer', 'sendMessages conn' .. what,
			ns.sendMessages, 1, { { conn = v, msg = 'x', flag = R } })
		T.raises('option NagleTime must be an integer', 'option' .. what,
			ns.connectByIPAddress, '127.0.0.1:1', { NagleTime = v })
	end
	-- Exact integers beyond any handle stay invalid handles, not errors.
	T.eq(ns.acceptConnection(2 ^ 52), 'InvalidParam', 'huge handle')
	T.eq(ns.acceptConnection(-2 ^ 52), 'InvalidParam', 'huge negative handle')
	T.eq(ns.acceptConnection('12345'), 'InvalidParam', 'numeric string handle')
	Steam.shutdown()
end)

section('light userdata posing as module values is refused', function()
	-- debug.upvalueid returns a light userdata (a raw pointer); giving all
	-- light userdata a module metatable must not make the module read
	-- through that pointer. Lua 5.1 has no way to make one.
	if not debug.upvalueid then
		print('skip: no light userdata on this interpreter')
		return
	end
	local up = 0
	local function f() return up end
	local light = debug.upvalueid(f, 1)
	T.eq(type(light), 'userdata', 'light userdata')
	fresh()
	local sock = ns.createListenSocketIP('127.0.0.1:' .. (T.port + 2))
	T.truthy(sock, 'listen socket')
	local saved = debug.getmetatable(light)
	local results = {}
	debug.setmetatable(light, getmetatable(Steam.extra.parseUint64('1')))
	results.tostring = { pcall(tostring, light) }
	results.init = { pcall(Steam.init, { steamID = light }) }
	debug.setmetatable(light, getmetatable(sock))
	results.close = { pcall(ns.closeListenSocket, light) }
	results.sockString = { pcall(tostring, light) }
	debug.setmetatable(light, saved)
	T.eq(results.tostring[1], false, 'tostring of a light userdata with the uint64 metatable raises')
	T.eq(results.close[1] and results.close[2], false, 'closeListenSocket of a light userdata does nothing')
	T.eq(results.sockString[1], false, 'tostring of a light userdata with the listen socket metatable raises')
	T.eq(ns.closeListenSocket(sock), true, 'the real listen socket is still open')
	Steam.shutdown()
end)

section('handles of an earlier session are invalid', function()
	-- mist numbers the listen sockets and poll groups of a new instance
	-- from the start again, so without a session in every handle the old
	-- values would name the new objects.
	local port = T.port + 3
	fresh()
	local oldSock = ns.createListenSocketIP('127.0.0.1:' .. port)
	T.truthy(oldSock, 'first listen socket')
	local oldGroup = ns.createPollGroup()
	local oldConn = ns.connectByIPAddress('127.0.0.1:' .. (port + 1))
	T.truthy(oldConn ~= 0, 'first connection')
	Steam.shutdown()
	fresh()
	local sock, client, server = T.connectedPair(port)
	local group = ns.createPollGroup()
	T.eq(oldSock == sock, false, 'an old listen socket equals the new one')
	T.eq(oldGroup == group, false, 'an old poll group number equals the new one')
	T.eq(oldConn == client or oldConn == server, false, 'an old connection number equals a new one')
	-- Every call with an old handle gives the invalid-handle result.
	T.eq(ns.closeListenSocket(oldSock), false, 'closeListenSocket(old)')
	T.eq(ns.destroyPollGroup(oldGroup), false, 'destroyPollGroup(old)')
	T.eq(ns.receiveMessagesOnPollGroup(oldGroup), -1, 'receiveMessagesOnPollGroup(old)')
	T.eq(ns.setConnectionPollGroup(server, oldGroup), false, 'setConnectionPollGroup(new, old group)')
	T.eq(ns.acceptConnection(oldConn), 'InvalidParam', 'acceptConnection(old)')
	T.eq(ns.sendMessageToConnection(oldConn, 'x', R), 'InvalidParam', 'sendMessageToConnection(old)')
	T.eq(ns.sendMessages(1, { { conn = oldConn, msg = 'x', flag = R } })[1], false, 'sendMessages(old)')
	T.eq(ns.flushMessagesOnConnection(oldConn), 'InvalidParam', 'flushMessagesOnConnection(old)')
	T.eq(ns.receiveMessagesOnConnection(oldConn), -1, 'receiveMessagesOnConnection(old)')
	T.eq(ns.getConnectionInfo(oldConn), 'None', 'getConnectionInfo(old)')
	T.eq(ns.closeConnection(oldConn), false, 'closeConnection(old)')
	-- Connection numbers are random, so the old one rarely collides; the
	-- new server connection's number as the previous session wrote it
	-- (the session sits above the low 32 bits) stands in for one that did.
	local low = server % 2 ^ 32
	local previous = server - 2 ^ 32
	T.truthy(previous >= low, 'the second session tags its handles')
	T.eq(ns.closeConnection(previous), false, 'closeConnection of the previous session\'s number')
	T.eq(ns.getConnectionInfo(low), 'None', 'the bare mist number is another session\'s handle')
	-- The new objects are untouched and work.
	T.eq(ns.setConnectionPollGroup(server, group), true, 'new connection joins the new group')
	T.eq(ns.sendMessageToConnection(client, 'after', R), 'OK', 'send on the new connection')
	local got
	T.waitFor('message through the new group', function()
		local n, msgs = ns.receiveMessagesOnPollGroup(group)
		if n > 0 then got = msgs[1] end
		return got ~= nil
	end)
	T.eq(got.msg, 'after', 'message text')
	T.eq(got.conn, server, 'message connection is the new handle')
	T.eq(ns.destroyPollGroup(group), true, 'new poll group still there')
	T.eq(ns.closeListenSocket(sock), true, 'new listen socket still open')
	Steam.shutdown()
end)

-- Peak resident memory of this process in KiB, after resetting the peak
-- where the kernel allows it; nil where /proc is missing.
local function peakKiB(reset)
	if reset then
		local f = io.open('/proc/self/clear_refs', 'w')
		if f then
			f:write('5')
			f:close()
		end
	end
	local f = io.open('/proc/self/status')
	if not f then return nil end
	local text = f:read('*a')
	f:close()
	return tonumber(text:match('VmHWM:%s*(%d+)'))
end

section('sendMessages naming one string many times stays small', function()
	if not peakKiB() then
		print('skip: no /proc/self/status')
		return
	end
	fresh()
	-- 600 entries of one 512 KiB string: Lua holds 512 KiB, and so must
	-- the module, more or less (it used to copy all 300 MiB at once).
	local big = string.rep('z', 512 * 1024)
	local batch = {}
	for i = 1, 600 do batch[i] = { conn = 12345, msg = big, flag = R } end
	local before = peakKiB(true)
	local results = ns.sendMessages(600, batch)
	local grown = peakKiB() - before
	T.eq(#results, 600, 'one result per message')
	T.eq(results[1], false, 'invalid connection')
	T.truthy(grown < 100 * 1024, string.format('peak memory grew by %d KiB', grown))
	Steam.shutdown()
end)

-- The command that started this interpreter (arg[-1], arg[-2], ... hold
-- the interpreter and its options).
local function interpreter()
	local i = -1
	while arg[i - 1] do i = i - 1 end
	return arg[i]
end

section('an unknown option is reported in bounded text', function()
	-- The report goes to stderr, so a child interpreter makes it.
	local child = 'local S = require "luasteam"; S.init(); '
		.. 'S.networkingSockets.connectByIPAddress("127.0.0.1:1", '
		.. '{ [string.rep("k", 1000000)] = string.rep("v", 1000000) }); S.shutdown()'
	local p = io.popen(interpreter() .. " -e '" .. child .. "' 2>&1")
	local out = p:read('*a')
	p:close()
	T.truthy(out:find('Unsupported/Unknown config option [ kkk', 1, true), 'report printed: ' .. out:sub(1, 200))
	T.truthy(#out < 1000, string.format('report is %d bytes', #out))
end)

-- LuaJIT 2.1.0-beta3 passes a finalizer's error on even from a collector
-- step inside compiled code, where it cannot unwind: with the JIT on, about
-- one run in fifteen of the finalizer sections crashed in the unwinder
-- (no frame of the module on the stack); with it off, none in forty. The
-- finalizer sections therefore run interpreted, which is all they test.
local function withoutJIT(f)
	if not jit then return f() end
	jit.off()
	jit.flush()
	local ok, err = pcall(f)
	jit.on()
	if not ok then error(err, 0) end
end

-- Resident memory of this process in KiB.
local function residentKiB()
	local f = io.open('/proc/self/status')
	if not f then return nil end
	local text = f:read('*a')
	f:close()
	return tonumber(text:match('VmRSS:%s*(%d+)'))
end

section('receive frees its batch when a finalizer raises during it', function() withoutJIT(function()
	-- Lua 5.1 and LuaJIT pass an error raised by a __gc metamethod on to
	-- whatever allocation ran the collector step; newproxy makes such an
	-- object from Lua. Lua 5.4 only warns.
	if not newproxy or not residentKiB() then
		print('skip: no newproxy or no /proc on this interpreter')
		return
	end
	fresh()
	local sock, client, server = T.connectedPair(T.port + 4,
		{ NagleTime = 0, SendRateMin = 50000000, SendRateMax = 50000000 })
	local armed, finalized = false, 0
	local function raiser()
		finalized = finalized + 1
		if armed then error('finalizer raised') end
	end
	local payload = string.rep('p', 16 * 1024)
	local hits, tries = 0, 0
	collectgarbage('collect')
	local before = residentKiB()
	while hits < 60 and tries < 400 do
		tries = tries + 1
		-- 32 distinct 16 KiB messages (Lua 5.1 interns equal strings, which
		-- would not allocate).
		for i = 1, 32 do ns.sendMessageToConnection(client, tries .. ' ' .. i .. payload, R) end
		ns.flushMessagesOnConnection(client)
		local stop = os.clock() + 0.03
		while os.clock() < stop do Steam.runCallbacks() end
		-- Finish a cycle, make 200 garbage objects with finalizers, and step
		-- the next cycle until the first of them ran: the rest run at the
		-- next steps, which the pushes inside receive trigger.
		collectgarbage('collect')
		for _ = 1, 200 do
			local p = newproxy(true)
			getmetatable(p).__gc = raiser
		end
		finalized = 0
		local steps = 0
		repeat
			collectgarbage('step', 0)
			steps = steps + 1
		until finalized > 0 or steps > 10000
		armed = true
		local ok, err = pcall(ns.receiveMessagesOnConnection, server)
		armed = false
		if not ok and tostring(err):find('finalizer raised', 1, true) then hits = hits + 1 end
		collectgarbage('collect')
		while ns.receiveMessagesOnConnection(server) == 32 do end
	end
	collectgarbage('collect')
	local grown = residentKiB() - before
	print(string.format('  %d raised receives in %d tries; resident memory %+d KiB', hits, tries, grown))
	T.truthy(hits >= 30, string.format('a finalizer raised inside receive %d times in %d tries', hits, tries))
	-- Each leaked batch would hold 32 x 16 KiB.
	T.truthy(grown < hits * 512 / 2, string.format('resident memory grew by %d KiB over %d raised receives', grown, hits))
	Steam.shutdown()
end) end)

section('runCallbacks keeps an event whose delivery a finalizer interrupted', function() withoutJIT(function()
	if not newproxy then
		print('skip: no newproxy on this interpreter')
		return
	end
	fresh()
	local armed, finalized = false, 0
	local function raiser()
		finalized = finalized + 1
		if armed then error('finalizer raised') end
	end
	-- The callback allocates nothing, so the collector steps that run the
	-- finalizers happen while runCallbacks builds the event tables.
	local seen = 0
	function ns.onConnectionChanged(data)
		if data.state == 'Connecting' then seen = seen + 1 end
	end
	local conns, raised = 0, 0
	for round = 1, 20 do
		for _ = 1, 40 do
			ns.connectByIPAddress('127.0.0.1:' .. (T.port + 5))
			conns = conns + 1
		end
		collectgarbage('collect')
		for _ = 1, 200 do
			local p = newproxy(true)
			getmetatable(p).__gc = raiser
		end
		finalized = 0
		local steps = 0
		repeat
			collectgarbage('step', 0)
			steps = steps + 1
		until finalized > 0 or steps > 10000
		armed = true
		local ok, err = pcall(Steam.runCallbacks)
		armed = false
		if not ok and tostring(err):find('finalizer raised', 1, true) then raised = raised + 1 end
		collectgarbage('collect')
		Steam.runCallbacks()
	end
	Steam.runCallbacks()
	print(string.format('  %d connections, %d Connecting events seen, runCallbacks raised %d times', conns, seen, raised))
	T.truthy(raised > 0, 'a finalizer raised inside runCallbacks')
	T.eq(seen, conns, 'every Connecting event delivered')
	ns.onConnectionChanged = nil
	Steam.shutdown()
end) end)

section('callbacks and metamethods that call back into the module', function()
	fresh()
	-- A callback that runs callbacks again, then ends the session and
	-- starts a new one: delivery goes on with the new session's events.
	local depth, maxDepth, states = 0, 0, {}
	function ns.onConnectionChanged(data)
		depth = depth + 1
		maxDepth = math.max(maxDepth, depth)
		states[#states + 1] = data.state
		if #states == 1 then Steam.runCallbacks() end
		if #states == 2 then
			Steam.shutdown()
			T.eq(Steam.init(), true, 'init inside a callback')
			T.truthy(ns.connectByIPAddress('127.0.0.1:' .. (T.port + 6)) ~= 0, 'connect inside a callback')
		end
		depth = depth - 1
	end
	for _ = 1, 3 do ns.connectByIPAddress('127.0.0.1:' .. (T.port + 6)) end
	Steam.runCallbacks()
	Steam.runCallbacks()
	T.eq(maxDepth, 2, 'nested delivery')
	T.eq(#states, 3, 'two events of the first session, then the new connection\'s')
	-- Deep recursion (one level per queued event) ends, or stops with the
	-- interpreter's C stack overflow error (Lua 5.1 and 5.4 allow about
	-- 200 levels).
	local levels, deepest = 0, 0
	function ns.onConnectionChanged()
		levels = levels + 1
		deepest = math.max(deepest, levels)
		Steam.runCallbacks()
		levels = levels - 1
	end
	for _ = 1, 300 do ns.connectByIPAddress('127.0.0.1:' .. (T.port + 6)) end
	local ok, err = pcall(Steam.runCallbacks)
	if ok then
		T.eq(deepest, 300, 'one level per event')
	else
		T.truthy(tostring(err):find('overflow', 1, true), 'stack overflow error: ' .. tostring(err))
	end
	ns.onConnectionChanged = nil
	Steam.runCallbacks()
	-- An __index that ends the session in the middle of sendMessages.
	local m = setmetatable({ conn = 1, flag = R }, { __index = function() Steam.shutdown() return 'x' end })
	T.raises('Steam.init() must be called first', 'sendMessages after a shutdown in __index', ns.sendMessages, 1, { m })
	T.eq(Steam.init(), true, 'init again')
	-- An __index that sends on its own.
	local inner
	m = setmetatable({ conn = 1, flag = R }, {
		__index = function()
			inner = ns.sendMessages(1, { { conn = 2, msg = 'inner', flag = R } })
			return 'outer'
		end,
	})
	T.eq(ns.sendMessages(1, { m })[1], false, 'outer batch result')
	T.eq(inner[1], false, 'inner batch result')
	Steam.shutdown()
end)

local only = os.getenv('MIST_HOSTILE_ONLY')
for _, name in ipairs(order) do
	if not only or only == '' or only == name then
		sections[name]()
		T.ok(name)
	end
end
print('PASS hostile_test')
