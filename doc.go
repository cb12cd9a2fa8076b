// Package mist implements Steam Networking Sockets (ISteamNetworkingSockets)
// in pure Go, wire-compatible with Valve's GameNetworkingSockets protocol
// version 13.
//
// # Model
//
// A [Sockets] value is one interface instance: it owns listen sockets,
// connections and poll groups, all named by small integer handles
// ([Conn], [ListenSocket], [PollGroup]; 0 is always invalid). Methods map one
// to one onto the C++ interface, keep its result codes ([Result]) and
// its edge cases, and are safe to call from any goroutine.
//
// # Messages
//
// Messages are whole: each successful send yields at most one received
// [Message] of the same size. Received messages are pooled; call
// [Message.Release] when done with one.
//
// # Callbacks
//
// Connection state changes and authentication status changes are queued and
// delivered by [Sockets.RunCallbacks] on the caller's goroutine (game-loop
// style), to the functions registered with
// [Sockets.OnConnectionStatusChanged] and [Sockets.OnAuthenticationStatus] or
// configured per scope with [OptCallbackConnectionStatusChanged]. For Go
// programs [Sockets.Events] offers the same events on a channel bound to a
// context.
//
// # Connections
//
// [Sockets.CreateListenSocketIP] and [Sockets.ConnectByIPAddress] speak the
// GNS UDP protocol (version 13): stateless challenge, certificates (self-signed
// per connection, or CA-issued: [Config.Certificate], [Sockets.SetCertificateWithKey],
// [Config.CertificateAuthority]; package ca issues them), X25519
// key exchange and AES-256-GCM or, when both sides allow it through
// [OptUnencrypted], no encryption. Each listen socket and each outbound
// connection owns one UDP socket with its own receive goroutine; protocol
// timers run on per-connection timers, and sends happen on the caller's
// goroutine when the send rate allows. [Sockets.CreateSocketPair] connects
// two handles in process, or over loopback UDP.
//
// # Configuration
//
// Options carry GNS's IDs and names ([ConfigOption]) and are set at global,
// interface, listen-socket or connection scope ([ConfigScope]); lower scopes
// inherit from higher ones at read time.
package mist
