package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
	"github.com/classboard/classboard/store"
)

// newBoard is the answer to POST /api/v1/boards.
type newBoard struct {
	BoardID       string `json:"board_id"`
	BoardSecret   string `json:"board_secret"`
	PairingCode   string `json:"pairing_code"`
	ClaimToken    string `json:"claim_token"`
	CodeExpiresAt string `json:"code_expires_at"`
	ClaimURL      string `json:"claim_url"`
	ClaimQR       string `json:"claim_qr"`
}

// teacherToken signs a teacher up and logs them in from a device.
func teacherToken(t testing.TB, c *apitest.Client, name, device string) string {
	t.Helper()
	email := strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@school.example"
	if res := c.Do(t, "POST", "/api/v1/accounts", map[string]string{"email": email, "password": "correct horse battery", "name": name}); res.Status != 201 {
		t.Fatalf("sign up %s: %d %s", name, res.Status, res.Body)
	}
	res := c.Do(t, "POST", "/api/v1/sessions", map[string]string{"email": email, "password": "correct horse battery", "device": device})
	if res.Status != 201 {
		t.Fatalf("log in %s: %d %s", name, res.Status, res.Body)
	}
	return res.Map(t)["token"].(string)
}

func registerBoard(t *testing.T, c *apitest.Client) newBoard {
	t.Helper()
	return registerBoardFrom(t, c, "")
}

// registerBoardFrom registers a board from a client address (through a
// trusted proxy; "" for none).
func registerBoardFrom(t *testing.T, c *apitest.Client, addr string) newBoard {
	t.Helper()
	var headers []string
	if addr != "" {
		headers = []string{"X-Forwarded-For", addr}
	}
	res := c.Do(t, "POST", "/api/v1/boards", nil, headers...)
	if res.Status != 201 {
		t.Fatalf("register board: %d %s", res.Status, res.Body)
	}
	var b newBoard
	res.JSON(t, &b)
	return b
}

// pairBoard registers a board and pairs it with the teacher by its code.
func pairBoard(t *testing.T, c *apitest.Client, teacher, name string) newBoard {
	t.Helper()
	b := registerBoard(t, c)
	if res := c.With(teacher).Do(t, "POST", "/api/v1/pairings", map[string]string{"code": b.PairingCode, "name": name}); res.Status != 201 {
		t.Fatalf("pair board: %d %s", res.Status, res.Body)
	}
	return b
}

func withPairing(l store.PairingLimits) testcluster.Option {
	return func(cfg *node.Config) { cfg.Store.Pairing = l }
}

