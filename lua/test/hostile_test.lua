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

local only = os.getenv('MIST_HOSTILE_ONLY')
for _, name in ipairs(order) do
	if not only or only == '' or only == name then
		sections[name]()
		T.ok(name)
	end
end
print('PASS hostile_test')
