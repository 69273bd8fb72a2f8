package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
)

// liveMsg is a live message as a client reads it.
type liveMsg struct {
	Type        string         `json:"type"`
	State       map[string]any `json:"state"`
	TeacherName string         `json:"teacher_name"`
	Online      *bool          `json:"online"`
	Activity    *activity      `json:"activity"`
	Pointer     map[string]any `json:"pointer"`
	Room        *struct {
		RoomID string `json:"room_id"`
		Status string `json:"status"`
		Kind   string `json:"kind"`
		Answer any    `json:"answer"`
	} `json:"room"`
	ServerTime time.Time `json:"server_time"`
}

func (m liveMsg) rev() int {
	if m.State == nil {
		return 0
	}
	return int(m.State["revision"].(float64))
}

// liveClient reads a websocket or an SSE stream, skipping keep-alives.
type liveClient struct {
	t    *testing.T
	next func(ctx context.Context) ([]byte, error)
	stop func()
}

func (l *liveClient) read() liveMsg {
	l.t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		b, err := l.next(ctx)
		cancel()
		if err != nil {
			l.t.Fatalf("read live message: %v", err)
		}
		var m liveMsg
		if err := json.Unmarshal(b, &m); err != nil {
			l.t.Fatalf("live message %s: %v", b, err)
		}
		if m.ServerTime.IsZero() {
			l.t.Fatalf("live message without server_time: %s", b)
		}
		if m.Type != "ping" {
			return m
		}
	}
}

// readUntilRev reads state messages until one has revision rev.
func (l *liveClient) readUntilRev(rev int) liveMsg {
	l.t.Helper()
	for {
		m := l.read()
		if m.Type == "state" && m.rev() >= rev {
			if m.rev() != rev {
				l.t.Fatalf("got revision %d, want %d", m.rev(), rev)
			}
			return m
		}
	}
}

// readPresence reads messages until a presence message says online.
func (l *liveClient) readPresence(online bool) {
	l.t.Helper()
	for {
		if m := l.read(); m.Type == "presence" && m.Online != nil && *m.Online == online {
			return
		}
	}
}

func liveURL(base, boardID, ticket string) string {
	u := base + "/api/v1/boards/" + boardID + "/live"
	if ticket != "" {
		u += "?ticket=" + ticket
	}
	return u
}

// bearerHeader carries token as a bearer, or nothing for "".
func bearerHeader(token string) http.Header {
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return h
}

// dialWS opens a websocket with a bearer token or a ticket.
func dialWS(t *testing.T, base, boardID, token, ticket string) (*liveClient, *http.Response, error) {
	t.Helper()
	return dialWSURL(t, liveURL(base, boardID, ticket), bearerHeader(token))
}

// dialWSURL opens a websocket on a live endpoint's URL.
func dialWSURL(t *testing.T, url string, h http.Header) (*liveClient, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, res, err
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &liveClient{t: t, stop: func() { c.CloseNow() }, next: func(ctx context.Context) ([]byte, error) {
		_, b, err := c.Read(ctx)
		return b, err
	}}, res, nil
}

func mustWS(t *testing.T, base, boardID, token, ticket string) *liveClient {
	t.Helper()
	return mustWSURL(t, liveURL(base, boardID, ticket), bearerHeader(token))
}

// mustWSURL opens a websocket on a live endpoint's URL or fails the test.
func mustWSURL(t *testing.T, url string, h http.Header) *liveClient {
	t.Helper()
	l, res, err := dialWSURL(t, url, h)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial live: %v (status %d)", err, status)
	}
	return l
}

// openSSE opens an event stream with a ticket.
func openSSE(t *testing.T, base, boardID, ticket string) *liveClient {
	t.Helper()
	return openSSEURL(t, liveURL(base, boardID, ticket))
}

// openSSEURL opens an event stream on a live endpoint's URL.
func openSSEURL(t *testing.T, url string) *liveClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("sse: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				select {
				case lines <- data:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return &liveClient{t: t, stop: cancel, next: func(rctx context.Context) ([]byte, error) {
		select {
		case l, ok := <-lines:
			if !ok {
				return nil, fmt.Errorf("stream ended")
			}
			return []byte(l), nil
		case <-rctx.Done():
			return nil, rctx.Err()
		}
	}}
}

func ticket(t *testing.T, c *apitest.Client, token, boardID string) string {
	t.Helper()
	res := c.With(token).Do(t, "POST", "/api/v1/live-tickets", map[string]string{"board_id": boardID})
	if res.Status != 201 {
		t.Fatalf("live ticket: %d %s", res.Status, res.Body)
	}
	return res.Map(t)["ticket"].(string)
}

func steer(t *testing.T, c *apitest.Client, token, boardID string, rev, slide int, blank bool) int {
	t.Helper()
	res := c.With(token).Do(t, "PUT", "/api/v1/boards/"+boardID+"/state", map[string]any{"slide": slide, "blank": blank},
		"If-Match", fmt.Sprint(rev))
	if res.Status != 200 {
		t.Fatalf("steer: %d %s", res.Status, res.Body)
	}
	return int(res.Map(t)["revision"].(float64))
}

