package crypto

import (
	"bytes"
	"encoding/hex"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/wire"
	"github.com/mistnet/mist/internal/wire/vectortest"
)

// handshakeFromCapture collects the key-derivation inputs from the captured
// ConnectRequest and ConnectOK datagrams (not from keys.json).
func handshakeFromCapture(t *testing.T, sc *vectortest.Scenario) (req *pb.ConnectRequest, ok *pb.ConnectOK) {
	t.Helper()
	for _, p := range sc.Packets {
		switch p.Type {
		case "ConnectRequest":
			m, err := wire.ParseConnectRequest(p.Payload)
			if err != nil {
				t.Fatal(err)
			}
			req = m
		case "ConnectOK":
			m, err := wire.ParseConnectOK(p.Payload)
			if err != nil {
				t.Fatal(err)
			}
			ok = m
		}
	}
	if req == nil || ok == nil {
		t.Fatal("capture lacks ConnectRequest or ConnectOK")
	}
	return req, ok
}

func cryptInfo(t *testing.T, signed *pb.CryptInfoSigned) *pb.CryptInfo {
	t.Helper()
	var info pb.CryptInfo
	if err := proto.Unmarshal(signed.GetInfo(), &info); err != nil {
		t.Fatal(err)
	}
	return &info
}

func eq(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s:\n got %x\nwant %x", what, got, want)
	}
}

// scheduleFor derives one side's schedule from its logged private key and
// the handshake as captured.
func scheduleFor(t *testing.T, side *vectortest.Side, req *pb.ConnectRequest, ok *pb.ConnectOK) *Schedule {
	t.Helper()
	kp, err := NewKeyPair(side.X25519Private)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "public key", kp.Public(), side.X25519Public)
	clientInfo, serverInfo := cryptInfo(t, req.Crypt), cryptInfo(t, ok.Crypt)
	peer := serverInfo.KeyData
	if side.KDFIsServer {
		peer = clientInfo.KeyData
	}
	eq(t, "peer public key", peer, side.PeerX25519Public)
	s, err := DeriveSchedule(&Handshake{
		IsServer:     side.KDFIsServer,
		Local:        kp,
		PeerPublic:   peer,
		ClientNonce:  clientInfo.GetNonce(),
		ServerNonce:  serverInfo.GetNonce(),
		ClientConnID: req.GetClientConnectionId(),
		ServerConnID: ok.GetServerConnectionId(),
		ClientCert:   req.Cert.GetCert(),
		ServerCert:   ok.Cert.GetCert(),
		ClientInfo:   req.Crypt.GetInfo(),
		ServerInfo:   ok.Crypt.GetInfo(),
	})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "premaster", s.Premaster[:], side.Premaster)
	eq(t, "salt", s.Salt[:], side.Salt)
	eq(t, "prk", s.PRK[:], side.PRK)
	eq(t, "info", s.Info, side.Info)
	k := s.Keys(side.KDFIsServer)
	eq(t, "key_send", k.SendKey[:], side.KeySend)
	eq(t, "key_recv", k.RecvKey[:], side.KeyRecv)
	eq(t, "iv_send", k.SendIV[:], side.IVSend)
	eq(t, "iv_recv", k.RecvIV[:], side.IVRecv)
	return s
}

func TestVectorsKeyDerivation(t *testing.T) {
	all, err := vectortest.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range all {
		t.Run(sc.Name, func(t *testing.T) {
			req, ok := handshakeFromCapture(t, sc)
			c := scheduleFor(t, &sc.Keys.Client, req, ok)
			s := scheduleFor(t, &sc.Keys.Server, req, ok)
			if c.ClientToServerKey != s.ClientToServerKey || c.ServerToClientIV != s.ServerToClientIV {
				t.Fatal("the two sides derived different keys")
			}
			keys, err := DeriveKeys(&Handshake{IsServer: false, Local: mustKeyPair(t, sc.Keys.Client.X25519Private),
				PeerPublic: sc.Keys.Client.PeerX25519Public})
			if err != nil {
				t.Fatal(err)
			}
			// Same shared secret, different context: keys must differ.
			if keys.SendKey == c.ClientToServerKey {
				t.Fatal("context does not enter the derivation")
			}
		})
	}
}

