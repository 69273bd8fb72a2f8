package agefile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
)

// Both key kinds round-trip: this package's (post-quantum hybrid) and an
// X25519 key as `age-keygen` writes it by default. A key file is never
// overwritten, and another key does not open the file.
func TestKeysEncryptAndDecrypt(t *testing.T) {
	dir := t.TempDir()
	hybrid := filepath.Join(dir, "hybrid.key")
	if err := NewKey(hybrid); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(hybrid); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if err := NewKey(hybrid); err == nil {
		t.Error("NewKey overwrote a key file")
	}
	x, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	classic := filepath.Join(dir, "x25519.key")
	if err := os.WriteFile(classic, []byte("# created by age-keygen\n"+x.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plain := bytes.Repeat([]byte("pupils' photos "), 10000)
	for _, key := range []string{hybrid, classic} {
		var sealed bytes.Buffer
		w, err := Encrypt(&sealed, key)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(plain)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !IsEncrypted(sealed.Bytes()) || bytes.Contains(sealed.Bytes(), []byte("pupils")) {
			t.Fatalf("%s: not encrypted", key)
		}
		r, err := Decrypt(bytes.NewReader(sealed.Bytes()), key)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: round trip: %v", key, err)
		}
		other := classic
		if key == classic {
			other = hybrid
		}
		if _, err := Decrypt(bytes.NewReader(sealed.Bytes()), other); !errors.Is(err, ErrWrongKey) {
			t.Errorf("%s opened with another key: %v", key, err)
		}
	}
}
