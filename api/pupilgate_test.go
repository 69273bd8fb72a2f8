package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/classboard/classboard"
)

// The gate lets its bound in, refuses the next at once with EUNAVAILABLE
// and a Retry-After spread over whole seconds, and takes one in again
// when one leaves.
func TestPupilGate(t *testing.T) {
	g := newPupilGate(2)
	a, err := g.enter()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.enter(); err != nil {
		t.Fatal(err)
	}
	seen := map[time.Duration]int{}
	for range 300 {
		_, err := g.enter()
		var e *classboard.Error
		if !errors.As(err, &e) || e.Code != classboard.EUNAVAILABLE || !errors.Is(err, errShed) {
			t.Fatalf("past the bound: %v", err)
		}
		if e.RetryAfter < pupilRetryMin*time.Second || e.RetryAfter >= (pupilRetryMin+pupilRetrySpread)*time.Second || e.RetryAfter%time.Second != 0 {
			t.Fatalf("Retry-After %v", e.RetryAfter)
		}
		seen[e.RetryAfter]++
	}
	if len(seen) != pupilRetrySpread {
		t.Fatalf("Retry-After not spread over %d seconds: %v", pupilRetrySpread, seen)
	}
	a()
	if _, err := g.enter(); err != nil {
		t.Fatalf("after a release: %v", err)
	}
}

// A node's default bound follows its CPUs.
func TestPupilGateDefault(t *testing.T) {
	if got := cap(newPupilGate(0).slots); got < pupilRequestsPerCPU {
		t.Fatalf("default bound %d", got)
	}
}

type readyHealth struct{}

func (readyHealth) Ready() error { return nil }

// teacherAccounts knows one teacher's token.
type teacherAccounts struct{ classboard.AccountService }

func (teacherAccounts) Authenticate(_ context.Context, tok string) (*classboard.Auth, error) {
	if tok != "teacher-token" {
		return nil, classboard.Errorf(classboard.EUNAUTHORIZED, "no")
	}
	return &classboard.Auth{Teacher: &classboard.Teacher{ID: "ada"}, SessionID: "s"}, nil
}

// heldActivities stands for the store: the first answer waits in it
// until release closes, and it records every call that reached it.
type heldActivities struct {
	classboard.ActivityService
	entered chan struct{} // the first answer reached the store
	release chan struct{}
	held    atomic.Bool

	mu      sync.Mutex
	answers []int // choices stored
	calls   []string
}

func (f *heldActivities) note(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *heldActivities) SetAnswer(_ context.Context, _, _ string, in classboard.Answer) error {
	f.note("answer")
	if f.held.CompareAndSwap(false, true) {
		close(f.entered)
		<-f.release
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = append(f.answers, *in.Choice)
	return nil
}

func (f *heldActivities) Join(context.Context, classboard.JoinRequest, string) (*classboard.PupilJoin, error) {
	f.note("join")
	return &classboard.PupilJoin{RoomID: "r1", PupilToken: "pupil-token"}, nil
}

func (f *heldActivities) Room(context.Context, string, string) (*classboard.Room, error) {
	f.note("room")
	return &classboard.Room{RoomID: "r1", Kind: classboard.KindPoll, Status: classboard.StatusOpen}, nil
}

func (f *heldActivities) PupilTicket(context.Context, string, string) (*classboard.LiveTicket, error) {
	f.note("ticket")
	return &classboard.LiveTicket{}, nil
}

func (f *heldActivities) Activity(context.Context, string) (*classboard.Activity, error) {
	return &classboard.Activity{Status: classboard.StatusOpen, Revision: 3}, nil
}

func (f *heldActivities) stored() ([]int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.answers...), append([]string(nil), f.calls...)
}

// call sends a request with a bearer token and answers its status,
// Retry-After and body, or -1 and the error.
func call(base, method, path, token, body string) (int, string, string) {
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		return -1, "", err.Error()
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1, "", err.Error()
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return -1, "", err.Error()
	}
	return res.StatusCode, res.Header.Get("Retry-After"), string(b)
}

