package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/password"
	"github.com/classboard/classboard/internal/token"
)

// Login limits. Failures are counted per account-and-address pair and per
// address, which answer 429. The account as a whole only slows down, and
// only for clients it has not seen before: a device that signed in to the
// account earlier carries a device token (OWASP's "device cookies") and is
// limited on its own instead, so whoever hammers a teacher's account from
// many addresses never keeps the teacher out on their own laptop or phone.
const (
	loginWindow      = 15 * time.Minute
	loginPairLimit   = 5  // failures per e-mail and address per window
	loginAddrLimit   = 50 // failures per address per window (a school shares one address)
	loginDeviceLimit = 5  // failures per device token per window, then it counts as a new device
	loginSlowAfter   = 5  // failures per account before new devices slow down
	loginMaxSlowdown = 5 * time.Second
	// deviceTokenTTL is how long a device is remembered after the login
	// that made its token.
	deviceTokenTTL = 365 * 24 * time.Hour
)

// loginSlowdown is the wait before a new device's password is checked
// after failures failed logins to the account in the window: 0.25 s,
// doubling, at most loginMaxSlowdown.
func loginSlowdown(failures int) time.Duration {
	if failures < loginSlowAfter {
		return 0
	}
	return min(loginMaxSlowdown, 250*time.Millisecond<<min(failures-loginSlowAfter, 10))
}

// deviceDoc remembers a device that signed in to an account, under
// "device.<hash of its token>" in the sessions bucket.
type deviceDoc struct {
	V         int       `json:"v"`
	TeacherID string    `json:"teacher_id"`
	Email     string    `json:"email"` // lower case, as the limits count it
	CreatedAt time.Time `json:"created_at"`
}

func deviceKey(tok string) string { return "device." + token.Hash(tok) }

// teacherDoc is how a teacher is stored. V is the schema version; readers
// accept every older version.
type teacherDoc struct {
	V int `json:"v"`
	classboard.Teacher
	PasswordHash string `json:"password_hash"`
	// SessionsNotBefore ends every session created before it (password reset).
	SessionsNotBefore time.Time `json:"sessions_not_before,omitzero"`
}

// sessionDoc is a login session, stored under the hash of its token.
type sessionDoc struct {
	V         int       `json:"v"`
	TeacherID string    `json:"teacher_id"`
	Device    string    `json:"device,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	IdleUntil time.Time `json:"idle_until"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Accounts implements classboard.AccountService.
type Accounts struct {
	s *Store
	// SessionIdle and SessionMax are the idle and absolute session lifetimes.
	SessionIdle, SessionMax time.Duration
	// RefreshAfter is how old the last refresh of the idle expiry must be
	// before a request refreshes it again: a request should not be a write.
	RefreshAfter time.Duration
}

var _ classboard.AccountService = (*Accounts)(nil)

// Accounts returns the account service with default session lifetimes
// (30 days idle, 90 days at most, refreshed at most once a day).
func (s *Store) Accounts() *Accounts {
	return &Accounts{s: s, SessionIdle: 30 * 24 * time.Hour, SessionMax: 90 * 24 * time.Hour, RefreshAfter: 24 * time.Hour}
}

func emailKey(email string) string { return hashKey(strings.ToLower(email)) }

// CreateTeacher stores the teacher, then claims the e-mail with a KV create
// of its index key: of two concurrent sign-ups exactly one create succeeds.
// The loser removes its teacher document; a crash between the two writes
// leaves an unreachable teacher document and nothing else.
func (a *Accounts) CreateTeacher(ctx context.Context, in classboard.SignUp) (*classboard.Teacher, error) {
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, err
	}
	hash, err := a.s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return a.createTeacher(ctx, in.Email, in.Name, hash)
}

