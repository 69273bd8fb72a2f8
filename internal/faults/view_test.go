package faults

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/smtptest"
	"github.com/classboard/classboard/internal/testcluster"
)

// Each node answers the hot path from its in-memory view. A logout, a
// forgotten board, a deleted lesson and a password reset made through one
// node take effect on that node at once and on the others as soon as
// their views hear of it (bounded by the view's freshness rule, 0.8 s);
// the time each node took is logged, not judged.
func TestRevocationsReachEveryNode(t *testing.T) {
	smtp := smtptest.Start(t)
	c := testcluster.StartCluster(t, 3, testcluster.NodeOptions(testcluster.WithSMTP(smtp.Addr)))
	testcluster.CreateTeacher(t, c.Nodes[0].Node(), "teacher@school.example", password, "Ada")
	cr := testcluster.NewClassroom(t, c.Origins(), 1, 3)
	board := cr.Boards[0]
	through := apitest.New(c.Nodes[0].URL())

	// revoke checks that allowed holds on every node, runs the revocation
	// through n1, and then that refused holds on n1 at once and on the
	// others within the poll.
	revoke := func(what string, allowed, refused func(t *testing.T, origin string) error, do func(t *testing.T)) {
		t.Helper()
		for _, m := range c.Nodes {
			poll.CheckFor(t, 10*time.Second, 5*time.Millisecond, func() error { return allowed(t, m.URL()) })
		}
		do(t)
		if err := refused(t, c.Nodes[0].URL()); err != nil {
			t.Fatalf("%s: not at once on the node that did it: %v", what, err)
		}
		start := time.Now()
		for _, m := range c.Nodes[1:] {
			poll.CheckFor(t, 10*time.Second, 2*time.Millisecond, func() error { return refused(t, m.URL()) })
			t.Logf("%s: refused on %s %v after the revocation on n1", what, m.Name, time.Since(start).Round(time.Millisecond))
		}
	}
	status := func(want int, res *apitest.Response) error {
		if res.Status != want {
			return fmt.Errorf("%d %s, want %d", res.Status, res.Body, want)
		}
		return nil
	}

	var s struct {
		Token string `json:"token"`
	}
	through.Do(t, "POST", "/api/v1/sessions", map[string]string{"email": "teacher@school.example", "password": password}).JSON(t, &s)
	me := func(tok string, want int) func(*testing.T, string) error {
		return func(t *testing.T, origin string) error {
			return status(want, apitest.New(origin).With(tok).Do(t, "GET", "/api/v1/me", nil))
		}
	}
	revoke("logout", me(s.Token, http.StatusOK), me(s.Token, http.StatusUnauthorized), func(t *testing.T) {
		if err := status(http.StatusNoContent, through.With(s.Token).Do(t, "DELETE", "/api/v1/sessions/current", nil)); err != nil {
			t.Fatal(err)
		}
	})

	// A stale If-Match: a lesson the teacher has is 412, one deleted 400.
	steer := func(want int) func(*testing.T, string) error {
		return func(t *testing.T, origin string) error {
			return status(want, apitest.New(origin).With(cr.Token).Do(t, "PUT", "/api/v1/boards/"+board.ID+"/state",
				map[string]any{"lesson_id": cr.LessonID, "slide": 0}, "If-Match", "1"))
		}
	}
	revoke("deleted lesson", steer(http.StatusPreconditionFailed), steer(http.StatusBadRequest), func(t *testing.T) {
		if err := status(http.StatusNoContent, through.With(cr.Token).Do(t, "DELETE", "/api/v1/lessons/"+cr.LessonID, nil)); err != nil {
			t.Fatal(err)
		}
	})

	asBoard := func(want int) func(*testing.T, string) error {
		return func(t *testing.T, origin string) error {
			return status(want, apitest.New(origin).With(board.Secret).Do(t, "GET", "/api/v1/boards/"+board.ID, nil))
		}
	}
	revoke("forgotten board", asBoard(http.StatusOK), asBoard(http.StatusUnauthorized), func(t *testing.T) {
		if err := status(http.StatusNoContent, through.With(cr.Token).Do(t, "DELETE", "/api/v1/boards/"+board.ID, nil)); err != nil {
			t.Fatal(err)
		}
	})

	revoke("password reset", me(cr.Token, http.StatusOK), me(cr.Token, http.StatusUnauthorized), func(t *testing.T) {
		if err := status(http.StatusAccepted, through.Do(t, "POST", "/api/v1/password-resets", map[string]string{"email": "teacher@school.example"})); err != nil {
			t.Fatal(err)
		}
		// The first message told the teacher of NewClassroom's sign-up
		// with a taken address; the reset link is in the second.
		var tok string
		var err error
		for _, m := range smtp.WaitMessages(t, 2, 30*time.Second) {
			if _, tok, err = m.ResetLink(); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := status(http.StatusNoContent, through.Do(t, "POST", "/api/v1/password-resets/confirm", map[string]string{"token": tok, "password": "a new password"})); err != nil {
			t.Fatal(err)
		}
	})
}
