package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/token"
)

func TestCreateTeacherUniqueUnderConcurrency(t *testing.T) {
	s := openTestStore(t)
	a := s.Accounts()
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	codes := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Different cases of one address are one account.
			email := "Ada@School.example"
			if i%2 == 1 {
				email = "ada@school.example"
			}
			_, err := a.CreateTeacher(ctx, classboard.SignUp{Email: email, Password: "long enough password", Name: "Ada"})
			codes[i] = classboard.ErrorCode(err)
		}()
	}
	wg.Wait()
	created := 0
	for _, c := range codes {
		switch c {
		case "":
			created++
		case classboard.EEMAILTAKEN:
		default:
			t.Fatalf("unexpected error code %q", c)
		}
	}
	if created != 1 {
		t.Fatalf("%d accounts created for one e-mail, want 1 (codes %v)", created, codes)
	}
	keys, err := s.teachers.keys(ctx, ">")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("%d teacher documents left behind, want 1", len(keys))
	}
}

func TestCreateTeacherValidation(t *testing.T) {
	s := openTestStore(t)
	a := s.Accounts()
	for _, tc := range []struct {
		in    classboard.SignUp
		field string
	}{
		{classboard.SignUp{Email: "not-an-email", Password: "long enough password", Name: "A"}, "email"},
		{classboard.SignUp{Email: "Ada <a@b.example>", Password: "long enough password", Name: "A"}, "email"},
		{classboard.SignUp{Email: "a@b.example", Password: "short", Name: "A"}, "password"},
		{classboard.SignUp{Email: "a@b.example", Password: "a@b.example", Name: "A"}, "password"},
		{classboard.SignUp{Email: "a@b.example", Password: "long enough password", Name: ""}, "name"},
	} {
		_, err := a.CreateTeacher(context.Background(), tc.in)
		e, ok := err.(*classboard.Error)
		if !ok || e.Code != classboard.EINVALID || e.Fields[tc.field] == "" {
			t.Errorf("%+v: got %v, want invalid %s", tc.in, err, tc.field)
		}
	}
	keys, _ := s.teachers.keys(context.Background(), ">")
	if len(keys) != 0 {
		t.Fatalf("invalid sign-ups stored %d teachers", len(keys))
	}
}

