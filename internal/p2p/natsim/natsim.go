// Package natsim builds small in-process internets with NAT gateways of
// the four classic kinds, on pion's vnet, for P2P tests: hosts on LANs
// behind gateways, public hosts, and a STUN/TURN server (pion/turn) on the
// "Internet". Each host is a *vnet.Net, which implements pion's
// transport.Net and can be handed to an ICE session.
//
// The layout follows GNS's mock network: every site is one private /24
// behind its own gateway, private addresses are routable only inside their
// site, and the server sits on a public address.
package natsim

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/turn/v5"
)

// NAT is the behaviour of a site's gateway.
type NAT int

const (
	// Public: no gateway; hosts have public addresses.
	Public NAT = iota
	// FullCone: one external port per internal socket; anyone may send to it.
	FullCone
	// RestrictedCone: same mapping; inbound only from IPs sent to before.
	RestrictedCone
	// PortRestrictedCone: same mapping; inbound only from IP:port sent to before.
	PortRestrictedCone
	// Symmetric: a new external port per destination IP:port; inbound only
	// from that destination.
	Symmetric
)

func (n NAT) String() string {
	switch n {
	case Public:
		return "public"
	case FullCone:
		return "full-cone"
	case RestrictedCone:
		return "restricted-cone"
	case PortRestrictedCone:
		return "port-restricted-cone"
	case Symmetric:
		return "symmetric"
	}
	return fmt.Sprintf("NAT(%d)", int(n))
}

func (n NAT) vnetType() *vnet.NATType {
	t := &vnet.NATType{Mode: vnet.NATModeNormal}
	switch n {
	case FullCone:
		t.MappingBehavior, t.FilteringBehavior = vnet.EndpointIndependent, vnet.EndpointIndependent
	case RestrictedCone:
		t.MappingBehavior, t.FilteringBehavior = vnet.EndpointIndependent, vnet.EndpointAddrDependent
	case PortRestrictedCone:
		t.MappingBehavior, t.FilteringBehavior = vnet.EndpointIndependent, vnet.EndpointAddrPortDependent
	case Symmetric:
		t.MappingBehavior, t.FilteringBehavior = vnet.EndpointAddrPortDependent, vnet.EndpointAddrPortDependent
	}
	return t
}

// Server credentials and address of the STUN/TURN server.
const (
	ServerIP     = "1.2.3.4"
	ServerPort   = 3478
	TURNUser     = "testuser"
	TURNPassword = "testpass"
	TURNRealm    = "mist.test"
)

// vnetBuild serializes the creation of vnet routers and nets: vnet hands
// out MAC addresses from an unguarded package counter, so worlds built in
// parallel tests would race.
var vnetBuild sync.Mutex

func newRouter(c *vnet.RouterConfig) (*vnet.Router, error) {
	vnetBuild.Lock()
	defer vnetBuild.Unlock()
	return vnet.NewRouter(c)
}

func newNet(c *vnet.NetConfig) (*vnet.Net, error) {
	vnetBuild.Lock()
	defer vnetBuild.Unlock()
	return vnet.NewNet(c)
}

// ServerAddr is the STUN/TURN server's host:port.
var ServerAddr = net.JoinHostPort(ServerIP, fmt.Sprint(ServerPort))

// World is one simulated internet. Build it with New, add sites and hosts,
// then Start it; Close stops everything.
type World struct {
	wan       *vnet.Router
	serverNet *vnet.Net
	server    *turn.Server
	sites     []*Site
	started   bool
	logs      logging.LoggerFactory

	blockDirect atomic.Bool
	mu          sync.Mutex
	direct      int // datagrams between two sites that did not touch the server
}

// Site is a LAN behind one gateway (or, for Public, hosts on the Internet).
type Site struct {
	world    *World
	NAT      NAT
	PublicIP netip.Addr
	router   *vnet.Router // nil for Public sites
	prefix   netip.Prefix
	hosts    int
}

// New makes an empty world with the server net attached.
func New() (*World, error) {
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	wan, err := newRouter(&vnet.RouterConfig{CIDR: "0.0.0.0/0", LoggerFactory: lf})
	if err != nil {
		return nil, err
	}
	serverNet, err := newNet(&vnet.NetConfig{StaticIPs: []string{ServerIP}})
	if err != nil {
		return nil, err
	}
	if err := wan.AddNet(serverNet); err != nil {
		return nil, err
	}
	w := &World{wan: wan, serverNet: serverNet, logs: lf}
	wan.AddChunkFilter(w.filter)
	return w, nil
}

