package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mistnet/mist/ca"
)

func TestCACommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	var out, errOut bytes.Buffer
	if code := run([]string{"ca", "init", "--out", dir}, &out, &errOut); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errOut.String())
	}
	if st, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key: %v %v", err, st)
	}
	errOut.Reset()
	if code := run([]string{"ca", "init", "--out", dir}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "already exists") {
		t.Fatalf("init again: exit %d: %s", code, errOut.String())
	}
	file := filepath.Join(dir, "alice.pem")
	if code := run([]string{"ca", "issue", "--ca", dir, "--identity", "str:alice", "--valid", "2h", "--out", file}, &out, &errOut); code != 0 {
		t.Fatalf("issue: exit %d: %s", code, errOut.String())
	}
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := ca.ParseCredential(text)
	if err != nil {
		t.Fatal(err)
	}
	trust, err := ca.LoadTrust(filepath.Join(dir, "ca.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trust.Verify(cred.Certificate, "str:alice", time.Now()); err != nil {
		t.Fatalf("issued certificate: %v", err)
	}
	if _, err := trust.Verify(cred.Certificate, "str:alice", time.Now().Add(3*time.Hour)); err == nil {
		t.Fatal("--valid 2h certificate still valid after 3h")
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ca"}, "Usage"},
		{[]string{"ca", "sign"}, `unknown action "sign"`},
		{[]string{"ca", "init"}, "--out DIR is required"},
		{[]string{"ca", "issue", "--identity", "str:a", "--out", file}, "--ca DIR is required"},
		{[]string{"ca", "issue", "--ca", dir, "--out", file}, "--identity ID is required"},
		{[]string{"ca", "issue", "--ca", dir, "--identity", "alice", "--out", file}, "str:alice"},
		{[]string{"ca", "issue", "--ca", dir, "--identity", "str:a", "--valid", "-1h", "--out", file}, "positive duration"},
		{[]string{"ca", "issue", "--ca", dir, "--identity", "str:a"}, "--out FILE is required"},
	} {
		errOut.Reset()
		if code := run(tc.args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errOut.String())
		}
	}
}
