// Package decode replays captured GameNetworkingSockets traffic through
// mist's own stack: it follows the handshake, derives the session keys from
// the two ephemeral X25519 private keys, expands packet numbers, decrypts
// every data packet, decodes its SNP frames and reassembles the messages
// each side's application received. It backs the `mist decode` command.
package decode

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/crypto"
	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/reliability"
	"github.com/mistnet/mist/internal/snp"
	"github.com/mistnet/mist/internal/wire"
)

// Dir is the direction of a datagram.
type Dir int

const (
	C2S Dir = iota // client to server
	S2C            // server to client
)

func (d Dir) String() string {
	if d == C2S {
		return "c2s"
	}
	return "s2c"
}

// ParseDir parses "c2s" or "s2c".
func ParseDir(s string) (Dir, error) {
	switch s {
	case "c2s":
		return C2S, nil
	case "s2c":
		return S2C, nil
	}
	return 0, fmt.Errorf("direction %q is neither c2s nor s2c", s)
}

// Message is a message one side's application would have received.
type Message struct {
	Dir      Dir // the direction it travelled
	Lane     int
	Reliable bool
	MsgNum   int64
	Size     int
	SHA256   [32]byte
}

// Frame is one decoded SNP frame, for inspection.
type Frame struct {
	Index  int // datagram index
	Dir    Dir
	PktNum int64
	snp.Frame
}

// DatagramError says why a datagram could not be decoded.
type DatagramError struct {
	Index int
	Dir   Dir
	Err   error
}

func (e *DatagramError) Error() string {
	return fmt.Sprintf("datagram %d (%s): %v", e.Index, e.Dir, e.Err)
}

func (e *DatagramError) Unwrap() error { return e.Err }

// Decoder replays one captured connection. Feed it every datagram in
// capture order with Datagram.
type Decoder struct {
	// OnMessage is called for each message delivered, in delivery order.
	OnMessage func(Message)
	// OnFrame, if set, is called for each SNP frame decoded.
	OnFrame func(Frame)

	clientKey, serverKey *crypto.KeyPair

	// Handshake material as it is seen.
	clientConnID, serverConnID uint32
	clientCert, serverCert     []byte
	clientInfo, serverInfo     []byte
	clientCrypt, serverCrypt   *pb.CryptInfo
	haveRequest, haveOK        bool

	// Per direction, indexed by Dir: the cipher that opens it, the
	// receiver's replay window, and the receiver's SNP session.
	ciphers  [2]*crypto.Cipher
	windows  [2]*crypto.RecvWindow
	sessions [2]*reliability.Session

	clock time.Time
	buf   []byte
}

// New returns a decoder given the two sides' ephemeral X25519 private keys.
func New(clientPrivate, serverPrivate []byte) (*Decoder, error) {
	ck, err := crypto.NewKeyPair(clientPrivate)
	if err != nil {
		return nil, fmt.Errorf("client private key: %w", err)
	}
	sk, err := crypto.NewKeyPair(serverPrivate)
	if err != nil {
		return nil, fmt.Errorf("server private key: %w", err)
	}
	return &Decoder{clientKey: ck, serverKey: sk, clock: time.Unix(0, 0)}, nil
}

// Datagram decodes one UDP payload. An error is a *DatagramError; decoding
// may continue with the next datagram.
func (d *Decoder) Datagram(index int, dir Dir, payload []byte) error {
	// The replay has no clock; a steady tick keeps the sessions' timers
	// moving forward.
	d.clock = d.clock.Add(time.Millisecond)
	var err error
	kind, err := wire.Classify(payload)
	switch {
	case err != nil:
	case kind == wire.KindControl:
		err = d.control(dir, payload)
	case kind == wire.KindData:
		err = d.data(index, dir, payload)
	default:
		err = errors.New("connectionless datagram: not part of a UDP connection")
	}
	if err != nil {
		return &DatagramError{Index: index, Dir: dir, Err: err}
	}
	return nil
}

