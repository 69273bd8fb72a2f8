package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// keyPart makes a safe KV key segment from text that may contain anything.
// Plain ids and names pass unchanged; anything else is hashed, so user input
// can never add a ".", "*", ">" or whitespace to a key.
func keyPart(s string) string {
	// Under 64 characters, so a passed-through value never equals a hash.
	if s != "" && len(s) < 64 && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) < 0 {
		return s
	}
	return hashKey(s)
}

// hashKey returns the hex SHA-256 of s, a key that reveals nothing of s.
func hashKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
