package api

import (
	"sync"
	"time"

	"github.com/classboard/classboard"
)

// Live connections a node holds at once per session (a teacher's device, or
// a board's secret) and per board (the board and every device steering
// it). A teacher's device holds one per board it shows, and a board one
// (two in a reload's overlap); a school behind one address is not limited
// as such, because nothing here counts addresses.
const (
	DefaultMaxLivePerSession = 20
	DefaultMaxLivePerBoard   = 30
	// liveLimitRetry is the Retry-After of a refused live connection: a
	// connection that just went is released at once, so soon is enough.
	liveLimitRetry = 10 * time.Second
)

// liveCounts counts this node's live connections per session and board.
type liveCounts struct {
	perSession, perBoard int

	mu       sync.Mutex
	sessions map[string]int
	boards   map[string]int
}

func newLiveCounts(perSession, perBoard int) *liveCounts {
	if perSession <= 0 {
		perSession = DefaultMaxLivePerSession
	}
	if perBoard <= 0 {
		perBoard = DefaultMaxLivePerBoard
	}
	return &liveCounts{perSession: perSession, perBoard: perBoard, sessions: map[string]int{}, boards: map[string]int{}}
}

// acquire counts one more connection of session to board and returns its
// release, or ERATELIMITED when either is at its limit.
func (l *liveCounts) acquire(session, board string) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rule := ""
	switch {
	case l.sessions[session] >= l.perSession:
		rule = "live-per-session"
	case l.boards[board] >= l.perBoard:
		rule = "live-per-board"
	}
	if rule != "" {
		return nil, &classboard.Error{Code: classboard.ERATELIMITED, Message: "Too many live connections; close some and try again.", RetryAfter: liveLimitRetry, Rule: rule}
	}
	l.sessions[session]++
	l.boards[board]++
	var once sync.Once
	return func() { once.Do(func() { l.release(session, board) }) }, nil
}

func (l *liveCounts) release(session, board string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for m, k := range map[*map[string]int]string{&l.sessions: session, &l.boards: board} {
		if (*m)[k]--; (*m)[k] <= 0 {
			delete(*m, k)
		}
	}
}