// control follows the handshake messages that carry key material.
func (d *Decoder) control(dir Dir, payload []byte) error {
	id, msg, err := wire.ParseControlMessage(payload)
	if err != nil {
		return err
	}
	switch m := msg.(type) {
	case *pb.ConnectRequest:
		if dir != C2S {
			return fmt.Errorf("%v sent by the server", id)
		}
		info, certRaw, err := verifiedCrypt(m.Cert, m.Crypt)
		if err != nil {
			return fmt.Errorf("ConnectRequest: %w", err)
		}
		d.clientConnID = m.GetClientConnectionId()
		d.clientCert, d.clientInfo, d.clientCrypt = certRaw, m.Crypt.Info, info
		d.haveRequest = true
	case *pb.ConnectOK:
		if dir != S2C {
			return fmt.Errorf("%v sent by the client", id)
		}
		info, certRaw, err := verifiedCrypt(m.Cert, m.Crypt)
		if err != nil {
			return fmt.Errorf("ConnectOK: %w", err)
		}
		d.serverConnID = m.GetServerConnectionId()
		d.serverCert, d.serverInfo, d.serverCrypt = certRaw, m.Crypt.Info, info
		d.haveOK = true
		if d.ciphers[C2S] == nil {
			return d.deriveKeys()
		}
	}
	return nil
}

// verifiedCrypt decodes a side's certificate and checks that its crypt
// info is signed by it.
func verifiedCrypt(signedCert *pb.CertificateSigned, signedCrypt *pb.CryptInfoSigned) (*pb.CryptInfo, []byte, error) {
	c, err := cert.Parse(signedCert)
	if err != nil {
		return nil, nil, err
	}
	info, err := cert.VerifyCryptInfo(c, signedCrypt)
	if err != nil {
		return nil, nil, err
	}
	return info, c.Raw, nil
}

// deriveKeys runs the key derivation once both handshake halves are known,
// from each side's point of view, and checks that they agree.
func (d *Decoder) deriveKeys() error {
	if !d.haveRequest {
		return errors.New("ConnectOK without a preceding ConnectRequest: no client key material")
	}
	h := crypto.Handshake{
		ClientNonce: d.clientCrypt.GetNonce(), ServerNonce: d.serverCrypt.GetNonce(),
		ClientConnID: d.clientConnID, ServerConnID: d.serverConnID,
		ClientCert: d.clientCert, ServerCert: d.serverCert,
		ClientInfo: d.clientInfo, ServerInfo: d.serverInfo,
	}
	hc := h
	hc.Local, hc.PeerPublic = d.clientKey, d.serverCrypt.KeyData
	client, err := crypto.DeriveKeys(&hc)
	if err != nil {
		return fmt.Errorf("client-side key derivation: %w", err)
	}
	hs := h
	hs.IsServer, hs.Local, hs.PeerPublic = true, d.serverKey, d.clientCrypt.KeyData
	server, err := crypto.DeriveKeys(&hs)
	if err != nil {
		return fmt.Errorf("server-side key derivation: %w", err)
	}
	if client.SendKey != server.RecvKey || client.RecvKey != server.SendKey {
		return errors.New("client and server derive different keys: the private keys do not belong to this capture")
	}
	suites := cert.Ciphers(d.serverCrypt)
	if len(suites) != 1 {
		return fmt.Errorf("server crypt info lists %d ciphers, want exactly one", len(suites))
	}
	if d.ciphers[C2S], err = crypto.NewCipher(suites[0], client.SendKey, client.SendIV); err != nil {
		return err
	}
	if d.ciphers[S2C], err = crypto.NewCipher(suites[0], server.SendKey, server.SendIV); err != nil {
		return err
	}
	version := min(d.clientCrypt.GetProtocolVersion(), d.serverCrypt.GetProtocolVersion())
	for _, dir := range []Dir{C2S, S2C} {
		d.windows[dir] = crypto.NewRecvWindow(version)
		d.sessions[dir] = reliability.New(reliability.Config{})
	}
	return nil
}

