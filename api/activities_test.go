package api_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
	"github.com/classboard/classboard/store"
)

// Aggregate is the live part of an activity.
type Aggregate struct {
	Pupils   int                  `json:"pupils"`
	Answers  int                  `json:"answers"`
	Counts   []int                `json:"counts"`
	Markers  []map[string]float64 `json:"markers"`
	Approved []string             `json:"approved"`
}

// activity is the part of GET/PUT /activity the tests read.
type activity struct {
	Status   string `json:"status"`
	Kind     string `json:"kind"`
	RoomID   string `json:"room_id"`
	JoinCode string `json:"join_code"`
	Revision uint64 `json:"revision"`
	// The aggregate's fields sit in the activity itself (API.md).
	*Aggregate
	Pupils  []listedPupil `json:"pupil_list"`
	Pending []struct {
		PupilID string `json:"pupil_id"`
		Text    string `json:"text"`
	} `json:"pending"`
}

// listedPupil is an entry of the owner's pupil_list.
type listedPupil struct {
	ID   string `json:"pupil_id"`
	Name string `json:"name"`
}

type pupil struct {
	RoomID string `json:"room_id"`
	Token  string `json:"pupil_token"`
	ID     string `json:"pupil_id"`
}

func withActivities(l store.ActivityLimits) testcluster.Option {
	return func(cfg *node.Config) { cfg.Store.Activities = l }
}

func getActivity(t *testing.T, c *apitest.Client, token, boardID string) activity {
	t.Helper()
	res := c.With(token).Do(t, "GET", "/api/v1/boards/"+boardID+"/activity", nil)
	if res.Status != 200 {
		t.Fatalf("get activity: %d %s", res.Status, res.Body)
	}
	var a activity
	res.JSON(t, &a)
	return a
}

// setActivity PUTs an activity with the current revision as If-Match.
func setActivity(t *testing.T, c *apitest.Client, token, boardID string, body map[string]any) activity {
	t.Helper()
	cur := getActivity(t, c, token, boardID)
	res := c.With(token).Do(t, "PUT", "/api/v1/boards/"+boardID+"/activity", body, "If-Match", fmt.Sprint(cur.Revision))
	if res.Status != 200 {
		t.Fatalf("put activity %v: %d %s", body, res.Status, res.Body)
	}
	var a activity
	res.JSON(t, &a)
	return a
}

func joinRoom(t *testing.T, c *apitest.Client, code, name string) pupil {
	t.Helper()
	res := c.Do(t, "POST", "/api/v1/rooms/join", map[string]string{"code": code, "name": name})
	if res.Status != 201 {
		t.Fatalf("join %s as %s: %d %s", code, name, res.Status, res.Body)
	}
	var p pupil
	res.JSON(t, &p)
	return p
}

func answer(p pupil, name string, body any, status int, code string) apitest.Scenario {
	return apitest.Scenario{Name: name, Method: "PUT", Path: "/api/v1/rooms/" + p.RoomID + "/answer", Token: p.Token, Body: body, Status: status, Code: code}
}

func pollBody(status string) map[string]any {
	return map[string]any{"kind": "poll", "slide": 0, "options": []string{"Yes", "No"}, "status": status}
}

