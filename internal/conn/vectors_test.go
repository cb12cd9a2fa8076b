package conn

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mistnet/mist/internal/cert"
	"github.com/mistnet/mist/internal/crypto"
	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/reliability"
	"github.com/mistnet/mist/internal/wire"
	"google.golang.org/protobuf/proto"
)

// The captures in testdata/vectors are real GNS traffic. These tests put a
// mist connection in place of one GNS side and replay the other side's
// datagrams into it.

type vectorPacket struct {
	Index   int    `json:"index"`
	TUs     int64  `json:"t_us"`
	Dir     string `json:"dir"`
	Type    string `json:"type"`
	PktNum  int64  `json:"pkt_num"`
	Payload string `json:"payload_hex"`
}

type vectorSide struct {
	ConnIDLocal   uint32 `json:"conn_id_local"`
	Cipher        int    `json:"cipher"`
	X25519Private string `json:"ephemeral_x25519_private"`
	NonceLocal    uint64 `json:"nonce_local,string"`
	CertSigned    string `json:"cert_signed_local"`
	CryptSigned   string `json:"crypt_info_signed_local"`
	KeyRecv       string `json:"key_recv"`
}

type vectorKeys struct {
	ServerPort uint16     `json:"server_port"`
	ClientPort uint16     `json:"client_port"`
	Server     vectorSide `json:"server"`
	Client     vectorSide `json:"client"`
}

type vectorMsg struct {
	Size     int    `json:"size"`
	SHA256   string `json:"sha256"`
	Reliable bool   `json:"reliable"`
	MsgNum   int64  `json:"msgnum"`
	Lane     int    `json:"lane"`
}

type vectorReceived struct {
	Server struct {
		Received []vectorMsg `json:"received"`
	} `json:"server"`
	Client struct {
		Received []vectorMsg `json:"received"`
	} `json:"client"`
}

func loadVector(t *testing.T, name string) (vectorKeys, []vectorPacket, vectorReceived) {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "vectors", name)
	var keys vectorKeys
	var recv vectorReceived
	for file, v := range map[string]any{"keys.json": &keys, "received.json": &recv} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Skipf("vector %s: %v", name, err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(filepath.Join(dir, "packets.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pkts []vectorPacket
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var p vectorPacket
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, p)
	}
	return keys, pkts, recv
}

