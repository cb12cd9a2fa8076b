package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// defaultChatPort is the port example_chat listens on and connects to when
// none is given.
const defaultChatPort = 27020

// parseServerAddr turns a command-line server address into an IP address and
// port. It accepts the forms GNS's example_chat accepts ("1.2.3.4",
// "1.2.3.4:27020", "::1", "[::1]:27020") and, beyond that, a host name
// ("localhost:27020"), resolved once. A missing or zero port means
// defaultPort.
func parseServerAddr(s string, defaultPort uint16) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, fmt.Errorf("empty server address")
	}
	host, portText := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.AddrPort{}, fmt.Errorf("server address %q: missing ']' after the IPv6 address", s)
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return netip.AddrPort{}, fmt.Errorf("server address %q: expected ':port' after ']'", s)
			}
			portText = rest[1:]
		}
	case strings.Count(s, ":") == 1:
		host, portText, _ = strings.Cut(s, ":")
	}
	// Any other form with colons is a bare IPv6 address.

	port := defaultPort
	if portText != "" {
		n, err := strconv.ParseUint(portText, 10, 16)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("server address %q: port %q is not a number from 0 to 65535", s, portText)
		}
		if n != 0 {
			port = uint16(n)
		}
	}

	if host == "" {
		return netip.AddrPort{}, fmt.Errorf("server address %q: missing host", s)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		addr, err = resolveHost(host)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("server address %q: %v", s, err)
		}
	}
	if addr.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("server address %q: IPv6 zones are not supported", s)
	}
	if addr.IsUnspecified() {
		return netip.AddrPort{}, fmt.Errorf("server address %q: cannot connect to the unspecified address", s)
	}
	return netip.AddrPortFrom(addr.Unmap(), port), nil
}

// resolveHost looks a host name up, preferring an IPv4 answer (what a
// server listening on the default dual-stack socket accepts either way).
func resolveHost(host string) (netip.Addr, error) {
	if strings.ContainsAny(host, " /\\") {
		return netip.Addr{}, fmt.Errorf("%q is neither an IP address nor a host name", host)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address and could not be resolved", host)
	}
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	return addrs[0], nil
}

// formatAddr prints an address the way GNS does: IPv4 plain, IPv6 in
// brackets, port always shown.
func formatAddr(a netip.AddrPort) string {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()).String()
}