func TestActivityScenarios(t *testing.T) {
	c, ada, bob, b := activityClass(t)
	other := pairBoard(t, c, bob, "Room 2")
	path := "/api/v1/boards/" + b.BoardID + "/activity"

	apitest.Run(t, c, []apitest.Scenario{
		{Name: "no activity yet", Method: "GET", Path: path, Token: ada, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			if m := r.Map(t); m["status"] != "none" || m["revision"] != float64(0) {
				return apitest.Errorf("activity %s", r.Body)
			}
			return nil
		}},
		{Name: "the board reads it too", Method: "GET", Path: path, Token: b.BoardSecret, Status: 200},
		{Name: "another teacher cannot read it", Method: "GET", Path: path, Token: bob, Status: 404},
		{Name: "another board cannot read it", Method: "GET", Path: path, Token: other.BoardSecret, Status: 404},
		{Name: "anyone cannot read it", Method: "GET", Path: path, Status: 401},
		{Name: "If-Match is required", Method: "PUT", Path: path, Token: ada, Body: pollBody("open"), Status: 428, Code: "if_match_required"},
		{Name: "unknown kind", Method: "PUT", Path: path, Token: ada, Headers: []string{"If-Match", "0"}, Body: map[string]any{"kind": "quiz", "slide": 0, "status": "open"}, Status: 400, Code: "invalid", Fields: []string{"kind"}},
		{Name: "a poll needs two options", Method: "PUT", Path: path, Token: ada, Headers: []string{"If-Match", "0"}, Body: map[string]any{"kind": "poll", "slide": 0, "options": []string{"Yes"}, "status": "open"}, Status: 400, Code: "invalid", Fields: []string{"options"}},
		{Name: "at most six options", Method: "PUT", Path: path, Token: ada, Headers: []string{"If-Match", "0"}, Body: map[string]any{"kind": "poll", "slide": 0, "options": []string{"", "", "", "", "", "", ""}, "status": "open"}, Status: 400, Code: "invalid", Fields: []string{"options"}},
		{Name: "options only for a poll", Method: "PUT", Path: path, Token: ada, Headers: []string{"If-Match", "0"}, Body: map[string]any{"kind": "markers", "slide": 0, "options": []string{"a", "b"}, "status": "open"}, Status: 400, Code: "invalid", Fields: []string{"options"}},
		{Name: "a new activity starts open", Method: "PUT", Path: path, Token: ada, Headers: []string{"If-Match", "0"}, Body: pollBody("locked"), Status: 400, Code: "invalid", Fields: []string{"status"}},
		{Name: "unknown status", Method: "PUT", Path: path, Token: ada, Headers: []string{"If-Match", "0"}, Body: pollBody("paused"), Status: 400, Code: "invalid", Fields: []string{"status"}},
		{Name: "a stale If-Match", Method: "PUT", Path: path, Token: ada, Headers: []string{"If-Match", "7"}, Body: pollBody("open"), Status: 412, Code: "revision_mismatch"},
		{Name: "another teacher cannot start one", Method: "PUT", Path: path, Token: bob, Headers: []string{"If-Match", "0"}, Body: pollBody("open"), Status: 404},
		{Name: "a board cannot start one", Method: "PUT", Path: path, Token: b.BoardSecret, Headers: []string{"If-Match", "0"}, Body: pollBody("open"), Status: 401},
		{Name: "start a poll", Method: "PUT", Path: path, Token: ada, Headers: []string{"If-Match", "0"}, Body: pollBody("open"), Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			var a activity
			r.JSON(t, &a)
			if a.Status != "open" || len(a.JoinCode) != 6 || a.RoomID == "" || a.Revision == 0 || r.Header.Get("ETag") != fmt.Sprintf(`"%d"`, a.Revision) {
				return apitest.Errorf("activity %s", r.Body)
			}
			return nil
		}},
	})
	act := getActivity(t, c, ada, b.BoardID)
	wrong := fmt.Sprintf("%06d", (mustAtoi(act.JoinCode)+1)%1_000_000)
	join := func(name, code, who string, status int, errCode string, fields ...string) apitest.Scenario {
		return apitest.Scenario{Name: name, Method: "POST", Path: "/api/v1/rooms/join", Body: map[string]string{"code": code, "name": who}, Status: status, Code: errCode, Fields: fields}
	}
	apitest.Run(t, c, []apitest.Scenario{
		join("wrong code", wrong, "Sam", 404, "unknown_code"),
		join("a malformed code is the same 404", "12ab", "Sam", 404, "unknown_code"),
		join("no name", act.JoinCode, " ", 400, "invalid", "name"),
		join("name too long", act.JoinCode, strings.Repeat("n", 31), 400, "invalid", "name"),
		{Name: "unknown field", Method: "POST", Path: "/api/v1/rooms/join", Body: `{"code":"123456","name":"x","room_id":"r"}`, Status: 400, Code: "invalid_json"},
		join("join by code, spaces allowed", act.JoinCode[:3]+" "+act.JoinCode[3:], "Ann", 201, ""),
	})
	sam, kim := joinRoom(t, c, act.JoinCode, "Sam"), joinRoom(t, c, act.JoinCode, "Kim")
	room := "/api/v1/rooms/" + sam.RoomID
	// Bob's board runs a short-answer activity: its pupil's token is worth
	// nothing in Ada's room, and the other way round.
	bobAct := setActivity(t, c, bob, other.BoardID, map[string]any{"kind": "answer", "slide": 0, "status": "open"})
	lee := joinRoom(t, c, bobAct.JoinCode, "Lee")

	apitest.Run(t, c, []apitest.Scenario{
		{Name: "the pupil sees the question", Method: "GET", Path: room, Token: sam.Token, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			if m := r.Map(t); m["kind"] != "poll" || m["status"] != "open" || m["name"] != "Sam" || len(m["options"].([]any)) != 2 || m["answer"] != nil {
				return apitest.Errorf("room %s", r.Body)
			}
			return nil
		}},
		{Name: "no token", Method: "GET", Path: room, Status: 401, Code: "unauthorized"},
		{Name: "a made-up token", Method: "GET", Path: room, Token: strings.Repeat("A", 43), Status: 401, Code: "unauthorized"},
		{Name: "a teacher's token is no pupil's", Method: "PUT", Path: room + "/answer", Token: ada, Body: map[string]int{"choice": 0}, Status: 401},
		{Name: "token of another room cannot read", Method: "GET", Path: room, Token: lee.Token, Status: 404, Code: "not_found"},
		{Name: "token of another room cannot answer", Method: "PUT", Path: room + "/answer", Token: lee.Token, Body: map[string]int{"choice": 0}, Status: 404, Code: "not_found"},
		answer(sam, "choice out of range", map[string]int{"choice": 2}, 400, "invalid"),
		answer(sam, "a marker in a poll", map[string]any{"marker": map[string]float64{"x": .5, "y": .5}}, 400, "invalid"),
		answer(sam, "two answers at once", map[string]any{"choice": 0, "text": "x"}, 400, "invalid"),
		answer(sam, "no answer", map[string]any{}, 400, "invalid"),
		answer(sam, "unknown field", `{"choice":0,"pupil_id":"2"}`, 400, "invalid_json"),
		answer(sam, "Sam answers Yes", map[string]int{"choice": 0}, 200, ""),
		answer(kim, "Kim answers No", map[string]int{"choice": 1}, 200, ""),
		answer(sam, "Sam changes to No", map[string]int{"choice": 1}, 200, ""),
		{Name: "the pupil sees their own answer only", Method: "GET", Path: room, Token: sam.Token, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			if m := r.Map(t); fmt.Sprint(m["answer"]) != "map[choice:1]" || m["pupils"] != nil || m["pupil_list"] != nil {
				return apitest.Errorf("room %s", r.Body)
			}
			return nil
		}},
		{Name: "the owner sees counts and who joined", Method: "GET", Path: path, Token: ada, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			var a activity
			r.JSON(t, &a)
			if a.Aggregate == nil || a.Aggregate.Pupils != 3 || a.Aggregate.Answers != 2 || !slices.Equal(a.Aggregate.Counts, []int{0, 2}) || len(a.Pupils) != 3 || !slices.ContainsFunc(a.Pupils, func(p listedPupil) bool { return p.Name == "Sam" }) {
				return apitest.Errorf("activity %s", r.Body)
			}
			return nil
		}},
		{Name: "the board sees counts, no names", Method: "GET", Path: path, Token: b.BoardSecret, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			var a activity
			r.JSON(t, &a)
			if a.Aggregate == nil || !slices.Equal(a.Aggregate.Counts, []int{0, 2}) || a.Pupils != nil || strings.Contains(string(r.Body), "Sam") {
				return apitest.Errorf("activity %s", r.Body)
			}
			return nil
		}},
		{Name: "another teacher cannot remove a pupil", Method: "DELETE", Path: path + "/pupils/" + kim.ID, Token: bob, Status: 404},
		{Name: "the teacher removes Kim", Method: "DELETE", Path: path + "/pupils/" + kim.ID, Token: ada, Status: 204},
		{Name: "removing again", Method: "DELETE", Path: path + "/pupils/" + kim.ID, Token: ada, Status: 404},
		answer(kim, "a removed pupil cannot answer", map[string]int{"choice": 0}, 401, "unauthorized"),
		{Name: "a removed pupil cannot read the room", Method: "GET", Path: room, Token: kim.Token, Status: 401},
		{Name: "Kim's answer is gone", Method: "GET", Path: path, Token: ada, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			var a activity
			r.JSON(t, &a)
			if a.Aggregate.Pupils != 2 || !slices.Equal(a.Aggregate.Counts, []int{0, 1}) {
				return apitest.Errorf("activity %s", r.Body)
			}
			return nil
		}},
	})
	lock := pollBody("locked")
	act = getActivity(t, c, ada, b.BoardID)
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "lock with a stale revision", Method: "PUT", Path: path, Token: ada, Headers: []string{"If-Match", fmt.Sprint(act.Revision - 1)}, Body: lock, Status: 412, Code: "revision_mismatch"},
		{Name: "lock", Method: "PUT", Path: path, Token: ada, Headers: []string{"If-Match", fmt.Sprint(act.Revision)}, Body: lock, Status: 200},
		answer(sam, "no answers once locked", map[string]int{"choice": 0}, 409, "activity_closed"),
	})
	setActivity(t, c, ada, b.BoardID, pollBody("revealed"))
	apitest.Run(t, c, []apitest.Scenario{
		answer(sam, "no answers once revealed", map[string]int{"choice": 0}, 409, "activity_closed"),
	})
	ended := setActivity(t, c, ada, b.BoardID, pollBody("ended"))
	if ended.JoinCode != "" || ended.Aggregate == nil || !slices.Equal(ended.Aggregate.Counts, []int{0, 1}) {
		t.Fatalf("ended activity %+v", ended)
	}
	apitest.Run(t, c, []apitest.Scenario{
		join("an ended activity's code is unknown", act.JoinCode, "Late", 404, "unknown_code"),
		answer(sam, "no answers once ended", map[string]int{"choice": 0}, 409, "activity_closed"),
		{Name: "the results stay until deleted", Method: "GET", Path: path, Token: ada, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			if m := r.Map(t); m["status"] != "ended" {
				return apitest.Errorf("activity %s", r.Body)
			}
			return nil
		}},
		{Name: "another teacher cannot delete them", Method: "DELETE", Path: path, Token: bob, Status: 404},
		{Name: "the teacher deletes them", Method: "DELETE", Path: path, Token: ada, Status: 204},
		{Name: "nothing is left", Method: "GET", Path: path, Token: ada, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			if m := r.Map(t); m["status"] != "none" {
				return apitest.Errorf("activity %s", r.Body)
			}
			return nil
		}},
		{Name: "the pupil's token is worth nothing now", Method: "GET", Path: room, Token: sam.Token, Status: 401},
	})
}

