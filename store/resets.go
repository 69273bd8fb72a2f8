package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/token"
)

// resetWindow is the window of the reset request limits. The counters are
// kept in the store, so the limits hold across nodes.
const resetWindow = time.Hour

// ResetLimits bound password resets. Zero fields take the defaults.
type ResetLimits struct {
	// TTL is how long a reset link works (default 30 minutes).
	TTL time.Duration
	// PerAccount is how many reset requests one e-mail gets per hour,
	// so three mails an hour at most (default 3).
	PerAccount int
	// PerAddr is how many reset requests one client address makes per
	// hour (default 30: a school shares one address).
	PerAddr int
}

func (l ResetLimits) withDefaults() ResetLimits {
	if l.TTL <= 0 {
		l.TTL = 30 * time.Minute
	}
	if l.PerAccount <= 0 {
		l.PerAccount = 3
	}
	if l.PerAddr <= 0 {
		l.PerAddr = 30
	}
	return l
}

// resetDoc is a pending password reset, stored under the hash of its token:
// the token itself is only in the e-mail.
type resetDoc struct {
	V         int       `json:"v"`
	TeacherID string    `json:"teacher_id"`
	CreatedAt time.Time `json:"created_at"`
}

// PasswordResets implements classboard.PasswordResetService.
type PasswordResets struct {
	s      *Store
	limits ResetLimits
	// linkBase is where the teacher app is served; links in mail point
	// there and never at the Host a request named.
	linkBase string
}

var _ classboard.PasswordResetService = (*PasswordResets)(nil)

// PasswordResets returns the reset service; linkBase is the teacher app's
// base URL (e.g. https://classboard.school.example).
func (s *Store) PasswordResets(linkBase string) *PasswordResets {
	return &PasswordResets{s: s, limits: s.cfg.Resets.withDefaults(), linkBase: strings.TrimRight(linkBase, "/")}
}

// RequestReset queues a reset link when the e-mail has an account.
func (p *PasswordResets) RequestReset(ctx context.Context, email, clientAddr string) error {
	email = strings.TrimSpace(email)
	if reason := classboard.ValidateEmail(email); reason != "" {
		return classboard.ValidationErrors{"email": reason}.Err()
	}
	ctx, cancel, err := p.s.opContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()

	// Both counters count every request, so that a limited one also uses
	// up the window and an attacker cannot learn when it ends.
	nAddr, err := p.s.hit(ctx, "reset-addr", clientAddr, resetWindow)
	if err != nil {
		return storeErr(err)
	}
	nAccount, err := p.s.hit(ctx, "reset-account", strings.ToLower(email), resetWindow)
	if err != nil {
		return storeErr(err)
	}
	// A limited request answers like any other and queues nothing: a 429
	// would tell whether the e-mail has an account.
	if nAddr > p.limits.PerAddr {
		p.s.noteLimit(ctx, "reset-addr")
		return nil
	}
	if nAccount > p.limits.PerAccount {
		p.s.noteLimit(ctx, "reset-account")
		return nil
	}

	doc, _, err := p.s.teacherByEmail(ctx, email)
	if classboard.ErrorCode(err) == classboard.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	tok := token.New()
	now := time.Now().UTC()
	reset := resetDoc{V: 1, TeacherID: doc.ID, CreatedAt: now}
	if _, err := p.s.resets.create(ctx, token.Hash(tok), reset, p.limits.TTL); err != nil {
		return storeErr(fmt.Errorf("store reset token: %w", err))
	}
	m, err := newMail(doc.Email, "Reset your classboard password", fmt.Sprintf(
		"Hello %s,\n\n"+
			"someone (we hope you) asked to reset the password of your classboard account.\n"+
			"To choose a new password, open this link within %d minutes:\n\n"+
			"%s/reset#token=%s\n\n"+
			"The link works once. If you did not ask for it, ignore this message:\n"+
			"your password stays as it is.\n",
		doc.Name, int(p.limits.TTL.Minutes()), p.linkBase, tok))
	if err != nil {
		return err
	}
	return p.s.queueMail(ctx, m)
}

