package store

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/classboard/classboard"
)

// logLines keeps the messages logged at WARN and above.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(_ context.Context, level slog.Level) bool { return level >= slog.LevelWarn }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, r.Message)
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

func (l *logLines) has(msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.lines {
		if strings.Contains(m, msg) {
			return true
		}
	}
	return false
}

// A board-state watch whose consumer vanished (its node died) without the
// client library noticing is started again once the stream holds changes
// it did not deliver, and then delivers them.
func TestStalledWatchStartsAgain(t *testing.T) {
	logs := &logLines{}
	s := openTestStoreLogging(t, t.TempDir(), slog.New(logs))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	got := make(chan string, 16)
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		s.Boards().WatchBoards(ctx, func(ev classboard.BoardEvent) {
			if ev.Type == classboard.EventState {
				got <- ev.BoardID
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-watching })

	bk := s.boardStates[0]
	write := func(key string) {
		t.Helper()
		if _, err := bk.put(ctx, key, []byte(`{"v":1}`), 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	// The watch is up once it delivers a write.
	for i := 0; ; i++ {
		write("probe" + string(rune('a'+i)))
		select {
		case <-got:
		case <-time.After(200 * time.Millisecond):
			continue
		}
		break
	}
	// Its consumer vanishes, as when the node holding it is killed.
	for name := range bk.stream.ConsumerNames(ctx).Name() {
		if err := bk.stream.DeleteConsumer(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	write("after")
	for {
		select {
		case id := <-got:
			if id != "after" {
				continue
			}
			if !logs.has("bucket watch stalled") {
				t.Fatal("the write arrived, but not through a restarted watch")
			}
			return
		case <-ctx.Done():
			t.Fatal("the write made after the consumer vanished never arrived")
		}
	}
}