// loadVectorNoT returns the datagrams of a capture for fuzz seeds.
func loadVectorNoT(name string) (vectorKeys, [][]byte, error) {
	f, err := os.Open(filepath.Join("..", "..", "testdata", "vectors", name, "packets.jsonl"))
	if err != nil {
		return vectorKeys{}, nil, err
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var p vectorPacket
		if json.Unmarshal(sc.Bytes(), &p) == nil {
			if b, err := hex.DecodeString(p.Payload); err == nil {
				out = append(out, b)
			}
		}
	}
	return vectorKeys{}, out, sc.Err()
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replaySession wraps reliability.Session for these tests and records what
// it delivers.
type replaySession struct {
	s   *reliability.Session
	got []reliability.Message
}

func (r *replaySession) deliver(m reliability.Message) bool {
	r.got = append(r.got, m)
	return true
}
func (r *replaySession) Send(now time.Time, lane int, data []byte, reliable, noNagle bool) (int64, error) {
	return r.s.Send(now, lane, data, reliability.SendReliable)
}
func (r *replaySession) Flush(now time.Time)                  { r.s.Flush(now) }
func (r *replaySession) ConfigureLanes([]int, []uint16) error { return nil }
func (r *replaySession) Receive(now time.Time, pkt int64, p []byte) error {
	err := r.s.Receive(now, pkt, p, r.deliver)
	var re *reliability.Error
	if errors.As(err, &re) {
		return &ProtocolError{Reason: re.EndReason, Debug: re.Error()}
	}
	return err
}
func (r *replaySession) AckRequestDue() bool { return false }
func (r *replaySession) AckRequestSent()     {}

func (r *replaySession) NoteAckRequest(now time.Time, pkt int64, imm bool) { r.s.RequestAck(now, imm) }
func (r *replaySession) AppendPacket(dst []byte, now time.Time, pkt int64, max int, allowData, force bool) ([]byte, bool) {
	if force {
		return r.s.AppendAckPacket(dst, now, pkt, max, allowData), true
	}
	return r.s.AppendPacket(dst, now, pkt, max, allowData)
}
func (r *replaySession) TimeUntilSend(time.Time) time.Duration   { return 0 }
func (r *replaySession) NextDeadline(time.Time) time.Time        { return r.s.NextDeadline() }
func (r *replaySession) LastPacketReliable() bool                { return r.s.LastPacketReliable() }
func (r *replaySession) ReliableDone() bool                      { return r.s.PendingReliable() == 0 }
func (r *replaySession) Status(now time.Time, st *SessionStatus) {}

// TestServerReplaysCapturedClient: a mist server takes the GNS client's
// real ConnectRequest (its certificate and signed crypt info are checked
// for real), accepts with the captured server's key material, derives the
// same session keys as GNS did, and decodes every message the GNS client
// sent.
func TestServerReplaysCapturedClient(t *testing.T) {
	for _, name := range []string{"encrypted-basic", "unencrypted-basic", "lossy-reliable", "encrypted-keepalive"} {
		t.Run(name, func(t *testing.T) {
			keys, pkts, recv := loadVector(t, name)
			client := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), keys.ClientPort)
			var req *pb.ConnectRequest
			for _, p := range pkts {
				if p.Type == "ConnectRequest" {
					var err error
					if req, err = wire.ParseConnectRequest(unhex(t, p.Payload)); err != nil {
						t.Fatalf("ConnectRequest: %v", err)
					}
					break
				}
			}
			if req == nil {
				t.Fatal("no ConnectRequest in the capture")
			}
			id, err := RequestIdentity(req, client, 1)
			if err != nil {
				t.Fatalf("RequestIdentity: %v", err)
			}
			var rs *replaySession
			cfg := Config{
				LocalID: keys.Server.ConnIDLocal, AllowWithoutAuth: 1, Unencrypted: 3 - keys.Server.Cipher,
				TimeoutInitial: time.Hour, TimeoutConnected: time.Hour, Remote: client,
				NewSession: func(uint32, int) Session {
					rs = &replaySession{s: reliability.New(reliability.Config{})}
					return rs
				},
			}
			now := t0
			srv, err := NewServer(now, &cfg, req, id)
			if err != nil {
				t.Fatalf("NewServer rejected GNS's ConnectRequest: %v", err)
			}
			// Stand in for the captured server: its certificate, crypt info and
			// ephemeral key.
			srv.local = &cert.Local{Signed: &pb.CertificateSigned{}}
			if err := proto.Unmarshal(unhex(t, keys.Server.CertSigned), srv.local.Signed); err != nil {
				t.Fatal(err)
			}
			srv.cryptSigned = &pb.CryptInfoSigned{}
			if err := proto.Unmarshal(unhex(t, keys.Server.CryptSigned), srv.cryptSigned); err != nil {
				t.Fatal(err)
			}
			if srv.keys, err = crypto.NewKeyPair(unhex(t, keys.Server.X25519Private)); err != nil {
				t.Fatal(err)
			}
			srv.nonce = keys.Server.NonceLocal
			if err := srv.finishAccept(now, pb.Cipher(keys.Server.Cipher)); err != nil {
				t.Fatalf("accept: %v", err)
			}
			srv.Discard()

			var highestSent int64
			for _, p := range pkts {
				if p.Type != "data" && p.Type != "ConnectionClosed" && p.Type != "NoConnection" {
					continue
				}
				if p.Dir == "s2c" {
					if p.Type == "data" {
						highestSent = max(highestSent, p.PktNum)
					}
					continue
				}
				// The capture's server sent these; acks for them are not from the future.
				rs.s.ObserveSent(highestSent)
				now = t0.Add(time.Duration(p.TUs) * time.Microsecond)
				srv.Receive(now, unhex(t, p.Payload))
				srv.Service(now)
				srv.Discard()
			}
			if srv.Stats.DecryptFail != 0 {
				t.Errorf("%d packets failed to decrypt", srv.Stats.DecryptFail)
			}
			want := recv.Server.Received
			if len(rs.got) != len(want) {
				t.Fatalf("decoded %d messages, GNS's server received %d", len(rs.got), len(want))
			}
			for i, m := range rs.got {
				sum := sha256.Sum256(m.Data)
				w := want[i]
				if len(m.Data) != w.Size || hex.EncodeToString(sum[:]) != w.SHA256 || m.Reliable != w.Reliable || m.Num != w.MsgNum || m.Lane != w.Lane {
					t.Errorf("message %d: %d bytes num %d reliable %v lane %d, want %+v", i, len(m.Data), m.Num, m.Reliable, m.Lane, w)
				}
			}
			t.Logf("%d messages decoded, end state %d reason %d %q", len(rs.got), srv.State(), srv.EndReason(), srv.EndDebug())
		})
	}
}

