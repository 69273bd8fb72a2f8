package api_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/smtptest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
	"github.com/classboard/classboard/store"
)

const mailWait = 30 * time.Second

func withResets(l store.ResetLimits) testcluster.Option {
	return func(c *node.Config) { c.Store.Resets = l }
}

// signUp creates an account (in the store: a node with SMTP confirms
// sign-ups by mail) and returns a session token for it.
func signUp(t *testing.T, n *node.Node, c *apitest.Client, email, password string) string {
	t.Helper()
	testcluster.CreateTeacher(t, n, email, password, "Teacher "+email)
	res := c.Do(t, "POST", "/api/v1/sessions", map[string]string{"email": email, "password": password})
	if res.Status != 201 {
		t.Fatalf("log in %s: %d %s", email, res.Status, res.Body)
	}
	var s struct{ Token string }
	res.JSON(t, &s)
	return s.Token
}

// queued returns how many messages were ever published to the outbox: a
// request that queues mail does so before it answers, so this needs no
// polling.
func queued(t *testing.T, n *node.Node) uint64 {
	t.Helper()
	reps, err := n.Store().Replicas()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		if r.Stream == "OUTBOX" {
			return r.LastSeq
		}
	}
	t.Fatal("no OUTBOX stream")
	return 0
}

func requestReset(t *testing.T, c *apitest.Client, email string, headers ...string) {
	t.Helper()
	if res := c.Do(t, "POST", "/api/v1/password-resets", map[string]string{"email": email}, headers...); res.Status != 202 {
		t.Fatalf("request reset for %s: %d %s", email, res.Status, res.Body)
	}
}

func TestPasswordReset(t *testing.T) {
	smtp := smtptest.Start(t)
	n := testcluster.StartNode(t, testcluster.WithSMTP(smtp.Addr))
	c := apitest.New(n.URL())
	oldSession := signUp(t, n, c, "ada@school.example", "analytical engine")

	// Any case of the e-mail finds the account.
	requestReset(t, c, "ADA@School.example")
	msgs := smtp.WaitMessages(t, 1, mailWait)
	if got := msgs[0].To; len(got) != 1 || got[0] != "ada@school.example" {
		t.Fatalf("reset mail went to %v", got)
	}
	base, token, err := msgs[0].ResetLink()
	if err != nil {
		t.Fatal(err)
	}
	if base != n.URL() || len(token) != 43 {
		t.Fatalf("link base %q, token %q", base, token)
	}

	confirm := "/api/v1/password-resets/confirm"
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "garbage token", Method: "POST", Path: confirm, Body: map[string]string{"token": "garbage", "password": "a new password"}, Status: 400, Code: "invalid_token"},
		{Name: "unknown token", Method: "POST", Path: confirm, Body: map[string]string{"token": strings.Repeat("A", 43), "password": "a new password"}, Status: 400, Code: "invalid_token"},
		{Name: "short password keeps the token", Method: "POST", Path: confirm, Body: map[string]string{"token": token, "password": "short"}, Status: 400, Code: "invalid", Fields: []string{"password"}},
		{Name: "password equal to the e-mail", Method: "POST", Path: confirm, Body: map[string]string{"token": token, "password": "ada@school.example"}, Status: 400, Code: "invalid", Fields: []string{"password"}},
		{Name: "unknown field", Method: "POST", Path: confirm, Body: `{"token":"x","password":"y","admin":true}`, Status: 400, Code: "invalid_json"},
		{Name: "confirm", Method: "POST", Path: confirm, Body: map[string]string{"token": token, "password": "a new password"}, Status: 204},
		{Name: "token reuse", Method: "POST", Path: confirm, Body: map[string]string{"token": token, "password": "another password"}, Status: 400, Code: "invalid_token"},
		{Name: "old session ended", Method: "GET", Path: "/api/v1/me", Token: oldSession, Status: 401, Code: "unauthorized"},
		{Name: "old password refused", Method: "POST", Path: "/api/v1/sessions", Body: map[string]string{"email": "ada@school.example", "password": "analytical engine"}, Status: 401, Code: "invalid_credentials"},
		{Name: "new password works", Method: "POST", Path: "/api/v1/sessions", Body: map[string]string{"email": "ada@school.example", "password": "a new password"}, Status: 201},
	})

	msgs = smtp.WaitMessages(t, 2, mailWait)
	if msgs[1].Subject != "Your classboard password was changed" || msgs[1].To[0] != "ada@school.example" {
		t.Fatalf("second mail: %q to %v", msgs[1].Subject, msgs[1].To)
	}
	if strings.Contains(msgs[1].Body, token) {
		t.Fatal("the notice repeats the reset token")
	}
}

func TestPasswordResetRequestScenarios(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	signUp(t, n, c, "ada@school.example", "analytical engine")
	path := "/api/v1/password-resets"
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "malformed json", Method: "POST", Path: path, Body: `{"email":`, Status: 400, Code: "invalid_json"},
		{Name: "unknown field", Method: "POST", Path: path, Body: `{"email":"ada@school.example","x":1}`, Status: 400, Code: "invalid_json"},
		{Name: "not an e-mail address", Method: "POST", Path: path, Body: map[string]string{"email": "ada"}, Status: 400, Code: "invalid", Fields: []string{"email"}},
		{Name: "unknown e-mail", Method: "POST", Path: path, Body: map[string]string{"email": "nobody@school.example"}, Status: 202},
	})
	if q := queued(t, n); q != 0 {
		t.Fatalf("an unknown e-mail queued %d messages", q)
	}
	requestReset(t, c, "ada@school.example")
	if q := queued(t, n); q != 1 {
		t.Fatalf("a known e-mail queued %d messages, want 1", q)
	}
}

