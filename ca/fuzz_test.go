package ca

import (
	"testing"
	"time"
)

// FuzzParseCredential: any text either fails or yields a credential whose
// key matches its certificate and which re-encodes to the same fields.
func FuzzParseCredential(f *testing.F) {
	a, _ := New()
	cred, _ := a.Issue("str:seed", t0, time.Hour)
	text, _ := cred.MarshalPEM()
	f.Add(text)
	f.Add(cred.CertificatePEM())
	f.Add(a.MarshalPublicKey())
	f.Fuzz(func(t *testing.T, text []byte) {
		c, err := ParseCredential(text)
		if err != nil {
			return
		}
		again, err := c.MarshalPEM()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseCredential(again)
		if err != nil || c2.Identity != c.Identity || !c2.PrivateKey.Equal(c.PrivateKey) || string(c2.Certificate) != string(c.Certificate) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzVerify: any bytes are verified or refused without panicking.
func FuzzVerify(f *testing.F) {
	a, _ := New()
	cred, _ := a.Issue("str:seed", t0, time.Hour)
	f.Add(cred.Certificate, "str:seed")
	f.Add([]byte{}, "")
	trust := NewTrust(a.PublicKey())
	f.Fuzz(func(t *testing.T, blob []byte, id string) {
		c, err := trust.Verify(blob, id, t0)
		if err == nil && (c.PublicKey == nil || c.Identity == "") {
			t.Fatal("verified certificate without key or identity")
		}
	})
}
