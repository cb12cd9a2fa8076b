package bridge

import (
	"fmt"
	"math"
	"net/netip"
	"os"

	"github.com/mistnet/mist"
	"github.com/mistnet/mist/ca"
)

// mistBackend adapts a *mist.Sockets to Backend.
type mistBackend struct {
	s        *mist.Sockets
	events   []Event // filled by mist's callbacks during RunCallbacks
	recvBuf  []*mist.Message
	visitBuf []InMessage
}

// NewMist creates a mist interface instance whose identity is the SteamID
// set.SteamID, or a random one when it is 0, with set.Options at interface
// scope. The certificate and trusted CA come from EnvCert and EnvTrust. The
// P2P settings name the signaling server (the instance registers there at
// once) and the STUN and TURN servers, also at interface scope.
func NewMist(set Settings) (Backend, error) {
	b := &mistBackend{}
	cfg, err := credentialsFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	opts := configValues(set.Options)
	p := set.P2P
	for _, v := range []struct {
		opt mist.ConfigOption
		s   string
	}{
		{mist.OptP2PSTUNServerList, p.STUN},
		{mist.OptP2PTURNServerList, p.TURN},
		{mist.OptP2PTURNUserList, p.TURNUser},
		{mist.OptP2PTURNPassList, p.TURNPass},
	} {
		if v.s != "" {
			opts = append(opts, mist.StringValue(v.opt, v.s))
		}
	}
	cfg.Options = opts
	cfg.OnConnectionStatusChanged = b.onConnChanged
	cfg.OnAuthenticationStatus = b.onAuthStatus
	cfg.SignalingServer = p.Signaling
	if set.SteamID != 0 {
		cfg.Identity = mist.SteamIDIdentity(set.SteamID)
	}
	s, err := mist.New(cfg)
	if err != nil {
		return nil, err
	}
	b.s = s
	return b, nil
}

// credentialsFromEnv loads the files EnvCert and EnvTrust name, if set.
func credentialsFromEnv(getenv func(string) string) (mist.Config, error) {
	var cfg mist.Config
	if name := getenv(EnvCert); name != "" {
		cred, err := ca.ReadCredential(name)
		if err != nil {
			return cfg, fmt.Errorf("%s: %w", EnvCert, err)
		}
		cfg.Certificate, cfg.CertificateKey = cred.Certificate, cred.PrivateKey
	}
	if name := getenv(EnvTrust); name != "" {
		trust, err := ca.LoadTrust(name)
		if err != nil {
			return cfg, fmt.Errorf("%s: %w", EnvTrust, err)
		}
		cfg.TrustedCAs = trust.Keys()
		cfg.RequireAuthentication = true
	}
	return cfg, nil
}

func (b *mistBackend) onConnChanged(ev *mist.ConnStatusChanged) {
	b.events = append(b.events, Event{Kind: EventConnChanged, Conn: ConnChange{
		Conn:      Handle(ev.Conn),
		State:     int32(ev.Info.State),
		OldState:  int32(ev.OldState),
		EndReason: int32(ev.Info.EndReason),
		EndDebug:  ev.Info.EndDebug,
	}})
}

func (b *mistBackend) onAuthStatus(ev *mist.AuthStatus) {
	b.events = append(b.events, Event{Kind: EventAuthStatus, Status: int32(ev.Avail), Msg: ev.Debug})
}

// configValues turns options-table entries into Int32 config values, as
// luasteam does; values outside int32 saturate.
func configValues(opts []Option) []mist.ConfigValue {
	vals := make([]mist.ConfigValue, len(opts))
	for i, o := range opts {
		v := min(max(o.Value, math.MinInt32), math.MaxInt32)
		vals[i] = mist.Int32Value(mist.ConfigOption(o.ID), int32(v))
	}
	return vals
}

func (b *mistBackend) CreateListenSocketIP(addr netip.AddrPort, opts []Option) uint32 {
	return uint32(b.s.CreateListenSocketIP(addr, configValues(opts)...))
}

func (b *mistBackend) ConnectByIPAddress(addr netip.AddrPort, opts []Option) uint32 {
	return uint32(b.s.ConnectByIPAddress(addr, configValues(opts)...))
}

func (b *mistBackend) CreateListenSocketP2P(virtualPort int, opts []Option) (uint32, error) {
	h, err := b.s.CreateListenSocketP2P(virtualPort, configValues(opts)...)
	return uint32(h), err
}

func (b *mistBackend) ConnectP2P(steamID uint64, virtualPort int, opts []Option) (uint32, error) {
	h, err := b.s.ConnectP2P(mist.SteamIDIdentity(steamID), virtualPort, configValues(opts)...)
	return uint32(h), err
}

func (b *mistBackend) AcceptConnection(conn uint32) int32 {
	return int32(b.s.AcceptConnection(mist.Conn(conn)))
}

