package mist

import "github.com/mistnet/mist/internal/config"

// scopeStore finds the store of a scope object. Called with s.mu held.
func (s *Sockets) scopeStore(scope ConfigScope, obj uint32) *configStore {
	switch scope {
	case ScopeGlobal:
		return globalConfig
	case ScopeSocketsInterface:
		return s.cfg
	case ScopeListenSocket:
		if ls := s.listens[ListenSocket(obj)]; ls != nil {
			return ls.cfg
		}
	case ScopeConnection:
		if c := s.conns[Conn(obj)]; c != nil {
			return c.cfg
		}
	}
	return nil
}

// SetConfigValue sets an option at a scope: obj is the listen socket or
// connection handle for those scopes and ignored otherwise. Values out of
// range are clamped; unknown options, global-only options below global
// scope, locked and read-only values, and bad conversions return false.
// Setting ConnectionUserData on a connection is SetConnectionUserData.
func (s *Sockets) SetConfigValue(scope ConfigScope, obj uint32, v ConfigValue) bool {
	if scope == ScopeGlobal {
		return SetGlobalConfigValue(v)
	}
	if scope == ScopeConnection && v.Option == OptConnectionUserData {
		if v.Type != ConfigInt32 && v.Type != ConfigInt64 {
			return false
		}
		return s.SetConnectionUserData(Conn(obj), v.i)
	}
	s.mu.RLock()
	st := s.scopeStore(scope, obj)
	s.mu.RUnlock()
	if st == nil {
		return false
	}
	return st.set(v)
}

// ResetConfigValue clears an option at a scope so that it is inherited
// again (global scope: back to the default).
func (s *Sockets) ResetConfigValue(scope ConfigScope, obj uint32, opt ConfigOption) bool {
	s.mu.RLock()
	st := s.scopeStore(scope, obj)
	s.mu.RUnlock()
	if st == nil {
		return false
	}
	return st.unset(opt)
}

// ConfigValue reads the effective value of an option at a scope, and
// whether it was set there (ConfigOK) or inherited (ConfigOKInherited).
func (s *Sockets) ConfigValue(scope ConfigScope, obj uint32, opt ConfigOption) (ConfigValue, GetConfigResult) {
	if _, ok := config.ByID(config.ID(opt)); !ok {
		return ConfigValue{}, ConfigBadValue
	}
	if scope == ScopeConnection && opt == OptConnectionUserData {
		v := s.ConnectionUserData(Conn(obj))
		return Int64Value(opt, v), ConfigOK
	}
	s.mu.RLock()
	st := s.scopeStore(scope, obj)
	s.mu.RUnlock()
	if st == nil {
		return ConfigValue{}, ConfigBadScopeObj
	}
	v, r := st.sc.Get(config.ID(opt))
	return fromValue(opt, v), GetConfigResult(r)
}
