local Steam = require 'luasteam'

local connections = {}
local server = nil

Steam.init()

Steam.networkingSockets.initAuthentication()

function Steam.networkingSockets.onConnectionChanged(data)
    print ('Connection changed', data.connection, data.state, data.state_old, data.endReason, data.debug)
    if data.state == "Connecting" then
        Steam.networkingSockets.acceptConnection(data.connection)
    end
    if  data.state == "Connected" then
        connections[data.connection] = true
        Steam.networkingSockets.sendMessageToConnection(data.connection, "Hello client! This is the server! Welcome!", Steam.networkingSockets.flags.Send_Reliable)
    end
    if data.state == "ClosedByPeer" or data.state == "ProblemDetectedLocally" then
        print(data.connection, data.state, data.endReason, data.debug)
        Steam.networkingSockets.closeConnection(data.connection)
        connections[data.connection] = nil
    end
end

function Steam.networkingSockets.onAuthenticationStatus(data)
    if data.status == 100 and not connection then
        server = Steam.networkingSockets.createListenSocketP2P(0)
        print("Listening on port 55556")
    end
end

local run = true

while run do
    Steam.runCallbacks()

    for conn,_ in pairs(connections) do
        local n, messages = Steam.networkingSockets.receiveMessagesOnConnection(conn)
        if n > 0 then
            for j,m in ipairs(messages) do
                print("received message", j, m, "from connection", conn, type(j))
                run = false
            end
        end
    end
end

for conn,_ in pairs(connections) do
    Steam.networkingSockets.closeConnection(conn)
end
Steam.shutdown()
