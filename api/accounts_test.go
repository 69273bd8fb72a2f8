package api_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
)

func TestAccountScenarios(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	good := map[string]string{"email": "ada@school.example", "password": "analytical engine", "name": "Ada"}
	var token string

	apitest.Run(t, c, []apitest.Scenario{
		{Name: "malformed json", Method: "POST", Path: "/api/v1/accounts", Body: `{"email":`, Status: 400, Code: "invalid_json"},
		{Name: "not an object", Method: "POST", Path: "/api/v1/accounts", Body: `[1,2]`, Status: 400, Code: "invalid_json"},
		{Name: "empty body", Method: "POST", Path: "/api/v1/accounts", Body: ``, Status: 400, Code: "invalid_json"},
		{Name: "trailing data", Method: "POST", Path: "/api/v1/accounts", Body: `{"email":"a@b.example","password":"0123456789","name":"A"} {}`, Status: 400, Code: "invalid_json"},
		{Name: "unknown field", Method: "POST", Path: "/api/v1/accounts", Body: `{"email":"a@b.example","password":"0123456789","name":"A","admin":true}`, Status: 400, Code: "invalid_json", Fields: []string{"admin"}},
		{Name: "wrong type", Method: "POST", Path: "/api/v1/accounts", Body: `{"email":1,"password":"0123456789","name":"A"}`, Status: 400, Code: "invalid", Fields: []string{"email"}},
		{Name: "oversized body", Method: "POST", Path: "/api/v1/accounts", Body: `{"name":"` + strings.Repeat("a", 2<<20) + `"}`, Status: 413, Code: "too_large"},
		{Name: "form encoded", Method: "POST", Path: "/api/v1/accounts", Body: `email=a`, Headers: []string{"Content-Type", "application/x-www-form-urlencoded"}, Status: 415, Code: "unsupported_content_type"},
		{Name: "bad e-mail, short password, no name", Method: "POST", Path: "/api/v1/accounts", Body: map[string]string{"email": "nope", "password": "short", "name": ""}, Status: 400, Code: "invalid", Fields: []string{"email", "password", "name"}},
		{Name: "password equal to e-mail", Method: "POST", Path: "/api/v1/accounts", Body: map[string]string{"email": "long.address@school.example", "password": "long.address@school.example", "name": "X"}, Status: 400, Code: "invalid", Fields: []string{"password"}},
		{Name: "password over 1024 bytes", Method: "POST", Path: "/api/v1/accounts", Body: map[string]string{"email": "x@school.example", "password": strings.Repeat("p", 1025), "name": "X"}, Status: 400, Code: "invalid", Fields: []string{"password"}},
		{Name: "sign up", Method: "POST", Path: "/api/v1/accounts", Body: good, Status: 201, Check: func(t *testing.T, r *apitest.Response) error {
			if strings.Contains(string(r.Body), "argon2") || strings.Contains(string(r.Body), "password") {
				return apitest.Errorf("the teacher document leaks the password hash: %s", r.Body)
			}
			return nil
		}},
		{Name: "duplicate e-mail in other case", Method: "POST", Path: "/api/v1/accounts", Body: map[string]string{"email": "ADA@school.example", "password": "another password", "name": "Ada 2"}, Status: 409, Code: "email_taken"},
		{Name: "wrong password", Method: "POST", Path: "/api/v1/sessions", Body: map[string]string{"email": "ada@school.example", "password": "wrong password"}, Status: 401, Code: "invalid_credentials"},
		{Name: "unknown e-mail answers the same", Method: "POST", Path: "/api/v1/sessions", Body: map[string]string{"email": "nobody@school.example", "password": "wrong password"}, Status: 401, Code: "invalid_credentials"},
		{Name: "log in", Method: "POST", Path: "/api/v1/sessions", Body: map[string]string{"email": "ada@school.example", "password": "analytical engine", "device": "laptop"}, Status: 201, Check: func(t *testing.T, r *apitest.Response) error {
			var s struct {
				Token     string `json:"token"`
				ExpiresAt string `json:"expires_at"`
			}
			if err := json.Unmarshal(r.Body, &s); err != nil || len(s.Token) != 43 || s.ExpiresAt == "" {
				return apitest.Errorf("session %s", r.Body)
			}
			token = s.Token
			return nil
		}},
		{Name: "me without token", Method: "GET", Path: "/api/v1/me", Status: 401, Code: "unauthorized"},
		{Name: "me with garbage token", Method: "GET", Path: "/api/v1/me", Token: "garbage", Status: 401, Code: "unauthorized"},
		{Name: "unknown api path", Method: "GET", Path: "/api/v1/nope", Status: 404, Code: "not_found"},
	})

	me := c.With(token).Do(t, "GET", "/api/v1/me", nil)
	if me.Status != 200 || me.Map(t)["email"] != "ada@school.example" {
		t.Fatalf("me: %d %s", me.Status, me.Body)
	}
	if res := c.With(token).Do(t, "DELETE", "/api/v1/sessions/current", nil); res.Status != 204 {
		t.Fatalf("logout: %d %s", res.Status, res.Body)
	}
	if res := c.With(token).Do(t, "GET", "/api/v1/me", nil); res.Status != 401 {
		t.Fatalf("token after logout: %d", res.Status)
	}
}