func TestLoginAuthenticateLogout(t *testing.T) {
	s := openTestStore(t)
	a := s.Accounts()
	ctx := context.Background()
	if _, err := a.CreateTeacher(ctx, classboard.SignUp{Email: "t@school.example", Password: "long enough password", Name: "T"}); err != nil {
		t.Fatal(err)
	}
	sess, err := a.Login(ctx, classboard.Login{Email: "T@school.example", Password: "long enough password", Device: "laptop"}, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	auth, err := a.Authenticate(ctx, sess.Token)
	if err != nil {
		t.Fatal(err)
	}
	if auth.Teacher.Email != "t@school.example" || auth.Device != "laptop" {
		t.Fatalf("auth = %+v", auth)
	}
	if err := a.Logout(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, sess.Token); classboard.ErrorCode(err) != classboard.EUNAUTHORIZED {
		t.Fatalf("token after logout: %v", err)
	}
}

func TestUnknownEmailStillHashes(t *testing.T) {
	s := openTestStore(t)
	a := s.Accounts()
	before := s.Hasher().Verifies()
	_, err := a.Login(context.Background(), classboard.Login{Email: "nobody@school.example", Password: "whatever it is"}, "10.0.0.2")
	if classboard.ErrorCode(err) != classboard.EINVALIDCREDENTIALS {
		t.Fatalf("got %v", err)
	}
	if s.Hasher().Verifies() != before+1 {
		t.Fatal("an unknown e-mail did not cost a password hash")
	}
}

func TestLoginRateLimitPerPairButNotAccountLockout(t *testing.T) {
	s := openTestStore(t)
	a := s.Accounts()
	ctx := context.Background()
	if _, err := a.CreateTeacher(ctx, classboard.SignUp{Email: "t@school.example", Password: "long enough password", Name: "T"}); err != nil {
		t.Fatal(err)
	}
	for i := range loginPairLimit {
		_, err := a.Login(ctx, classboard.Login{Email: "t@school.example", Password: "wrong password!"}, "10.0.0.9")
		if classboard.ErrorCode(err) != classboard.EINVALIDCREDENTIALS {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	_, err := a.Login(ctx, classboard.Login{Email: "t@school.example", Password: "long enough password"}, "10.0.0.9")
	e, ok := err.(*classboard.Error)
	if !ok || e.Code != classboard.ERATELIMITED || e.RetryAfter <= 0 {
		t.Fatalf("after %d failures from one address: %v, want rate_limited with a Retry-After", loginPairLimit, err)
	}
	// The teacher, on another address, still gets in (slowed down, not locked out).
	if _, err := a.Login(ctx, classboard.Login{Email: "t@school.example", Password: "long enough password"}, "10.0.0.10"); err != nil {
		t.Fatalf("teacher from another address: %v", err)
	}
}

func TestLimitCounterExpires(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	const window = 2 * time.Second
	if _, err := s.hit(ctx, "test", "subject", window); err != nil {
		t.Fatal(err)
	}
	key, _ := limitKey("test", "subject", window, time.Now())
	// The per-key TTL removes the counter itself, not only its window.
	poll.CheckFor(t, 15*time.Second, 200*time.Millisecond, func() error {
		return keyGone(ctx, s.limits, key)
	})
}

// keyGone returns nil once key is no longer in b.
func keyGone(ctx context.Context, b *bucket, key string) error {
	var d json.RawMessage
	if _, err := b.get(ctx, key, &d); err != errNotFound {
		return fmt.Errorf("key %s still there (err %v)", key, err)
	}
	return nil
}

func TestRestartKeepsAccountsAndSessions(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s1 := openTestStoreAt(t, dir)
	a1 := s1.Accounts()
	if _, err := a1.CreateTeacher(ctx, classboard.SignUp{Email: "r@school.example", Password: "long enough password", Name: "R"}); err != nil {
		t.Fatal(err)
	}
	sess, err := a1.Login(ctx, classboard.Login{Email: "r@school.example", Password: "long enough password"}, "a")
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := openTestStoreAt(t, dir)
	auth, err := s2.Accounts().Authenticate(ctx, sess.Token)
	if err != nil {
		t.Fatalf("session after restart: %v", err)
	}
	if auth.Teacher.Email != "r@school.example" {
		t.Fatalf("teacher after restart: %+v", auth.Teacher)
	}
}

func TestSessionExpiries(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	base := s.Accounts()
	if _, err := base.CreateTeacher(ctx, classboard.SignUp{Email: "e@school.example", Password: "long enough password", Name: "E"}); err != nil {
		t.Fatal(err)
	}
	login := func(a *Accounts) string {
		sess, err := a.Login(ctx, classboard.Login{Email: "e@school.example", Password: "long enough password"}, "x")
		if err != nil {
			t.Fatal(err)
		}
		return sess.Token
	}
	waitRefused := func(a *Accounts, tok string) {
		t.Helper()
		poll.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
			if _, err := a.Authenticate(ctx, tok); classboard.ErrorCode(err) != classboard.EUNAUTHORIZED {
				return fmt.Errorf("session not expired: %v", err)
			}
			return nil
		})
	}

	// Idle expiry, kept in the value.
	idle := &Accounts{s: s, SessionIdle: time.Second, SessionMax: time.Hour, RefreshAfter: time.Hour}
	tok := login(idle)
	if _, err := idle.Authenticate(ctx, tok); err != nil {
		t.Fatalf("fresh session: %v", err)
	}
	waitRefused(idle, tok)

	// Absolute maximum: the key itself expires through its TTL.
	short := &Accounts{s: s, SessionIdle: time.Hour, SessionMax: 2 * time.Second, RefreshAfter: time.Hour}
	tok = login(short)
	waitRefused(short, tok)
	poll.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		return keyGone(ctx, s.sessions, token.Hash(tok))
	})
}

func TestSessionRefresh(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	a := &Accounts{s: s, SessionIdle: 25 * time.Hour, SessionMax: 48 * time.Hour, RefreshAfter: time.Second}
	if _, err := a.CreateTeacher(ctx, classboard.SignUp{Email: "f@school.example", Password: "long enough password", Name: "F"}); err != nil {
		t.Fatal(err)
	}
	sess, err := a.Login(ctx, classboard.Login{Email: "f@school.example", Password: "long enough password"}, "x")
	if err != nil {
		t.Fatal(err)
	}
	key := token.Hash(sess.Token)
	var before sessionDoc
	rev1, _ := s.sessions.get(ctx, key, &before)
	// A request refreshes the idle expiry once RefreshAfter has passed
	// since the last refresh, and not before.
	poll.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		if _, err := a.Authenticate(ctx, sess.Token); err != nil {
			t.Fatal(err)
		}
		var after sessionDoc
		rev2, _ := s.sessions.get(ctx, key, &after)
		if rev2 == rev1 || !after.IdleUntil.After(before.IdleUntil) {
			return fmt.Errorf("session not refreshed: rev %d→%d idle %v→%v", rev1, rev2, before.IdleUntil, after.IdleUntil)
		}
		return nil
	})
}

// A compare-and-set update that passes a TTL keeps the key expiring (a plain
// KV update would drop the TTL).
func TestUpdateWithTTLKeepsExpiry(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	rev, err := s.sessions.create(ctx, "k", limitDoc{N: 1}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.sessions.update(ctx, "k", limitDoc{N: 2}, rev+1, time.Second); err != errRevision {
		t.Fatalf("stale revision: %v, want errRevision", err)
	}
	if _, err := s.sessions.update(ctx, "k", limitDoc{N: 2}, rev, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	poll.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		return keyGone(ctx, s.sessions, "k")
	})
}
