package store

import (
	"context"
	"testing"

	"github.com/classboard/classboard/internal/token"
)

// Hooks for the external tests (package store_test), which poll with
// poll.CheckFor.

// OpenTestStore opens a ready single-node test store with these limits.
func OpenTestStore(t testing.TB, limits TeacherLimits) *Store {
	s := openTestStore(t)
	s.cfg.TeacherLimits = limits.withDefaults()
	return s
}

// StopView ends the view's watches, as a watch that fell behind would.
func (s *Store) StopView() { s.stopView() }

// ViewSession says what the view answers for a session token.
func (s *Store) ViewSession(tok string) string {
	_, _, ans := s.view.sessions.get(token.Hash(tok))
	return map[viewAnswer]string{viewAsk: "ask", viewHit: "hit", viewGone: "gone"}[ans]
}

// ViewHolds reports whether the view holds the session, current or not.
func (s *Store) ViewHolds(tok string) bool {
	s.view.sessions.mu.RLock()
	defer s.view.sessions.mu.RUnlock()
	_, ok := s.view.sessions.items[token.Hash(tok)]
	return ok
}

// PurgeSessionBehindView deletes a session as another node would: this
// node's view is not told.
func (s *Store) PurgeSessionBehindView(tok string) error {
	return s.sessions.kv.Purge(context.Background(), token.Hash(tok))
}

// LessonViewCurrent reports whether the lessons' view may answer.
func (s *Store) LessonViewCurrent() bool { return s.view.lessons.read(func() {}) }