// data decrypts a data packet and feeds it to the receiving side's session.
func (d *Decoder) data(index int, dir Dir, payload []byte) error {
	hdr, chunk, err := wire.ParseDataHeader(payload)
	if err != nil {
		return err
	}
	if d.ciphers[dir] == nil {
		return errors.New("data packet before the handshake completed: no keys yet")
	}
	want := d.serverConnID
	if dir == S2C {
		want = d.clientConnID
	}
	if hdr.ToConnID != want {
		return fmt.Errorf("data packet for connection id %d, want %d", hdr.ToConnID, want)
	}
	w := d.windows[dir]
	pktNum, err := w.Expand(hdr.PacketNumber)
	if err != nil {
		return fmt.Errorf("wire packet number %d: %w", hdr.PacketNumber, err)
	}
	plain, err := d.ciphers[dir].Open(d.buf[:0], chunk, pktNum)
	if err != nil {
		return fmt.Errorf("packet %d: %w", pktNum, err)
	}
	d.buf = plain[:0]
	if err := w.CheckLurch(pktNum); err != nil {
		return err
	}
	w.MarkReceived(pktNum)

	recv, other := d.sessions[dir], d.sessions[1-dir]
	// The other direction's session sends what this packet's sender
	// sends, so acks of these numbers make sense to it.
	other.ObserveSent(int64(pktNum))
	if d.OnFrame != nil {
		d.frames(index, dir, int64(pktNum), plain, recv)
	}
	err = recv.Receive(d.clock, int64(pktNum), plain, func(m reliability.Message) bool {
		if d.OnMessage != nil {
			d.OnMessage(Message{Dir: dir, Lane: m.Lane, Reliable: m.Reliable, MsgNum: m.Num, Size: len(m.Data), SHA256: sha256.Sum256(m.Data)})
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("packet %d: %w", pktNum, err)
	}
	return nil
}

// frames reports the frames of a payload, decoded against the receiver's
// state before the packet.
func (d *Decoder) frames(index int, dir Dir, pktNum int64, plain []byte, refs snp.Refs) {
	var r snp.Reader
	r.Reset(plain, pktNum, 0, refs)
	for {
		f, err := r.Next()
		if err != nil {
			return
		}
		d.OnFrame(Frame{Index: index, Dir: dir, PktNum: pktNum, Frame: f})
	}
}

// MessageJSON is the output line for a message.
type MessageJSON struct {
	Dir      string `json:"dir"`
	Lane     int    `json:"lane"`
	Reliable bool   `json:"reliable"`
	MsgNum   int64  `json:"msgnum"`
	Size     int    `json:"size"`
	SHA256   string `json:"sha256"`
}

// JSON returns m in its output form.
func (m Message) JSON() MessageJSON {
	return MessageJSON{Dir: m.Dir.String(), Lane: m.Lane, Reliable: m.Reliable, MsgNum: m.MsgNum, Size: m.Size, SHA256: hex.EncodeToString(m.SHA256[:])}
}

// FrameJSON is the output line for a frame (with --frames).
type FrameJSON struct {
	Index  int         `json:"index"`
	Dir    string      `json:"dir"`
	PktNum int64       `json:"pkt"`
	Frame  string      `json:"frame"`
	Lane   *int        `json:"lane,omitempty"`
	MsgNum int64       `json:"msgnum,omitempty"`
	Offset *int        `json:"offset,omitempty"`
	End    *bool       `json:"end,omitempty"`
	Pos    int64       `json:"pos,omitempty"`
	Len    *int        `json:"len,omitempty"`
	Stop   *int64      `json:"stop,omitempty"`
	Latest *int64      `json:"latest,omitempty"`
	Delay  *int        `json:"delay_us,omitempty"`
	Blocks [][2]uint64 `json:"blocks,omitempty"`
}

// JSON returns f in its output form.
func (f Frame) JSON() FrameJSON {
	j := FrameJSON{Index: f.Index, Dir: f.Dir.String(), PktNum: f.PktNum, Frame: f.Type.String()}
	lane := f.Lane
	n := len(f.Data)
	switch f.Type {
	case snp.FrameUnreliable:
		off, end := int(f.FragOffset), f.End
		j.Lane, j.MsgNum, j.Offset, j.End, j.Len = &lane, f.MsgNum, &off, &end, &n
	case snp.FrameReliable:
		j.Lane, j.Pos, j.Len = &lane, f.Pos, &n
	case snp.FrameStopWaiting:
		stop := f.Stop
		j.Stop = &stop
	case snp.FrameAck:
		latest := f.Ack.Latest
		j.Latest = &latest
		if f.Ack.Delay != snp.AckDelayUnknown {
			us := int(f.Ack.Delay) * 32
			j.Delay = &us
		}
		it := f.Ack.Blocks()
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			j.Blocks = append(j.Blocks, [2]uint64{b.Acked, b.Nacked})
		}
	case snp.FrameSelectLane:
		j.Lane = &lane
	}
	return j
}