func TestPairingScenarios(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	bob := teacherToken(t, c, "Bob Other", "phone")
	b := registerBoard(t, c)
	qr := registerBoard(t, c)
	var paired map[string]any

	apitest.Run(t, c, []apitest.Scenario{
		{Name: "registration shows a code and a claim link", Method: "GET", Path: "/api/v1/boards/" + b.BoardID, Token: b.BoardSecret, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			if len(b.PairingCode) != 6 || strings.Trim(b.PairingCode, "0123456789") != "" || len(b.ClaimToken) != 43 || len(b.BoardSecret) != 43 {
				return apitest.Errorf("registration %+v", b)
			}
			if !strings.HasSuffix(b.ClaimURL, "/pair#claim="+b.ClaimToken) || !strings.HasPrefix(b.ClaimQR, "data:image/png;base64,") {
				return apitest.Errorf("claim link %q, qr %.40q", b.ClaimURL, b.ClaimQR)
			}
			if m := r.Map(t); m["paired"] != false || m["board_id"] != b.BoardID {
				return apitest.Errorf("board %s", r.Body)
			}
			return nil
		}},
		{Name: "unpaired board has no state", Method: "GET", Path: "/api/v1/boards/" + b.BoardID + "/state", Token: b.BoardSecret, Status: 404},
		{Name: "claiming needs a teacher", Method: "POST", Path: "/api/v1/pairings", Body: map[string]string{"code": b.PairingCode, "name": "Room 1"}, Status: 401},
		{Name: "a board cannot claim", Method: "POST", Path: "/api/v1/pairings", Token: qr.BoardSecret, Body: map[string]string{"code": b.PairingCode, "name": "Room 1"}, Status: 401},
		{Name: "no code", Method: "POST", Path: "/api/v1/pairings", Token: ada, Body: map[string]string{"name": "Room 1"}, Status: 400, Code: "invalid", Fields: []string{"code"}},
		{Name: "code not digits", Method: "POST", Path: "/api/v1/pairings", Token: ada, Body: map[string]string{"code": "12ab56", "name": "Room 1"}, Status: 400, Code: "invalid", Fields: []string{"code"}},
		{Name: "no name", Method: "POST", Path: "/api/v1/pairings", Token: ada, Body: map[string]string{"code": b.PairingCode}, Status: 400, Code: "invalid", Fields: []string{"name"}},
		{Name: "unknown field", Method: "POST", Path: "/api/v1/pairings", Token: ada, Body: `{"code":"123456","name":"x","teacher_id":"me"}`, Status: 400, Code: "invalid_json"},
		{Name: "wrong code", Method: "POST", Path: "/api/v1/pairings", Token: ada, Body: map[string]string{"code": wrongCode(b.PairingCode, qr.PairingCode), "name": "Room 1"}, Status: 404, Code: "unknown_code"},
		{Name: "wrong claim token", Method: "POST", Path: "/api/v1/pairings", Token: ada, Body: map[string]string{"claim_token": strings.Repeat("A", 43), "name": "Room 1"}, Status: 404, Code: "unknown_code"},
		{Name: "pair by typed code (spaces allowed)", Method: "POST", Path: "/api/v1/pairings", Token: ada, Body: map[string]string{"code": b.PairingCode[:3] + " " + b.PairingCode[3:], "name": "Room 1"}, Status: 201, Check: func(t *testing.T, r *apitest.Response) error {
			paired = r.Map(t)
			if paired["paired"] != true || paired["teacher_name"] != "Ada Lovelace" || paired["name"] != "Room 1" || paired["board_id"] != b.BoardID {
				return apitest.Errorf("paired board %s", r.Body)
			}
			return nil
		}},
		{Name: "a used code is unknown", Method: "POST", Path: "/api/v1/pairings", Token: bob, Body: map[string]string{"code": b.PairingCode, "name": "Mine"}, Status: 404, Code: "unknown_code"},
		{Name: "the used code's claim token is unknown too", Method: "POST", Path: "/api/v1/pairings", Token: bob, Body: map[string]string{"claim_token": b.ClaimToken, "name": "Mine"}, Status: 404, Code: "unknown_code"},
		{Name: "the board sees who paired it", Method: "GET", Path: "/api/v1/boards/" + b.BoardID, Token: b.BoardSecret, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			if m := r.Map(t); m["paired"] != true || m["teacher_name"] != "Ada Lovelace" || m["paired_at"] == nil {
				return apitest.Errorf("board %s", r.Body)
			}
			return nil
		}},
		{Name: "a paired board gets no new code", Method: "POST", Path: "/api/v1/boards/" + b.BoardID + "/pairing-code", Token: b.BoardSecret, Status: 409},
		{Name: "another board cannot ask for its code", Method: "POST", Path: "/api/v1/boards/" + b.BoardID + "/pairing-code", Token: qr.BoardSecret, Status: 404},
		{Name: "another teacher cannot see it", Method: "GET", Path: "/api/v1/boards/" + b.BoardID, Token: bob, Status: 404},
		{Name: "another teacher cannot read its state", Method: "GET", Path: "/api/v1/boards/" + b.BoardID + "/state", Token: bob, Status: 404},
		{Name: "another teacher cannot steer it", Method: "PUT", Path: "/api/v1/boards/" + b.BoardID + "/state", Token: bob, Headers: []string{"If-Match", "1"}, Body: map[string]any{"slide": 0}, Status: 404},
		{Name: "another teacher cannot forget it", Method: "DELETE", Path: "/api/v1/boards/" + b.BoardID, Token: bob, Status: 404},
		{Name: "another board cannot see it", Method: "GET", Path: "/api/v1/boards/" + b.BoardID, Token: qr.BoardSecret, Status: 404},
		{Name: "the owner lists it", Method: "GET", Path: "/api/v1/boards", Token: ada, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			var page struct {
				Items []map[string]any `json:"items"`
			}
			r.JSON(t, &page)
			if len(page.Items) != 1 || page.Items[0]["board_id"] != b.BoardID {
				return apitest.Errorf("boards %s", r.Body)
			}
			return nil
		}},
		{Name: "others list nothing", Method: "GET", Path: "/api/v1/boards", Token: bob, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			if string(r.Body) != "{\"items\":[]}\n" {
				return apitest.Errorf("boards %s", r.Body)
			}
			return nil
		}},
		{Name: "bad list limit", Method: "GET", Path: "/api/v1/boards?limit=0", Token: ada, Status: 400, Fields: []string{"limit"}},
		{Name: "pair by QR claim token", Method: "POST", Path: "/api/v1/pairings", Token: bob, Body: map[string]string{"claim_token": qr.ClaimToken, "name": "Lab"}, Status: 201},
		{Name: "the QR board's typed code is used up", Method: "POST", Path: "/api/v1/pairings", Token: ada, Body: map[string]string{"code": qr.PairingCode, "name": "Lab"}, Status: 404, Code: "unknown_code"},
		{Name: "the board unpairs itself within a minute (not you?)", Method: "DELETE", Path: "/api/v1/boards/" + qr.BoardID, Token: qr.BoardSecret, Status: 204},
		{Name: "its secret stops working", Method: "GET", Path: "/api/v1/boards/" + qr.BoardID, Token: qr.BoardSecret, Status: 401},
		{Name: "its teacher no longer has it", Method: "GET", Path: "/api/v1/boards/" + qr.BoardID, Token: bob, Status: 404},
		{Name: "the owner forgets a board", Method: "DELETE", Path: "/api/v1/boards/" + b.BoardID, Token: ada, Status: 204},
		{Name: "the forgotten board's secret stops working", Method: "GET", Path: "/api/v1/boards/" + b.BoardID + "/state", Token: b.BoardSecret, Status: 401},
		{Name: "the owner no longer lists it", Method: "GET", Path: "/api/v1/boards", Token: ada, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			if string(r.Body) != "{\"items\":[]}\n" {
				return apitest.Errorf("boards %s", r.Body)
			}
			return nil
		}},
	})
}