// errInvalidResetToken is the one answer for a wrong, used or expired token.
var errInvalidResetToken = classboard.Errorf(classboard.EINVALIDTOKEN, "This reset link is wrong, used or expired; ask for a new one.")

// ConfirmReset sets the new password. The token is used up by a delete
// that expects the revision just read, so of two concurrent confirmations
// exactly one wins. A crash after the delete and before the password
// update leaves the old password and a used token: the teacher asks again.
func (p *PasswordResets) ConfirmReset(ctx context.Context, tok, newPassword string) error {
	if !token.Valid(tok) {
		return errInvalidResetToken
	}
	opCtx, cancel, err := p.s.opContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	key := token.Hash(tok)
	var reset resetDoc
	rev, err := p.s.resets.get(opCtx, key, &reset)
	if errors.Is(err, errNotFound) {
		return errInvalidResetToken
	}
	if err != nil {
		return storeErr(fmt.Errorf("load reset token: %w", err))
	}
	// The bucket's TTL removes the key, but not to the second.
	if time.Since(reset.CreatedAt) >= p.limits.TTL {
		return errInvalidResetToken
	}
	doc, _, err := p.s.teacherDoc(opCtx, reset.TeacherID)
	if classboard.ErrorCode(err) == classboard.ENOTFOUND {
		return errInvalidResetToken
	}
	if err != nil {
		return err
	}
	// A completed reset ends every older link too.
	if reset.CreatedAt.Before(doc.SessionsNotBefore) {
		return errInvalidResetToken
	}
	// Checked before the token is used up, so that a typo does not cost
	// the teacher a new e-mail.
	if reason := classboard.ValidatePassword(newPassword, doc.Email); reason != "" {
		return classboard.ValidationErrors{"password": reason}.Err()
	}
	cancel()
	// Hashing may wait for a slot; the writes get a bound of their own.
	hash, err := p.s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return err
	}
	opCtx, cancel, err = p.s.opContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if err := p.s.resets.delete(opCtx, key, rev); err != nil {
		if errors.Is(err, errRevision) {
			return errInvalidResetToken
		}
		return storeErr(fmt.Errorf("use reset token: %w", err))
	}
	teacher, err := p.s.setPassword(opCtx, reset.TeacherID, hash)
	if err != nil {
		return err
	}
	p.s.log.Info("password reset", "teacher", teacher.ID)
	m, err := newMail(teacher.Email, "Your classboard password was changed", fmt.Sprintf(
		"Hello %s,\n\n"+
			"the password of your classboard account was just changed with a reset link,\n"+
			"and every device signed in to your account was signed out.\n\n"+
			"If this was not you, reset your password again at once and tell your school's IT.\n",
		teacher.Name))
	if err != nil {
		return err
	}
	// The password is changed whatever happens to the notice; a failure
	// to queue it is logged, not reported as a failed reset.
	if err := p.s.queueMail(opCtx, m); err != nil {
		p.s.log.LogAttrs(ctx, slog.LevelError, "queue password changed notice",
			slog.String("teacher", teacher.ID), slog.String("err", err.Error()))
	}
	return nil
}

// setPassword stores a new password hash and ends every session of the
// teacher, retrying when a concurrent write to the teacher came first.
func (s *Store) setPassword(ctx context.Context, teacherID, hash string) (*classboard.Teacher, error) {
	for range 10 {
		doc, rev, err := s.teacherDoc(ctx, teacherID)
		if err != nil {
			return nil, err
		}
		doc.PasswordHash = hash
		doc.SessionsNotBefore = time.Now().UTC()
		_, err = s.teachers.update(ctx, keyPart(teacherID), doc, rev, 0)
		if err == nil {
			t := doc.Teacher
			return &t, nil
		}
		if !errors.Is(err, errRevision) {
			return nil, storeErr(fmt.Errorf("set password: %w", err))
		}
	}
	return nil, storeErr(errors.New("set password: too much contention"))
}

// newMail returns a message with a fresh id.
func newMail(to, subject, text string) (classboard.Mail, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return classboard.Mail{}, fmt.Errorf("new mail id: %w", err)
	}
	return classboard.Mail{ID: id.String(), To: to, Subject: subject, Text: text, Queued: time.Now().UTC()}, nil
}
