package bridge

import (
	"strconv"
	"strings"

	"github.com/mistnet/mist"
)

// Invalid handle value shared by connections, listen sockets and poll groups.
const invalidHandle = 0

// CreateListenSocketIP binds a listen socket; 0 means failure (bad address,
// bind failure, refused option).
func (m *Module) CreateListenSocketIP(addr string, opts []Option) (uint32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return 0, err
	}
	ap, ok := mist.ParseIPAddr(addr)
	if !ok {
		return invalidHandle, nil
	}
	return b.CreateListenSocketIP(ap, opts), nil
}

// ConnectByIPAddress starts a connection; 0 means failure.
func (m *Module) ConnectByIPAddress(addr string, opts []Option) (uint32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return 0, err
	}
	ap, ok := mist.ParseIPAddr(addr)
	if !ok {
		return invalidHandle, nil
	}
	return b.ConnectByIPAddress(ap, opts), nil
}

// AcceptConnection returns the EResult of accepting conn.
func (m *Module) AcceptConnection(conn uint32) (int32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return 0, err
	}
	return b.AcceptConnection(conn), nil
}

// CloseConnection closes conn the way luasteam does: reason 0 (which the
// library turns into App_Generic, 1000), no debug text.
func (m *Module) CloseConnection(conn uint32, linger bool) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return false, err
	}
	return b.CloseConnection(conn, 0, "", linger), nil
}

// CloseListenSocket closes a listen socket and every connection accepted on it.
func (m *Module) CloseListenSocket(sock uint32) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return false, err
	}
	return b.CloseListenSocket(sock), nil
}

// SendMessageToConnection returns the EResult of the send.
func (m *Module) SendMessageToConnection(conn uint32, data []byte, flags int32) (int32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return 0, err
	}
	return b.SendMessageToConnection(conn, data, flags), nil
}

// SendMessages sends a batch and reports, per message, whether it was queued
// (the library returned a message number).
func (m *Module) SendMessages(msgs []OutMessage, ok []bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return err
	}
	res := b.SendMessages(msgs)
	for i := range ok {
		ok[i] = i < len(res) && res[i] > 0
	}
	return nil
}

// FlushMessagesOnConnection returns the EResult of the flush.
func (m *Module) FlushMessagesOnConnection(conn uint32) (int32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return 0, err
	}
	return b.FlushMessagesOnConnection(conn), nil
}

// Receive takes up to ReceiveCap messages from a connection, or from a poll
// group when group is true, and passes them to visit, which must copy what
// it keeps. ok is false for an invalid handle.
func (m *Module) Receive(handle uint32, group bool, visit func([]InMessage)) (ok bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return false, err
	}
	if group {
		return b.ReceiveMessagesOnPollGroup(handle, ReceiveCap, visit), nil
	}
	return b.ReceiveMessagesOnConnection(handle, ReceiveCap, visit), nil
}

// ConnectionDescription returns the connection's description text, false
// for an unknown handle.
func (m *Module) ConnectionDescription(conn uint32) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return "", false, err
	}
	d, ok := b.ConnectionDescription(conn)
	return d, ok, nil
}

// CreatePollGroup returns a new poll group handle.
func (m *Module) CreatePollGroup() (uint32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return 0, err
	}
	return b.CreatePollGroup(), nil
}

// DestroyPollGroup destroys a poll group; false for an unknown handle.
func (m *Module) DestroyPollGroup(group uint32) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return false, err
	}
	return b.DestroyPollGroup(group), nil
}

// SetConnectionPollGroup moves conn into group (0 removes it from its group).
func (m *Module) SetConnectionPollGroup(conn, group uint32) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return false, err
	}
	return b.SetConnectionPollGroup(conn, group), nil
}

// ParseUint64 converts decimal text the way luasteam's parseUint64 does
// (strtoull): leading blanks and an optional sign are skipped, parsing stops
// at the first non-digit, no digits gives 0 and overflow saturates.
func ParseUint64(s string) uint64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	if end == 0 {
		return 0
	}
	v, err := strconv.ParseUint(s[:end], 10, 64)
	if err != nil {
		return ^uint64(0)
	}
	if neg {
		v = -v
	}
	return v
}
