package mist

import (
	"sync"
	"time"

	"github.com/mistnet/mist/internal/bufpool"
)

// Message is a received message (SteamNetworkingMessage_t), or one to send
// with [Sockets.SendMessages]. Received messages come from a pool: call
// Release exactly once when done; Data must not be used afterwards.
type Message struct {
	// Conn is the connection the message arrived on, or the destination
	// when sending.
	Conn Conn
	// PeerIdentity is the remote identity of the connection.
	PeerIdentity Identity
	// ConnUserData is the connection's user data, kept current while the
	// message waits in a queue.
	ConnUserData int64
	// TimeReceived is when the message was completed locally.
	TimeReceived time.Time
	// MessageNumber is the sender's number for the message (per lane,
	// from 1); set by SendMessages on success.
	MessageNumber int64
	// Flags: on received messages only SendReliable is meaningful; when
	// sending, the send flags.
	Flags SendFlags
	// Lane is the lane the message arrived on, or is to be sent on.
	Lane uint16
	// UserData is free for the application.
	UserData int64
	// Data is the payload.
	Data []byte

	pooled bool // Data came from bufpool
	// small holds the payload of a small received message, so that it
	// costs no buffer of its own.
	small [smallMessage]byte

	// A queued message is in its connection's queue and, if the connection
	// is in a poll group, in the group's queue too: two views of one queue.
	owner                *connection
	group                *pollGroup
	connPrev, connNext   *Message
	groupPrev, groupNext *Message
}

var messagePool = sync.Pool{New: func() any { return new(Message) }}

// NewMessage returns a message with a Data buffer of size bytes, for
// [Sockets.SendMessages] (AllocateMessage). Its Lane is 0 and Conn invalid.
func NewMessage(size int) *Message {
	m := messagePool.Get().(*Message)
	if size > 0 {
		m.Data = bufpool.Get(size)
		m.pooled = true
	}
	return m
}

// smallMessage is the largest payload a received message keeps inline.
const smallMessage = 128

// newReceivedCopy returns a pooled message holding a copy of data.
func newReceivedCopy(data []byte) *Message {
	m := messagePool.Get().(*Message)
	if len(data) <= smallMessage {
		m.Data = append(m.small[:0], data...)
		return m
	}
	m.Data = append(bufpool.Get(len(data))[:0], data...)
	m.pooled = true
	return m
}

// newReceived wraps a payload owned by bufpool in a pooled message.
func newReceived(data []byte) *Message {
	m := messagePool.Get().(*Message)
	m.Data = data
	m.pooled = true
	return m
}

// Release returns the message and its buffer to their pools. It is safe to
// call on a nil message.
func (m *Message) Release() {
	if m == nil {
		return
	}
	if m.pooled {
		bufpool.Put(m.Data)
	}
	*m = Message{}
	messagePool.Put(m)
}

// Size returns len(m.Data).
func (m *Message) Size() int { return len(m.Data) }

// msgList is an intrusive FIFO of messages, linked either through the
// connection links or through the poll group links.
type msgList struct {
	head, tail *Message
	count      int
	bytes      int
	viaGroup   bool
}

func (l *msgList) links(m *Message) (prev, next **Message) {
	if l.viaGroup {
		return &m.groupPrev, &m.groupNext
	}
	return &m.connPrev, &m.connNext
}

func (l *msgList) pushBack(m *Message) { l.insertAfter(l.tail, m) }

// insertAfter links m after at (at == nil inserts at the front).
func (l *msgList) insertAfter(at, m *Message) {
	prev, next := l.links(m)
	*prev = at
	if at == nil {
		*next = l.head
		l.head = m
	} else {
		_, atNext := l.links(at)
		*next = *atNext
		*atNext = m
	}
	if *next == nil {
		l.tail = m
	} else {
		nextPrev, _ := l.links(*next)
		*nextPrev = m
	}
	l.count++
	l.bytes += len(m.Data)
}

func (l *msgList) remove(m *Message) {
	prev, next := l.links(m)
	if *prev == nil {
		l.head = *next
	} else {
		_, pn := l.links(*prev)
		*pn = *next
	}
	if *next == nil {
		l.tail = *prev
	} else {
		np, _ := l.links(*next)
		*np = *prev
	}
	*prev, *next = nil, nil
	l.count--
	l.bytes -= len(m.Data)
}

func (l *msgList) next(m *Message) *Message {
	_, n := l.links(m)
	return *n
}

func (l *msgList) prev(m *Message) *Message {
	p, _ := l.links(m)
	return *p
}
