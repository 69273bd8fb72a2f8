package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/token"
)

// SignUpLimits bound sign-ups. Zero fields take the defaults.
type SignUpLimits struct {
	// PerAddr is how many sign-ups one client address makes per hour
	// (default 30: a school's staff signing up on a training day share
	// one address).
	PerAddr int
	// Global is how many sign-ups everyone together makes per hour
	// (default 300).
	Global int
	// PerEmail is how many sign-up mails one address receives per hour
	// (default 3), so that nobody is flooded with them.
	PerEmail int
	// TTL is how long a confirmation link works (default 24 hours).
	TTL time.Duration
}

func (l SignUpLimits) withDefaults() SignUpLimits {
	if l.PerAddr <= 0 {
		l.PerAddr = 30
	}
	if l.Global <= 0 {
		l.Global = 300
	}
	if l.PerEmail <= 0 {
		l.PerEmail = 3
	}
	if l.TTL <= 0 {
		l.TTL = 24 * time.Hour
	}
	return l
}

const signUpWindow = time.Hour

// pendingDoc is a sign-up waiting for its confirmation, under
// "signup.<hash of its token>" in the resets bucket: the token itself is
// only in the mail. It holds the password's hash, never the password.
type pendingDoc struct {
	V            int       `json:"v"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	PasswordHash string    `json:"password_hash"`
	CreatedAt    time.Time `json:"created_at"`
}

func pendingKey(tok string) string { return "signup." + token.Hash(tok) }

// SignUps implements classboard.SignUpService.
type SignUps struct {
	s      *Store
	limits SignUpLimits
	// byMail confirms sign-ups by a link in mail; without real mail
	// delivery accounts are active at once.
	byMail   bool
	linkBase string
}

var _ classboard.SignUpService = (*SignUps)(nil)

// SignUps returns the sign-up service. byMail is true when mail reaches
// people (SMTP is configured); linkBase is the teacher app's base URL.
func (s *Store) SignUps(byMail bool, linkBase string) *SignUps {
	return &SignUps{s: s, limits: s.cfg.SignUps.withDefaults(), byMail: byMail, linkBase: strings.TrimRight(linkBase, "/")}
}

// SignUp opens an account or queues its confirmation; see the interface.
func (u *SignUps) SignUp(ctx context.Context, in classboard.SignUp, clientAddr string) (*classboard.SignUpResult, error) {
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if err := u.checkLimits(ctx, clientAddr); err != nil {
		return nil, err
	}
	if !u.byMail {
		t, err := u.s.Accounts().CreateTeacher(ctx, in)
		if err != nil {
			return nil, err
		}
		return &classboard.SignUpResult{Teacher: t}, nil
	}
	// Hashed whether or not the address is taken, so that the time of the
	// answer does not tell either.
	hash, err := u.s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	ctx, cancel, err := u.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	n, err := u.s.hit(ctx, "signup-email", strings.ToLower(in.Email), signUpWindow)
	if err != nil {
		return nil, storeErr(err)
	}
	if n > u.limits.PerEmail {
		u.s.log.Info("sign-up mail rate-limited", "per_email", n)
		return &classboard.SignUpResult{}, nil
	}
	owner, _, err := u.s.teacherByEmail(ctx, in.Email)
	switch {
	case err == nil:
		return &classboard.SignUpResult{}, u.queueTaken(ctx, owner.Email, owner.Name)
	case classboard.ErrorCode(err) != classboard.ENOTFOUND:
		return nil, err
	}
	tok := token.New()
	doc := pendingDoc{V: 1, Email: in.Email, Name: in.Name, PasswordHash: hash, CreatedAt: time.Now().UTC()}
	if _, err := u.s.resets.create(ctx, pendingKey(tok), doc, u.limits.TTL); err != nil {
		return nil, storeErr(fmt.Errorf("store sign-up: %w", err))
	}
	m, err := newMail(in.Email, "Confirm your classboard account", fmt.Sprintf(
		"Hello %s,\n\n"+
			"to finish creating your classboard account, open this link within %d hours:\n\n"+
			"%s/confirm#token=%s\n\n"+
			"If you did not sign up, ignore this message: no account is made without the link.\n",
		in.Name, int(u.limits.TTL.Hours()), u.linkBase, tok))
	if err != nil {
		return nil, err
	}
	return &classboard.SignUpResult{}, u.s.queueMail(ctx, m)
}

// queueTaken tells the owner of a taken address that someone tried it.
func (u *SignUps) queueTaken(ctx context.Context, email, name string) error {
	m, err := newMail(email, "Someone tried to sign up with your address", fmt.Sprintf(
		"Hello %s,\n\n"+
			"someone just tried to create a classboard account with your e-mail address,\n"+
			"which has an account already. Nothing was changed.\n\n"+
			"If it was you: log in at %s/ with your password, or reset it there\n"+
			"(\"Forgot your password?\"). If it was not you, ignore this message.\n",
		name, u.linkBase))
	if err != nil {
		return err
	}
	return u.s.queueMail(ctx, m)
}

// checkLimits counts the sign-up against its address and everyone, and
// refuses it when either is over its limit. Every attempt counts, so that
// a refused one also uses up the window.
func (u *SignUps) checkLimits(ctx context.Context, clientAddr string) error {
	ctx, cancel, err := u.s.opContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	for _, c := range []struct {
		scope, subject string
		limit          int
	}{{"signup-addr", clientAddr, u.limits.PerAddr}, {"signup-global", "all", u.limits.Global}} {
		n, wait, err := u.s.count(ctx, c.scope, c.subject, signUpWindow)
		if err != nil {
			return storeErr(err)
		}
		if n >= c.limit {
			return rateLimited(c.scope, wait)
		}
	}
	for _, c := range [][2]string{{"signup-addr", clientAddr}, {"signup-global", "all"}} {
		if _, err := u.s.hit(ctx, c[0], c[1], signUpWindow); err != nil {
			return storeErr(err)
		}
	}
	return nil
}

var errInvalidSignUpToken = classboard.Errorf(classboard.EINVALIDTOKEN, "This confirmation link is wrong, used or expired; sign up again.")

// ConfirmSignUp opens the pending account of tok. The token is used up by
// a delete that expects the revision just read, so of two confirmations
// exactly one creates the account.
func (u *SignUps) ConfirmSignUp(ctx context.Context, tok string) (*classboard.Teacher, error) {
	if !token.Valid(tok) {
		return nil, errInvalidSignUpToken
	}
	ctx, cancel, err := u.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	var doc pendingDoc
	rev, err := u.s.resets.get(ctx, pendingKey(tok), &doc)
	if errors.Is(err, errNotFound) {
		return nil, errInvalidSignUpToken
	}
	if err != nil {
		return nil, storeErr(fmt.Errorf("load sign-up: %w", err))
	}
	if time.Since(doc.CreatedAt) >= u.limits.TTL {
		return nil, errInvalidSignUpToken
	}
	if err := u.s.resets.delete(ctx, pendingKey(tok), rev); err != nil {
		if errors.Is(err, errRevision) {
			return nil, errInvalidSignUpToken
		}
		return nil, storeErr(fmt.Errorf("use sign-up token: %w", err))
	}
	return u.s.Accounts().createTeacher(ctx, doc.Email, doc.Name, doc.PasswordHash)
}
