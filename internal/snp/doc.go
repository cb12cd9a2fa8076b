// Package snp encodes and decodes the frames carried inside a decrypted data
// packet of the Steam Networking Protocol (SNP), GameNetworkingSockets
// protocol version 13.
//
// A plaintext payload is a sequence of frames with no length prefix:
// unreliable segments, reliable segments, stop-waiting, acks and lane
// selection. Segment headers are compressed against a per-packet context
// (the message number and stream position of the previous segment on the
// same lane), so whole payloads are decoded with a [Reader], which tracks that
// context, and built with a [Writer]. The per-frame Append and Parse
// functions work on the raw, context-free forms.
//
// Reliable segments carry bytes of a lane's reliable stream; message
// boundaries live inside that stream behind a [MessageHeader].
//
// Nothing here allocates, keeps state between packets, or reads the clock.
package snp
