package crypto_test

import (
	"fmt"

	"github.com/mistnet/mist/internal/crypto"
	"github.com/mistnet/mist/internal/pb"
)

func ExampleRecvWindow() {
	w := crypto.NewRecvWindow(13) // the handshake took packet number 1
	for _, wire := range []uint16{2, 4, 3, 3} {
		n, err := w.Expand(wire)
		if err != nil {
			fmt.Println(wire, err)
			continue
		}
		// ... decrypt with n, CheckLurch, process the payload, then:
		w.MarkReceived(n)
		fmt.Println(wire, "->", n)
	}
	// Output:
	// 2 -> 2
	// 4 -> 4
	// 3 -> 3
	// 3 crypto: duplicate packet number
}

func ExampleCipher() {
	client, _ := crypto.GenerateKeyPair(nil)
	server, _ := crypto.GenerateKeyPair(nil)
	hs := &crypto.Handshake{
		Local: client, PeerPublic: server.Public(),
		ClientNonce: 1, ServerNonce: 2, ClientConnID: 0x12345678, ServerConnID: 0x9abcdef0,
		ClientCert: []byte("client cert"), ServerCert: []byte("server cert"),
		ClientInfo: []byte("client info"), ServerInfo: []byte("server info"),
	}
	ck, _ := crypto.DeriveKeys(hs)
	hs.IsServer, hs.Local, hs.PeerPublic = true, server, client.Public()
	sk, _ := crypto.DeriveKeys(hs)

	send, _ := crypto.NewCipher(pb.Cipher_CIPHER_AES_256_GCM, ck.SendKey, ck.SendIV)
	recv, _ := crypto.NewCipher(pb.Cipher_CIPHER_AES_256_GCM, sk.RecvKey, sk.RecvIV)
	chunk := send.Seal(nil, []byte("hello"), 2)
	plain, err := recv.Open(nil, chunk, 2)
	fmt.Println(len(chunk), string(plain), err)
	// Output: 21 hello <nil>
}
