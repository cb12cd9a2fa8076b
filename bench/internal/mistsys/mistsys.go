// Package mistsys measures mist through its public, GNS-shaped API: one
// Sockets instance per server, a poll group for received messages, status
// changes from Sockets.Events, and waits in the blocking receives
// (ReceiveMessagesOnPollGroupWait, ReceiveMessagesOnConnectionWait).
package mistsys

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mistnet/mist"

	"github.com/mistnet/mist/bench/internal/benchproto"
	"github.com/mistnet/mist/bench/internal/system"
)

// MinRate and MaxRate bound the send rate of both ends: rate limits
// lifted. MaxRate is the top of mist's SendRateMax range; with MinRate
// below it the adaptive controller finds the rate the path carries.
const (
	MinRate = 1 << 20
	MaxRate = math.MaxInt32
)

// connsPerInstance keeps client swarms under the per-instance connection
// limit by spreading them over several Sockets.
const connsPerInstance = 8000

// dialWindow bounds handshakes in flight in DialMany.
const dialWindow = 128

// receiveBatch is how many messages one receive call may return.
const receiveBatch = 64

// Options are applied to every listen socket and connection.
func Options() []mist.ConfigValue {
	return []mist.ConfigValue{
		mist.Int32Value(mist.OptSendRateMin, MinRate),
		mist.Int32Value(mist.OptSendRateMax, MaxRate),
	}
}

// System is mist. Client connections share one lazily created Sockets.
type System struct {
	opts    []mist.ConfigValue // nil: Options()
	once    sync.Once
	client  *mist.Sockets
	initErr error
}

// New returns the mist system.
func New() *System { return new(System) }

// NewWithRates returns mist with SendRateMin and SendRateMax set to
// minRate and maxRate instead of MinRate and MaxRate.
func NewWithRates(minRate, maxRate int32) *System {
	return &System{opts: []mist.ConfigValue{
		mist.Int32Value(mist.OptSendRateMin, minRate),
		mist.Int32Value(mist.OptSendRateMax, maxRate),
	}}
}

func (s *System) options() []mist.ConfigValue {
	if s.opts != nil {
		return s.opts
	}
	return Options()
}

func (*System) Name() string    { return "mist" }
func (*System) Encrypted() bool { return true }

func (s *System) clientSockets() (*mist.Sockets, error) {
	s.once.Do(func() { s.client, s.initErr = mist.New(mist.Config{Options: s.options()}) })
	return s.client, s.initErr
}

// Close releases the shared client instance.
func (s *System) Close() error {
	if s.client != nil {
		return s.client.Close()
	}
	return nil
}

// waiter spaces out polls of conditions mist does not signal (connection
// state, room in the send buffer): it spins briefly, yielding the
// processor, then sleeps with growing intervals.
type waiter struct {
	spins int
	sleep time.Duration
}

const (
	spinPolls = 200
	minSleep  = 20 * time.Microsecond
	maxSleep  = time.Millisecond
)

func (w *waiter) wait() {
	if w.spins < spinPolls {
		w.spins++
		runtime.Gosched()
		return
	}
	time.Sleep(w.sleep)
	w.sleep = min(max(2*w.sleep, minSleep), maxSleep)
}

func (w *waiter) reset() { *w = waiter{} }

// Listen starts a server on its own Sockets instance.
func (s *System) Listen(addr string) (system.Server, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	srv := &server{sessions: make(map[mist.Conn]*benchproto.Session), stop: make(chan struct{}), done: make(chan struct{})}
	sockets, err := mist.New(mist.Config{Options: s.options()})
	if err != nil {
		return nil, err
	}
	srv.sockets = sockets
	// Subscribe before listening so no connection request is missed.
	ctx, cancel := context.WithCancel(context.Background())
	srv.cancelEvents = cancel
	events := sockets.Events(ctx)
	srv.listen = listenIP(sockets, ap)
	if srv.listen == mist.InvalidListenSocket {
		cancel()
		sockets.Close()
		return nil, fmt.Errorf("mistsys: cannot listen on %v", ap)
	}
	bound, ok := sockets.ListenSocketAddress(srv.listen)
	if !ok {
		cancel()
		sockets.Close()
		return nil, errors.New("mistsys: listen socket has no address")
	}
	if bound.Addr().IsUnspecified() {
		bound = netip.AddrPortFrom(ap.Addr(), bound.Port())
	}
	srv.addr = bound
	srv.group = sockets.CreatePollGroup()
	go srv.run(events)
	return srv, nil
}

