package mist

import "github.com/mistnet/mist/internal/identity"

// toInternalIdentity converts through the text form, which both sides
// define identically.
func toInternalIdentity(id Identity) identity.Identity {
	if !id.IsValid() {
		return identity.LocalHost()
	}
	out, err := identity.Parse(id.String())
	if err != nil {
		return identity.LocalHost()
	}
	return out
}

func fromInternalIdentity(id identity.Identity) Identity {
	if !id.IsValid() {
		return Identity{}
	}
	out, _ := ParseIdentity(id.String())
	return out
}
