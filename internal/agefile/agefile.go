// Package agefile encrypts and decrypts files with age (filippo.io/age) to
// the identities kept in a key file. A key file is what `age-keygen` (or
// NewKey) writes: the secret key, which both encrypts (through its public
// key) and decrypts, so one file serves backup and restore.
package agefile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"filippo.io/age"
)

// header starts every age file.
const header = "age-encryption.org/"

// IsEncrypted reports whether a file starting with prefix is age-encrypted.
func IsEncrypted(prefix []byte) bool { return bytes.HasPrefix(prefix, []byte(header)) }

// NewKey writes a fresh key to path with mode 0600; it never overwrites a
// file (a lost key makes every backup made with it unreadable). The key is
// post-quantum hybrid (ML-KEM-768 + X25519): a backup may be kept for years.
func NewKey(path string) error {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create key file: %w", err)
	}
	_, err = fmt.Fprintf(f, "# created: %s\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	return nil
}

func identities(keyFile string) ([]age.Identity, error) {
	f, err := os.Open(keyFile)
	if err != nil {
		return nil, fmt.Errorf("open key file: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("read key file %s: %w", keyFile, err)
	}
	return ids, nil
}

// Encrypt returns a writer that encrypts to every key in keyFile; Close
// finishes the file.
func Encrypt(w io.Writer, keyFile string) (io.WriteCloser, error) {
	ids, err := identities(keyFile)
	if err != nil {
		return nil, err
	}
	var rs []age.Recipient
	for _, id := range ids {
		switch id := id.(type) {
		case *age.HybridIdentity:
			rs = append(rs, id.Recipient())
		case *age.X25519Identity:
			rs = append(rs, id.Recipient())
		default:
			return nil, fmt.Errorf("key file %s: unsupported key type %T", keyFile, id)
		}
	}
	return age.Encrypt(w, rs...)
}

// ErrWrongKey says that the key file does not open the file.
var ErrWrongKey = errors.New("the key file does not open this backup (it was encrypted with another key)")

// Decrypt returns a reader of the decrypted contents of r. Tampering is
// detected as the reader reaches it (age authenticates every 64 KiB).
func Decrypt(r io.Reader, keyFile string) (io.Reader, error) {
	ids, err := identities(keyFile)
	if err != nil {
		return nil, err
	}
	d, err := age.Decrypt(r, ids...)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return nil, ErrWrongKey
		}
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	return d, nil
}
