package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// readActivity reads live messages until an activity message passes ok.
func (l *liveClient) readActivity(ok func(*activity) bool) *activity {
	l.t.Helper()
	for {
		if m := l.read(); m.Type == "activity" && m.Activity != nil && ok(m.Activity) {
			return m.Activity
		}
	}
}

// Pupils answer on two nodes; the board (on a third) and the teacher get
// the aggregate over their live connections, the board without names.
// Then the node most pupils used dies: a board connecting anew to a
// surviving node gets every acknowledged answer in its first frame.
func TestActivityLiveAcrossNodes(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	n0, n1, n2 := apitest.New(c.Nodes[0].URL()), apitest.New(c.Nodes[1].URL()), apitest.New(c.Nodes[2].URL())
	ada := teacherToken(t, n0, "Ada Lovelace", "laptop")
	b := pairBoard(t, n0, ada, "Room 1")
	act := setActivity(t, n0, ada, b.BoardID, map[string]any{"kind": "markers", "slide": 0, "status": "open"})

	board := mustWS(t, c.Nodes[0].URL(), b.BoardID, b.BoardSecret, "")
	teacher := mustWS(t, c.Nodes[1].URL(), b.BoardID, "", ticket(t, n1, ada, b.BoardID))
	const pupils = 6
	for i := range pupils {
		api := n2 // the node most pupils use
		if i%3 == 0 {
			api = n1
		}
		p := joinRoom(t, api, act.JoinCode, fmt.Sprintf("Pupil %d", i))
		res := api.With(p.Token).Do(t, "PUT", "/api/v1/rooms/"+p.RoomID+"/answer", map[string]any{"marker": map[string]float64{"x": float64(i) / 10, "y": 0.5}})
		if res.Status != 200 {
			t.Fatalf("answer %d: %d %s", i, res.Status, res.Body)
		}
	}
	all := func(a *activity) bool {
		return a.Aggregate != nil && a.Aggregate.Answers == pupils && len(a.Aggregate.Markers) == pupils
	}
	onBoard := board.readActivity(all)
	if onBoard.Pupils != nil || onBoard.Pending != nil || onBoard.Aggregate.Pupils != pupils {
		t.Fatalf("the board's frame: %+v", onBoard)
	}
	if got := teacher.readActivity(all); len(got.Pupils) != pupils || !strings.HasPrefix(got.Pupils[0].Name, "Pupil") {
		t.Fatalf("the teacher's frame: %+v", got)
	}

	c.Nodes[2].Kill()
	// The board's reconnection lands on a surviving node (node 0's view
	// was fed by the store, not by the dead node).
	var again *liveClient
	poll.CheckFor(t, 30*time.Second, 200*time.Millisecond, func() error {
		l, _, err := dialWS(t, c.Nodes[0].URL(), b.BoardID, b.BoardSecret, "")
		again = l
		return err
	})
	if got := again.readActivity(func(*activity) bool { return true }); !all(got) {
		t.Fatalf("after the node's death the board shows %+v", got.Aggregate)
	}
}

// pupilTicket asks for a pupil's live ticket.
func pupilTicket(t *testing.T, c *apitest.Client, p pupil) string {
	t.Helper()
	res := c.With(p.Token).Do(t, "POST", "/api/v1/rooms/"+p.RoomID+"/live-tickets", nil)
	if res.Status != 201 {
		t.Fatalf("pupil ticket: %d %s", res.Status, res.Body)
	}
	var tk struct {
		Ticket string `json:"ticket"`
	}
	res.JSON(t, &tk)
	return tk.Ticket
}

// A pupil's live tickets are limited per pupil (each is a key in the store,
// and a pupil needs no account): a burst, then 429 with Retry-After;
// another pupil of the room is not held up.
func TestPupilTicketsLimited(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	b := pairBoard(t, c, ada, "Room 1")
	code := setActivity(t, c, ada, b.BoardID, pollBody("open")).JoinCode
	sam, kim := joinRoom(t, c, code, "Sam"), joinRoom(t, c, code, "Kim")
	for range 5 {
		pupilTicket(t, c, sam)
	}
	// More than one a second refills the bucket: the limit answers within
	// a few more however slowly this machine asks.
	limited := false
	for range 30 {
		res := c.With(sam.Token).Do(t, "POST", "/api/v1/rooms/"+sam.RoomID+"/live-tickets", nil)
		if res.Status == 201 {
			continue
		}
		if res.Status != 429 || res.ErrorCode() != "rate_limited" || res.Header.Get("Retry-After") == "" {
			t.Fatalf("past the burst: %d %s (Retry-After %q)", res.Status, res.Body, res.Header.Get("Retry-After"))
		}
		limited = true
		break
	}
	if !limited {
		t.Fatal("35 tickets in a row and no limit")
	}
	pupilTicket(t, c, kim)
	// Callers without a token share no bucket: each is told to sign in.
	for range 10 {
		if res := c.Do(t, "POST", "/api/v1/rooms/"+sam.RoomID+"/live-tickets", nil); res.Status != 401 {
			t.Fatalf("no token: %d %s", res.Status, res.Body)
		}
	}
}

func pupilLiveURL(base string, p pupil, ticket string) string {
	return base + "/api/v1/rooms/" + p.RoomID + "/live?ticket=" + ticket
}

