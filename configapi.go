package mist

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
	info, ok := options[v.Option]
	if !ok || info.readOnly {
		return false
	}
	if scope == ScopeGlobal {
		return SetGlobalConfigValue(v)
	}
	if info.scope == optGlobal {
		return false
	}
	cv, ok := info.convert(v)
	if !ok {
		return false
	}
	if scope == ScopeConnection && v.Option == OptConnectionUserData {
		return s.SetConnectionUserData(Conn(obj), cv.i)
	}
	s.mu.RLock()
	st := s.scopeStore(scope, obj)
	s.mu.RUnlock()
	if st == nil {
		return false
	}
	return st.set(cv)
}

// ResetConfigValue clears an option at a scope so that it is inherited
// again (global scope: back to the default).
func (s *Sockets) ResetConfigValue(scope ConfigScope, obj uint32, opt ConfigOption) bool {
	if _, ok := options[opt]; !ok {
		return false
	}
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
	if _, ok := options[opt]; !ok {
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
	v, here := st.get(opt)
	if opt == OptMTUDataSize {
		mtu, _ := st.get(OptMTUPacketSize)
		v = Int32Value(opt, int32(mtu.Int()-100))
	}
	if here {
		return v, ConfigOK
	}
	return v, ConfigOKInherited
}
