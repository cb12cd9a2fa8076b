package rendezvous

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/mistnet/mist/internal/pb"
)

// MaxSignalSize bounds a signal's serialized size. The largest signal GNS
// builds, a connect request with a few reliable messages and unreliable
// application data (at most 4200 bytes), stays far below it.
const MaxSignalSize = 16 << 10

var (
	// ErrMalformed: the bytes are not a rendezvous message.
	ErrMalformed = errors.New("rendezvous: malformed signal")
	// ErrTooLarge: the signal exceeds MaxSignalSize.
	ErrTooLarge = errors.New("rendezvous: signal too large")
)

// Parse decodes one signal. Unknown fields are kept so a re-encoded message
// carries them on.
func Parse(b []byte) (*pb.Rendezvous, error) {
	if len(b) > MaxSignalSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxSignalSize)
	}
	m := new(pb.Rendezvous)
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return m, nil
}

// Append appends the encoding of m to b. Fields are written in field-number
// order, as GNS writes them.
func Append(b []byte, m *pb.Rendezvous) ([]byte, error) {
	out, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend(b, m)
	if err != nil {
		return b, fmt.Errorf("rendezvous: encode: %w", err)
	}
	if len(out)-len(b) > MaxSignalSize {
		return b, fmt.Errorf("%w: encoded %d bytes, limit %d", ErrTooLarge, len(out)-len(b), MaxSignalSize)
	}
	return out, nil
}
