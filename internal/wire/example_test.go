package wire_test

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/pb"
	"github.com/mistnet/mist/internal/wire"
)

func ExampleParseDataHeader() {
	// A keepalive: stats blob {flags = ACK_REQUEST_E2E}, then the chunk.
	pkt := []byte{0x81, 0xf0, 0xde, 0xbc, 0x9a, 0x02, 0x00, 0x02, 0x18, 0x02, 0xaa, 0xbb}
	h, chunk, err := wire.ParseDataHeader(pkt)
	if err != nil {
		panic(err)
	}
	flags, _ := wire.StatsAckFlags(h.Stats)
	fmt.Printf("to %#x packet %d ack-request %#x chunk %x\n", h.ToConnID, h.PacketNumber, flags, chunk)
	// Output: to 0x9abcdef0 packet 2 ack-request 0x2 chunk aabb
}

func ExampleParseControlMessage() {
	b, _ := wire.AppendControlMessage(nil, &pb.NoConnection{
		FromConnectionId: proto.Uint32(0x9abcdef0), ToConnectionId: proto.Uint32(0x12345678),
	})
	fmt.Printf("% x\n", b)
	id, msg, err := wire.ParseControlMessage(b)
	fmt.Println(id, msg.(*pb.NoConnection).GetToConnectionId() == 0x12345678, err)
	// Output:
	// 25 15 f0 de bc 9a 1d 78 56 34 12
	// NoConnection true <nil>
}