// TestClientAcceptsCapturedServer: a mist client with the capture's client
// connection id receives GNS's real ChallengeReply and ConnectOK, checks the
// server's certificate and signed crypt info, and becomes Connected.
func TestClientAcceptsCapturedServer(t *testing.T) {
	keys, pkts, _ := loadVector(t, "encrypted-basic")
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), keys.ServerPort)
	var cs *fakeSession
	cfg := testConfig(keys.Client.ConnIDLocal, server, &cs)
	cfg.AllowWithoutAuth = 1
	c, err := NewClient(t0, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Discard()
	for _, p := range pkts {
		if p.Dir != "s2c" || (p.Type != "ChallengeReply" && p.Type != "ConnectOK") {
			continue
		}
		c.Receive(t0, unhex(t, p.Payload))
		if p.Type == "ChallengeReply" {
			var sent []byte
			c.Drain(func(b []byte) { sent = append([]byte(nil), b...) })
			if len(sent) == 0 || wire.MsgID(sent[0]) != wire.MsgConnectRequest {
				t.Fatal("no ConnectRequest after GNS's ChallengeReply")
			}
			m, err := wire.ParseConnectRequest(sent)
			if err != nil || m.GetClientConnectionId() != keys.Client.ConnIDLocal {
				t.Fatalf("our ConnectRequest: %v", err)
			}
		}
	}
	if c.State() != StateConnected {
		t.Fatalf("client state %d (%d %q)", c.State(), c.EndReason(), c.EndDebug())
	}
	if c.RemoteID() != keys.Server.ConnIDLocal || !c.Encrypted() {
		t.Errorf("remote id %d, encrypted %v", c.RemoteID(), c.Encrypted())
	}
}

// TestListenerAnswersCapturedChallengeRequest: GNS's ChallengeRequest gets
// a reply echoing its id and timestamp, smaller than the request.
func TestListenerAnswersCapturedChallengeRequest(t *testing.T) {
	keys, pkts, _ := loadVector(t, "encrypted-basic")
	l, _ := NewListener(nil)
	client := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), keys.ClientPort)
	req := unhex(t, pkts[0].Payload)
	reply, cr := l.Receive(t0, client, req, nil)
	if cr != nil || len(reply) == 0 || len(reply) > len(req) {
		t.Fatalf("reply %d bytes to %d", len(reply), len(req))
	}
	m, err := wire.ParseChallengeReply(reply)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := wire.ParseChallengeRequest(req)
	if m.GetConnectionId() != keys.Client.ConnIDLocal || m.GetYourTimestamp() != in.GetMyTimestamp() || m.GetProtocolVersion() != 13 {
		t.Errorf("reply %v", m)
	}
	// The captured ConnectRequest carries GNS's challenge, not ours.
	if _, cr := l.Receive(t0, client, unhex(t, pkts[2].Payload), nil); cr != nil {
		t.Error("foreign challenge accepted")
	}
}
