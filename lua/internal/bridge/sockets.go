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
func (m *Module) CreateListenSocketIP(addr string, opts []Option) (Handle, error) {
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
	return m.toLua(b.CreateListenSocketIP(ap, opts)), nil
}

// ConnectByIPAddress starts a connection; 0 means failure.
func (m *Module) ConnectByIPAddress(addr string, opts []Option) (Handle, error) {
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
	return m.toLua(b.ConnectByIPAddress(ap, opts)), nil
}

// AcceptConnection returns the EResult of accepting conn.
func (m *Module) AcceptConnection(conn Handle) (int32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return 0, err
	}
	return b.AcceptConnection(m.fromLua(conn)), nil
}

// CloseConnection closes conn the way luasteam does: reason 0 (which the
// library turns into App_Generic, 1000), no debug text.
func (m *Module) CloseConnection(conn Handle, linger bool) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return false, err
	}
	return b.CloseConnection(m.fromLua(conn), 0, "", linger), nil
}

// CloseListenSocket closes a listen socket and every connection accepted on it.
func (m *Module) CloseListenSocket(sock Handle) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return false, err
	}
	return b.CloseListenSocket(m.fromLua(sock)), nil
}

// SendMessageToConnection returns the EResult of the send.
func (m *Module) SendMessageToConnection(conn Handle, data []byte, flags int32) (int32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return 0, err
	}
	return b.SendMessageToConnection(m.fromLua(conn), data, flags), nil
}

// SendMessages sends a batch and reports, per message, whether it was queued
// (the library returned a message number). The Conn fields are replaced by
// mist's handles.
func (m *Module) SendMessages(msgs []OutMessage, ok []bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return err
	}
	for i := range msgs {
		msgs[i].Conn = Handle(m.fromLua(msgs[i].Conn))
	}
	res := b.SendMessages(msgs)
	for i := range ok {
		ok[i] = i < len(res) && res[i] > 0
	}
	return nil
}

// FlushMessagesOnConnection returns the EResult of the flush.
func (m *Module) FlushMessagesOnConnection(conn Handle) (int32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return 0, err
	}
	return b.FlushMessagesOnConnection(m.fromLua(conn)), nil
}

// Receive takes up to ReceiveCap messages from a connection, or from a poll
// group when group is true, and passes them to visit, which must copy what
// it keeps. ok is false for an invalid handle.
func (m *Module) Receive(handle Handle, group bool, visit func([]InMessage)) (ok bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return false, err
	}
	toLua := func(msgs []InMessage) {
		for i := range msgs {
			msgs[i].Conn = m.toLua(uint32(msgs[i].Conn))
		}
		visit(msgs)
	}
	if group {
		return b.ReceiveMessagesOnPollGroup(m.fromLua(handle), ReceiveCap, toLua), nil
	}
	return b.ReceiveMessagesOnConnection(m.fromLua(handle), ReceiveCap, toLua), nil
}

// ConnectionDescription returns the connection's description text, false
// for an unknown handle.
func (m *Module) ConnectionDescription(conn Handle) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return "", false, err
	}
	d, ok := b.ConnectionDescription(m.fromLua(conn))
	return d, ok, nil
}

// CreatePollGroup returns a new poll group handle.
func (m *Module) CreatePollGroup() (Handle, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return 0, err
	}
	return m.toLua(b.CreatePollGroup()), nil
}

// DestroyPollGroup destroys a poll group; false for an unknown handle.
func (m *Module) DestroyPollGroup(group Handle) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return false, err
	}
	return b.DestroyPollGroup(m.fromLua(group)), nil
}

// SetConnectionPollGroup moves conn into group (0 removes it from its group;
// any other invalid group, one of an earlier session among them, fails).
func (m *Module) SetConnectionPollGroup(conn, group Handle) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return false, err
	}
	g := m.fromLua(group)
	if g == invalidHandle && group != 0 {
		return false, nil
	}
	return b.SetConnectionPollGroup(m.fromLua(conn), g), nil
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
