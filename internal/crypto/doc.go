// Package crypto is the session cryptography of the GameNetworkingSockets
// UDP transport: X25519 key pairs ([KeyPair]), GNS's key derivation
// ([DeriveKeys], [DeriveSchedule]), per-packet AES-256-GCM and NULL ciphers
// ([Cipher]) and the receive window that expands 16-bit wire packet numbers
// and rejects duplicates, stale packets and lurches ([RecvWindow]).
//
// Key derivation differs from RFC 5869 in two places: the extract step uses
// the premaster secret as the HMAC key and the salt (server nonce, then
// client nonce) as the message, and the expand context lists the connection
// ids client first but the certificates and crypt infos server first.
//
// The per-packet nonce is the 12-byte base IV with the 64-bit packet number
// added (not XORed) to its first 8 bytes read little-endian. There is no
// additional authenticated data; the 16-byte tag follows the ciphertext.
package crypto
