package ice

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pion/transport/v5"
)

// Enable is the P2P_Transport_ICE_Enable bit mask: which kinds of
// candidates a side may share with its peer.
type Enable int32

// Values of P2P_Transport_ICE_Enable (config 104), as GNS defines them.
const (
	EnableDefault Enable = -1 // GNS's default; open-source builds treat it as EnableAll
	EnableDisable Enable = 0  // no ICE at all; the connection fails with 3998
	// EnableRelay shares relay candidates only. Alone it is GNS's "relay
	// only" mode: neither side learns the other's IP address.
	EnableRelay   Enable = 1
	EnablePrivate Enable = 2 // host candidates with RFC 1918 / link-local IPv4 addresses
	EnablePublic  Enable = 4 // other host addresses and server-reflexive candidates
	EnableAll     Enable = 0x7fffffff
)

// TURNServer is one entry of P2P_TURN_ServerList with its positional
// credentials from P2P_TURN_UserList / P2P_TURN_PassList.
type TURNServer struct {
	Addr     string // host:port
	Username string
	Password string
}

// Config configures one Session, i.e. ICE for one P2P connection.
// The zero value gathers host candidates only and contacts no server.
type Config struct {
	// Controlling is true on the side that accepted the connection. GNS
	// makes the acceptor controlling and the initiator controlled, the
	// opposite of the usual offerer-controls habit; roles never change
	// (except when a symmetric connect turns the initiator into the
	// acceptor, which recreates the session).
	Controlling bool

	// LocalConnectionID is this side's P2P connection ID; the local ufrag
	// is derived from it (see UfragForConnectionID).
	LocalConnectionID uint32

	// Enable is P2P_Transport_ICE_Enable; zero means EnableAll, GNS's
	// default. Use EnableFromConfig to map the raw option value.
	Enable Enable

	// STUNServers and TURNServers are P2P_STUN_ServerList and the TURN
	// lists, parsed by ParseSTUNServers and ParseTURNServers. Nothing is
	// contacted when they are empty.
	STUNServers []string
	TURNServers []TURNServer

	// Penalty is P2P_Transport_ICE_Penalty, added to the route score.
	Penalty int

	// Net is the network to gather on; nil means the host's real network.
	// Tests pass a pion vnet.Net (see internal/p2p/natsim).
	Net transport.Net

	// Loopback lets loopback addresses be gathered and accepted from the
	// peer. GNS never gathers them and drops them when received, so this
	// is only for mist-to-mist tests and single-machine setups.
	Loopback bool

	// AddrFilter, when set, limits the local addresses gathered as host
	// candidates.
	AddrFilter func(netip.Addr) bool

	// RouteTimeout, when positive, makes the session fail with a
	// *NoRouteError if no route is selected within it after the remote
	// credentials arrive. GNS leaves this to the connection (TimeoutInitial
	// in FindingRoute, 10 s, end reason 5008); zero leaves it to the caller.
	RouteTimeout time.Duration

	// Timing overrides pion's check pacing; zero fields keep its defaults.
	Timing Timing

	// OnCandidate receives each local candidate line to signal to the peer
	// (one add_candidate reliable message each). It is called from the
	// session's goroutines, never with a session lock held.
	OnCandidate func(line string)

	// OnRoute is called with every new selected route: first selection,
	// and every change after (for example relay upgraded to direct).
	OnRoute func(Route)

	// OnReceive is called with every datagram received from the peer on
	// any valid pair (GNS processes data from any ICE socket). The slice is
	// reused after OnReceive returns. Calls come from one goroutine.
	OnReceive func(datagram []byte)

	// OnFailed is called once if the session fails for good (see
	// RouteTimeout). The session is closed after it.
	OnFailed func(error)
}