// createTeacher stores a teacher with a password hash; see CreateTeacher.
func (a *Accounts) createTeacher(ctx context.Context, email, name, hash string) (*classboard.Teacher, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("new teacher id: %w", err)
	}
	doc := teacherDoc{
		V:            1,
		Teacher:      classboard.Teacher{ID: id.String(), Email: email, Name: name, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)},
		PasswordHash: hash,
	}
	if _, err := a.s.teachers.create(ctx, doc.ID, doc, 0); err != nil {
		return nil, storeErr(fmt.Errorf("create teacher: %w", err))
	}
	if _, err := a.s.emails.create(ctx, emailKey(email), doc.ID, 0); err != nil {
		if derr := a.s.teachers.delete(context.WithoutCancel(ctx), doc.ID, 0); derr != nil {
			a.s.log.Error("remove teacher after failed sign-up", "teacher", doc.ID, "err", derr)
		}
		if errors.Is(err, errExists) {
			return nil, classboard.Errorf(classboard.EEMAILTAKEN, "An account with this e-mail address exists already.")
		}
		return nil, storeErr(fmt.Errorf("claim e-mail: %w", err))
	}
	t := doc.Teacher
	return &t, nil
}

// Teacher returns the teacher with id.
func (a *Accounts) Teacher(ctx context.Context, id string) (*classboard.Teacher, error) {
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	doc, _, err := a.s.teacherDoc(ctx, id)
	if err != nil {
		return nil, err
	}
	return &doc.Teacher, nil
}

func (s *Store) teacherDoc(ctx context.Context, id string) (*teacherDoc, uint64, error) {
	var doc teacherDoc
	rev, err := s.teachers.get(ctx, keyPart(id), &doc)
	if errors.Is(err, errNotFound) {
		return nil, 0, classboard.Errorf(classboard.ENOTFOUND, "No such teacher.")
	}
	if err != nil {
		return nil, 0, storeErr(fmt.Errorf("load teacher %s: %w", id, err))
	}
	return &doc, rev, nil
}

// session returns the session stored under key, from the view when it
// can vouch for it.
func (s *Store) session(ctx context.Context, key string) (*sessionDoc, uint64, error) {
	sess, rev, ans := s.view.sessions.get(key)
	var err error
	if ans == viewAsk {
		var stored sessionDoc
		var storedRev uint64
		sess, rev, ans, err = s.view.sessions.await(ctx, key, func(ctx context.Context) (err error) {
			storedRev, err = s.sessions.get(ctx, key, &stored)
			return err
		})
		if ans == viewAsk {
			sess, rev = stored, storedRev
		}
	}
	switch ans {
	case viewHit:
		return &sess, rev, nil
	case viewGone:
		return nil, 0, errBadToken
	}
	if errors.Is(err, errNotFound) {
		return nil, 0, errBadToken
	}
	if err != nil {
		return nil, 0, storeErr(fmt.Errorf("load session: %w", err))
	}
	return &sess, rev, nil
}

// authTeacher returns what authentication needs of a teacher, from the
// view when it can vouch for it. Writes read teacherDoc, from the store.
func (s *Store) authTeacher(ctx context.Context, id string) (*teacherView, error) {
	t, _, ans := s.view.teachers.get(keyPart(id))
	switch ans {
	case viewHit:
		return &t, nil
	case viewGone:
		return nil, classboard.Errorf(classboard.ENOTFOUND, "No such teacher.")
	}
	doc, _, err := s.teacherDoc(ctx, id)
	if err != nil {
		return nil, err
	}
	return &teacherView{Teacher: doc.Teacher, SessionsNotBefore: doc.SessionsNotBefore}, nil
}

// teacherByEmail returns the teacher with this e-mail, or ENOTFOUND.
func (s *Store) teacherByEmail(ctx context.Context, email string) (*teacherDoc, uint64, error) {
	var id string
	if _, err := s.emails.get(ctx, emailKey(email), &id); err != nil {
		if errors.Is(err, errNotFound) {
			return nil, 0, classboard.Errorf(classboard.ENOTFOUND, "No such teacher.")
		}
		return nil, 0, storeErr(fmt.Errorf("look up e-mail: %w", err))
	}
	return s.teacherDoc(ctx, id)
}