// wrongCode returns a code that is neither of the live ones.
func wrongCode(live ...string) string {
	for i := 0; ; i++ {
		c := fmt.Sprintf("%06d", (i*7919+13)%1_000_000)
		if !strings.Contains(strings.Join(live, ","), c) {
			return c
		}
	}
}

func TestPairingCodeExpires(t *testing.T) {
	clock := testcluster.NewClock(time.Now())
	n := testcluster.StartNode(t, testcluster.WithClock(clock))
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	b := registerBoard(t, c)
	expires, err := time.Parse(time.RFC3339, b.CodeExpiresAt)
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(expires.Sub(clock.Now()) + time.Second)
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "an expired code is unknown", Method: "POST", Path: "/api/v1/pairings", Token: ada, Body: map[string]string{"code": b.PairingCode, "name": "Room"}, Status: 404, Code: "unknown_code"},
		{Name: "an expired claim token is unknown", Method: "POST", Path: "/api/v1/pairings", Token: ada, Body: map[string]string{"claim_token": b.ClaimToken, "name": "Room"}, Status: 404, Code: "unknown_code"},
	})
	// The board asks for a fresh code, which works.
	res := c.With(b.BoardSecret).Do(t, "POST", "/api/v1/boards/"+b.BoardID+"/pairing-code", nil)
	if res.Status != 201 {
		t.Fatalf("new code: %d %s", res.Status, res.Body)
	}
	fresh := res.Map(t)["pairing_code"].(string)
	if res := c.With(ada).Do(t, "POST", "/api/v1/pairings", map[string]string{"code": fresh, "name": "Room"}); res.Status != 201 {
		t.Fatalf("pair with fresh code: %d %s", res.Status, res.Body)
	}
}

