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
// address, which answer 429; the account as a whole only slows down, so a
// pupil who types wrong passwords cannot lock a teacher out.
const (
	loginWindow      = 15 * time.Minute
	loginPairLimit   = 5  // failures per e-mail and address per window
	loginAddrLimit   = 50 // failures per address per window (a school shares one address)
	loginSlowAfter   = 5  // failures per account before answers slow down
	loginMaxSlowdown = 5 * time.Second
)

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
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("new teacher id: %w", err)
	}
	doc := teacherDoc{
		V:            1,
		Teacher:      classboard.Teacher{ID: id.String(), Email: in.Email, Name: in.Name, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)},
		PasswordHash: hash,
	}
	if _, err := a.s.teachers.create(ctx, doc.ID, doc, 0); err != nil {
		return nil, storeErr(fmt.Errorf("create teacher: %w", err))
	}
	if _, err := a.s.emails.create(ctx, emailKey(in.Email), doc.ID, 0); err != nil {
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
	switch ans {
	case viewHit:
		return &sess, rev, nil
	case viewGone:
		return nil, 0, errBadToken
	}
	rev, err := s.sessions.get(ctx, key, &sess)
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

// Login checks the password and creates a session.
func (a *Accounts) Login(ctx context.Context, in classboard.Login, clientAddr string) (*classboard.Session, error) {
	v := classboard.ValidationErrors{}
	in.Email = strings.TrimSpace(in.Email)
	in.Device = strings.TrimSpace(in.Device)
	if in.Email == "" || len(in.Email) > classboard.MaxEmailBytes {
		v.Add("email", "is required")
	}
	if in.Password == "" || len(in.Password) > classboard.MaxPasswordBytes {
		v.Add("password", "is required")
	}
	if len([]rune(in.Device)) > classboard.MaxDeviceLength {
		v.Add("device", "is longer than 60 characters")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	opCtx, cancel, err := a.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()

	pair := strings.ToLower(in.Email) + "\x00" + clientAddr
	if n, wait, err := a.s.count(opCtx, "login-pair", pair, loginWindow); err != nil {
		return nil, storeErr(err)
	} else if n >= loginPairLimit {
		return nil, rateLimited(wait)
	}
	if n, wait, err := a.s.count(opCtx, "login-addr", clientAddr, loginWindow); err != nil {
		return nil, storeErr(err)
	} else if n >= loginAddrLimit {
		return nil, rateLimited(wait)
	}
	if n, _, err := a.s.count(opCtx, "login-account", strings.ToLower(in.Email), loginWindow); err != nil {
		return nil, storeErr(err)
	} else if n >= loginSlowAfter {
		delay := min(loginMaxSlowdown, 250*time.Millisecond<<min(n-loginSlowAfter, 10))
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}

	doc, _, err := a.s.teacherByEmail(opCtx, in.Email)
	switch {
	case err == nil:
		err = a.s.hasher.Verify(ctx, doc.PasswordHash, in.Password)
	case classboard.ErrorCode(err) == classboard.ENOTFOUND:
		// The same work as for a real account, so that neither the answer
		// nor its timing tells whether the e-mail has an account.
		err = a.s.hasher.VerifyDummy(ctx, in.Password)
	}
	if errors.Is(err, password.ErrMismatch) {
		for _, c := range [][2]string{{"login-pair", pair}, {"login-addr", clientAddr}, {"login-account", strings.ToLower(in.Email)}} {
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
	return &classboard.Session{Token: tok, ExpiresAt: sess.expiry(), Teacher: &t}, nil
}

func (d sessionDoc) expiry() time.Time {
	if d.IdleUntil.Before(d.ExpiresAt) {
		return d.IdleUntil
	}
	return d.ExpiresAt
}

func rateLimited(wait time.Duration) error {
	return &classboard.Error{Code: classboard.ERATELIMITED, Message: "Too many attempts; wait a little and try again.", RetryAfter: wait}
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
