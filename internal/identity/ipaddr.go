package identity

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// IPAddr is a SteamNetworkingIPAddr: an IPv6 address (IPv4 kept as
// IPv4-mapped IPv6) and a port. The zero IPAddr is [::]:0. IPAddr values
// are comparable with ==, and IPv4 compares equal to its mapped form.
type IPAddr struct {
	ip   [16]byte
	port uint16
}

// IPAddrFrom converts ap. IPv4 becomes IPv4-mapped; a zone is dropped.
func IPAddrFrom(ap netip.AddrPort) IPAddr {
	return IPAddr{ip: ap.Addr().As16(), port: ap.Port()}
}

// IPAddrFrom16 builds an address from its 16-byte IPv6 form and a port.
func IPAddrFrom16(ip [16]byte, port uint16) IPAddr { return IPAddr{ip: ip, port: port} }

// Addr returns the address, unmapped to IPv4 when it is IPv4-mapped.
func (a IPAddr) Addr() netip.Addr { return netip.AddrFrom16(a.ip).Unmap() }

// AddrPort returns the address and port, IPv4 unmapped.
func (a IPAddr) AddrPort() netip.AddrPort { return netip.AddrPortFrom(a.Addr(), a.port) }

// As16 returns the 16-byte IPv6 form.
func (a IPAddr) As16() [16]byte { return a.ip }

// Port returns the port (0 when none was given).
func (a IPAddr) Port() uint16 { return a.port }

// IsIPv4 reports whether the address is IPv4-mapped.
func (a IPAddr) IsIPv4() bool { return netip.AddrFrom16(a.ip).Is4In6() }

// IsZero reports whether a is [::]:0.
func (a IPAddr) IsZero() bool { return a == IPAddr{} }

// IsLocalHost reports whether the address (ignoring the port) is exactly
// ::1 or 127.0.0.1, GNS's notion of localhost.
func (a IPAddr) IsLocalHost() bool {
	addr := a.Addr()
	return addr == netip.IPv6Loopback() || addr == netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// String formats a as GNS does, with the port when it is non-zero:
// "1.2.3.4", "1.2.3.4:27015", "::1", "[::1]:27015".
func (a IPAddr) String() string { return a.Format(a.port != 0) }

// Format formats a, with the port if withPort is set.
func (a IPAddr) Format(withPort bool) string {
	addr := a.Addr()
	s := addr.String()
	if !withPort {
		return s
	}
	if addr.Is4() {
		return s + ":" + strconv.Itoa(int(a.port))
	}
	return "[" + s + "]:" + strconv.Itoa(int(a.port))
}

// ParseIPAddr parses the address forms GNS accepts: "a.b.c.d" with an
// optional ":port", and IPv6 bare or in brackets, optionally with a %scope
// (dropped), and after a closing bracket a port introduced by ':', '#',
// '.', 'p', 'P' or "port". A missing port is 0. Host names are not
// resolved.
func ParseIPAddr(s string) (IPAddr, error) {
	if a, ok := parseIPv4(s); ok {
		return a, nil
	}
	addrPart, port := s, uint16(0)
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return IPAddr{}, fmt.Errorf("identity: IP address %q: missing ']'", s)
		}
		addrPart = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			var digits string
			switch {
			case strings.HasPrefix(rest, "port"):
				digits = rest[4:]
			case strings.ContainsRune(":#.pP", rune(rest[0])):
				digits = rest[1:]
			default:
				return IPAddr{}, fmt.Errorf("identity: IP address %q: unexpected %q after ']'", s, rest)
			}
			p, err := parsePort(digits)
			if err != nil {
				return IPAddr{}, fmt.Errorf("identity: IP address %q: %w", s, err)
			}
			port = p
		}
	}
	if addrPart == "" || strings.ContainsAny(addrPart, "[]") || !strings.Contains(addrPart, ":") {
		return IPAddr{}, fmt.Errorf("identity: %q is not an IPv4 or IPv6 address", s)
	}
	addr, err := netip.ParseAddr(addrPart)
	if err != nil {
		return IPAddr{}, fmt.Errorf("identity: %q is not an IPv4 or IPv6 address", s)
	}
	return IPAddr{ip: addr.WithZone("").As16(), port: port}, nil
}

// parseIPv4 accepts "a.b.c.d" and "a.b.c.d:port" with decimal octets.
// As in GNS, anything after the colon that is not a port reads as port 0.
func parseIPv4(s string) (IPAddr, bool) {
	var ip [4]byte
	for i := range 4 {
		n, digits := 0, 0
		for digits < len(s) && digits < 3 && s[digits] >= '0' && s[digits] <= '9' {
			n = n*10 + int(s[digits]-'0')
			digits++
		}
		if digits == 0 || n > 255 {
			return IPAddr{}, false
		}
		ip[i] = byte(n)
		s = s[digits:]
		if i < 3 {
			if s == "" || s[0] != '.' {
				return IPAddr{}, false
			}
			s = s[1:]
		}
	}
	a := IPAddrFrom(netip.AddrPortFrom(netip.AddrFrom4(ip), 0))
	switch {
	case s == "":
		return a, true
	case s[0] != ':':
		return IPAddr{}, false
	}
	if p, err := parsePort(s[1:]); err == nil {
		a.port = p
	} else if errors.Is(err, errPortRange) {
		return IPAddr{}, false
	}
	return a, true
}

var errPortRange = errors.New("port out of range")

func parsePort(s string) (uint16, error) {
	if s == "" || len(s) > 5 {
		if len(s) > 5 && strings.Trim(s, "0123456789") == "" {
			return 0, errPortRange
		}
		return 0, fmt.Errorf("bad port %q", s)
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("bad port %q", s)
	}
	if n > 0xFFFF {
		return 0, errPortRange
	}
	return uint16(n), nil
}
