package bridge

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mistnet/mist"
	"github.com/mistnet/mist/internal/p2p/ice"
	"github.com/mistnet/mist/internal/p2p/trivial"
)

// Environment variables Steam.init reads for P2P: a luasteam program has no
// call that names a signaling server or relays, so they come from outside.
const (
	EnvIdentity  = "MIST_IDENTITY"  // local identity, "steamid:<decimal SteamID>"
	EnvSignaling = "MIST_SIGNALING" // trivial signaling servers, host:port[,host:port...]
	EnvSTUN      = "MIST_STUN"      // STUN servers, host:port[,host:port...]
	EnvTURN      = "MIST_TURN"      // TURN servers, host:port[,host:port...]
	EnvTURNUser  = "MIST_TURN_USER" // TURN user names, one per server
	EnvTURNPass  = "MIST_TURN_PASS" // TURN passwords, one per server
)

// P2PSettings configure the P2P side of the instance Steam.init creates.
// Empty fields leave the feature off: no signaling server means connectP2P
// fails and P2P listen sockets hear only nothing; no STUN or TURN server
// means only host candidates are offered and no server is contacted.
type P2PSettings struct {
	Signaling string
	STUN      string
	TURN      string
	TURNUser  string
	TURNPass  string
}

// Settings are everything Steam.init passes to the backend.
type Settings struct {
	// SteamID is the local identity; 0 picks a random one.
	SteamID uint64
	// Options apply at interface scope.
	Options []Option
	P2P     P2PSettings
}

// maxEnvValue bounds one environment value: long enough for any list of
// servers a user would write, short enough that a runaway value is
// reported instead of carried around.
const maxEnvValue = 4096

// SettingsFromEnv reads the MIST_* variables through getenv (os.Getenv in
// the module) and checks them, so a bad value makes Steam.init fail with a
// message naming the variable instead of failing later inside connectP2P.
// steamID is the identity MIST_IDENTITY names, 0 when it is unset.
func SettingsFromEnv(getenv func(string) string) (steamID uint64, p P2PSettings, err error) {
	for _, name := range []string{EnvIdentity, EnvSignaling, EnvSTUN, EnvTURN, EnvTURNUser, EnvTURNPass} {
		if v := getenv(name); len(v) > maxEnvValue {
			return 0, P2PSettings{}, fmt.Errorf("%s: %d bytes long (at most %d)", name, len(v), maxEnvValue)
		}
	}
	if s := strings.TrimSpace(getenv(EnvIdentity)); s != "" {
		steamID, err = ParseSteamIdentity(s)
		if err != nil {
			return 0, P2PSettings{}, fmt.Errorf("%s: %w", EnvIdentity, err)
		}
	}
	p = P2PSettings{
		Signaling: strings.TrimSpace(getenv(EnvSignaling)),
		STUN:      strings.TrimSpace(getenv(EnvSTUN)),
		TURN:      strings.TrimSpace(getenv(EnvTURN)),
		TURNUser:  getenv(EnvTURNUser),
		TURNPass:  getenv(EnvTURNPass),
	}
	if p.Signaling != "" {
		_, err := trivial.ServerAddrs(p.Signaling)
		for _, a := range strings.Split(p.Signaling, ",") {
			if !strings.Contains(a, ":") {
				err = fmt.Errorf("no port in %q", a)
			}
		}
		if err != nil {
			return 0, P2PSettings{}, fmt.Errorf("%s %q: want host:port[,host:port...] (servers tried in turn)", EnvSignaling, p.Signaling)
		}
	}
	if _, err := ice.ParseSTUNServers(p.STUN); err != nil {
		return 0, P2PSettings{}, fmt.Errorf("%s %q: %v (want host:port[,host:port...])", EnvSTUN, p.STUN, err)
	}
	if p.TURNUser != "" && p.TURN == "" {
		return 0, P2PSettings{}, fmt.Errorf("%s needs %s", EnvTURNUser, EnvTURN)
	}
	if p.TURNPass != "" && p.TURN == "" {
		return 0, P2PSettings{}, fmt.Errorf("%s needs %s", EnvTURNPass, EnvTURN)
	}
	if _, err := ice.ParseTURNServers(p.TURN, p.TURNUser, p.TURNPass); err != nil {
		return 0, P2PSettings{}, fmt.Errorf("%s %q: %v (want host:port[,host:port...])", EnvTURN, p.TURN, err)
	}
	if p.TURNUser != "" && len(strings.Split(p.TURNUser, ",")) != len(strings.Split(p.TURN, ",")) {
		return 0, P2PSettings{}, fmt.Errorf("%s: give one user name per server of %s", EnvTURNUser, EnvTURN)
	}
	if p.TURNPass != "" && len(strings.Split(p.TURNPass, ",")) != len(strings.Split(p.TURN, ",")) {
		return 0, P2PSettings{}, fmt.Errorf("%s: give one password per server of %s", EnvTURNPass, EnvTURN)
	}
	return steamID, p, nil
}

// ParseSteamIdentity parses "steamid:<decimal>", the only identity a
// luasteam program can be reached by (connectP2P takes a SteamID).
func ParseSteamIdentity(s string) (uint64, error) {
	id, ok := mist.ParseIdentity(s)
	if !ok || !strings.HasPrefix(s, "steamid:") || id.SteamID() == 0 {
		return 0, fmt.Errorf("%q is not a SteamID identity (want steamid:<decimal SteamID>, e.g. steamid:76561198000000001)", s)
	}
	return id.SteamID(), nil
}

// MaxVirtualPort is the largest virtual port the P2P calls take.
const MaxVirtualPort = 0xffff

// errBadVirtualPort is the failure reason of a virtual port out of range.
var errBadVirtualPort = errors.New("virtual port must be an integer from 0 to 65535")

// CreateListenSocketP2P listens for P2P connections on a virtual port. A
// failure gives handle 0 and the reason; err is only ErrNotInitialized.
func (m *Module) CreateListenSocketP2P(virtualPort int64, opts []Option) (h Handle, reason string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return 0, "", err
	}
	if virtualPort < 0 || virtualPort > MaxVirtualPort {
		return invalidHandle, errBadVirtualPort.Error(), nil
	}
	raw, ferr := b.CreateListenSocketP2P(int(virtualPort), opts)
	if ferr != nil || raw == invalidHandle {
		return invalidHandle, failReason(ferr), nil
	}
	return m.toLua(raw), "", nil
}

// ConnectP2P connects to the peer with the SteamID steamID on its virtual
// port through the signaling server. A failure gives handle 0 and the
// reason; err is only ErrNotInitialized.
func (m *Module) ConnectP2P(steamID uint64, virtualPort int64, opts []Option) (h Handle, reason string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return 0, "", err
	}
	if virtualPort < 0 || virtualPort > MaxVirtualPort {
		return invalidHandle, errBadVirtualPort.Error(), nil
	}
	if !mist.SteamIDIdentity(steamID).IsValid() {
		return invalidHandle, fmt.Sprintf("%d is not a valid SteamID", steamID), nil
	}
	raw, ferr := b.ConnectP2P(steamID, int(virtualPort), opts)
	if ferr != nil || raw == invalidHandle {
		return invalidHandle, failReason(ferr), nil
	}
	return m.toLua(raw), "", nil
}

func failReason(err error) string {
	if err == nil {
		return "failed"
	}
	return strings.TrimPrefix(err.Error(), "mist: ")
}