// With the node's pupil requests at their bound (1 here, held in the
// store), every further pupil request is answered 503 at once with a
// Retry-After and the API's error shape, and reaches no store; a
// teacher's request goes through; a pupil sending a body slowly holds no
// slot; once the held request ends, pupils get in again.
func TestPupilsShedPastTheBound(t *testing.T) {
	acts := &heldActivities{entered: make(chan struct{}), release: make(chan struct{})}
	s := New(Config{Logger: slog.New(slog.DiscardHandler)}, Services{Health: readyHealth{}, Accounts: teacherAccounts{}, Activities: acts})
	s.pupilGate = newPupilGate(1)
	srv := httptest.NewUnstartedServer(s)
	// slowActive tells when the server reads the slow request below.
	var slowAddr atomic.Value
	slowActive := make(chan struct{})
	srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateActive && c.RemoteAddr().String() == slowAddr.Load() {
			close(slowActive)
		}
	}
	srv.Start()
	defer srv.Close()
	free := sync.OnceFunc(func() { close(acts.release) })
	defer free() // before Close, which waits for the held request

	held := make(chan int, 1)
	go func() {
		code, _, _ := call(srv.URL, "PUT", "/api/v1/rooms/r1/answer", "pupil-token", `{"choice": 0}`)
		held <- code
	}()
	<-acts.entered // the first answer holds the node's one slot

	for _, c := range []struct{ name, method, path, body string }{
		{"another answer", "PUT", "/api/v1/rooms/r1/answer", `{"choice": 1}`},
		{"a join", "POST", "/api/v1/rooms/join", `{"code": "123456", "name": "Kim"}`},
		{"the room", "GET", "/api/v1/rooms/r1", ""},
		{"a live ticket", "POST", "/api/v1/rooms/r1/live-tickets", ""},
	} {
		code, ra, body := call(srv.URL, c.method, c.path, "pupil-token", c.body)
		var shape struct {
			Error struct{ Code, Message string }
		}
		if code != http.StatusServiceUnavailable || json.Unmarshal([]byte(body), &shape) != nil ||
			shape.Error.Code != classboard.EUNAVAILABLE || shape.Error.Message == "" {
			t.Fatalf("%s past the bound: %d %s", c.name, code, body)
		}
		if ra != "1" && ra != "2" && ra != "3" {
			t.Fatalf("%s: Retry-After %q", c.name, ra)
		}
	}
	if _, calls := acts.stored(); fmt.Sprint(calls) != "[answer]" {
		t.Fatalf("refused requests reached the store: %v", calls)
	}

	if code, _, body := call(srv.URL, "GET", "/api/v1/boards/b1/activity", "teacher-token", ""); code != http.StatusOK {
		t.Fatalf("the teacher's request: %d %s", code, body)
	}

	free()
	if code := <-held; code != http.StatusOK {
		t.Fatalf("the held answer: %d", code)
	}

	// A body still arriving holds no slot: its request takes one only
	// once the body is whole.
	slow, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slowAddr.Store(slow.LocalAddr().String())
	fmt.Fprintf(slow, "PUT /api/v1/rooms/r1/answer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer pupil-token\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"cho")
	<-slowActive
	if code, _, body := call(srv.URL, "PUT", "/api/v1/rooms/r1/answer", "pupil-token", `{"choice": 2}`); code != http.StatusOK {
		t.Fatalf("an answer beside a body still arriving: %d %s", code, body)
	}
	fmt.Fprint(slow, `ice": 3}`)
	slowRes, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err != nil || slowRes.StatusCode != http.StatusOK {
		t.Fatalf("the slow answer: %v %v", slowRes, err)
	}
	if answers, _ := acts.stored(); fmt.Sprint(answers) != "[0 2 3]" {
		t.Fatalf("stored answers %v, want the held one and the two after it", answers)
	}
}