// activityClass starts a node and returns a client, teachers Ada and Bob,
// and a board paired with Ada.
func activityClass(t *testing.T) (*apitest.Client, string, string, newBoard) {
	t.Helper()
	n := testcluster.StartNode(t, stoppedClock())
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	bob := teacherToken(t, c, "Bob Other", "phone")
	return c, ada, bob, pairBoard(t, c, ada, "Room 1")
}

func mustAtoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

// TestShortAnswerModeration: nothing a pupil types reaches the board
// before the teacher approves it, and a changed answer needs approval again.
func TestShortAnswerModeration(t *testing.T) {
	c, ada, bob, b := activityClass(t)
	path := "/api/v1/boards/" + b.BoardID + "/activity"
	act := setActivity(t, c, ada, b.BoardID, map[string]any{"kind": "markers", "slide": 0, "status": "open"})
	sam := joinRoom(t, c, act.JoinCode, "Sam")
	apitest.Run(t, c, []apitest.Scenario{answer(sam, "Sam taps", map[string]any{"marker": map[string]float64{"x": 0, "y": 1}}, 200, "")})
	next := setActivity(t, c, ada, b.BoardID, map[string]any{"kind": "answer", "slide": 0, "status": "open"})
	if next.RoomID != act.RoomID || next.JoinCode != act.JoinCode || next.Aggregate.Pupils != 1 || next.Aggregate.Answers != 0 {
		t.Fatalf("the next question %+v after %+v: want the same room and pupils, no answers", next, act)
	}
	boardSees := func(want ...string) func(t *testing.T, r *apitest.Response) error {
		return func(t *testing.T, r *apitest.Response) error {
			var a activity
			r.JSON(t, &a)
			if !slices.Equal(a.Aggregate.Approved, want) || a.Pending != nil || strings.Contains(string(r.Body), "Sam") {
				return apitest.Errorf("board sees %s, want approved %q", r.Body, want)
			}
			return nil
		}
	}
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "the pupil sees the next question, without the last answer", Method: "GET", Path: "/api/v1/rooms/" + sam.RoomID, Token: sam.Token, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			if m := r.Map(t); m["kind"] != "answer" || m["answer"] != nil || m["question"] != float64(1) {
				return apitest.Errorf("room %s", r.Body)
			}
			return nil
		}},
		answer(sam, "81 characters", map[string]string{"text": strings.Repeat("x", 81)}, 400, "invalid"),
		answer(sam, "empty", map[string]string{"text": "  "}, 400, "invalid"),
		answer(sam, "a control character", map[string]string{"text": "a\u0007b"}, 400, "invalid"),
		answer(sam, "a choice in a short answer", map[string]int{"choice": 0}, 400, "invalid"),
		answer(sam, "80 characters", map[string]string{"text": strings.Repeat("é", 80)}, 200, ""),
		answer(sam, "Sam answers", map[string]string{"text": "Paris"}, 200, ""),
		{Name: "the board sees nothing unapproved", Method: "GET", Path: path, Token: b.BoardSecret, Status: 200, Check: boardSees()},
		{Name: "the teacher sees it pending", Method: "GET", Path: path, Token: ada, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			var a activity
			r.JSON(t, &a)
			if len(a.Pending) != 1 || a.Pending[0].Text != "Paris" || a.Pending[0].PupilID != sam.ID {
				return apitest.Errorf("activity %s", r.Body)
			}
			return nil
		}},
		{Name: "another teacher cannot approve", Method: "PUT", Path: path + "/answers/" + sam.ID, Token: bob, Body: map[string]bool{"approved": true}, Status: 404},
		{Name: "approved is required", Method: "PUT", Path: path + "/answers/" + sam.ID, Token: ada, Body: map[string]any{}, Status: 400, Code: "invalid", Fields: []string{"approved"}},
		{Name: "no such pupil", Method: "PUT", Path: path + "/answers/99", Token: ada, Body: map[string]bool{"approved": true}, Status: 404},
		{Name: "approve", Method: "PUT", Path: path + "/answers/" + sam.ID, Token: ada, Body: map[string]bool{"approved": true}, Status: 204},
		{Name: "the board shows it", Method: "GET", Path: path, Token: b.BoardSecret, Status: 200, Check: boardSees("Paris")},
		answer(sam, "Sam changes the answer", map[string]string{"text": "Rome"}, 200, ""),
		{Name: "a changed answer needs approval again", Method: "GET", Path: path, Token: b.BoardSecret, Status: 200, Check: boardSees()},
	})
}