// Two teachers claiming the same code at once: exactly one wins.
func TestPairingClaimRace(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	teachers := []string{teacherToken(t, c, "Ada Lovelace", "laptop"), teacherToken(t, c, "Bob Other", "laptop")}
	for round := range 5 {
		b := registerBoard(t, c)
		statuses := make([]int, len(teachers))
		var wg sync.WaitGroup
		for i, tok := range teachers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = c.With(tok).Do(t, "POST", "/api/v1/pairings", map[string]string{"code": b.PairingCode, "name": "Room"}).Status
			}()
		}
		wg.Wait()
		if won := (statuses[0] == 201) != (statuses[1] == 201); !won || statuses[0]+statuses[1] != 201+404 {
			t.Fatalf("round %d: statuses %v, want one 201 and one 404", round, statuses)
		}
	}
}

// stoppedClock holds the limits' clock still: they count in fixed windows,
// and a window ending in the middle of a scenario would reset its counts.
func stoppedClock() testcluster.Option {
	return testcluster.WithClock(testcluster.NewClock(time.Now()))
}

func guess(c *apitest.Client, token, code string) apitest.Scenario {
	return apitest.Scenario{Method: "POST", Path: "/api/v1/pairings", Token: token, Body: map[string]string{"code": code, "name": "Room"}}
}

func named(sc apitest.Scenario, name string, status int, code string) apitest.Scenario {
	sc.Name, sc.Status, sc.Code = name, status, code
	if status == 429 {
		sc.Check = func(t *testing.T, r *apitest.Response) error {
			if r.Header.Get("Retry-After") == "" {
				return apitest.Errorf("429 without Retry-After")
			}
			return nil
		}
	}
	return sc
}

