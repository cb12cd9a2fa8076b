// Package wire frames and unframes the UDP datagrams of the
// GameNetworkingSockets direct-IP transport (protocol version 13).
//
// # Classifying
//
// [Classify] sorts a datagram into a data packet (lead byte has 0x80 set), a
// control message (ids 32..37), Source-engine connectionless traffic
// (FF FF FF FF, ignored) or junk. Every datagram shorter than
// [MinDatagramLen] bytes or longer than [MaxUDPPayload] bytes is junk.
//
// # Control messages
//
// A control message is its id byte followed by a protobuf body. Two of them
// ([MsgChallengeRequest], [MsgConnectionClosed]) are padded: id, uint16 LE
// body length, body, zeros up to [MinPaddedLen] bytes. [ParseControl] and
// [AppendControl] handle both layouts; [ParseControlMessage] and
// [AppendControlMessage] add the protobuf step with the types of package pb,
// and the typed helpers (ParseChallengeRequest, AppendConnectOK, ...) do the
// same for one message id each.
//
// # Data packets
//
// A data packet starts with a 7-byte header (lead byte 0x80|flags, recipient
// connection id, low 16 bits of the packet number), optionally followed by
// an unencrypted stats blob (flag 0x01) and a time-since-previous field (flag
// 0x02); the rest is the encrypted SNP chunk. [ParseDataHeader] and
// [AppendDataHeader] allocate nothing, and neither does [StatsAckFlags],
// which reads the ack-request bits of a stats blob without decoding it.
//
// # Errors
//
// Every parse failure is a [*FormatError] naming the part of the datagram
// and the byte offset at fault; errors.Is matches it against [ErrTruncated],
// [ErrMalformed] and [ErrUnknownMessage].
package wire
