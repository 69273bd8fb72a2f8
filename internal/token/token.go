// Package token makes the random secrets classboard hands out (session
// tokens, board secrets, claim tokens, tickets, reset tokens) and the hashes
// under which the store keeps them.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// New returns 256 random bits as base64url without padding (43 characters).
func New() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hash returns the hex SHA-256 of a secret. Secrets are 256 random bits, so a
// fast hash is enough: there is nothing to brute-force. The hex form is also a
// safe key for the store.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Valid reports whether s looks like a token New made, so that garbage is
// refused before it costs a store lookup.
func Valid(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