func TestPairingRateLimits(t *testing.T) {
	high := 1000
	t.Run("per account: 5 failures in 10 minutes", func(t *testing.T) {
		n := testcluster.StartNode(t, withPairing(store.PairingLimits{FailsPerAddrMinute: high, FailsGlobalPerMinute: high}), stoppedClock())
		c := apitest.New(n.URL())
		ada, bob := teacherToken(t, c, "Ada Lovelace", "laptop"), teacherToken(t, c, "Bob Other", "laptop")
		b, qr := registerBoard(t, c), registerBoard(t, c)
		wrong := wrongCode(b.PairingCode, qr.PairingCode)
		var scs []apitest.Scenario
		for i := range 5 {
			scs = append(scs, named(guess(c, ada, wrong), fmt.Sprintf("failure %d", i+1), 404, "unknown_code"))
		}
		scs = append(scs,
			named(guess(c, ada, wrong), "sixth attempt refused", 429, "rate_limited"),
			named(guess(c, ada, b.PairingCode), "even the right code is refused", 429, "rate_limited"),
			named(guess(c, bob, b.PairingCode), "another account still pairs", 201, ""),
			apitest.Scenario{Name: "QR pairing still works for the limited account", Method: "POST", Path: "/api/v1/pairings", Token: ada, Body: map[string]string{"claim_token": qr.ClaimToken, "name": "Lab"}, Status: 201},
		)
		apitest.Run(t, c, scs)
	})
	t.Run("per account: 20 failures a day", func(t *testing.T) {
		n := testcluster.StartNode(t, withPairing(store.PairingLimits{FailsPer10Min: high, FailsPerAddrMinute: high, FailsGlobalPerMinute: high}), stoppedClock())
		c := apitest.New(n.URL())
		ada := teacherToken(t, c, "Ada Lovelace", "laptop")
		b := registerBoard(t, c)
		wrong := wrongCode(b.PairingCode)
		var scs []apitest.Scenario
		for i := range 20 {
			scs = append(scs, named(guess(c, ada, wrong), fmt.Sprintf("failure %d", i+1), 404, "unknown_code"))
		}
		scs = append(scs, named(guess(c, ada, b.PairingCode), "21st attempt refused", 429, "rate_limited"))
		apitest.Run(t, c, scs)
	})
	t.Run("per client address: 10 failures a minute", func(t *testing.T) {
		n := testcluster.StartNode(t, withPairing(store.PairingLimits{FailsGlobalPerMinute: high}), stoppedClock())
		c := apitest.New(n.URL())
		tokens := []string{teacherToken(t, c, "Ada Lovelace", "laptop"), teacherToken(t, c, "Bob Other", "laptop"), teacherToken(t, c, "Cy Third", "laptop")}
		b := registerBoard(t, c)
		wrong := wrongCode(b.PairingCode)
		var scs []apitest.Scenario
		for i := range 10 { // 4 + 4 + 2: no account reaches its own limit
			scs = append(scs, named(guess(c, tokens[i/4], wrong), fmt.Sprintf("failure %d", i+1), 404, "unknown_code"))
		}
		scs = append(scs, named(guess(c, tokens[2], b.PairingCode), "the address is refused", 429, "rate_limited"))
		apitest.Run(t, c, scs)
	})
	t.Run("global budget: spent by attackers, it refuses typed codes from elsewhere but not the board's own network", func(t *testing.T) {
		n := testcluster.StartNode(t, behindProxy, withPairing(store.PairingLimits{FailsGlobalPerMinute: 3, FailsPerAddrMinute: high}), stoppedClock())
		c := apitest.New(n.URL())
		tokens := []string{teacherToken(t, c, "Ada Lovelace", "laptop"), teacherToken(t, c, "Bob Other", "laptop"), teacherToken(t, c, "Cy Third", "laptop")}
		fresh, away := teacherToken(t, c, "Dee Fresh", "laptop"), teacherToken(t, c, "Eve Away", "phone")
		const school, attacker, elsewhere = "198.51.100.10", "203.0.113.5", "192.0.2.77"
		at := func(sc apitest.Scenario, addr string) apitest.Scenario {
			sc.Headers = []string{"X-Forwarded-For", addr}
			return sc
		}
		b := registerBoardFrom(t, c, school)
		other, third := registerBoardFrom(t, c, school), registerBoardFrom(t, c, school)
		wrong := wrongCode(b.PairingCode, other.PairingCode, third.PairingCode)
		apitest.Run(t, c, []apitest.Scenario{
			named(at(guess(c, tokens[0], wrong), attacker), "failure 1", 404, "unknown_code"),
			named(at(guess(c, tokens[1], wrong), attacker), "failure 2", 404, "unknown_code"),
			named(at(guess(c, tokens[2], wrong), attacker), "failure 3", 404, "unknown_code"),
			named(at(guess(c, tokens[0], b.PairingCode), attacker), "the attacker is refused even the right code", 429, "rate_limited"),
			named(at(guess(c, away, other.PairingCode), elsewhere), "a right code from another network is refused", 429, "rate_limited"),
			named(at(guess(c, fresh, b.PairingCode), school), "a fresh teacher on the board's network pairs by code", 201, ""),
			// Refused guesses still count against the guesser: no free looks.
			named(at(guess(c, tokens[0], wrong), school), "a wrong code on the network, refused", 429, "rate_limited"),
			named(at(guess(c, tokens[0], wrong), school), "another, refused", 429, "rate_limited"),
			named(at(guess(c, tokens[0], wrong), school), "a third, refused", 429, "rate_limited"),
			named(at(guess(c, tokens[0], third.PairingCode), school), "then the guesser's own limit refuses even a right code", 429, "rate_limited"),
			{Name: "the other board pairs by QR from anywhere", Method: "POST", Path: "/api/v1/pairings", Token: away, Headers: []string{"X-Forwarded-For", elsewhere},
				Body: map[string]string{"claim_token": other.ClaimToken, "name": "Room"}, Status: 201},
		})
	})
	t.Run("board registration per client address", func(t *testing.T) {
		n := testcluster.StartNode(t, withPairing(store.PairingLimits{CreatesPerHour: 2}), stoppedClock())
		c := apitest.New(n.URL())
		apitest.Run(t, c, []apitest.Scenario{
			{Name: "first", Method: "POST", Path: "/api/v1/boards", Status: 201},
			{Name: "second", Method: "POST", Path: "/api/v1/boards", Status: 201},
			named(apitest.Scenario{Method: "POST", Path: "/api/v1/boards"}, "third refused", 429, "rate_limited"),
		})
	})
}

