package ice

import (
	"crypto/rand"
)

const base64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// UfragForConnectionID returns the ICE username fragment of the side whose
// P2P connection ID is id: five characters of the standard base64 alphabet
// encoding bits 29..0 of id, most significant first. GNS never sends a
// ufrag in signals; each side derives the peer's from the peer's
// from_connection_id, so ours must be derived the same way.
func UfragForConnectionID(id uint32) string {
	var b [5]byte
	for i := range b {
		b[i] = base64Chars[(id>>(24-6*uint(i)))&63]
	}
	return string(b[:])
}

// passwordLen is the length of our ICE password. GNS makes 5-character
// passwords and accepts any length; pion insists on at least 22 for the
// local side, so ours is longer than GNS's.
const passwordLen = 24

func newPassword() (string, error) {
	var raw [passwordLen]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	for i, v := range raw {
		raw[i] = base64Chars[v&63]
	}
	return string(raw[:]), nil
}

// ConnectionIDSafe reports whether id can be used as a local connection ID
// on an ICE path without inbound SNP data being mistaken for STUN. Bytes 4-7
// of an SNP data packet are the top byte of the recipient's connection ID
// and its packet number; pion treats any datagram whose bytes 4-7 equal the
// STUN magic cookie 0x2112A442 as STUN, so an ID whose top byte is 0x21
// could see some of its data packets swallowed.
func ConnectionIDSafe(id uint32) bool { return id>>24 != 0x21 }
