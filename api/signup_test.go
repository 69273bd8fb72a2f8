package api_test

import (
	"strings"
	"testing"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/smtptest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
	"github.com/classboard/classboard/store"
)

// TestSignUpConfirmsByMail: with SMTP, a sign-up answers the same for a new
// and a taken address; the new one gets a confirmation link, the taken
// one's owner a note, and the account works once confirmed.
func TestSignUpConfirmsByMail(t *testing.T) {
	smtp := smtptest.Start(t)
	n := testcluster.StartNode(t, testcluster.WithSMTP(smtp.Addr))
	c := apitest.New(n.URL())
	testcluster.CreateTeacher(t, n, "taken@school.example", "analytical engine", "Owner")

	newOne := c.Do(t, "POST", "/api/v1/accounts", map[string]string{"email": "new@school.example", "password": "correct horse battery", "name": "New"})
	taken := c.Do(t, "POST", "/api/v1/accounts", map[string]string{"email": "Taken@School.example", "password": "correct horse battery", "name": "Intruder"})
	if newOne.Status != 202 || taken.Status != newOne.Status || string(taken.Body) != string(newOne.Body) {
		t.Fatalf("new address: %d %s; taken address: %d %s; want the same 202", newOne.Status, newOne.Body, taken.Status, taken.Body)
	}
	msgs := smtp.WaitMessages(t, 2, mailWait)
	var token string
	for _, m := range msgs {
		switch m.To[0] {
		case "new@school.example":
			base, tok, err := m.Link("confirm")
			if err != nil || base != n.URL() {
				t.Fatalf("confirmation mail: base %q, %v", base, err)
			}
			token = tok
		case "taken@school.example":
			if m.Subject != "Someone tried to sign up with your address" || strings.Contains(m.Body, "#token=") {
				t.Fatalf("note to the owner: %q %q", m.Subject, m.Body)
			}
		default:
			t.Fatalf("mail to %v", m.To)
		}
	}
	login := map[string]string{"email": "new@school.example", "password": "correct horse battery"}
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "no login before confirming", Method: "POST", Path: "/api/v1/sessions", Body: login, Status: 401, Code: "invalid_credentials"},
		{Name: "a made-up token", Method: "POST", Path: "/api/v1/accounts/confirm", Body: map[string]string{"token": strings.Repeat("A", 43)}, Status: 400, Code: "invalid_token"},
		{Name: "confirm", Method: "POST", Path: "/api/v1/accounts/confirm", Body: map[string]string{"token": token}, Status: 201},
		{Name: "the link works once", Method: "POST", Path: "/api/v1/accounts/confirm", Body: map[string]string{"token": token}, Status: 400, Code: "invalid_token"},
		{Name: "login after confirming", Method: "POST", Path: "/api/v1/sessions", Body: login, Status: 201},
		{Name: "the owner's password is unchanged", Method: "POST", Path: "/api/v1/sessions", Body: map[string]string{"email": "taken@school.example", "password": "analytical engine"}, Status: 201},
		{Name: "the intruder's password does not work", Method: "POST", Path: "/api/v1/sessions", Body: map[string]string{"email": "taken@school.example", "password": "correct horse battery"}, Status: 401},
	})
}

// TestSignUpLimits: sign-ups are limited per client address and for
// everyone together, with 429 and Retry-After.
func TestSignUpLimits(t *testing.T) {
	n := testcluster.StartNode(t, behindProxy, func(cfg *node.Config) { cfg.Store.SignUps = store.SignUpLimits{PerAddr: 2, Global: 3} })
	c := apitest.New(n.URL())
	up := func(name, email, addr string, status int) apitest.Scenario {
		sc := apitest.Scenario{Name: name, Method: "POST", Path: "/api/v1/accounts", Headers: []string{"X-Forwarded-For", addr},
			Body: map[string]string{"email": email, "password": "correct horse battery", "name": "T"}, Status: status}
		if status == 429 {
			sc.Code = "rate_limited"
			sc.Check = func(_ *testing.T, r *apitest.Response) error {
				if r.Header.Get("Retry-After") == "" {
					return apitest.Errorf("429 without Retry-After")
				}
				return nil
			}
		}
		return sc
	}
	apitest.Run(t, c, []apitest.Scenario{
		up("first from a school", "a@school.example", "198.51.100.1", 201),
		up("second from the school", "b@school.example", "198.51.100.1", 201),
		up("third from the school refused", "c@school.example", "198.51.100.1", 429),
		up("another address", "d@school.example", "198.51.100.2", 201),
		up("past the global limit", "e@school.example", "198.51.100.3", 429),
	})
}

// TestPasswordStrengthAsYouType: the apps ask how strong a password is
// with the same verdict sign-up gives.
func TestPasswordStrengthAsYouType(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	check := func(pw string, ok bool, minScore, maxScore float64) apitest.Scenario {
		return apitest.Scenario{Name: pw, Method: "POST", Path: "/api/v1/password-strength", Body: map[string]string{"password": pw, "email": "ada@school.example", "name": "Ada Lovelace"}, Status: 200,
			Check: func(t *testing.T, r *apitest.Response) error {
				m := r.Map(t)
				if m["ok"] != ok || m["score"].(float64) < minScore || m["score"].(float64) > maxScore {
					return apitest.Errorf("%s: %v", pw, m)
				}
				return nil
			}}
	}
	apitest.Run(t, c, []apitest.Scenario{
		check("password1", false, 0, 1),
		check("ada@school.example", false, 0, 4),
		check("adalovelace", false, 0, 2),
		check("correct horse battery", true, 3, 4),
		{Name: "without Content-Type", Method: "POST", Path: "/api/v1/password-strength", Body: `{"password":"x"}`, Headers: []string{"Content-Type", ""}, Status: 415},
	})
}