// TestActivityLimits: every limit an anonymous pupil or a teacher can hit
// is a clear error.
func TestActivityLimits(t *testing.T) {
	clock := testcluster.NewClock(time.Now())
	n := testcluster.StartNode(t, testcluster.WithClock(clock), withActivities(store.ActivityLimits{
		PupilsPerRoom: 2, AnswersPerSecond: 2, RoomsPerHour: 2, JoinFailsPerAddrMinute: 3, JoinFailsGlobalMinute: 1000,
	}))
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	b := pairBoard(t, c, ada, "Room 1")
	path := "/api/v1/boards/" + b.BoardID + "/activity"
	act := setActivity(t, c, ada, b.BoardID, pollBody("open"))
	sam := joinRoom(t, c, act.JoinCode, "Sam")
	kim := joinRoom(t, c, act.JoinCode, "Kim")
	wrong := fmt.Sprintf("%06d", (mustAtoi(act.JoinCode)+1)%1_000_000)
	join := func(name, code string, status int, errCode string) apitest.Scenario {
		return named(apitest.Scenario{Method: "POST", Path: "/api/v1/rooms/join", Body: map[string]string{"code": code, "name": "Late"}}, name, status, errCode)
	}
	apitest.Run(t, c, []apitest.Scenario{
		join("the room is full", act.JoinCode, 409, "room_full"),
		{Name: "the teacher removes Kim", Method: "DELETE", Path: path + "/pupils/" + kim.ID, Token: ada, Status: 204},
		join("Kim's seat is free again", act.JoinCode, 201, ""),
		join("and the room is full again", act.JoinCode, 409, "room_full"),
		answer(sam, "answer 1", map[string]int{"choice": 0}, 200, ""),
		answer(sam, "answer 2", map[string]int{"choice": 1}, 200, ""),
		named(answer(sam, "", map[string]int{"choice": 0}, 0, ""), "a third answer in a second", 429, "rate_limited"),
		join("wrong code 1", wrong, 404, "unknown_code"),
		join("wrong code 2", wrong, 404, "unknown_code"),
		join("wrong code 3", wrong, 404, "unknown_code"),
		join("the address is limited", wrong, 429, "rate_limited"),
	})
	clock.Add(time.Minute)
	setActivity(t, c, ada, b.BoardID, pollBody("ended"))
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "a second room this hour", Method: "PUT", Path: path, Token: ada, Headers: []string{"If-Match", fmt.Sprint(getActivity(t, c, ada, b.BoardID).Revision)}, Body: pollBody("open"), Status: 200},
	})
	setActivity(t, c, ada, b.BoardID, pollBody("ended"))
	apitest.Run(t, c, []apitest.Scenario{
		named(apitest.Scenario{Method: "PUT", Path: path, Token: ada, Headers: []string{"If-Match", fmt.Sprint(getActivity(t, c, ada, b.BoardID).Revision)}, Body: map[string]any{"kind": "markers", "slide": 0, "status": "open"}}, "a third room this hour", 429, "rate_limited"),
	})
	clock.Add(time.Hour)
	act = setActivity(t, c, ada, b.BoardID, map[string]any{"kind": "markers", "slide": 0, "status": "open"})
	clock.Add(25 * time.Hour)
	apitest.Run(t, c, []apitest.Scenario{
		join("an expired code is unknown", act.JoinCode, 404, "unknown_code"),
	})
}