func mustKeyPair(t *testing.T, priv []byte) *KeyPair {
	t.Helper()
	kp, err := NewKeyPair(priv)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// TestVectorsDecryptEveryPacket opens every captured data packet with keys
// derived here and packet numbers expanded here from the 16-bit wire values.
func TestVectorsDecryptEveryPacket(t *testing.T) {
	all, err := vectortest.LoadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range all {
		t.Run(sc.Name, func(t *testing.T) {
			req, ok := handshakeFromCapture(t, sc)
			sched := scheduleFor(t, &sc.Keys.Server, req, ok)
			serverInfo := cryptInfo(t, ok.Crypt)
			if len(serverInfo.Ciphers) != 1 {
				t.Fatalf("server crypt info lists %d ciphers", len(serverInfo.Ciphers))
			}
			cipherSuite := serverInfo.Ciphers[0]
			if want := map[string]pb.Cipher{"AES_256_GCM": pb.Cipher_CIPHER_AES_256_GCM, "NULL": pb.Cipher_CIPHER_NULL}[sc.Keys.CipherName]; cipherSuite != want {
				t.Fatalf("negotiated %v, keys.json says %s", cipherSuite, sc.Keys.CipherName)
			}
			type dir struct {
				c      *Cipher
				window *RecvWindow
				iv     [IVSize]byte
			}
			c2s, err := NewCipher(cipherSuite, sched.ClientToServerKey, sched.ClientToServerIV)
			if err != nil {
				t.Fatal(err)
			}
			s2c, err := NewCipher(cipherSuite, sched.ServerToClientKey, sched.ServerToClientIV)
			if err != nil {
				t.Fatal(err)
			}
			dirs := map[string]*dir{
				"c2s": {c2s, NewRecvWindow(cryptInfo(t, req.Crypt).GetProtocolVersion()), sched.ClientToServerIV},
				"s2c": {s2c, NewRecvWindow(serverInfo.GetProtocolVersion()), sched.ServerToClientIV},
			}
			opened, xorWouldFail := 0, 0
			buf := make([]byte, 0, 2048)
			for _, p := range sc.Packets {
				if p.Type != "data" {
					continue
				}
				d := dirs[p.Dir]
				h, chunk, err := wire.ParseDataHeader(p.Payload)
				if err != nil {
					t.Fatalf("#%d: %v", p.Index, err)
				}
				n, err := d.window.Expand(h.PacketNumber)
				if err != nil {
					t.Fatalf("#%d: expand %d: %v", p.Index, h.PacketNumber, err)
				}
				if n != p.PktNum {
					t.Fatalf("#%d: expanded %d to %d, sender used %d", p.Index, h.PacketNumber, n, p.PktNum)
				}
				plain, err := d.c.Open(buf[:0], chunk, n)
				if err != nil {
					t.Fatalf("#%d: open packet %d: %v", p.Index, n, err)
				}
				if len(plain) != p.PlaintextLen {
					t.Fatalf("#%d: %d plaintext bytes, want %d", p.Index, len(plain), p.PlaintextLen)
				}
				if cipherSuite == pb.Cipher_CIPHER_AES_256_GCM {
					nonce := Nonce(d.iv, n)
					eq(t, "nonce", nonce[:], p.Nonce)
					eq(t, "plaintext", plain, p.Plaintext)
					var xor [IVSize]byte
					copy(xor[:], d.iv[:])
					for i := range 8 {
						xor[i] ^= byte(n >> (8 * i))
					}
					if xor != nonce {
						xorWouldFail++
					}
					// Tampering with any byte must fail authentication.
					bad := bytes.Clone(chunk)
					bad[len(bad)/2] ^= 1
					if _, err := d.c.Open(nil, bad, n); err == nil {
						t.Fatalf("#%d: tampered chunk opened", p.Index)
					}
					if _, err := d.c.Open(nil, chunk, n+1); err == nil {
						t.Fatalf("#%d: opened with the wrong packet number", p.Index)
					}
				}
				if err := d.window.CheckLurch(n); err != nil {
					t.Fatalf("#%d: %v", p.Index, err)
				}
				d.window.MarkReceived(n)
				if _, err := d.window.Expand(h.PacketNumber); err == nil {
					t.Fatalf("#%d: replay of packet %d accepted", p.Index, n)
				}
				opened++
			}
			if opened == 0 {
				t.Fatal("no data packets")
			}
			if cipherSuite == pb.Cipher_CIPHER_AES_256_GCM && xorWouldFail == 0 {
				t.Fatal("no packet distinguishes additive from XOR nonces")
			}
			t.Logf("%d data packets opened", opened)
		})
	}
}

// TestSpecVector is the computed vector of the protocol description.
func TestSpecVector(t *testing.T) {
	h := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	client := mustKeyPair(t, h("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"))
	server := mustKeyPair(t, h("2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40"))
	eq(t, "client public", client.Public(), h("07a37cbc142093c8b755dc1b10e86cb426374ad16aa853ed0bdfc0b2b86d1c7c"))
	eq(t, "server public", server.Public(), h("5869aff450549732cbaaed5e5df9b30a6da31cb0e5742bad5ad4a1a768f1a67b"))
	shared, err := client.SharedSecret(server.Public())
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "shared", shared, h("a84dc7c3c8f058b1b2dc4cd1e9b5dc0a7987f88b6a9564cde3391fc421159e77"))
	hs := &Handshake{
		Local: client, PeerPublic: server.Public(),
		ClientNonce: 0x0102030405060708, ServerNonce: 0x1112131415161718,
		ClientConnID: 0x12345678, ServerConnID: 0x9abcdef0,
		ServerCert: []byte("SC"), ClientCert: []byte("CC"), ServerInfo: []byte("SI"), ClientInfo: []byte("CI"),
	}
	s, err := DeriveSchedule(hs)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "premaster", s.Premaster[:], h("55e832a7ed7d0f03b46e908d9cca795de2d2bf140fd80308e85a06069ae2b7a4"))
	eq(t, "salt", s.Salt[:], h("18171615141312110807060504030201"))
	eq(t, "prk", s.PRK[:], h("ff09d3f4ff39b6cb97b26575c5c72924bf0d51fbf25b5baf6d1d745b275daf0b"))
	eq(t, "info", s.Info, h("78563412f0debc9a537465616d20646174616772616d5343434353494349"))
	eq(t, "T1", s.ClientToServerKey[:], h("5c85772248e7cc2dec40d016d285f53888aab08d3d95e82c6ef43bb8b48ed461"))
	eq(t, "T2", s.ServerToClientKey[:], h("d0fb6c2ab0a25bfdf6c262fd8eaa9fb11af99e747193c4a1144d48b7f3f46ade"))
	eq(t, "T3", s.ClientToServerIV[:], h("4f7d713d2b10cc462e7b114b"))
	eq(t, "T4", s.ServerToClientIV[:], h("b21b4b6514c540f190f4d711"))

	// The server derives the same schedule from its side.
	hs.IsServer, hs.Local, hs.PeerPublic = true, server, client.Public()
	ks, err := DeriveKeys(hs)
	if err != nil {
		t.Fatal(err)
	}
	if ks.RecvKey != s.ClientToServerKey || ks.SendIV != s.ServerToClientIV {
		t.Fatal("server side keys differ")
	}

	nonce := Nonce(s.ClientToServerIV, 2)
	eq(t, "nonce", nonce[:], h("517d713d2b10cc462e7b114b"))
	c, err := NewCipher(pb.Cipher_CIPHER_AES_256_GCM, s.ClientToServerKey, s.ClientToServerIV)
	if err != nil {
		t.Fatal(err)
	}
	sealed := c.Seal(nil, []byte("hello"), 2)
	eq(t, "sealed", sealed, h("b714ae66dd6cc5c43cd0263b9ef4bebff5ede03ba4"))
	open, err := c.Open(nil, sealed, 2)
	if err != nil || string(open) != "hello" {
		t.Fatalf("open: %q %v", open, err)
	}
}
