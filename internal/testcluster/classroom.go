package testcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/classboard/classboard"
)

// Classroom is a teacher with a lesson and paired boards on a cluster,
// steered the way the teacher app steers: absolute states with If-Match,
// carried through failovers by the failover Client.
type Classroom struct {
	Teacher  *Client
	Token    string // the teacher's session
	LessonID string
	Slides   int
	Boards   []BoardCreds

	mu   sync.Mutex
	revs map[string]uint64 // the revision the teacher last saw, per board
}

// BoardCreds are a paired board's id and secret.
type BoardCreds struct {
	ID     string
	Secret string
}

// NewClassroom signs a teacher up, creates a lesson of slides text slides
// and registers and pairs boards boards, all through origins.
func NewClassroom(t testing.TB, origins []string, boards, slides int) *Classroom {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*ElectionBudget)
	defer cancel()
	anon := NewClient(origins, 10*time.Second)
	call := func(cl *Client, method, path string, body any, want int, out any) {
		t.Helper()
		res, err := cl.Retry(ctx, method, path, body)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		if res.Status != want {
			t.Fatalf("%s %s: %d %s", method, path, res.Status, res.Body)
		}
		if out != nil {
			res.JSON(t, out)
		}
	}
	const pw = "correct horse battery"
	// With SMTP a sign-up answers 202 and waits for its confirmation link:
	// such a cluster's test creates the teacher first (CreateTeacher).
	res, err := anon.Retry(ctx, "POST", "/api/v1/accounts", map[string]string{"email": "teacher@school.example", "password": pw, "name": "Ada"})
	if err != nil || (res.Status != http.StatusCreated && res.Status != http.StatusAccepted) {
		t.Fatalf("POST /api/v1/accounts: %v %v", err, res)
	}
	var s struct {
		Token string `json:"token"`
	}
	call(anon, "POST", "/api/v1/sessions", map[string]string{"email": "teacher@school.example", "password": pw, "device": "laptop"}, http.StatusCreated, &s)
	cr := &Classroom{Teacher: anon.With(s.Token), Token: s.Token, Slides: slides, revs: map[string]uint64{}}

	list := make([]map[string]string, slides)
	for i := range list {
		list[i] = map[string]string{"kind": "text", "title": "Slide " + strconv.Itoa(i+1), "body": "..."}
	}
	var l struct {
		ID string `json:"id"`
	}
	call(cr.Teacher, "POST", "/api/v1/lessons", map[string]any{"title": "Failover", "slides": list}, http.StatusCreated, &l)
	cr.LessonID = l.ID

	for i := range boards {
		var nb classboard.NewBoard
		call(anon, "POST", "/api/v1/boards", nil, http.StatusCreated, &nb)
		call(cr.Teacher, "POST", "/api/v1/pairings", map[string]string{"code": nb.Code, "name": fmt.Sprintf("Room %d", i+1)}, http.StatusCreated, nil)
		var st classboard.BoardState
		call(cr.Teacher, "GET", "/api/v1/boards/"+nb.BoardID+"/state", nil, http.StatusOK, &st)
		cr.revs[nb.BoardID] = st.Revision
		cr.Boards = append(cr.Boards, BoardCreds{ID: nb.BoardID, Secret: nb.BoardSecret})
	}
	return cr
}

// Steer shows slide on the board, with the revision the teacher last saw,
// retrying through failovers until ctx ends, and returns the acknowledged
// state. A 412 whose current state is the one sent means an earlier try
// was applied before its answer was lost: done, as API.md says.
func (cr *Classroom) Steer(ctx context.Context, boardID string, slide int) (*classboard.BoardState, error) {
	cr.mu.Lock()
	rev := cr.revs[boardID]
	cr.mu.Unlock()
	body := classboard.StateUpdate{LessonID: cr.LessonID, Slide: slide}
	res, err := cr.Teacher.Retry(ctx, "PUT", "/api/v1/boards/"+boardID+"/state", body, "If-Match", strconv.FormatUint(rev, 10))
	if err != nil {
		return nil, fmt.Errorf("steer %s to slide %d: %w", boardID, slide, err)
	}
	var st classboard.BoardState
	switch res.Status {
	case http.StatusOK:
		if err := json.Unmarshal(res.Body, &st); err != nil {
			return nil, fmt.Errorf("decode state %s: %w", res.Body, err)
		}
	case http.StatusPreconditionFailed:
		var stale struct {
			Current classboard.BoardState `json:"current"`
		}
		if err := json.Unmarshal(res.Body, &stale); err != nil {
			return nil, fmt.Errorf("decode 412 %s: %w", res.Body, err)
		}
		st = stale.Current
		if st.LessonID != body.LessonID || st.Slide != body.Slide || st.Blank != body.Blank {
			return nil, fmt.Errorf("steer %s to slide %d: changed meanwhile to %+v", boardID, slide, st)
		}
	default:
		return nil, fmt.Errorf("steer %s to slide %d: %d %s", boardID, slide, res.Status, res.Body)
	}
	cr.mu.Lock()
	cr.revs[boardID] = st.Revision
	cr.mu.Unlock()
	return &st, nil
}