// TestHiddenResults: with hide_results the board sees how many answered,
// not what, until the teacher reveals; the teacher sees everything. The
// pupil joins without a name, which this activity allows.
func TestHiddenResults(t *testing.T) {
	c, ada, _, b := activityClass(t)
	path := "/api/v1/boards/" + b.BoardID + "/activity"
	hidden := pollBody("open")
	hidden["hide_results"], hidden["anonymous"] = true, true
	act := setActivity(t, c, ada, b.BoardID, hidden)
	sam := joinRoom(t, c, act.JoinCode, "") // the teacher allows joining without a name
	counts := func(want []int, answers int) func(t *testing.T, r *apitest.Response) error {
		return func(t *testing.T, r *apitest.Response) error {
			var a activity
			r.JSON(t, &a)
			if !slices.Equal(a.Aggregate.Counts, want) || a.Aggregate.Answers != answers {
				return apitest.Errorf("activity %s, want counts %v", r.Body, want)
			}
			return nil
		}
	}
	apitest.Run(t, c, []apitest.Scenario{
		answer(sam, "Sam answers", map[string]int{"choice": 1}, 200, ""),
		{Name: "the board sees one answer, not which", Method: "GET", Path: path, Token: b.BoardSecret, Status: 200, Check: counts(nil, 1)},
		{Name: "the teacher sees it", Method: "GET", Path: path, Token: ada, Status: 200, Check: counts([]int{0, 1}, 1)},
	})
	revealed := pollBody("revealed")
	revealed["hide_results"] = true
	setActivity(t, c, ada, b.BoardID, revealed)
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "revealed: the board sees the counts", Method: "GET", Path: path, Token: b.BoardSecret, Status: 200, Check: counts([]int{0, 1}, 1)},
	})
}

