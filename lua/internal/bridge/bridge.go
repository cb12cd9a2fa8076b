// Package bridge holds the state of the luasteam-compatible Lua module: the
// mist interface instance behind Steam.init and the queue of events
// runCallbacks hands to Lua. It speaks plain Go values; the cgo layer turns
// them into Lua values and Lua errors.
package bridge

import (
	"errors"
	"sync"
)

// Errors the Lua layer turns into Lua errors.
var (
	ErrNotInitialized = errors.New("Steam.init() has not been called (or Steam.shutdown() was)")
)

// ReceiveCap is how many messages one receive call returns at most, as in
// luasteam; callers loop while they get exactly this many.
const ReceiveCap = 32

// EventKind tells which Lua callback an Event is for.
type EventKind int

// Event kinds.
const (
	EventConnChanged EventKind = iota + 1 // onConnectionChanged
	EventAuthStatus                       // onAuthenticationStatus
)

// Event is one queued callback.
type Event struct {
	Kind   EventKind
	Conn   ConnChange // EventConnChanged
	Status int32      // EventAuthStatus: availability
	Msg    string     // EventAuthStatus: debug text
}

// NewBackendFunc creates the interface instance for Steam.init.
type NewBackendFunc func(Settings) (Backend, error)

// Module is the state behind the loaded Lua module. All methods are safe for
// concurrent use; Lua calls them from the thread running the interpreter.
type Module struct {
	newBackend NewBackendFunc

	mu       sync.Mutex
	b        Backend // nil before Init and after Shutdown
	queue    []Event
	session  uint64 // of b: the number of instances created before it
	sessions uint64 // instances created so far
	dropped  uint64 // events ever taken off queue: the sequence number of queue[0]
}

// New returns a module that creates its interface instance with newBackend.
func New(newBackend NewBackendFunc) *Module {
	return &Module{newBackend: newBackend}
}

// Init creates the interface instance with the given identity (0: random)
// and interface-scope options. Calling it again while initialised is a
// no-op, as a second SteamAPI_Init is. Each instance starts a new session:
// handles of earlier sessions are invalid in it.
func (m *Module) Init(steamID uint64, opts []Option) error {
	return m.InitSettings(Settings{SteamID: steamID, Options: opts})
}

// InitSettings is Init with the P2P settings too.
func (m *Module) InitSettings(set Settings) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.b != nil {
		return nil
	}
	if m.sessions >= MaxSessions {
		return errTooManySessions
	}
	b, err := m.newBackend(set)
	if err != nil {
		return err
	}
	m.b = b
	m.dropped += uint64(len(m.queue))
	m.queue = nil
	m.session = m.sessions
	m.sessions++
	return nil
}

// Initialized reports whether Init succeeded and Shutdown was not called since.
func (m *Module) Initialized() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.b != nil
}

// Shutdown closes the interface instance (open connections are closed
// without linger) and drops undelivered events.
func (m *Module) Shutdown() {
	m.mu.Lock()
	b := m.b
	m.b = nil
	m.dropped += uint64(len(m.queue))
	m.queue = nil
	m.mu.Unlock()
	if b != nil {
		b.Close()
	}
}

// backend returns the instance or ErrNotInitialized. Callers hold m.mu.
func (m *Module) backend() (Backend, error) {
	if m.b == nil {
		return nil, ErrNotInitialized
	}
	return m.b, nil
}

// SteamID returns the local identity.
func (m *Module) SteamID() (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return 0, err
	}
	return b.SteamID(), nil
}

// InitAuthentication asks for authentication and returns its status. The
// change to Current reaches onAuthenticationStatus at the next
// runCallbacks, so programs that assign the callback after this call still
// see it.
func (m *Module) InitAuthentication() (int32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return 0, err
	}
	return b.InitAuthentication(), nil
}

// AuthenticationStatus returns the status and its debug text.
func (m *Module) AuthenticationStatus() (int32, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.backend()
	if err != nil {
		return 0, "", err
	}
	a, msg := b.AuthenticationStatus()
	return a, msg, nil
}

// RunCallbacks moves the events the instance has queued onto the module's
// queue, from which NextEvent hands them out one by one. Before Init it does
// nothing.
func (m *Module) RunCallbacks() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.b == nil {
		return
	}
	m.b.RunCallbacks(func(ev Event) {
		if ev.Kind == EventConnChanged {
			ev.Conn.Conn = m.toLua(uint32(ev.Conn.Conn))
		}
		m.queue = append(m.queue, ev)
	})
}

// NextEvent removes and returns the oldest queued event.
func (m *Module) NextEvent() (Event, bool) {
	for {
		ev, seq, ok := m.PeekEvent()
		if !ok || m.DropEvent(seq) {
			return ev, ok
		}
	}
}

// PeekEvent returns the oldest queued event without removing it, and its
// sequence number for DropEvent. runCallbacks takes an event off the queue
// only once its Lua table is built, so an error while building it (out of
// memory, or a finalizer that raises) leaves the event queued.
func (m *Module) PeekEvent() (Event, uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.queue) == 0 {
		return Event{}, 0, false
	}
	return m.queue[0], m.dropped, true
}

// DropEvent removes the oldest queued event if it is still the one PeekEvent
// numbered seq, and reports whether it did: Lua code that ran since (a
// finalizer calling runCallbacks) may have delivered it already.
func (m *Module) DropEvent(seq uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.queue) == 0 || seq != m.dropped {
		return false
	}
	m.queue[0] = Event{}
	m.queue = m.queue[1:]
	if len(m.queue) == 0 {
		m.queue = nil
	}
	m.dropped++
	return true
}