// The board and two teacher devices watch one board: each sees the
// current state first, then every change, whoever made it; forgetting the
// board closes them all.
func TestLiveScenarios(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	laptop := teacherToken(t, c, "Ada Lovelace", "laptop")
	res := c.Do(t, "POST", "/api/v1/sessions", map[string]string{"email": "ada.lovelace@school.example", "password": "correct horse battery", "device": "phone"})
	phone := res.Map(t)["token"].(string)
	bob := teacherToken(t, c, "Bob Other", "laptop")
	b := pairBoard(t, c, laptop, "Room 1")
	other := pairBoard(t, c, bob, "Bob's room")

	board := mustWS(t, n.URL(), b.BoardID, b.BoardSecret, "")
	first := board.read()
	if first.Type != "state" || first.rev() == 0 {
		t.Fatalf("first message %+v", first)
	}
	rev := first.rev()

	onLaptop := mustWS(t, n.URL(), b.BoardID, "", ticket(t, c, laptop, b.BoardID))
	onPhone := openSSE(t, n.URL(), b.BoardID, ticket(t, c, phone, b.BoardID))
	for _, l := range []*liveClient{onLaptop, onPhone} {
		if m := l.read(); m.Type != "state" || m.rev() != rev {
			t.Fatalf("first message %+v, want state %d", m, rev)
		}
	}

	t.Run("tickets", func(t *testing.T) {
		tk := ticket(t, c, laptop, b.BoardID)
		mustWS(t, n.URL(), b.BoardID, "", tk)
		if _, res, err := dialWS(t, n.URL(), b.BoardID, "", tk); err == nil || res.StatusCode != 401 {
			t.Fatalf("a used ticket: err %v", err)
		}
		if _, res, err := dialWS(t, n.URL(), other.BoardID, "", ticket(t, c, laptop, b.BoardID)); err == nil || res.StatusCode != 404 {
			t.Fatalf("a ticket for another board: err %v", err)
		}
		if res := c.With(bob).Do(t, "POST", "/api/v1/live-tickets", map[string]string{"board_id": b.BoardID}); res.Status != 404 {
			t.Fatalf("a ticket for another teacher's board: %d", res.Status)
		}
		if _, res, err := dialWS(t, n.URL(), b.BoardID, "", strings.Repeat("x", 43)); err == nil || res.StatusCode != 401 {
			t.Fatalf("a made-up ticket: err %v", err)
		}
		if _, res, err := dialWS(t, n.URL(), b.BoardID, bob, ""); err == nil || res.StatusCode != 404 {
			t.Fatalf("another teacher's bearer token: err %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(liveURL(n.URL(), b.BoardID, ticket(t, c, laptop, b.BoardID)), "http"),
			&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
		if err == nil || res.StatusCode != 403 {
			t.Fatalf("a foreign origin: err %v", err)
		}
	})

	t.Run("the board shows as online", func(t *testing.T) {
		poll.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
			if res := c.With(laptop).Do(t, "GET", "/api/v1/boards/"+b.BoardID, nil); res.Map(t)["online"] != true {
				return fmt.Errorf("board not online: %s", res.Body)
			}
			return nil
		})
		if res := c.With(bob).Do(t, "GET", "/api/v1/boards/"+other.BoardID, nil); res.Map(t)["online"] != false {
			t.Fatalf("a board without a connection is online: %s", res.Body)
		}
	})

	t.Run("every device sees every change", func(t *testing.T) {
		rev = steer(t, c, laptop, b.BoardID, rev, 0, true)
		for _, l := range []*liveClient{board, onLaptop, onPhone} {
			if m := l.readUntilRev(rev); m.State["blank"] != true || m.State["updated_by"] != "laptop" {
				t.Fatalf("state %+v", m.State)
			}
		}
		rev = steer(t, c, phone, b.BoardID, rev, 0, false)
		for _, l := range []*liveClient{board, onLaptop, onPhone} {
			if m := l.readUntilRev(rev); m.State["blank"] != false || m.State["updated_by"] != "phone" {
				t.Fatalf("state %+v", m.State)
			}
		}
	})

	t.Run("a stale write reaches nobody", func(t *testing.T) {
		if res := c.With(laptop).Do(t, "PUT", "/api/v1/boards/"+b.BoardID+"/state", map[string]any{"slide": 0, "blank": true}, "If-Match", fmt.Sprint(rev-1)); res.Status != 412 {
			t.Fatalf("stale write: %d", res.Status)
		}
		rev = steer(t, c, laptop, b.BoardID, rev, 0, false)
		// The next message is the good write, not the rejected one.
		for _, l := range []*liveClient{board, onLaptop, onPhone} {
			if m := l.read(); m.Type != "state" || m.rev() != rev || m.State["blank"] != false {
				t.Fatalf("after a rejected write: %+v", m)
			}
		}
	})

	t.Run("forgetting the board closes its connections", func(t *testing.T) {
		if res := c.With(laptop).Do(t, "DELETE", "/api/v1/boards/"+b.BoardID, nil); res.Status != 204 {
			t.Fatalf("forget: %d", res.Status)
		}
		for _, l := range []*liveClient{board, onLaptop, onPhone} {
			if m := l.read(); m.Type != "unpaired" {
				t.Fatalf("message %+v, want unpaired", m)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := l.next(ctx)
			timedOut := ctx.Err() != nil
			cancel()
			if err == nil || timedOut {
				t.Fatalf("connection still open after unpaired: %v", err)
			}
		}
	})
}

// An unpaired board's connection is told when a teacher pairs it.
func TestLivePairedMessage(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	b := registerBoard(t, c)
	board := mustWS(t, n.URL(), b.BoardID, "", ticket(t, c, b.BoardSecret, b.BoardID))
	if res := c.With(ada).Do(t, "POST", "/api/v1/pairings", map[string]string{"code": b.PairingCode, "name": "Room"}); res.Status != 201 {
		t.Fatalf("pair: %d", res.Status)
	}
	seen := map[string]bool{}
	for !seen["paired"] || !seen["state"] {
		m := board.read()
		seen[m.Type] = true
		if m.Type == "paired" && m.TeacherName != "Ada Lovelace" {
			t.Fatalf("paired message %+v", m)
		}
	}
}

// While one board's reader is stuck, every other board still receives
// every update.
func TestLiveStuckBoardDoesNotHoldUpOthers(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	const boards, updates = 4, 40
	var ids []string
	var conns []*liveClient
	revs := make([]int, boards)
	for i := range boards {
		b := pairBoard(t, c, ada, fmt.Sprintf("Room %d", i))
		ids = append(ids, b.BoardID)
		l := mustWS(t, n.URL(), b.BoardID, b.BoardSecret, "")
		if i > 0 { // board 0 never reads again after connecting
			revs[i] = l.read().rev()
		} else {
			res := c.With(ada).Do(t, "GET", "/api/v1/boards/"+b.BoardID+"/state", nil)
			revs[i] = int(res.Map(t)["revision"].(float64))
		}
		conns = append(conns, l)
	}
	want := make([][]int, boards)
	for u := range updates {
		for i, id := range ids {
			revs[i] = steer(t, c, ada, id, revs[i], 0, u%2 == 0)
			want[i] = append(want[i], revs[i])
		}
	}
	for i := 1; i < boards; i++ {
		for _, rev := range want[i] {
			if m := conns[i].read(); m.Type != "state" || m.rev() != rev {
				t.Fatalf("board %d: got %+v, want revision %d", i, m, rev)
			}
		}
	}
}

// A teacher's live connection says at once whether the board is online,
// then each time the board's own connection comes or goes, agreeing with
// GET /api/v1/boards/{id}; the board's own connection hears none of it.
func TestTeacherHearsPresence(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	laptop := teacherToken(t, c, "Ada Lovelace", "laptop")
	b := pairBoard(t, c, laptop, "Room 1")
	online := func(want bool) {
		t.Helper()
		if res := c.With(laptop).Do(t, "GET", "/api/v1/boards", nil); !strings.Contains(string(res.Body), fmt.Sprintf(`"online":%v`, want)) {
			t.Fatalf("GET /boards while the teacher hears online=%v: %s", want, res.Body)
		}
	}

	teacher := mustWS(t, n.URL(), b.BoardID, "", ticket(t, c, laptop, b.BoardID))
	teacher.readPresence(false)
	online(false)
	board := mustWS(t, n.URL(), b.BoardID, b.BoardSecret, "")
	rev := board.read().rev()
	teacher.readPresence(true)
	online(true)
	board.stop()
	teacher.readPresence(false)
	online(false)

	board = mustWS(t, n.URL(), b.BoardID, b.BoardSecret, "")
	board.read()
	teacher.readPresence(true)
	rev = steer(t, c, laptop, b.BoardID, rev, 0, true)
	if m := board.read(); m.Type != "state" || m.rev() != rev {
		t.Fatalf("the board's next message after a change is %+v, want state %d", m, rev)
	}
}

// A node takes new live connections in at its admission rate; past it a
// ticket (where the apps start a connection) and a ticketless connection
// are refused with 503 and a Retry-After, which the apps honour.
func TestLiveAdmission(t *testing.T) {
	n := testcluster.StartNode(t, func(c *node.Config) { c.LiveAdmitRate = 0.01 }) // a burst of 10, then one per 100 s
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	b := pairBoard(t, c, ada, "Room 1")
	for range 10 {
		ticket(t, c, ada, b.BoardID)
	}
	res := c.With(ada).Do(t, "POST", "/api/v1/live-tickets", map[string]string{"board_id": b.BoardID})
	if res.Status != http.StatusServiceUnavailable || res.ErrorCode() != "unavailable" {
		t.Fatalf("ticket past the admission rate: %d %s", res.Status, res.Body)
	}
	if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	if _, hres, err := dialWS(t, n.URL(), b.BoardID, b.BoardSecret, ""); err == nil || hres == nil || hres.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("ticketless connection past the admission rate: %v", err)
	}
}