func TestPairingIdempotencyKey(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	b := registerBoard(t, c)
	body := map[string]string{"code": b.PairingCode, "name": "Room"}
	first := c.With(ada).Do(t, "POST", "/api/v1/pairings", body, "Idempotency-Key", "k1")
	retry := c.With(ada).Do(t, "POST", "/api/v1/pairings", body, "Idempotency-Key", "k1")
	if first.Status != 201 || retry.Status != 201 || string(first.Body) != string(retry.Body) || retry.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("first %d %s, retry %d %s", first.Status, first.Body, retry.Status, retry.Body)
	}
}

func TestBoardStateScenarios(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	b := pairBoard(t, c, ada, "Room 1")
	path := "/api/v1/boards/" + b.BoardID + "/state"
	var rev float64
	ends := time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)

	apitest.Run(t, c, []apitest.Scenario{
		{Name: "a never-steered board has a state with a revision", Method: "GET", Path: path, Token: b.BoardSecret, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			m := r.Map(t)
			rev, _ = m["revision"].(float64)
			if rev == 0 || m["slide"] != 0.0 || m["blank"] != false || m["timer"] != nil || r.Header.Get("ETag") != fmt.Sprintf(`"%d"`, int(rev)) {
				return apitest.Errorf("state %s etag %s", r.Body, r.Header.Get("ETag"))
			}
			return nil
		}},
		{Name: "without If-Match", Method: "PUT", Path: path, Token: ada, Body: map[string]any{"slide": 0, "blank": true}, Status: 428, Code: "if_match_required"},
		{Name: "If-Match not a revision", Method: "PUT", Path: path, Token: ada, Headers: []string{"If-Match", "abc"}, Body: map[string]any{"slide": 0}, Status: 400, Code: "invalid"},
		{Name: "the board cannot steer itself", Method: "PUT", Path: path, Token: b.BoardSecret, Headers: []string{"If-Match", "1"}, Body: map[string]any{"slide": 0}, Status: 401},
	})
	ifMatch := func() []string { return []string{"If-Match", fmt.Sprintf(`"%d"`, int(rev))} }
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "negative slide", Method: "PUT", Path: path, Token: ada, Headers: ifMatch(), Body: map[string]any{"slide": -1}, Status: 400, Fields: []string{"slide"}},
		{Name: "a slide without a lesson", Method: "PUT", Path: path, Token: ada, Headers: ifMatch(), Body: map[string]any{"slide": 3}, Status: 400, Fields: []string{"slide"}},
		{Name: "a timer days ahead", Method: "PUT", Path: path, Token: ada, Headers: ifMatch(), Body: map[string]any{"slide": 0, "timer": map[string]any{"ends_at": time.Now().Add(48 * time.Hour).Format(time.RFC3339)}}, Status: 400, Fields: []string{"timer"}},
		{Name: "steer: blank and a timer", Method: "PUT", Path: path, Token: ada, Headers: ifMatch(), Body: map[string]any{"slide": 0, "blank": true, "timer": map[string]any{"ends_at": ends}}, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			m := r.Map(t)
			if m["blank"] != true || m["updated_by"] != "laptop" || m["revision"].(float64) <= rev || m["timer"].(map[string]any)["ends_at"] != ends {
				return apitest.Errorf("state %s", r.Body)
			}
			return nil
		}},
		{Name: "a stale steer is 412 with the current state", Method: "PUT", Path: path, Token: ada, Headers: ifMatch(), Body: map[string]any{"slide": 0, "blank": false}, Status: 412, Code: "revision_mismatch", Check: func(t *testing.T, r *apitest.Response) error {
			var e struct {
				Current map[string]any `json:"current"`
			}
			if err := json.Unmarshal(r.Body, &e); err != nil || e.Current["blank"] != true || e.Current["revision"].(float64) <= rev {
				return apitest.Errorf("412 body %s", r.Body)
			}
			return nil
		}},
		{Name: "the board reads what it shows", Method: "GET", Path: path, Token: b.BoardSecret, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			m := r.Map(t)
			if m["blank"] != true {
				return apitest.Errorf("state %s", r.Body)
			}
			rev = m["revision"].(float64)
			return nil
		}},
		{Name: "no lesson to read yet", Method: "GET", Path: "/api/v1/boards/" + b.BoardID + "/lesson", Token: b.BoardSecret, Status: 404},
	})

	lesson := map[string]any{"title": "Fractions", "slides": []map[string]string{{"kind": "text", "title": "One"}, {"kind": "text", "title": "Two"}}}
	mine := c.With(ada).Do(t, "POST", "/api/v1/lessons", lesson).Map(t)["id"].(string)
	bob := teacherToken(t, c, "Bob Other", "laptop")
	theirs := c.With(bob).Do(t, "POST", "/api/v1/lessons", lesson).Map(t)["id"].(string)
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "another teacher's lesson", Method: "PUT", Path: path, Token: ada, Headers: ifMatch(), Body: map[string]any{"lesson_id": theirs, "slide": 0}, Status: 400, Fields: []string{"lesson_id"}},
		{Name: "a slide past the lesson's end", Method: "PUT", Path: path, Token: ada, Headers: ifMatch(), Body: map[string]any{"lesson_id": mine, "slide": 2}, Status: 400, Fields: []string{"slide"}},
		{Name: "the second slide", Method: "PUT", Path: path, Token: ada, Headers: ifMatch(), Body: map[string]any{"lesson_id": mine, "slide": 1}, Status: 200},
		{Name: "the board reads its lesson", Method: "GET", Path: "/api/v1/boards/" + b.BoardID + "/lesson", Token: b.BoardSecret, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			var l struct {
				ID     string `json:"id"`
				Slides []struct {
					Title string `json:"title"`
					HTML  string `json:"html"`
				} `json:"slides"`
			}
			r.JSON(t, &l)
			if l.ID != mine || len(l.Slides) != 2 || l.Slides[1].Title != "Two" {
				return apitest.Errorf("lesson %s", r.Body)
			}
			return nil
		}},
		{Name: "another teacher cannot read it", Method: "GET", Path: "/api/v1/boards/" + b.BoardID + "/lesson", Token: bob, Status: 404},
	})
}

