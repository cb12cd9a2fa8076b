-- A LÖVE program written against luasteam's networkingSockets API, running
-- on mist (no Steam client needed).
--
--   love examples/love            listen on port 55556 and connect to itself
--   love examples/love server     listen only
--   love examples/love client ADDR   connect to ADDR (default 127.0.0.1:55556)
--
-- Make the module visible first, e.g. from the repository root:
--   make lua && LUA_CPATH="$PWD/lua/build/lua5.1/?.so;;" love examples/love
--
-- Space sends a chat line to every connection; Escape quits. With
-- MIST_LOVE_AUTOQUIT=<seconds> the program pings itself and quits on its own
-- (exit status 0 once a round trip worked), for headless runs.
local Steam = require 'luasteam'
local ns = Steam.networkingSockets

local PORT = 55556
local mode, target = 'both', '127.0.0.1:' .. PORT
local connections = {} -- connection id -> true once Connected
local log = {}
local listenSocket
local clientConn
local roundTrips = 0
local autoQuit = tonumber(os.getenv('MIST_LOVE_AUTOQUIT') or '')
local elapsed, lastPing = 0, 0

local function say(fmt, ...)
	local line = string.format(fmt, ...)
	print(line)
	table.insert(log, line)
	if #log > 22 then table.remove(log, 1) end
end

function ns.onAuthenticationStatus(data)
	say('authentication status %d (%s)', data.status, data.debugMsg)
	if data.status ~= 100 then return end
	if mode ~= 'client' and not listenSocket then
		listenSocket = ns.createListenSocketIP('[::]:' .. PORT)
		say('listening on port %d: %s', PORT, tostring(listenSocket))
	end
	if mode ~= 'server' and not clientConn then
		clientConn = ns.connectByIPAddress(target)
		say('connecting to %s as connection %d', target, clientConn)
	end
end

function ns.onConnectionChanged(data)
	say('connection %d: %s -> %s %s', data.connection, data.state_old, data.state, data.debug)
	if data.state == 'Connecting' and data.connection ~= clientConn then
		say('accept: %s', ns.acceptConnection(data.connection))
	elseif data.state == 'Connected' then
		connections[data.connection] = true
		ns.sendMessageToConnection(data.connection, 'hello from ' .. tostring(ns.getIdentity()),
			ns.flags.Send_Reliable)
	elseif data.state == 'ClosedByPeer' or data.state == 'ProblemDetectedLocally' then
		ns.closeConnection(data.connection)
		connections[data.connection] = nil
		if data.connection == clientConn then clientConn = nil end
	end
end

function love.load(args)
	mode = args[1] or mode
	target = args[2] or target
	if not Steam.init() then error('Steam.init failed') end
	say('mist luasteam module, identity %s, mode %s', tostring(Steam.user.getSteamID()), mode)
	ns.initAuthentication()
	love.keyboard.setKeyRepeat(false)
end

function love.update(dt)
	elapsed = elapsed + dt
	Steam.runCallbacks()
	for conn in pairs(connections) do
		repeat
			local n, messages = ns.receiveMessagesOnConnection(conn)
			for _, m in ipairs(messages or {}) do
				say('from %d: %s', conn, m)
				local stamp = m:match('^ping (.*)$')
				if stamp then
					ns.sendMessageToConnection(conn, 'pong ' .. stamp, ns.flags.Send_Reliable)
				elseif m:match('^pong ') then
					roundTrips = roundTrips + 1
				end
			end
		until n ~= 32
	end
	if autoQuit then
		if clientConn and connections[clientConn] and elapsed - lastPing > 0.25 then
			lastPing = elapsed
			ns.sendMessageToConnection(clientConn, string.format('ping %.3f', elapsed), ns.flags.Send_Reliable)
		end
		if roundTrips >= 3 or elapsed > autoQuit then love.event.quit(roundTrips >= 3 and 0 or 1) end
	end
end

function love.keypressed(key)
	if key == 'escape' then
		love.event.quit()
	elseif key == 'space' then
		for conn in pairs(connections) do
			ns.sendMessageToConnection(conn, 'chat line at ' .. string.format('%.1f', elapsed), ns.flags.Send_Reliable)
		end
	end
end

function love.draw()
	love.graphics.print(string.format('mist over UDP  |  %d connection(s)  |  %d round trip(s)  |  space: send, esc: quit',
		(function() local c = 0; for _ in pairs(connections) do c = c + 1 end; return c end)(), roundTrips), 10, 10)
	for i, line in ipairs(log) do love.graphics.print(line, 10, 30 + i * 18) end
end

function love.quit()
	for conn in pairs(connections) do ns.closeConnection(conn) end
	if listenSocket then ns.closeListenSocket(listenSocket) end
	Steam.shutdown()
	say('round trips: %d', roundTrips)
end