// TestJoinGlobalBudget: a flood of wrong codes from many addresses spends
// everyone's budget, yet a class on its board's own network still joins;
// a right code from elsewhere is refused like a wrong one (no free look),
// and so is everything from an address over its own budget.
func TestJoinGlobalBudget(t *testing.T) {
	n := testcluster.StartNode(t, behindProxy, stoppedClock(), withActivities(store.ActivityLimits{
		JoinFailsGlobalMinute: 3, JoinFailsPerAddrMinute: 4,
	}))
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	const school, elsewhere = "198.51.100.10", "192.0.2.77"
	b := registerBoardFrom(t, c, school)
	if res := c.With(ada).Do(t, "POST", "/api/v1/pairings", map[string]string{"code": b.PairingCode, "name": "Room 1"}); res.Status != 201 {
		t.Fatalf("pair board: %d %s", res.Status, res.Body)
	}
	act := setActivity(t, c, ada, b.BoardID, pollBody("open"))
	wrong := wrongCode(act.JoinCode)
	join := func(name, code, addr string, status int, errCode string) apitest.Scenario {
		return named(apitest.Scenario{Method: "POST", Path: "/api/v1/rooms/join", Headers: []string{"X-Forwarded-For", addr},
			Body: map[string]string{"code": code, "name": "Sam"}}, name, status, errCode)
	}
	apitest.Run(t, c, []apitest.Scenario{
		join("guess 1", wrong, "203.0.113.1", 404, "unknown_code"),
		join("guess 2", wrong, "203.0.113.2", 404, "unknown_code"),
		join("guess 3", wrong, "203.0.113.3", 404, "unknown_code"),
		join("a guesser's wrong code once the budget is spent", wrong, "203.0.113.4", 429, "rate_limited"),
		join("a guesser's right code once the budget is spent", act.JoinCode, "203.0.113.5", 429, "rate_limited"),
		join("a pupil elsewhere (mobile data) waits too", act.JoinCode, elsewhere, 429, "rate_limited"),
		join("a pupil on the school's network joins", act.JoinCode, school, 201, ""),
		join("a wrong code from the school's network is refused", wrong, school, 429, "rate_limited"),
		join("counted: 2", wrong, school, 429, "rate_limited"),
		join("counted: 3", wrong, school, 429, "rate_limited"),
		join("counted: 4", wrong, school, 429, "rate_limited"),
		join("the school's address over its own budget is refused even the right code", act.JoinCode, school, 429, "rate_limited"),
	})
}

