package api_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
)

// timerKeys returns the keys of a state's timer, sorted, and the state.
func timerKeys(t *testing.T, r *apitest.Response) ([]string, map[string]any) {
	t.Helper()
	m := r.Map(t)
	timer, _ := m["timer"].(map[string]any)
	var keys []string
	for k := range timer {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, m
}

// The presenter's additions to the board state: a paused timer carries the
// time it has left, a running one stays exactly {"ends_at"}; a blank
// screen may be white, and black (the default) is never written out.
func TestPresenterStateScenarios(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	b := pairBoard(t, c, ada, "Room 1")
	path := "/api/v1/boards/" + b.BoardID + "/state"
	rev := int(c.With(ada).Do(t, "GET", path, nil).Map(t)["revision"].(float64))
	ifMatch := func() []string { return []string{"If-Match", fmt.Sprintf(`"%d"`, rev)} }
	ends := time.Now().Add(5 * time.Minute).UTC().Format(time.RFC3339)
	put := func(name string, body map[string]any, status int, fields ...string) apitest.Scenario {
		return apitest.Scenario{Name: name, Method: "PUT", Path: path, Token: ada, Headers: ifMatch(), Body: body, Status: status, Fields: fields}
	}
	moved := func(check func(t *testing.T, r *apitest.Response) error) func(t *testing.T, r *apitest.Response) error {
		return func(t *testing.T, r *apitest.Response) error {
			rev = int(r.Map(t)["revision"].(float64))
			return check(t, r)
		}
	}
	apitest.Run(t, c, []apitest.Scenario{
		put("a blank colour that is not black or white", map[string]any{"blank": true, "blank_color": "pink"}, 400, "blank_color"),
		put("a paused timer without the time left", map[string]any{"timer": map[string]any{"paused": true}}, 400, "timer"),
		put("a paused timer with an end", map[string]any{"timer": map[string]any{"paused": true, "remaining_ms": 60000, "ends_at": ends}}, 400, "timer"),
		put("time left on a running timer", map[string]any{"timer": map[string]any{"remaining_ms": 60000, "ends_at": ends}}, 400, "timer"),
		put("a paused timer of more than a day", map[string]any{"timer": map[string]any{"paused": true, "remaining_ms": 25 * 3600 * 1000}}, 400, "timer"),
		put("a negative time left", map[string]any{"timer": map[string]any{"paused": true, "remaining_ms": -5}}, 400, "timer"),
		{Name: "an unknown timer field", Method: "PUT", Path: path, Token: ada, Headers: ifMatch(), Body: `{"timer":{"ends_at":"` + ends + `","speed":2}}`, Status: 400, Code: "invalid_json"},
	})
	white := put("blank white", map[string]any{"blank": true, "blank_color": "white"}, 200)
	white.Check = moved(func(t *testing.T, r *apitest.Response) error {
		if _, m := timerKeys(t, r); m["blank"] != true || m["blank_color"] != "white" {
			return apitest.Errorf("state %s", r.Body)
		}
		return nil
	})
	apitest.Run(t, c, []apitest.Scenario{white})
	black := put("blank black: the colour is left out", map[string]any{"blank": true, "blank_color": "black", "timer": map[string]any{"ends_at": ends}}, 200)
	black.Check = moved(func(t *testing.T, r *apitest.Response) error {
		keys, m := timerKeys(t, r)
		if _, has := m["blank_color"]; has || m["blank"] != true || !slices.Equal(keys, []string{"ends_at"}) {
			return apitest.Errorf("state %s: a black blank and a running timer look as before", r.Body)
		}
		return nil
	})
	apitest.Run(t, c, []apitest.Scenario{black})
	shown := put("the slide again: no colour is kept", map[string]any{"blank": false, "blank_color": "white"}, 200)
	shown.Check = moved(func(t *testing.T, r *apitest.Response) error {
		if _, m := timerKeys(t, r); m["blank"] != false || m["blank_color"] != nil {
			return apitest.Errorf("state %s", r.Body)
		}
		return nil
	})
	apitest.Run(t, c, []apitest.Scenario{shown})
	paused := put("pause the timer", map[string]any{"timer": map[string]any{"paused": true, "remaining_ms": 83000}}, 200)
	paused.Check = moved(func(t *testing.T, r *apitest.Response) error {
		if keys, m := timerKeys(t, r); !slices.Equal(keys, []string{"paused", "remaining_ms"}) || m["timer"].(map[string]any)["remaining_ms"] != 83000.0 {
			return apitest.Errorf("paused state %s", r.Body)
		}
		return nil
	})
	apitest.Run(t, c, []apitest.Scenario{paused,
		{Name: "the board reads the paused timer", Method: "GET", Path: path, Token: b.BoardSecret, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			if keys, _ := timerKeys(t, r); !slices.Equal(keys, []string{"paused", "remaining_ms"}) {
				return apitest.Errorf("state %s", r.Body)
			}
			return nil
		}},
	})
}