// readRoom reads live messages until a room status passes ok.
func (l *liveClient) readRoom(want string) {
	l.t.Helper()
	for {
		m := l.read()
		if m.Type == "room" && m.Room != nil && m.Room.Answer == nil && m.Room.Status == want {
			return
		}
		if m.Type != "room" {
			l.t.Fatalf("a pupil heard %+v", m)
		}
	}
}

// Pupils hold live connections on any node, by websocket or SSE, with a
// ticket or their token: they hear their room's status as the teacher
// changes it on another node, and a removed pupil hears so; nothing of the
// board or the class. After the death of the node a pupil used, the pupil
// connects to another and hears the current status at once.
func TestPupilLiveAcrossNodes(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	n0, n1, n2 := apitest.New(c.Nodes[0].URL()), apitest.New(c.Nodes[1].URL()), apitest.New(c.Nodes[2].URL())
	ada := teacherToken(t, n0, "Ada Lovelace", "laptop")
	b := pairBoard(t, n0, ada, "Room 1")
	act := setActivity(t, n0, ada, b.BoardID, pollBody("open"))
	sam, kim, lou := joinRoom(t, n1, act.JoinCode, "Sam"), joinRoom(t, n2, act.JoinCode, "Kim"), joinRoom(t, n0, act.JoinCode, "Lou")

	samLive := mustWSURL(t, pupilLiveURL(c.Nodes[2].URL(), sam, pupilTicket(t, n2, sam)), nil)
	kimLive := openSSEURL(t, pupilLiveURL(c.Nodes[1].URL(), kim, pupilTicket(t, n1, kim)))
	louLive := mustWSURL(t, c.Nodes[1].URL()+"/api/v1/rooms/"+lou.RoomID+"/live", http.Header{"Authorization": {"Bearer " + lou.Token}})
	for _, l := range []*liveClient{samLive, kimLive, louLive} {
		l.readRoom("open")
	}
	// Answers and the board's steering are not the pupils' business.
	if res := n0.With(sam.Token).Do(t, "PUT", "/api/v1/rooms/"+sam.RoomID+"/answer", map[string]int{"choice": 1}); res.Status != 200 {
		t.Fatalf("answer: %d %s", res.Status, res.Body)
	}
	act = setActivity(t, n0, ada, b.BoardID, pollBody("locked"))
	for _, l := range []*liveClient{samLive, kimLive, louLive} {
		l.readRoom("locked")
	}
	if res := n0.With(ada).Do(t, "DELETE", "/api/v1/boards/"+b.BoardID+"/activity/pupils/"+kim.ID, nil); res.Status != 204 {
		t.Fatalf("remove Kim: %d %s", res.Status, res.Body)
	}
	if m := kimLive.read(); m.Type != "removed" {
		t.Fatalf("Kim heard %+v; want removed", m)
	}

	other := pairBoard(t, n0, ada, "Room 2")
	elsewhere := joinRoom(t, n0, setActivity(t, n0, ada, other.BoardID, pollBody("open")).JoinCode, "Max")
	used := pupilTicket(t, n0, sam)
	mustWSURL(t, pupilLiveURL(c.Nodes[0].URL(), sam, used), nil)
	apitest.Run(t, n0, []apitest.Scenario{
		{Name: "a ticket opens one connection", Method: "GET", Path: "/api/v1/rooms/" + sam.RoomID + "/live?ticket=" + used, Status: 401, Code: "unauthorized"},
		{Name: "a ticket of another room", Method: "GET", Path: "/api/v1/rooms/" + sam.RoomID + "/live?ticket=" + pupilTicket(t, n0, elsewhere), Status: 401, Code: "unauthorized"},
		{Name: "a token of another room", Method: "GET", Path: "/api/v1/rooms/" + sam.RoomID + "/live", Token: elsewhere.Token, Status: 404, Code: "not_found"},
		{Name: "a removed pupil's token", Method: "POST", Path: "/api/v1/rooms/" + kim.RoomID + "/live-tickets", Token: kim.Token, Status: 401, Code: "unauthorized"},
		{Name: "no token", Method: "POST", Path: "/api/v1/rooms/" + sam.RoomID + "/live-tickets", Status: 401, Code: "unauthorized"},
	})

	c.Nodes[2].Kill()
	// The teacher's app tries again while the streams the dead node led
	// elect new leaders (503 meanwhile).
	poll.CheckFor(t, 30*time.Second, 200*time.Millisecond, func() error {
		cur := n0.With(ada).Do(t, "GET", "/api/v1/boards/"+b.BoardID+"/activity", nil)
		if cur.Status != 200 {
			return fmt.Errorf("get activity: %d", cur.Status)
		}
		var a activity
		cur.JSON(t, &a)
		if res := n0.With(ada).Do(t, "PUT", "/api/v1/boards/"+b.BoardID+"/activity", pollBody("revealed"), "If-Match", fmt.Sprint(a.Revision)); res.Status != 200 {
			return fmt.Errorf("reveal: %d %s", res.Status, res.Body)
		}
		return nil
	})
	var again *liveClient
	// As often as a pupil may ask for a ticket (one a second).
	poll.CheckFor(t, 30*time.Second, time.Second, func() error {
		l, _, err := dialWSURL(t, pupilLiveURL(c.Nodes[0].URL(), sam, pupilTicket(t, n0, sam)), nil)
		again = l
		return err
	})
	again.readRoom("revealed")
}
