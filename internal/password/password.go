// Package password hashes and checks passwords with argon2id.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/trustelem/zxcvbn"
	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters. They are stored in every hash, so
// raising them later only affects new hashes.
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultParams are OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
var DefaultParams = Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

// ErrMismatch means the password does not match the hash.
var ErrMismatch = errors.New("password does not match")

// Hasher hashes passwords with a bound on how many run at once: each takes
// Params.MemoryKiB of memory, so a burst of logins must queue, not exhaust it.
type Hasher struct {
	params Params
	sem    chan struct{}
	// reserved is one more slot that only priority work may take: a
	// teacher on a device used before gets a hash slot however many
	// guesses queue for the others.
	reserved chan struct{}
	dummy    string // hash compared against when an account does not exist
	// verifies counts Verify and VerifyDummy calls, so tests can check that
	// an unknown e-mail costs a hash like a known one.
	verifies atomic.Int64
}

// NewHasher returns a Hasher running at most concurrency hashes at once.
func NewHasher(p Params, concurrency int) *Hasher {
	if concurrency < 1 {
		concurrency = 1
	}
	h := &Hasher{params: p, sem: make(chan struct{}, concurrency), reserved: make(chan struct{}, 1)}
	h.dummy = h.encode(make([]byte, 16), "not a password")
	return h
}

// Hash returns an encoded argon2id hash of pw in the PHC string format.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	release, err := h.acquire(ctx, false)
	if err != nil {
		return "", err
	}
	defer release()
	salt := make([]byte, 16)
	rand.Read(salt)
	return h.encode(salt, pw), nil
}

func (h *Hasher) encode(salt []byte, pw string) string {
	p := h.params
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify checks pw against an encoded hash. Returns ErrMismatch when it
// does not match.
func (h *Hasher) Verify(ctx context.Context, encoded, pw string) error {
	return h.verify(ctx, encoded, pw, false)
}

// VerifyPriority is Verify that may also take the reserved slot.
func (h *Hasher) VerifyPriority(ctx context.Context, encoded, pw string) error {
	return h.verify(ctx, encoded, pw, true)
}

func (h *Hasher) verify(ctx context.Context, encoded, pw string, priority bool) error {
	h.verifies.Add(1)
	p, salt, key, err := decode(encoded)
	if err != nil {
		return err
	}
	release, err := h.acquire(ctx, priority)
	if err != nil {
		return err
	}
	defer release()
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return ErrMismatch
	}
	return nil
}

// VerifyDummy costs what Verify costs and always fails; it answers for an
// account that does not exist, so that the answer's timing does not tell.
func (h *Hasher) VerifyDummy(ctx context.Context, pw string) error {
	if err := h.Verify(ctx, h.dummy, pw); err != nil && !errors.Is(err, ErrMismatch) {
		return err
	}
	return ErrMismatch
}

// Guessable returns why pw is too easy to guess, or "": zxcvbn's estimate
// (its lists of common passwords, names and words, keyboard patterns,
// dates, repeats, and userInputs such as the e-mail and name) must be at
// least MinScore.
func Guessable(pw string, userInputs ...string) string {
	if Score(pw, userInputs...) < MinScore {
		return "is too easy to guess; use a few words that do not belong together"
	}
	return ""
}

// MinScore is the zxcvbn score a password needs: 3 means at least 10^8
// guesses ("safely unguessable" online, and a common or breached password
// scores lower).
const MinScore = 3

// maxScoredRunes bounds the work of one estimate: zxcvbn's cost grows with
// the length, and 64 characters are more than any guessable password.
const maxScoredRunes = 64

// Score is zxcvbn's strength score of pw, 0 (a common password) to 4.
func Score(pw string, userInputs ...string) int {
	if r := []rune(pw); len(r) > maxScoredRunes {
		pw = string(r[:maxScoredRunes])
	}
	var inputs []string
	for _, in := range userInputs {
		// The parts of an e-mail address are what people reuse.
		inputs = append(inputs, strings.FieldsFunc(strings.ToLower(in), func(r rune) bool { return r == '@' || r == '.' || r == ' ' })...)
	}
	return zxcvbn.PasswordStrength(pw, inputs).Score
}

// Verifies returns how many verifications ran (for tests).
func (h *Hasher) Verifies() int64 { return h.verifies.Load() }

// acquire takes a hash slot (with priority, the reserved one too) and
// returns its release.
func (h *Hasher) acquire(ctx context.Context, priority bool) (func(), error) {
	reserved := h.reserved
	if !priority {
		reserved = nil // a nil channel never receives: no reserved slot
	}
	select {
	case h.sem <- struct{}{}:
		return func() { <-h.sem }, nil
	case reserved <- struct{}{}:
		return func() { <-h.reserved }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a password hash slot: %w", ctx.Err())
	}
}

func decode(encoded string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("password hash: not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, fmt.Errorf("password hash: unsupported version %q", parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, fmt.Errorf("password hash: parameters: %w", err)
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, fmt.Errorf("password hash: salt: %w", err)
	}
	if key, err = b64.DecodeString(parts[5]); err != nil {
		return p, nil, nil, fmt.Errorf("password hash: key: %w", err)
	}
	return p, salt, key, nil
}