// knownDevice reports whether tok is a device token of the account with
// this e-mail that has not failed too often lately.
func (a *Accounts) knownDevice(ctx context.Context, email, tok string) (bool, error) {
	if !token.Valid(tok) {
		return false, nil
	}
	var d deviceDoc
	if _, err := a.s.sessions.get(ctx, deviceKey(tok), &d); errors.Is(err, errNotFound) {
		return false, nil
	} else if err != nil {
		return false, storeErr(fmt.Errorf("load device: %w", err))
	}
	if d.Email != strings.ToLower(email) {
		return false, nil
	}
	n, _, err := a.s.count(ctx, "login-device", tok, loginWindow)
	if err != nil {
		return false, storeErr(err)
	}
	return n < loginDeviceLimit, nil
}

// LoginDelay returns the wait before in's password is checked: see
// loginSlowdown. A known device never waits; a client over its address
// limits gets Login's ERATELIMITED at once instead of waiting first.
func (a *Accounts) LoginDelay(ctx context.Context, in classboard.Login, clientAddr string) (time.Duration, error) {
	if err := in.Validate(); err != nil {
		return 0, err
	}
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	if known, err := a.knownDevice(ctx, in.Email, in.DeviceToken); err != nil || known {
		return 0, err
	}
	if err := a.addressLimits(ctx, in.Email, clientAddr); err != nil {
		return 0, err
	}
	n, _, err := a.s.count(ctx, "login-account", strings.ToLower(in.Email), loginWindow)
	if err != nil {
		return 0, storeErr(err)
	}
	return loginSlowdown(n), nil
}

// addressLimits refuses a login from a client that failed too often for
// this e-mail, or for any, lately.
func (a *Accounts) addressLimits(ctx context.Context, email, clientAddr string) error {
	for _, c := range []struct {
		scope, subject string
		limit          int
	}{{"login-pair", loginPair(email, clientAddr), loginPairLimit}, {"login-addr", clientAddr, loginAddrLimit}} {
		n, wait, err := a.s.count(ctx, c.scope, c.subject, loginWindow)
		if err != nil {
			return storeErr(err)
		}
		if n >= c.limit {
			return rateLimited(c.scope, wait)
		}
	}
	return nil
}

func loginPair(email, clientAddr string) string { return strings.ToLower(email) + "\x00" + clientAddr }

// Login checks the password and creates a session. Each store step has its
// own time budget: the password hash may wait for a slot under load, and
// that wait must not turn the writes after it into a 503.
func (a *Accounts) Login(ctx context.Context, in classboard.Login, clientAddr string) (*classboard.Session, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	email := strings.ToLower(in.Email)
	pair := loginPair(email, clientAddr)
	doc, known, err := a.loginCheck(ctx, in, clientAddr)
	if err != nil {
		return nil, err
	}
	switch {
	case doc != nil && known:
		err = a.s.hasher.VerifyPriority(ctx, doc.PasswordHash, in.Password)
	case doc != nil:
		err = a.s.hasher.Verify(ctx, doc.PasswordHash, in.Password)
	default:
		// The same work as for a real account, so that neither the answer
		// nor its timing tells whether the e-mail has an account.
		err = a.s.hasher.VerifyDummy(ctx, in.Password)
	}
	opCtx, cancel, oerr := a.s.opContext(ctx)
	if oerr != nil {
		return nil, oerr
	}
	defer cancel()
	if errors.Is(err, password.ErrMismatch) {
		counters := [][2]string{{"login-account", email}}
		if known {
			counters = append(counters, [2]string{"login-device", in.DeviceToken})
		} else {
			counters = append(counters, [2]string{"login-pair", pair}, [2]string{"login-addr", clientAddr})
		}
		for _, c := range counters {
			if _, herr := a.s.hit(opCtx, c[0], c[1], loginWindow); herr != nil {
				a.s.log.Warn("count failed login", "scope", c[0], "err", herr)
			}
		}
		return nil, classboard.Errorf(classboard.EINVALIDCREDENTIALS, "The e-mail address or the password is wrong.")
	}
	if err != nil {
		return nil, err
	}

	now := time.Now().UTC().Truncate(time.Millisecond)
	tok := token.New()
	sess := sessionDoc{
		V: 1, TeacherID: doc.ID, Device: in.Device, CreatedAt: now,
		IdleUntil: now.Add(a.SessionIdle), ExpiresAt: now.Add(a.SessionMax),
	}
	if _, err := a.s.sessions.create(opCtx, token.Hash(tok), sess, a.SessionMax); err != nil {
		return nil, storeErr(fmt.Errorf("create session: %w", err))
	}
	t := doc.Teacher
	out := &classboard.Session{Token: tok, ExpiresAt: sess.expiry(), Teacher: &t, DeviceToken: in.DeviceToken}
	if !known {
		// A failure to remember the device costs the teacher nothing now.
		dev := deviceDoc{V: 1, TeacherID: doc.ID, Email: email, CreatedAt: now}
		out.DeviceToken = token.New()
		if _, err := a.s.sessions.create(opCtx, deviceKey(out.DeviceToken), dev, deviceTokenTTL); err != nil {
			a.s.log.Warn("remember device", "err", err)
			out.DeviceToken = ""
		}
	}
	return out, nil
}

