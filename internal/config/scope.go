package config

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ScopeKind is an ESteamNetworkingConfigScope.
type ScopeKind int32

// Scope kinds, from the root of the tree down.
const (
	GlobalScope       ScopeKind = 1
	InterfaceScope    ScopeKind = 2
	ListenSocketScope ScopeKind = 3
	ConnectionScope   ScopeKind = 4
)

// GetResult is an ESteamNetworkingGetConfigValueResult.
type GetResult int32

// Get results.
const (
	BadValue       GetResult = -1 // unknown option (or no byte form)
	BadScopeObj    GetResult = -2 // the option does not exist at this scope
	BufferTooSmall GetResult = -3
	OK             GetResult = 1
	OKInherited    GetResult = 2 // OK, value not set here but inherited
)

// Errors returned by [Scope.Set].
var (
	ErrUnknownOption = errors.New("config: unknown option")
	ErrBadScope      = errors.New("config: option cannot be set at this scope")
	ErrReadOnly      = errors.New("config: option is read-only")
	ErrLocked        = errors.New("config: option is locked")
	ErrBadType       = errors.New("config: value cannot be converted to the option's type")
	ErrNoReset       = errors.New("config: connection user data cannot be reset")
)

type slotState uint8

const (
	inherit slotState = iota
	set
	locked // set, and refuses further changes
)

type slot struct {
	state slotState
	v     Value
}

// tree is shared by every scope below one global scope.
type tree struct {
	mu  sync.RWMutex
	gen atomic.Uint64
}

// Scope holds the option values of one object (the global configuration, a
// sockets interface, a listen socket or a connection). Its methods are safe
// for concurrent use; one lock guards a whole tree of scopes.
type Scope struct {
	tree   *tree
	kind   ScopeKind
	parent *Scope
	slots  []slot      // global scope: every option, by table index
	local  []localSlot // other scopes: only the options set or locked here
}

// localSlot is one option set or locked below global scope. A connection
// sets a handful of options at most, so a short list costs far less than a
// slot per option (thousands of connections each have a scope).
type localSlot struct {
	index uint16
	slot
}

// get returns option i's slot at this scope; state inherit if not set here.
// The caller holds the tree lock.
func (s *Scope) get(i int) slot {
	if s.slots != nil {
		return s.slots[i]
	}
	for k := range s.local {
		if int(s.local[k].index) == i {
			return s.local[k].slot
		}
	}
	return slot{}
}

// ptr returns option i's slot at this scope for writing, adding it if
// needed. The pointer is valid until the next ptr or clear. The caller holds
// the tree lock for writing.
func (s *Scope) ptr(i int) *slot {
	if s.slots != nil {
		return &s.slots[i]
	}
	for k := range s.local {
		if int(s.local[k].index) == i {
			return &s.local[k].slot
		}
	}
	s.local = append(s.local, localSlot{index: uint16(i)})
	return &s.local[len(s.local)-1].slot
}

// clear makes option i inherit again at this (non-global) scope.
func (s *Scope) clear(i int) {
	for k := range s.local {
		if int(s.local[k].index) == i {
			s.local = append(s.local[:k], s.local[k+1:]...)
			return
		}
	}
}

// NewGlobal returns a global scope holding every option's default.
func NewGlobal() *Scope {
	s := &Scope{tree: new(tree), kind: GlobalScope, slots: make([]slot, len(table))}
	for i := range table {
		s.slots[i] = slot{state: set, v: table[i].Default}
	}
	return s
}

// NewChild returns a scope of the given kind that inherits from s. kind must
// be below s's kind. A connection scope binds ConnectionUserData at
// creation: later changes to its ancestors do not reach it.
func (s *Scope) NewChild(kind ScopeKind) (*Scope, error) {
	if kind <= s.kind || kind > ConnectionScope {
		return nil, fmt.Errorf("config: cannot create scope kind %d below kind %d", kind, s.kind)
	}
	c := &Scope{tree: s.tree, kind: kind, parent: s}
	if kind == ConnectionScope {
		s.tree.mu.RLock()
		i := byID[ConnectionUserData].index
		c.local = []localSlot{{index: uint16(i), slot: slot{state: set, v: s.resolve(i)}}}
		s.tree.mu.RUnlock()
	}
	return c, nil
}

// Kind returns the scope's kind.
func (s *Scope) Kind() ScopeKind { return s.kind }

// Parent returns the scope s inherits from, nil for the global scope.
func (s *Scope) Parent() *Scope { return s.parent }

// Generation counts changes anywhere in s's tree. A connection keeps the
// generation of its last [Scope.Connection] snapshot and refreshes the
// snapshot when the number moves.
func (s *Scope) Generation() uint64 { return s.tree.gen.Load() }

// lookup finds an option that exists at this scope.
func (s *Scope) lookup(id ID) (*Option, error) {
	o, ok := byID[id]
	if !ok || !o.Available {
		return nil, fmt.Errorf("%w %d", ErrUnknownOption, id)
	}
	if o.GlobalOnly && s.kind != GlobalScope {
		return nil, fmt.Errorf("%w: %s is global-only", ErrBadScope, o.Name)
	}
	return o, nil
}

