local Steam = require 'luasteam'

local connection = nil

Steam.init()
Steam.networkingSockets.initAuthentication()

function Steam.networkingSockets.onConnectionChanged(data)
    print ('Connection changed', data.connection, data.state, data.state_old, data.endReason, data.debug)
end

function Steam.networkingSockets.onAuthenticationStatus(data)
    if data.status == 100 and not connection then
        connection = Steam.networkingSockets.connectP2P(Steam.extra.parseUint64("76561198000000001"), 0)
    end
end

local run = true
local counter = 0
local msg_rec = false
while run do
    Steam.runCallbacks()

    if connection then
        local n, messages = Steam.networkingSockets.receiveMessagesOnConnection(connection)

        if n > 0 then
            for j,m in ipairs(messages) do
                print("received message", j, m, "from connection", connection, type(j))
                Steam.networkingSockets.sendMessageToConnection(connection, "Hello server! This is the client! Thank you!", Steam.networkingSockets.flags.Send_Reliable)
                msg_rec = true
            end
        end
    end

    if msg_rec then
        counter = counter + 1
        if counter > 10000 then -- you might have to increase this if the client shuts down faster than the message can be sent
            run = false
        end
    end
end

if connection then
    Steam.networkingSockets.closeConnection(connection)
end
Steam.shutdown()
