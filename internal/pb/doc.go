// Package pb holds the protobuf messages of the GameNetworkingSockets UDP
// wire protocol (version 13): the six control message bodies, the inline
// stats blob and the connection-quality reports it nests, signed session
// parameters (crypt info), certificates and the legacy binary identity, and
// the peer-to-peer rendezvous message carried in signals.
//
// The .proto files are mist's own, written from the protocol description;
// field numbers and types are the wire facts, names are ours. The Go code is
// generated:
//
//	go generate ./internal/pb
//
// Decoding keeps unknown fields, so messages from newer peers survive a
// round trip. Signed payloads (CertificateSigned.Cert, CryptInfoSigned.Info)
// must be used as received; see internal/cert.
package pb

//go:generate ./generate.sh
