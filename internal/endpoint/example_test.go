package endpoint_test

import (
	"fmt"
	"net/netip"

	"github.com/mistnet/mist/internal/endpoint"
)

func Example() {
	// A dual-stack server and an IPv4 client on loopback.
	server, err := endpoint.Listen(netip.MustParseAddrPort("[::]:0"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer server.Close()
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), server.LocalAddr().Port())
	client, err := endpoint.Dial(dst, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	client.WriteBatch([]endpoint.Packet{{Buf: []byte("ping"), Addr: dst}})
	in := make([]endpoint.Packet, 8)
	for i := range in {
		in[i].Buf = make([]byte, 1500)
	}
	n, _ := server.ReadBatch(in)
	// IPv4 peers of a dual-stack socket appear as plain IPv4 addresses.
	fmt.Println(n, string(in[0].Buf), in[0].Addr.Addr())
	// Output:
	// 1 ping 127.0.0.1
}
