// Package cluster joins signaling servers into one network over NATS, so
// a peer registered on one node reaches a peer registered on another.
//
// Each node subscribes, for every identity registered on it, to the
// subject PREFIX.id.HEX (HEX: the identity's bytes in hex, since
// identities may hold characters subjects cannot). A signal for an
// identity that is not registered locally is published there; whichever
// node holds the identity delivers it, and if none does NATS drops it, as a
// single server drops signals for unknown identities. A registration is
// announced on PREFIX.claim so that an earlier registration of the same
// identity on another node is closed ("last login wins" across nodes, by
// registration time; nodes' clocks should agree to within the time two
// logins of one identity are apart).
//
// Nodes keep no state another node needs: all of it lives in NATS
// subscriptions, so nodes can come and go. Every node trusts what others
// publish; keep the NATS server private or authenticated (credentials in
// the URL, e.g. nats://user:pass@host:4222).
package cluster

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mistnet/mist/service/signaling"
)

// DefaultPrefix is the subject prefix nodes use unless told otherwise.
const DefaultPrefix = "mist.signal"

// Config is how a node joins.
type Config struct {
	// URL is the NATS server (several may be given, comma-separated).
	URL string
	// Node names this node in logs and claims (default: random).
	Node string
	// Prefix is the subject prefix (default DefaultPrefix); nodes of one
	// network must share it.
	Prefix string
	// Logger receives the link's logs (default slog.Default()).
	Logger *slog.Logger
}

// Link is one node's connection to the others. It implements
// signaling.Router.
type Link struct {
	nc     *nats.Conn
	srv    *signaling.Server
	prefix string
	node   string
	log    *slog.Logger

	mu   sync.Mutex
	subs map[string]*nats.Subscription
}

// Join connects to NATS and links srv to the other nodes. It fails, naming
// the URL, if NATS cannot be reached.
func Join(cfg Config, srv *signaling.Server) (*Link, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Node == "" {
		cfg.Node = nats.NewInbox()[len(nats.InboxPrefix):]
	}
	if len(cfg.Node) > 64 {
		return nil, fmt.Errorf("cluster: node name %q is longer than 64 bytes", cfg.Node)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &Link{srv: srv, prefix: cfg.Prefix, node: cfg.Node, log: cfg.Logger.With("node", cfg.Node),
		subs: make(map[string]*nats.Subscription)}
	nc, err := nats.Connect(cfg.URL,
		nats.Name("mist-signal-"+cfg.Node),
		nats.Timeout(5*time.Second),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			l.log.Warn("NATS connection lost; reconnecting", "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			l.log.Info("NATS reconnected", "server", c.ConnectedUrlRedacted())
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("cluster: cannot reach NATS at %s: %w", cfg.URL, err)
	}
	l.nc = nc
	if _, err := nc.Subscribe(l.prefix+".claim", l.onClaim); err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	// A round trip, so the claim subscription is in place before the node
	// serves.
	if err := nc.Flush(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: NATS at %s: %w", cfg.URL, err)
	}
	l.log.Info("joined NATS", "server", nc.ConnectedUrlRedacted(), "prefix", l.prefix)
	return l, nil
}

func (l *Link) subject(identity string) string {
	return l.prefix + ".id." + hex.EncodeToString([]byte(identity))
}

// Connected reports whether the link currently reaches NATS (it
// reconnects by itself after a loss).
func (l *Link) Connected() bool { return l.nc.IsConnected() }

// Registered subscribes to identity's subject and claims it.
func (l *Link) Registered(identity string, at time.Time) {
	sub, err := l.nc.Subscribe(l.subject(identity), func(m *nats.Msg) {
		l.srv.DeliverLocal(identity, m.Data)
	})
	if err != nil {
		l.log.Error("cannot subscribe for an identity", "identity", identity, "err", err)
		return
	}
	l.mu.Lock()
	old := l.subs[identity]
	l.subs[identity] = sub
	l.mu.Unlock()
	if old != nil {
		old.Unsubscribe()
	}
	if err := l.nc.Publish(l.prefix+".claim", encodeClaim(l.node, identity, at)); err != nil {
		l.log.Warn("cannot announce a registration", "identity", identity, "err", err)
	}
}

// Unregistered drops identity's subscription.
func (l *Link) Unregistered(identity string) {
	l.mu.Lock()
	sub := l.subs[identity]
	delete(l.subs, identity)
	l.mu.Unlock()
	if sub != nil {
		sub.Unsubscribe()
	}
}

// Forward publishes a line for an identity registered elsewhere.
func (l *Link) Forward(dest string, line []byte) bool {
	return l.nc.Publish(l.subject(dest), line) == nil
}

func (l *Link) onClaim(m *nats.Msg) {
	node, identity, at, err := decodeClaim(m.Data)
	if err != nil {
		l.log.Warn("ignoring a malformed claim", "err", err)
		return
	}
	if node == l.node {
		return
	}
	if l.srv.Evict(identity, at) {
		l.Unregistered(identity)
	}
}

// Close leaves the network.
func (l *Link) Close() error {
	l.nc.Close()
	return nil
}

// A claim is: node length (1 byte), node, registration time (Unix
// nanoseconds, 8 bytes big-endian), identity.
func encodeClaim(node, identity string, at time.Time) []byte {
	b := make([]byte, 0, 1+len(node)+8+len(identity))
	b = append(b, byte(len(node)))
	b = append(b, node...)
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixNano()))
	return append(b, identity...)
}

func decodeClaim(b []byte) (node, identity string, at time.Time, err error) {
	if len(b) < 1 || len(b) < 1+int(b[0])+8 {
		return "", "", time.Time{}, errors.New("claim too short")
	}
	n := int(b[0])
	node = string(b[1 : 1+n])
	at = time.Unix(0, int64(binary.BigEndian.Uint64(b[1+n:])))
	identity = string(b[1+n+8:])
	if identity == "" {
		return "", "", time.Time{}, errors.New("claim without identity")
	}
	return node, identity, at, nil
}
