-- Leaves a listen socket and connections open and ends without
-- Steam.shutdown: the interpreter must still exit promptly with status 0
-- (the harness runs this under a time limit). The module stays loaded until
-- process exit (the Go runtime cannot be unloaded).
local T = require 'testlib'
local Steam, ns = T.Steam, T.ns

T.eq(Steam.init(), true, 'Steam.init')
ns.initAuthentication()
local sock, client, server = T.connectedPair(T.port)
T.eq(ns.sendMessageToConnection(client, 'left behind', ns.flags.Send_Reliable), 'OK', 'send')
print('PASS exit_test (exiting with everything open)')