// loginCheck applies the limits and loads the teacher (nil for an unknown
// e-mail). known tells whether the client is a device the account knows.
func (a *Accounts) loginCheck(ctx context.Context, in classboard.Login, clientAddr string) (doc *teacherDoc, known bool, err error) {
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	if known, err = a.knownDevice(ctx, in.Email, in.DeviceToken); err != nil {
		return nil, false, err
	}
	if !known {
		if err := a.addressLimits(ctx, in.Email, clientAddr); err != nil {
			return nil, false, err
		}
	}
	doc, _, err = a.s.teacherByEmail(ctx, in.Email)
	if classboard.ErrorCode(err) == classboard.ENOTFOUND {
		return nil, known, nil
	}
	return doc, known, err
}

func (d sessionDoc) expiry() time.Time {
	if d.IdleUntil.Before(d.ExpiresAt) {
		return d.IdleUntil
	}
	return d.ExpiresAt
}

// rateLimited is the refusal of a request over the limit named rule.
func rateLimited(rule string, wait time.Duration) error {
	return &classboard.Error{Code: classboard.ERATELIMITED, Message: "Too many attempts; wait a little and try again.", RetryAfter: wait, Rule: rule}
}

var errBadToken = classboard.Errorf(classboard.EUNAUTHORIZED, "Sign in again.")

// Authenticate returns the teacher holding token.
func (a *Accounts) Authenticate(ctx context.Context, tok string) (*classboard.Auth, error) {
	if !token.Valid(tok) {
		return nil, errBadToken
	}
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	key := token.Hash(tok)
	sess, rev, err := a.s.session(ctx, key)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if !now.Before(sess.expiry()) {
		return nil, errBadToken
	}
	doc, err := a.s.authTeacher(ctx, sess.TeacherID)
	if classboard.ErrorCode(err) == classboard.ENOTFOUND {
		return nil, errBadToken
	}
	if err != nil {
		return nil, err
	}
	if sess.CreatedAt.Before(doc.SessionsNotBefore) {
		return nil, errBadToken
	}
	// The TTL passed on with a refresh is what is left of the absolute maximum.
	if sess.IdleUntil.Sub(now) < a.SessionIdle-a.RefreshAfter && sess.IdleUntil.Before(sess.ExpiresAt) {
		sess.IdleUntil = now.UTC().Add(a.SessionIdle)
		if _, err := a.s.sessions.update(ctx, key, sess, rev, time.Until(sess.ExpiresAt)); err != nil && !errors.Is(err, errRevision) {
			a.s.log.Warn("refresh session", "err", err)
		}
	}
	t := doc.Teacher
	return &classboard.Auth{Teacher: &t, SessionID: key, Device: sess.Device}, nil
}

// Logout deletes the session: at once on this node (its view marks it
// gone), within viewMaxLag on every other (see view.go).
func (a *Accounts) Logout(ctx context.Context, tok string) error {
	if !token.Valid(tok) {
		return errBadToken
	}
	ctx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return storeErr(a.s.sessions.delete(ctx, token.Hash(tok), 0))
}