// Set sets option id at this scope, following GNS:
//   - v is converted to the option's type (Int64 → Int32 only if it fits;
//     Float → integer rounded half up; String → number as scanf reads a
//     leading number; number → String as printf writes it; Ptr only from
//     Ptr), then clamped into the option's range;
//   - a nil v resets the value: back to the default at global scope, back to
//     inheriting elsewhere (except ConnectionUserData on a connection);
//   - global-only options can be set at global scope only; locked values
//     and MTU_DataSize cannot be set.
func (s *Scope) Set(id ID, v *Value) error {
	o, err := s.lookup(id)
	if err != nil {
		return err
	}
	if o.ReadOnly {
		return fmt.Errorf("%w: %s", ErrReadOnly, o.Name)
	}
	var nv Value
	if v != nil {
		var ok bool
		if nv, ok = convert(o.Type, v); !ok {
			return fmt.Errorf("%w: %s is %v, got %v", ErrBadType, o.Name, o.Type, v.Type)
		}
		o.clamp(&nv)
	}
	s.tree.mu.Lock()
	defer s.tree.mu.Unlock()
	switch {
	case s.get(o.index).state == locked:
		return fmt.Errorf("%w: %s", ErrLocked, o.Name)
	case v != nil:
		*s.ptr(o.index) = slot{state: set, v: nv}
	case s.kind == GlobalScope:
		s.slots[o.index].v = o.Default
	case s.kind == ConnectionScope && id == ConnectionUserData:
		return ErrNoReset
	default:
		s.clear(o.index)
	}
	s.tree.gen.Add(1)
	return nil
}

// SetMany applies settings in order, as the option arrays passed to socket
// and connection creation are applied, and stops at the first failure.
func (s *Scope) SetMany(settings []Setting) error {
	for i := range settings {
		if err := s.Set(settings[i].ID, &settings[i].Value); err != nil {
			return err
		}
	}
	return nil
}

// Setting pairs an option with a value.
type Setting struct {
	ID    ID
	Value Value
}

// Get returns option id as seen from this scope, and OK if it is set here or
// OKInherited if it comes from an ancestor. An unknown option gives
// BadValue; a global-only option read below global scope gives BadScopeObj.
func (s *Scope) Get(id ID) (Value, GetResult) {
	o, err := s.lookup(id)
	if err != nil {
		if errors.Is(err, ErrBadScope) {
			return Value{}, BadScopeObj
		}
		return Value{}, BadValue
	}
	if id == MTU_DataSize {
		pkt, res := s.Get(MTU_PacketSize)
		return Int32Value(int32(max(0, pkt.Int-NoFragmentHeaderReserve))), res
	}
	s.tree.mu.RLock()
	defer s.tree.mu.RUnlock()
	res := OK
	if s.get(o.index).state == inherit {
		res = OKInherited
	}
	return s.resolve(o.index), res
}

// GetInt is Get for integer options, for callers that know the type.
func (s *Scope) GetInt(id ID) int64 {
	v, _ := s.Get(id)
	return v.Int
}

// resolve walks up to the nearest scope that sets option i. The caller
// holds the tree lock.
func (s *Scope) resolve(i int) Value {
	for sc := s; sc != nil; sc = sc.parent {
		if sl := sc.get(i); sl.state != inherit {
			return sl.v
		}
	}
	return table[i].Default // unreachable: the global scope sets everything
}

// Lock freezes option id at this scope: an inherited value is copied here,
// and later Sets fail with ErrLocked. Locking an already locked value is a
// no-op.
func (s *Scope) Lock(id ID) error {
	o, err := s.lookup(id)
	if err != nil {
		return err
	}
	s.tree.mu.Lock()
	defer s.tree.mu.Unlock()
	s.lockLocked(o.index)
	return nil
}

func (s *Scope) lockLocked(i int) {
	if s.get(i).state == inherit {
		v := s.resolve(i)
		*s.ptr(i) = slot{state: locked, v: v}
		return
	}
	s.ptr(i).state = locked
}

// LockConnection locks every option marked Locks (authentication, encryption,
// symmetric connect, ICE, dev ticket). The connection layer calls it when a
// locally initiated connection starts connecting or any connection becomes
// active, as GNS does.
func (s *Scope) LockConnection() {
	s.tree.mu.Lock()
	defer s.tree.mu.Unlock()
	for i := range table {
		if table[i].Locks && table[i].Available {
			s.lockLocked(i)
		}
	}
}

// IsLocked reports whether option id is locked at this scope.
func (s *Scope) IsLocked(id ID) bool {
	o, ok := byID[id]
	if !ok {
		return false
	}
	s.tree.mu.RLock()
	defer s.tree.mu.RUnlock()
	return s.get(o.index).state == locked
}