// POST /boards/{id}/pointer: the owner's only, validated, and answered
// without storing anything.
func TestPointerScenarios(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	bob := teacherToken(t, c, "Bob Other", "phone")
	b := pairBoard(t, c, ada, "Room 1")
	unpaired := registerBoard(t, c)
	path := "/api/v1/boards/" + b.BoardID + "/pointer"
	before := c.With(ada).Do(t, "GET", "/api/v1/boards/"+b.BoardID+"/state", nil).Map(t)["revision"]
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "no token", Method: "POST", Path: path, Body: map[string]any{"x": 0.5, "y": 0.5}, Status: 401, Code: "unauthorized"},
		{Name: "the board cannot point at itself", Method: "POST", Path: path, Token: b.BoardSecret, Body: map[string]any{"x": 0.5, "y": 0.5}, Status: 401, Code: "unauthorized"},
		{Name: "another teacher's board is not found", Method: "POST", Path: path, Token: bob, Body: map[string]any{"x": 0.5, "y": 0.5}, Status: 404, Code: "not_found"},
		{Name: "an unpaired board is not found", Method: "POST", Path: "/api/v1/boards/" + unpaired.BoardID + "/pointer", Token: ada, Body: map[string]any{"x": 0.5, "y": 0.5}, Status: 404, Code: "not_found"},
		{Name: "an unknown board", Method: "POST", Path: "/api/v1/boards/nope/pointer", Token: ada, Body: map[string]any{"x": 0.5, "y": 0.5}, Status: 404, Code: "not_found"},
		{Name: "x past the slide", Method: "POST", Path: path, Token: ada, Body: map[string]any{"x": 1.5, "y": 0.5}, Status: 400, Code: "invalid", Fields: []string{"x"}},
		{Name: "y below the slide", Method: "POST", Path: path, Token: ada, Body: map[string]any{"x": 0.5, "y": -0.1}, Status: 400, Code: "invalid", Fields: []string{"y"}},
		{Name: "no y", Method: "POST", Path: path, Token: ada, Body: map[string]any{"x": 0.5}, Status: 400, Code: "invalid", Fields: []string{"y"}},
		{Name: "hidden with a point", Method: "POST", Path: path, Token: ada, Body: map[string]any{"hidden": true, "x": 0.5, "y": 0.5}, Status: 400, Code: "invalid", Fields: []string{"hidden"}},
		{Name: "x as text", Method: "POST", Path: path, Token: ada, Body: `{"x":"0.5","y":0.5}`, Status: 400, Code: "invalid", Fields: []string{"x"}},
		{Name: "an unknown field", Method: "POST", Path: path, Token: ada, Body: `{"x":0.5,"y":0.5,"color":"red"}`, Status: 400, Code: "invalid_json"},
		{Name: "not JSON", Method: "POST", Path: path, Token: ada, Body: "x=1", Status: 400, Code: "invalid_json"},
		{Name: "a point", Method: "POST", Path: path, Token: ada, Body: map[string]any{"x": 0.25, "y": 1}, Status: 204},
		{Name: "hidden", Method: "POST", Path: path, Token: ada, Body: map[string]any{"hidden": true}, Status: 204},
		{Name: "the state did not change", Method: "GET", Path: "/api/v1/boards/" + b.BoardID + "/state", Token: ada, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			if m := r.Map(t); m["revision"] != before {
				return apitest.Errorf("state %s after pointer moves, revision was %v", r.Body, before)
			}
			return nil
		}},
	})
}

// A board's pointer moves are limited per board: past the burst, 429 with
// Retry-After; another board of the same teacher is not held up.
func TestPointerRateLimit(t *testing.T) {
	n := testcluster.StartNode(t, func(cfg *node.Config) { cfg.PointerRate, cfg.PointerBurst = 0.001, 3 })
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	bob := teacherToken(t, c, "Bob Other", "phone")
	b, other := pairBoard(t, c, ada, "Room 1"), pairBoard(t, c, ada, "Room 2")
	path := "/api/v1/boards/" + b.BoardID + "/pointer"
	point := map[string]any{"x": 0.5, "y": 0.5}
	// Another teacher's tries spend nothing of the owner's moves.
	for range 5 {
		if res := c.With(bob).Do(t, "POST", path, point); res.Status != 404 {
			t.Fatalf("another teacher: %d %s", res.Status, res.Body)
		}
	}
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "first", Method: "POST", Path: path, Token: ada, Body: point, Status: 204},
		{Name: "second", Method: "POST", Path: path, Token: ada, Body: point, Status: 204},
		{Name: "third", Method: "POST", Path: path, Token: ada, Body: point, Status: 204},
		{Name: "past the burst", Method: "POST", Path: path, Token: ada, Body: point, Status: 429, Code: "rate_limited", Check: func(t *testing.T, r *apitest.Response) error {
			if r.Header.Get("Retry-After") == "" {
				return apitest.Errorf("no Retry-After")
			}
			return nil
		}},
		{Name: "another board has its own", Method: "POST", Path: "/api/v1/boards/" + other.BoardID + "/pointer", Token: ada, Body: point, Status: 204},
	})
}