// Each route lets through only the callers it names: a teacher's session,
// a board's secret, or either (api/auth.go).
func TestWhoMayCall(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	b := pairBoard(t, c, ada, "Room 101")
	fresh := registerBoard(t, c)
	board := "/api/v1/boards/" + b.BoardID
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "teachers only: a board's secret is refused", Method: "GET", Path: "/api/v1/me", Token: b.BoardSecret, Status: 401, Code: "unauthorized"},
		{Name: "teachers only: no token is refused", Method: "GET", Path: "/api/v1/lessons", Status: 401, Code: "unauthorized"},
		{Name: "teachers only: a session passes", Method: "GET", Path: "/api/v1/me", Token: ada, Status: 200},
		{Name: "boards only: a teacher's session is refused", Method: "POST", Path: "/api/v1/boards/" + fresh.BoardID + "/pairing-code", Token: ada, Status: 401, Code: "unauthorized"},
		{Name: "boards only: no token is refused", Method: "POST", Path: "/api/v1/boards/" + fresh.BoardID + "/pairing-code", Status: 401, Code: "unauthorized"},
		{Name: "boards only: the board's secret passes", Method: "POST", Path: "/api/v1/boards/" + fresh.BoardID + "/pairing-code", Token: fresh.BoardSecret, Status: 201},
		{Name: "either: the owner's session passes", Method: "GET", Path: board, Token: ada, Status: 200},
		{Name: "either: the board's secret passes", Method: "GET", Path: board, Token: b.BoardSecret, Status: 200},
		{Name: "either: no token is refused", Method: "GET", Path: board, Status: 401, Code: "unauthorized"},
		{Name: "either: a made-up token is refused", Method: "GET", Path: board, Token: strings.Repeat("x", 43), Status: 401, Code: "unauthorized"},
	})
}