// listenIP creates the listen socket. GNS requires a port, so port 0 is
// replaced by one the kernel reports free, retrying if another process
// takes it first.
func listenIP(sockets *mist.Sockets, ap netip.AddrPort) mist.ListenSocket {
	if ap.Port() != 0 {
		return sockets.CreateListenSocketIP(ap)
	}
	for range 10 {
		probe, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
		if err != nil {
			return mist.InvalidListenSocket
		}
		port := probe.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		probe.Close()
		if ls := sockets.CreateListenSocketIP(netip.AddrPortFrom(ap.Addr(), port)); ls != mist.InvalidListenSocket {
			return ls
		}
	}
	return mist.InvalidListenSocket
}

type server struct {
	sockets  *mist.Sockets
	listen   mist.ListenSocket
	group    mist.PollGroup
	addr     netip.AddrPort
	mu       sync.Mutex // guards sessions
	sessions map[mist.Conn]*benchproto.Session
	conns    atomic.Int64
	// cancelEvents ends the status-change subscription.
	cancelEvents context.CancelFunc
	stop         chan struct{}
	done         chan struct{}
	once         sync.Once
}

func (s *server) Addr() string { return s.addr.String() }
func (s *server) Conns() int   { return int(s.conns.Load()) }

func (s *server) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	s.cancelEvents()
	return s.sockets.Close()
}

// statusChanged runs on the status-change loop.
func (s *server) statusChanged(ev *mist.ConnStatusChanged) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch ev.Info.State {
	case mist.StateConnecting:
		if ev.Info.ListenSocket == 0 {
			return
		}
		if s.sockets.AcceptConnection(ev.Conn) != mist.ResultOK {
			s.sockets.CloseConnection(ev.Conn, 0, "", false)
			return
		}
		s.sockets.SetConnectionPollGroup(ev.Conn, s.group)
		s.sessions[ev.Conn] = new(benchproto.Session)
		s.conns.Add(1)
	case mist.StateClosedByPeer, mist.StateProblemDetectedLocally:
		s.sockets.CloseConnection(ev.Conn, 0, "", false)
		if _, ok := s.sessions[ev.Conn]; ok {
			delete(s.sessions, ev.Conn)
			s.conns.Add(-1)
		}
	}
}

// run receives and answers messages, waiting in the library's blocking
// receive; status changes are taken by watch, on its own goroutine, so a
// waiting server still accepts new connections.
func (s *server) run(events <-chan mist.Event) {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	go s.watch(ctx, events)
	msgs := make([]*mist.Message, receiveBatch)
	for {
		n, err := s.sockets.ReceiveMessagesOnPollGroupWait(ctx, s.group, msgs)
		if err != nil || n < 0 {
			return
		}
		s.mu.Lock()
		for _, m := range msgs[:n] {
			if sess := s.sessions[m.Conn]; sess != nil {
				sess.Handle(m.Data, m.Flags&mist.SendReliable != 0, func(reply []byte, reliable bool) {
					flags := mist.SendUnreliableNoNagle
					if reliable {
						flags = mist.SendReliableNoNagle
					}
					s.sockets.SendMessageToConnection(m.Conn, reply, flags)
				})
			}
			m.Release()
		}
		s.mu.Unlock()
	}
}

// watch handles status changes until ctx ends.
func (s *server) watch(ctx context.Context, events <-chan mist.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			if st, ok := ev.(*mist.ConnStatusChanged); ok {
				s.statusChanged(st)
			}
		}
	}
}

// Dial connects through the shared client instance and waits, polling the
// connection's state, until it is Connected.
func (s *System) Dial(ctx context.Context, addr string) (system.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	sockets, err := s.clientSockets()
	if err != nil {
		return nil, err
	}
	h := sockets.ConnectByIPAddress(ap)
	if h == mist.InvalidConn {
		return nil, fmt.Errorf("mistsys: cannot connect to %v", ap)
	}
	var w waiter
	for {
		info, ok := sockets.ConnectionInfo(h)
		switch {
		case !ok:
			return nil, errors.New("mistsys: connection vanished while connecting")
		case info.State == mist.StateConnected:
			return &conn{sockets: sockets, h: h, in: make([]*mist.Message, 1)}, nil
		case info.State == mist.StateClosedByPeer || info.State == mist.StateProblemDetectedLocally:
			sockets.CloseConnection(h, 0, "", false)
			return nil, fmt.Errorf("mistsys: connect to %v: %s (%d)", ap, info.EndDebug, info.EndReason)
		}
		if ctx.Err() != nil {
			sockets.CloseConnection(h, 0, "", false)
			return nil, fmt.Errorf("mistsys: connect to %v: %w", ap, ctx.Err())
		}
		w.wait()
	}
}

type conn struct {
	sockets *mist.Sockets
	h       mist.Conn
	in      []*mist.Message
}