// Up to N markers per pupil, and how the board shows the answers: the
// teacher's choices are checked, a pupil places at most N markers, and
// the board gets every marker and the display.
func TestMarkersAndDisplays(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	b := pairBoard(t, c, ada, "Room 1")
	path := "/api/v1/boards/" + b.BoardID + "/activity"
	start := func(name string, body map[string]any, status int, code string) apitest.Scenario {
		return apitest.Scenario{Name: name, Method: "PUT", Path: path, Token: ada, Headers: []string{"If-Match", "0"}, Body: body, Status: status, Code: code}
	}
	apitest.Run(t, c, []apitest.Scenario{
		start("six markers each", map[string]any{"kind": "markers", "slide": 0, "status": "open", "max_markers": 6}, 400, "invalid"),
		start("markers for a poll", map[string]any{"kind": "poll", "slide": 0, "status": "open", "options": []string{"a", "b"}, "max_markers": 2}, 400, "invalid"),
		start("a word cloud of markers", map[string]any{"kind": "markers", "slide": 0, "status": "open", "display": "cloud"}, 400, "invalid"),
		start("a heat map of a poll", map[string]any{"kind": "poll", "slide": 0, "status": "open", "options": []string{"a", "b"}, "display": "heatmap"}, 400, "invalid"),
	})
	act := setActivity(t, c, ada, b.BoardID, map[string]any{"kind": "markers", "slide": 0, "status": "open", "max_markers": 3, "display": "heatmap"})
	sam := joinRoom(t, c, act.JoinCode, "Sam")
	pts := func(n int) map[string]any {
		var m []map[string]float64
		for i := range n {
			m = append(m, map[string]float64{"x": float64(i) / 10, "y": 0.5})
		}
		return map[string]any{"markers": m}
	}
	apitest.Run(t, c, []apitest.Scenario{
		{Name: "the pupil's room says three", Method: "GET", Path: "/api/v1/rooms/" + sam.RoomID, Token: sam.Token, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			if got := r.Map(t)["max_markers"]; got != 3.0 {
				return apitest.Errorf("max_markers %v", got)
			}
			return nil
		}},
		answer(sam, "four markers", pts(4), 400, "invalid"),
		answer(sam, "six markers", pts(6), 400, "invalid"),
		answer(sam, "a marker and markers", map[string]any{"marker": map[string]float64{"x": 0, "y": 0}, "markers": pts(1)["markers"]}, 400, "invalid"),
		answer(sam, "three markers", pts(3), 200, ""),
	})
	got := getActivity(t, c, b.BoardSecret, b.BoardID)
	if len(got.Markers) != 3 || got.Answers != 1 {
		t.Fatalf("the board got %+v", got.Aggregate)
	}
	res := c.With(b.BoardSecret).Do(t, "GET", path, nil)
	if m := res.Map(t); m["display"] != "heatmap" || m["max_markers"] != 3.0 {
		t.Fatalf("the board's activity %v", m)
	}
	// Lowered to one: the board shows each pupil's first.
	setActivity(t, c, ada, b.BoardID, map[string]any{"kind": "markers", "slide": 0, "status": "open", "max_markers": 1})
	if got := getActivity(t, c, b.BoardSecret, b.BoardID); len(got.Markers) != 1 {
		t.Fatalf("after lowering to one marker the board got %+v", got.Aggregate)
	}
}