func TestHealthAndConfig(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "healthz", Method: "GET", Path: "/healthz", Status: 200},
		{Name: "readyz", Method: "GET", Path: "/readyz", Status: 200},
		{Name: "config", Method: "GET", Path: "/api/v1/config", Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			var cfg struct {
				APIOrigins []string `json:"api_origins"`
				Version    string   `json:"version"`
			}
			if err := json.Unmarshal(r.Body, &cfg); err != nil || len(cfg.APIOrigins) != 1 || cfg.APIOrigins[0] != n.URL() {
				return apitest.Errorf("config %s, want this node's own address", r.Body)
			}
			return nil
		}},
	})
}

func TestSecurityHeadersAndCORS(t *testing.T) {
	const ui = "https://ui.school.example"
	n := testcluster.StartNode(t, func(cfg *node.Config) { cfg.UIURL = ui })
	c := apitest.New(n.URL())

	page := c.Do(t, "GET", "/", nil)
	csp := page.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("app CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("app CSP allows inline code: %q", csp)
	}
	if page.Header.Get("X-Content-Type-Options") != "nosniff" || page.Header.Get("Referrer-Policy") == "" {
		t.Errorf("missing security headers: %v", page.Header)
	}

	pre := c.Do(t, "OPTIONS", "/api/v1/lessons", nil, "Origin", ui, "Access-Control-Request-Method", "PUT",
		"Access-Control-Request-Headers", "authorization,if-match,idempotency-key,content-type")
	if pre.Status != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != ui {
		t.Fatalf("preflight from the UI origin: %d %v", pre.Status, pre.Header)
	}
	for _, h := range []string{"Authorization", "If-Match", "Idempotency-Key", "Content-Type"} {
		if !strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), h) {
			t.Errorf("preflight does not allow %s", h)
		}
	}
	get := c.Do(t, "GET", "/api/v1/config", nil, "Origin", ui)
	if get.Header.Get("Access-Control-Allow-Origin") != ui || !strings.Contains(get.Header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Fatalf("CORS on a GET from the UI origin: %v", get.Header)
	}
	evil := c.Do(t, "OPTIONS", "/api/v1/lessons", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "PUT")
	if evil.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from a foreign origin was allowed: %v", evil.Header)
	}
}

func TestTrustedProxyDecidesClientAddress(t *testing.T) {
	// Behind a trusted proxy, failed logins count against the forwarded
	// address; an untrusted peer's X-Forwarded-For is ignored.
	for _, tc := range []struct {
		name    string
		trusted bool
	}{{"trusted proxy", true}, {"untrusted peer", false}} {
		t.Run(tc.name, func(t *testing.T) {
			n := testcluster.StartNode(t, func(cfg *node.Config) {
				if tc.trusted {
					cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
				}
			})
			c := apitest.New(n.URL())
			if res := c.Do(t, "POST", "/api/v1/accounts", map[string]string{"email": "p@school.example", "password": "long enough password", "name": "P"}); res.Status != 201 {
				t.Fatal(res.Status)
			}
			bad := map[string]string{"email": "p@school.example", "password": "wrong password!"}
			for range 5 {
				c.Do(t, "POST", "/api/v1/sessions", bad, "X-Forwarded-For", "203.0.113.7")
			}
			// Another forwarded client: limited only if the header was ignored.
			res := c.Do(t, "POST", "/api/v1/sessions", bad, "X-Forwarded-For", "203.0.113.8")
			want := 401
			if !tc.trusted {
				want = 429
			}
			if res.Status != want {
				t.Fatalf("sixth failure from another forwarded address: %d, want %d", res.Status, want)
			}
			if want == 429 && res.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		})
	}
}