// Send maps the bench flags onto GNS's: NoDelay becomes NoNagle (send
// now), and a full send buffer (LimitExceeded) is waited out.
func (c *conn) Send(msg []byte, flags system.SendFlags) error {
	mf := mist.SendUnreliable
	if flags&system.Reliable != 0 {
		mf = mist.SendReliable
	}
	if flags&system.NoDelay != 0 {
		mf |= mist.SendNoNagle
	}
	var w waiter
	for {
		_, r := c.sockets.SendMessageToConnection(c.h, msg, mf)
		switch r {
		case mist.ResultOK:
			return nil
		case mist.ResultLimitExceeded:
			w.wait()
		default:
			if info, ok := c.sockets.ConnectionInfo(c.h); ok && info.State != mist.StateConnected {
				return fmt.Errorf("mistsys: send: %w (connection %v: %s, reason %d)", r, info.State, info.EndDebug, info.EndReason)
			}
			return fmt.Errorf("mistsys: send: %w", r)
		}
	}
}

func (c *conn) Flush() error {
	if r := c.sockets.FlushMessagesOnConnection(c.h); r != mist.ResultOK {
		return fmt.Errorf("mistsys: flush: %w", r)
	}
	return nil
}

// Recv waits on the instance's MessagesReady signal between polls.
// Recv waits in the library's blocking receive.
func (c *conn) Recv(ctx context.Context, buf []byte) (int, error) {
	n, err := c.sockets.ReceiveMessagesOnConnectionWait(ctx, c.h, c.in)
	switch {
	case err != nil:
		return 0, err
	case n < 0:
		return 0, errors.New("mistsys: connection is gone")
	}
	m := c.in[0]
	n = copy(buf, m.Data)
	m.Release()
	c.in[0] = nil
	return n, nil
}

func (c *conn) Poll(buf []byte) (int, bool, error) {
	switch c.sockets.ReceiveMessagesOnConnection(c.h, c.in) {
	case 0:
		return 0, false, nil
	case 1:
		m := c.in[0]
		n := copy(buf, m.Data)
		m.Release()
		c.in[0] = nil
		return n, true, nil
	default:
		return 0, false, errors.New("mistsys: connection is gone")
	}
}

func (c *conn) Close() error {
	c.sockets.CloseConnection(c.h, 0, "", false)
	return nil
}

// DialMany connects n clients, each instance holding at most
// connsPerInstance of them, with at most dialWindow handshakes in flight
// (as a load generator would), and waits until all are Connected.
func (s *System) DialMany(ctx context.Context, addr string, n int, progress func(int)) (system.Swarm, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	sw := &swarm{}
	var pending []member
	up := 0
	fail := func(err error) (system.Swarm, error) {
		sw.Close()
		return nil, err
	}
	for up < n {
		for len(pending) < dialWindow && len(sw.conns) < n {
			if len(sw.conns)%connsPerInstance == 0 {
				sockets, err := mist.New(mist.Config{Options: s.options()})
				if err != nil {
					return fail(err)
				}
				sw.instances = append(sw.instances, sockets)
			}
			sockets := sw.instances[len(sw.instances)-1]
			h := sockets.ConnectByIPAddress(ap)
			if h == mist.InvalidConn {
				return fail(fmt.Errorf("mistsys: connection %d of %d to %v failed to start", len(sw.conns)+1, n, ap))
			}
			m := member{sockets, h}
			sw.conns = append(sw.conns, m)
			pending = append(pending, m)
		}
		still := pending[:0]
		for _, m := range pending {
			info, ok := m.sockets.ConnectionInfo(m.h)
			switch {
			case ok && info.State == mist.StateConnected:
				up++
			case !ok || info.State == mist.StateClosedByPeer || info.State == mist.StateProblemDetectedLocally:
				return fail(fmt.Errorf("mistsys: %d of %d connected; one failed: %s (%d)", up, n, info.EndDebug, info.EndReason))
			default:
				still = append(still, m)
			}
		}
		pending = still
		if progress != nil {
			progress(up)
		}
		if ctx.Err() != nil {
			return fail(fmt.Errorf("mistsys: %d of %d connected: %w", up, n, ctx.Err()))
		}
		if len(pending) == dialWindow || len(sw.conns) == n {
			time.Sleep(time.Millisecond)
		}
	}
	return sw, nil
}

type member struct {
	sockets *mist.Sockets
	h       mist.Conn
}

type swarm struct {
	instances []*mist.Sockets
	conns     []member
}

func (s *swarm) Connected() int {
	n := 0
	for _, m := range s.conns {
		if info, ok := m.sockets.ConnectionInfo(m.h); ok && info.State == mist.StateConnected {
			n++
		}
	}
	return n
}

func (s *swarm) Close() error {
	var errs []error
	for _, sockets := range s.instances {
		errs = append(errs, sockets.Close())
	}
	s.instances, s.conns = nil, nil
	return errors.Join(errs...)
}