// Timing holds optional overrides of pion's check pacing.
type Timing struct {
	CheckInterval     time.Duration // between check rounds while connecting (pion: 200 ms)
	KeepaliveInterval time.Duration // binding requests on the selected pair (pion: 2 s)
	// RelayWait is how long the controlling side waits before nominating a
	// pair through a relay while a direct pair may still succeed (pion:
	// 2 s, or 0 in relay-only mode).
	RelayWait time.Duration
	// Upgrade is how often the controlling side looks for a better pair
	// than the selected one (relay to direct, or a much faster pair) and
	// moves the route to it, as GNS's controlling agent does. Zero means
	// every 3 s (pion's default); negative turns upgrades off. The
	// controlled side always follows the controlling side's choice.
	Upgrade time.Duration
}

// EnableFromConfig maps a raw P2P_Transport_ICE_Enable value as GNS does:
// negative means "default", which open-source GNS resolves to all kinds,
// and 0 disables ICE (ErrNotEnabled, end reason 3998).
func EnableFromConfig(v int32) (Enable, error) {
	if v < 0 {
		return EnableAll, nil
	}
	if v == 0 {
		return 0, ErrNotEnabled
	}
	return Enable(v), nil
}

// ParseSTUNServers parses P2P_STUN_ServerList: comma-separated host:port
// entries, each with an optional "stun:" prefix. Empty entries are skipped
// and entries are not trimmed, as in GNS. IPv6 literals are bracketed.
func ParseSTUNServers(list string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(list, ",") {
		if e == "" {
			continue
		}
		addr, err := parseServer(e, "stun:")
		if err != nil {
			return nil, err
		}
		out = append(out, addr)
	}
	return out, nil
}

// ParseTURNServers parses P2P_TURN_ServerList with P2P_TURN_UserList and
// P2P_TURN_PassList. The three lists are matched by position (empty entries
// keep their place); if a credential list is non-empty and its length
// differs from the server list, every server is used without credentials,
// as GNS does.
func ParseTURNServers(servers, users, passwords string) ([]TURNServer, error) {
	if servers == "" {
		return nil, nil
	}
	hosts := strings.Split(servers, ",")
	var us, ps []string
	if users != "" {
		us = strings.Split(users, ",")
	}
	if passwords != "" {
		ps = strings.Split(passwords, ",")
	}
	if (us != nil || ps != nil) && (len(us) != len(hosts) || len(ps) != len(hosts)) {
		us, ps = nil, nil
	}
	var out []TURNServer
	for i, h := range hosts {
		if h == "" {
			continue
		}
		addr, err := parseServer(h, "turn:")
		if err != nil {
			return nil, err
		}
		s := TURNServer{Addr: addr}
		if us != nil {
			s.Username, s.Password = us[i], ps[i]
		}
		out = append(out, s)
	}
	return out, nil
}

// maxServerEntry bounds one server list entry; real ones are short.
const maxServerEntry = 1024

func parseServer(entry, scheme string) (string, error) {
	if len(entry) > maxServerEntry {
		return "", fmt.Errorf("ice: server entry of %d bytes is too long", len(entry))
	}
	s := entry
	if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
		s = s[len(scheme):]
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("ice: server %q: want host:port: %v", entry, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return "", fmt.Errorf("ice: server %q: bad port %q", entry, port)
	}
	if host == "" || strings.ContainsAny(host, " ?/@%") {
		return "", fmt.Errorf("ice: server %q: bad host %q", entry, host)
	}
	return net.JoinHostPort(host, port), nil
}

// CheckImplementation maps P2P_Transport_ICE_Implementation (config 110)
// as a GNS build without WebRTC does: 0 (default) and 1 (native) run this
// package; 2 (WebRTC) fails with end reason 3999, anything else with 5001.
func CheckImplementation(v int32) (endReason int, err error) {
	switch v {
	case 0, 1:
		return 0, nil
	case 2:
		return EndNotCompiled, errors.New("ice: P2P_Transport_ICE_Implementation 2 (WebRTC) is not available")
	}
	return EndGeneric, fmt.Errorf("ice: invalid P2P_Transport_ICE_Implementation %d", v)
}