// Without SMTP the node still works: reset mail goes to the log.
func TestPasswordResetWithoutSMTP(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	signUp(t, n, c, "ada@school.example", "analytical engine")
	requestReset(t, c, "ada@school.example")
	poll.CheckFor(t, mailWait, 20*time.Millisecond, func() error {
		if s := n.Mail().Stats(); s.Delivered != 1 {
			return apitest.Errorf("stats %+v", s)
		}
		return nil
	})
}

func TestPasswordResetRateLimits(t *testing.T) {
	t.Run("per account", func(t *testing.T) {
		n := testcluster.StartNode(t, withResets(store.ResetLimits{PerAccount: 2, PerAddr: 100}))
		c := apitest.New(n.URL())
		signUp(t, n, c, "ada@school.example", "analytical engine")
		for range 4 {
			requestReset(t, c, "ada@school.example")
		}
		if q := queued(t, n); q != 2 {
			t.Fatalf("%d messages queued, want 2", q)
		}
	})
	t.Run("per address", func(t *testing.T) {
		n := testcluster.StartNode(t, withResets(store.ResetLimits{PerAccount: 100, PerAddr: 2}))
		c := apitest.New(n.URL())
		signUp(t, n, c, "ada@school.example", "analytical engine")
		signUp(t, n, c, "bob@school.example", "difference engine")
		requestReset(t, c, "nobody@school.example") // counts for the address too
		requestReset(t, c, "ada@school.example")
		requestReset(t, c, "bob@school.example")
		if q := queued(t, n); q != 1 {
			t.Fatalf("%d messages queued, want 1", q)
		}
	})
}

// A retried request with the same Idempotency-Key queues nothing new.
func TestPasswordResetIdempotencyKey(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	signUp(t, n, c, "ada@school.example", "analytical engine")
	requestReset(t, c, "ada@school.example", "Idempotency-Key", "k1")
	res := c.Do(t, "POST", "/api/v1/password-resets", map[string]string{"email": "ada@school.example"}, "Idempotency-Key", "k1")
	if res.Status != 202 || res.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %v", res.Status, res.Header)
	}
	if q := queued(t, n); q != 1 {
		t.Fatalf("%d messages queued, want 1", q)
	}
}

func TestPasswordResetTokenExpires(t *testing.T) {
	smtp := smtptest.Start(t)
	n := testcluster.StartNode(t, testcluster.WithSMTP(smtp.Addr), withResets(store.ResetLimits{TTL: time.Second}))
	c := apitest.New(n.URL())
	signUp(t, n, c, "ada@school.example", "analytical engine")
	requestReset(t, c, "ada@school.example")
	_, token, err := smtp.WaitMessages(t, 1, mailWait)[0].ResetLink()
	if err != nil {
		t.Fatal(err)
	}
	// A too short password is refused while the token is valid, without
	// using it up; once it expired the answer turns to invalid_token.
	poll.CheckFor(t, mailWait, 50*time.Millisecond, func() error {
		res := c.Do(t, "POST", "/api/v1/password-resets/confirm", map[string]string{"token": token, "password": "short"})
		if res.ErrorCode() != "invalid_token" {
			return apitest.Errorf("still %d %s", res.Status, res.Body)
		}
		return nil
	})
	res := c.Do(t, "POST", "/api/v1/password-resets/confirm", map[string]string{"token": token, "password": "a new password"})
	if res.Status != 400 || res.ErrorCode() != "invalid_token" {
		t.Fatalf("expired token: %d %s", res.Status, res.Body)
	}
}

// The link in the mail points at the configured URL whatever Host and
// forwarding headers the request carries, even from a trusted proxy.
func TestPasswordResetLinkIgnoresRequestHost(t *testing.T) {
	smtp := smtptest.Start(t)
	const ui = "https://classboard.school.example"
	n := testcluster.StartNode(t, testcluster.WithSMTP(smtp.Addr), func(c *node.Config) {
		c.UIURL = ui
		c.TrustedProxies = append(c.TrustedProxies, netip.MustParsePrefix("127.0.0.0/8"))
	})
	c := apitest.New(n.URL())
	signUp(t, n, c, "ada@school.example", "analytical engine")

	res := c.Do(t, "POST", "/api/v1/password-resets", `{"email":"ada@school.example"}`,
		"Host", "evil.example",
		"X-Forwarded-Host", "evil.example",
		"X-Forwarded-Proto", "http",
		"Forwarded", "host=evil.example;proto=http")
	if res.Status != 202 {
		t.Fatalf("status %d", res.Status)
	}
	msg := smtp.WaitMessages(t, 1, mailWait)[0]
	base, _, err := msg.ResetLink()
	if err != nil {
		t.Fatal(err)
	}
	if base != ui || strings.Contains(msg.Body, "evil") {
		t.Fatalf("link base %q; body %s", base, msg.Body)
	}
}
