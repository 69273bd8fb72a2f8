package classboard

import (
	"context"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/classboard/classboard/internal/password"
)

// Limits on account fields.
const (
	MinPasswordLength = 10   // characters
	MaxPasswordBytes  = 1024 // bytes; argon2 would hash more, but nobody types it
	MaxEmailBytes     = 254  // RFC 5321 path limit
	MaxNameLength     = 100  // characters
)

// Teacher is an account. It never carries the password hash.
type Teacher struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// SignUp is the input of a new account.
type SignUp struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// Normalize trims the e-mail and name; the password is kept as typed.
func (s *SignUp) Normalize() {
	s.Email = strings.TrimSpace(s.Email)
	s.Name = strings.TrimSpace(s.Name)
}

// Validate returns EINVALID with per-field reasons.
func (s *SignUp) Validate() error {
	v := ValidationErrors{}
	if reason := ValidateEmail(s.Email); reason != "" {
		v.Add("email", reason)
	}
	if reason := ValidatePassword(s.Password, s.Email); reason != "" {
		v.Add("password", reason)
	}
	switch n := utf8.RuneCountInString(s.Name); {
	case n == 0:
		v.Add("name", "is required")
	case n > MaxNameLength:
		v.Add("name", "is longer than 100 characters")
	case !ValidLine(s.Name):
		v.Add("name", "contains control characters")
	}
	return v.Err()
}

// ValidateEmail returns why e is not an acceptable e-mail address, or "".
func ValidateEmail(e string) string {
	if e == "" {
		return "is required"
	}
	if len(e) > MaxEmailBytes {
		return "is too long"
	}
	a, err := mail.ParseAddress(e)
	// ParseAddress accepts "Name <a@b>"; an account e-mail is the bare address.
	if err != nil || a.Address != e || !strings.Contains(e[strings.LastIndexByte(e, '@')+1:], ".") {
		return "is not an e-mail address"
	}
	return ""
}

// ValidatePassword returns why p is not an acceptable password for the
// account with this e-mail, or "".
func ValidatePassword(p, email string) string {
	switch {
	case len(p) > MaxPasswordBytes:
		return "is longer than 1024 bytes"
	case utf8.RuneCountInString(p) < MinPasswordLength:
		return "is shorter than 10 characters"
	case strings.EqualFold(strings.TrimSpace(p), strings.TrimSpace(email)):
		return "must not be your e-mail address"
	}
	return password.Guessable(p, email)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f }

// isBidiControl reports the characters that reorder text around them
// (embeddings, overrides, isolates, marks): in a name or a title shown to
// others they make one text look like another.
func isBidiControl(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
}

// ValidLine reports whether s is valid UTF-8 without control characters
// (NUL, ESC, C1 ...) and bidi controls: what one-line texts (names, device
// labels, titles) must be.
func ValidLine(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return isControl(r) || isBidiControl(r) })
}

// SignUpResult is the answer to a sign-up: the new teacher when accounts
// are active at once, else nil and the confirmation goes by mail.
type SignUpResult struct {
	Teacher *Teacher
}

// SignUpService opens accounts.
type SignUpService interface {
	// SignUp opens an account. Without mail delivery the account is active
	// at once (EEMAILTAKEN when the e-mail has one). With mail, it queues a
	// confirmation link to the address, or to the owner of a taken address
	// a note that someone tried, and answers the same in both cases.
	// Returns EINVALID for bad input and ERATELIMITED when clientAddr, or
	// everyone together, signed up too often lately.
	SignUp(ctx context.Context, in SignUp, clientAddr string) (*SignUpResult, error)
	// ConfirmSignUp opens the account of a confirmation link. Returns
	// EINVALIDTOKEN for a token that is wrong, used or expired, and
	// EEMAILTAKEN when the address got an account meanwhile.
	ConfirmSignUp(ctx context.Context, token string) (*Teacher, error)
}

// Login is the input of POST /api/v1/sessions.
type Login struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Device   string `json:"device,omitempty"`
	// DeviceToken is what an earlier login on this device returned: it
	// marks the client as one the teacher used before, which an attack on
	// the account does not slow down (OWASP's "device cookies").
	DeviceToken string `json:"device_token,omitempty"`
}

// Validate trims the e-mail and device label and returns EINVALID with
// per-field reasons.
func (in *Login) Validate() error {
	v := ValidationErrors{}
	in.Email = strings.TrimSpace(in.Email)
	in.Device = strings.TrimSpace(in.Device)
	if in.Email == "" || len(in.Email) > MaxEmailBytes {
		v.Add("email", "is required")
	}
	if in.Password == "" || len(in.Password) > MaxPasswordBytes {
		v.Add("password", "is required")
	}
	switch {
	case len([]rune(in.Device)) > MaxDeviceLength:
		v.Add("device", "is longer than 60 characters")
	case !ValidLine(in.Device):
		v.Add("device", "contains control characters")
	}
	if len(in.DeviceToken) > 64 {
		v.Add("device_token", "is not a device token")
	}
	return v.Err()
}

// MaxDeviceLength bounds the device label a session keeps.
const MaxDeviceLength = 60

// Session is what a client gets at login. The token is shown once; the
// server keeps only its hash.
type Session struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	Teacher   *Teacher  `json:"teacher"`
	// DeviceToken is sent with later logins from this device (Login). It
	// outlives the session and signing out; it grants nothing by itself.
	DeviceToken string `json:"device_token,omitempty"`
}

// AccountService manages teachers and their sessions.
type AccountService interface {
	// CreateTeacher creates an account. Returns EINVALID for bad input and
	// EEMAILTAKEN when an account with this e-mail (any case) exists.
	CreateTeacher(ctx context.Context, in SignUp) (*Teacher, error)
	// LoginDelay returns how long a login must wait before Login checks
	// its password: zero, unless the account had many failed logins lately
	// and the client is not a device the teacher used before. The caller
	// waits outside any store operation, so the wait never turns into an
	// EUNAVAILABLE. Returns ERATELIMITED as Login would, so that a refused
	// client does not wait first.
	LoginDelay(ctx context.Context, in Login, clientAddr string) (time.Duration, error)
	// Login checks the password and starts a session. Returns
	// EINVALIDCREDENTIALS for an unknown e-mail and a wrong password alike,
	// and ERATELIMITED when too many attempts failed from clientAddr (a
	// device the teacher used before is limited on its own instead).
	Login(ctx context.Context, in Login, clientAddr string) (*Session, error)
	// Authenticate returns who holds token, refreshing its idle expiry at
	// most once a day. Returns EUNAUTHORIZED for an unknown, expired or
	// revoked token.
	Authenticate(ctx context.Context, token string) (*Auth, error)
	// Logout ends the session of token on every node.
	Logout(ctx context.Context, token string) error
	// Teacher returns a teacher by id. Returns ENOTFOUND.
	Teacher(ctx context.Context, id string) (*Teacher, error)
}

// Auth is the caller of a request: a teacher's session or a board.
type Auth struct {
	Teacher   *Teacher // nil for a board
	SessionID string   // hash of the teacher's token; empty for a board
	Device    string   // the session's device label
	BoardID   string   // set when a board is the caller
}

type authKey struct{}

// NewContextWithAuth returns ctx carrying the caller.
func NewContextWithAuth(ctx context.Context, a *Auth) context.Context {
	return context.WithValue(ctx, authKey{}, a)
}

// AuthFromContext returns the caller, or nil.
func AuthFromContext(ctx context.Context) *Auth {
	a, _ := ctx.Value(authKey{}).(*Auth)
	return a
}
