-- Certificates without Steam, run by run.sh with MIST_CERT (a credential
-- for a str: identity) and MIST_TRUST (its CA) set: authentication becomes
-- current, the instance connects to itself with both ends certified, and
-- MIST_UNSIGNED_SERVER, a server without a certificate, is refused.
local T = require 'testlib'
local Steam, ns = T.Steam, T.ns

T.eq(Steam.init(), true, 'Steam.init with MIST_CERT and MIST_TRUST')
local auth
function ns.onAuthenticationStatus(data) auth = data.status end
ns.initAuthentication()
T.waitFor('authentication status 100', function() return auth == 100 end)
T.eq(ns.getIdentity(), nil, 'getIdentity (the identity is the certificate\'s str: one)')
T.ok('MIST_CERT: authentication is current')

T.connectedPair(T.port)
T.ok('MIST_TRUST: connected to itself, both ends certified by the CA')

local unsigned = os.getenv('MIST_UNSIGNED_SERVER')
T.truthy(unsigned, 'MIST_UNSIGNED_SERVER set')
T.trackConnections() -- no more accepting: the next connection is outbound
local c = ns.connectByIPAddress(unsigned)
T.waitFor('refusal of the unsigned server', function() return T.state[c] == 'ProblemDetectedLocally' end)
local last
for _, e in ipairs(T.events) do
	if e.connection == c then last = e end
end
T.eq(last.endReason, 4003, 'end reason (Remote_BadCert)')
T.truthy(last.debug:find('Unsigned certs are not allowed', 1, true), 'debug text ' .. last.debug)
T.ok('MIST_TRUST: a server without a certificate is refused: ' .. last.debug)
ns.closeConnection(c)
Steam.shutdown()
