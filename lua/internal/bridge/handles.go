package bridge

import "fmt"

// Handle is a connection, listen socket or poll group as Lua sees it: the
// session number (how many Steam.init calls created an instance before the
// current one) above the 32 bits of mist's own handle. mist numbers the
// objects of a new instance from the start again, so without the session a
// handle kept across Steam.shutdown and Steam.init would name an object of
// the new instance; with it, such a handle is simply invalid. The first
// session is 0, so its handles are mist's handles unchanged. 0 is the
// invalid handle in every session.
type Handle uint64

// MaxSessions bounds how many times Steam.init may create an instance in one
// process: it keeps every handle below 2^53, where a Lua 5.1 number (a
// double) still holds it exactly, and never lets a session number repeat.
const MaxSessions = 1 << 21

// errTooManySessions is what Init returns once MaxSessions instances were
// created.
var errTooManySessions = fmt.Errorf("Steam.init: %d sessions created in this process; no more can be told apart", MaxSessions)

// toLua turns a handle of the current instance into a Handle. Callers hold
// m.mu.
func (m *Module) toLua(raw uint32) Handle {
	if raw == invalidHandle {
		return 0
	}
	return Handle(m.session<<32 | uint64(raw))
}

// fromLua returns the current instance's handle named by h, or 0 (invalid)
// when h belongs to another session. Callers hold m.mu.
func (m *Module) fromLua(h Handle) uint32 {
	if uint64(h)>>32 != m.session {
		return invalidHandle
	}
	return uint32(h)
}