// filter counts, and optionally drops, traffic between sites that does not
// involve the server: the direct path between two peers.
func (w *World) filter(c vnet.Chunk) bool {
	src, dst := c.SourceAddr(), c.DestinationAddr()
	sa, ok1 := addrOf(src)
	da, ok2 := addrOf(dst)
	if !ok1 || !ok2 {
		return true
	}
	server := netip.MustParseAddr(ServerIP)
	if sa == server || da == server {
		return true
	}
	w.mu.Lock()
	w.direct++
	w.mu.Unlock()
	return !w.blockDirect.Load()
}

func addrOf(a net.Addr) (netip.Addr, bool) {
	if u, ok := a.(*net.UDPAddr); ok {
		ip, ok := netip.AddrFromSlice(u.IP)
		return ip.Unmap(), ok
	}
	return netip.Addr{}, false
}

// BlockDirect drops (true) or passes (false) every datagram between two
// sites that neither comes from nor goes to the server.
func (w *World) BlockDirect(block bool) { w.blockDirect.Store(block) }

// DirectDatagrams counts datagrams seen between two sites without the
// server in between (dropped ones included).
func (w *World) DirectDatagrams() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.direct
}

// AddSite adds a site with the given gateway. Sites get public addresses
// 27.0.0.N and private prefixes 192.168.N.0/24.
func (w *World) AddSite(nat NAT) (*Site, error) {
	if w.started {
		return nil, errors.New("natsim: world already started")
	}
	n := len(w.sites) + 1
	if n > 200 {
		return nil, errors.New("natsim: too many sites")
	}
	s := &Site{world: w, NAT: nat}
	if nat == Public {
		s.prefix = netip.MustParsePrefix(fmt.Sprintf("27.0.%d.0/24", n))
		w.sites = append(w.sites, s)
		return s, nil
	}
	s.PublicIP = netip.MustParseAddr(fmt.Sprintf("27.0.0.%d", n))
	s.prefix = netip.MustParsePrefix(fmt.Sprintf("192.168.%d.0/24", n))
	r, err := newRouter(&vnet.RouterConfig{
		StaticIPs:     []string{s.PublicIP.String()},
		CIDR:          s.prefix.String(),
		NATType:       nat.vnetType(),
		LoggerFactory: w.logs,
	})
	if err != nil {
		return nil, err
	}
	if err := w.wan.AddRouter(r); err != nil {
		return nil, err
	}
	s.router = r
	w.sites = append(w.sites, s)
	return s, nil
}

// AddHost adds a host to the site and returns its network and address.
func (s *Site) AddHost() (*vnet.Net, netip.Addr, error) {
	if s.world.started {
		return nil, netip.Addr{}, errors.New("natsim: world already started")
	}
	s.hosts++
	if s.hosts > 200 {
		return nil, netip.Addr{}, errors.New("natsim: too many hosts")
	}
	b := s.prefix.Addr().As4()
	b[3] = byte(1 + s.hosts)
	ip := netip.AddrFrom4(b)
	n, err := newNet(&vnet.NetConfig{StaticIPs: []string{ip.String()}})
	if err != nil {
		return nil, netip.Addr{}, err
	}
	parent := s.router
	if parent == nil {
		parent = s.world.wan
	}
	if err := parent.AddNet(n); err != nil {
		return nil, netip.Addr{}, err
	}
	return n, ip, nil
}

// Start starts the routers and the STUN/TURN server at ServerAddr, which
// answers STUN Binding requests and allocates relays for TURNUser /
// TURNPassword; hosts choose whether to use it.
func (w *World) Start() error {
	if w.started {
		return errors.New("natsim: world already started")
	}
	w.started = true
	if err := w.wan.Start(); err != nil {
		return err
	}
	conn, err := w.serverNet.ListenPacket("udp4", ServerAddr)
	if err != nil {
		return err
	}
	key := turn.GenerateAuthKey(TURNUser, TURNRealm, TURNPassword)
	server, err := turn.NewServer(turn.ServerConfig{
		Realm:         TURNRealm,
		LoggerFactory: w.logs,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			if ra.Username != TURNUser {
				return "", nil, false
			}
			return ra.Username, key, true
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: conn,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: net.ParseIP(ServerIP),
				Address:      "0.0.0.0",
				Net:          w.serverNet,
			},
		}},
	})
	if err != nil {
		return err
	}
	w.server = server
	return nil
}

// Close stops the server and the routers.
func (w *World) Close() error {
	var errs []error
	if w.server != nil {
		errs = append(errs, w.server.Close())
	}
	if w.started {
		errs = append(errs, w.wan.Stop())
	}
	return errors.Join(errs...)
}