func (b *mistBackend) CloseConnection(conn uint32, reason int32, debug string, linger bool) bool {
	return b.s.CloseConnection(mist.Conn(conn), mist.EndReason(reason), debug, linger)
}

func (b *mistBackend) CloseListenSocket(sock uint32) bool {
	return b.s.CloseListenSocket(mist.ListenSocket(sock))
}

func (b *mistBackend) SendMessageToConnection(conn uint32, data []byte, flags int32) int32 {
	_, r := b.s.SendMessageToConnection(mist.Conn(conn), data, mist.SendFlags(flags))
	return int32(r)
}

// sendChunkBytes bounds the payload copied for one mist.SendMessages call.
// A batch may name the same Lua string many times (2^20 entries of a 512 KiB
// string cost Lua one string), so copying every entry before sending would
// take memory far beyond anything Lua holds.
const sendChunkBytes = 4 << 20

// SendMessages sends the batch in chunks of at most sendChunkBytes of
// payload (or one message), keeping mist's rule across chunks: once a
// message to a connection fails, later ones to it are not attempted (0),
// and are not copied either.
func (b *mistBackend) SendMessages(msgs []OutMessage) []int64 {
	out := make([]int64, len(msgs))
	var failed map[Handle]bool
	var batch []*mist.Message
	var index []int
	for next := 0; next < len(msgs); {
		batch, index = batch[:0], index[:0]
		size := 0
		for ; next < len(msgs); next++ {
			m := msgs[next]
			if failed[m.Conn] {
				continue
			}
			if len(batch) > 0 && size+len(m.Data) > sendChunkBytes {
				break
			}
			mm := mist.NewMessage(len(m.Data))
			copy(mm.Data, m.Data)
			mm.Conn = mist.Conn(uint32(m.Conn))
			mm.Flags = mist.SendFlags(m.Flags)
			batch = append(batch, mm)
			index = append(index, next)
			size += len(m.Data)
		}
		for j, r := range b.s.SendMessages(batch, true) {
			out[index[j]] = r
			if r <= 0 {
				if failed == nil {
					failed = make(map[Handle]bool)
				}
				failed[msgs[index[j]].Conn] = true
			}
		}
		clear(batch)
	}
	return out
}

func (b *mistBackend) FlushMessagesOnConnection(conn uint32) int32 {
	return int32(b.s.FlushMessagesOnConnection(mist.Conn(conn)))
}

func (b *mistBackend) ReceiveMessagesOnConnection(conn uint32, max int, visit func([]InMessage)) bool {
	return b.receive(max, visit, func(out []*mist.Message) int {
		return b.s.ReceiveMessagesOnConnection(mist.Conn(conn), out)
	})
}

func (b *mistBackend) ReceiveMessagesOnPollGroup(group uint32, max int, visit func([]InMessage)) bool {
	return b.receive(max, visit, func(out []*mist.Message) int {
		return b.s.ReceiveMessagesOnPollGroup(mist.PollGroup(group), out)
	})
}

// receive runs one receive call, shows the messages to visit and releases
// them.
func (b *mistBackend) receive(max int, visit func([]InMessage), recv func([]*mist.Message) int) bool {
	if cap(b.recvBuf) < max {
		b.recvBuf = make([]*mist.Message, max)
		b.visitBuf = make([]InMessage, 0, max)
	}
	out := b.recvBuf[:max]
	n := recv(out)
	if n < 0 {
		return false
	}
	msgs := b.visitBuf[:0]
	for _, m := range out[:n] {
		msgs = append(msgs, InMessage{Conn: Handle(m.Conn), Data: m.Data})
	}
	visit(msgs)
	for i, m := range out[:n] {
		m.Release()
		out[i] = nil
	}
	clear(msgs)
	return true
}

func (b *mistBackend) ConnectionDescription(conn uint32) (string, bool) {
	info, ok := b.s.ConnectionInfo(mist.Conn(conn))
	return info.Description, ok
}

func (b *mistBackend) CreatePollGroup() uint32 { return uint32(b.s.CreatePollGroup()) }

func (b *mistBackend) DestroyPollGroup(group uint32) bool {
	return b.s.DestroyPollGroup(mist.PollGroup(group))
}

func (b *mistBackend) SetConnectionPollGroup(conn, group uint32) bool {
	return b.s.SetConnectionPollGroup(mist.Conn(conn), mist.PollGroup(group))
}

func (b *mistBackend) InitAuthentication() int32 { return int32(b.s.InitAuthentication()) }

func (b *mistBackend) AuthenticationStatus() (int32, string) {
	a, msg := b.s.AuthenticationStatus()
	return int32(a), msg
}

func (b *mistBackend) SteamID() uint64 {
	id, _ := b.s.Identity()
	return id.SteamID()
}

func (b *mistBackend) RunCallbacks(emit func(Event)) {
	b.s.RunCallbacks()
	events := b.events
	b.events = nil
	for _, ev := range events {
		emit(ev)
	}
}

func (b *mistBackend) Close() { b.s.Close() }
