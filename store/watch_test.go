package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/poll"
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

func (l *logLines) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.lines {
		if strings.Contains(m, msg) {
			n++
		}
	}
	return n
}

// watchStates opens a store that logs into logs and follows its boards
// until the test ends (or a minute passes: ctx); got receives the id of
// each board whose state a watch delivered.
func watchStates(t *testing.T) (s *Store, logs *logLines, ctx context.Context, got <-chan string) {
	logs = &logLines{}
	s = openTestStoreLogging(t, t.TempDir(), slog.New(logs))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	states := make(chan string, 16)
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		s.Boards().WatchBoards(ctx, func(ev classboard.BoardEvent) {
			if ev.Type == classboard.EventState {
				states <- ev.BoardID
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-watching })
	return s, logs, ctx, states
}

// A board-state watch whose consumer vanished (its node died) is started
// again once its heartbeats stop, and then delivers what was written
// meanwhile.
func TestVanishedWatchStartsAgain(t *testing.T) {
	s, logs, ctx, got := watchStates(t)

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
	names := directConsumers(t, s, bk)
	if len(names) == 0 {
		t.Fatal("the watch has no direct consumer on the stream's leader")
	}
	for _, name := range names {
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
			if !logs.has("bucket watch ended") {
				t.Fatal("the write arrived, but not through a restarted watch")
			}
			return
		case <-ctx.Done():
			t.Fatal("the write made after the consumer vanished never arrived")
		}
	}
}

// A board-state watch that had delivered nothing yet when its consumer
// vanished delivers, once started again, what was written meanwhile (a
// watch of updates only must not start at its own start then).
func TestVanishedIdleWatchMissesNothing(t *testing.T) {
	s, logs, ctx, got := watchStates(t)

	bk := s.boardStates[0]
	var names []string
	poll.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if names = directConsumers(t, s, bk); len(names) == 0 {
			return fmt.Errorf("no watch of %s yet", bk.name)
		}
		return nil
	})
	for _, name := range names {
		if err := bk.stream.DeleteConsumer(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	// Written before the watch can notice its consumer is gone.
	if _, err := bk.put(ctx, "meanwhile", []byte(`{"v":1}`), 0, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-got:
		if id != "meanwhile" {
			t.Fatalf("got %q", id)
		}
		if !logs.has("bucket watch ended") {
			t.Fatal("the write arrived, but not through a restarted watch")
		}
	case <-ctx.Done():
		t.Fatal("the write made while the watch was down never arrived")
	}
}

// directConsumers lists the direct consumers of bk's stream on s's server.
func directConsumers(t *testing.T, s *Store, bk *bucket) []string {
	t.Helper()
	acc, err := s.srv.srv.JszAccount(&server.JSzOptions{Account: server.DEFAULT_GLOBAL_ACCOUNT, Streams: true, Consumer: true, DirectConsumer: true})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, st := range acc.Streams {
		if st.Name == "KV_"+bk.name {
			for _, c := range st.DirectConsumer {
				names = append(names, c.Name)
			}
		}
	}
	return names
}

// A stopped watch leaves no consumer behind: its server deletes it once
// nobody listens (watchIdleDelete), so restarts do not pile consumers up.
func TestStoppedWatchLeavesNoConsumer(t *testing.T) {
	s := openTestStore(t)
	bk := s.boardStates[0]
	before := len(directConsumers(t, s, bk))
	w, err := s.watchBucket(t.Context(), bk, ">", watchFrom{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(directConsumers(t, s, bk)); n != before+1 {
		t.Fatalf("%d direct consumers with the watch, %d before", n, before)
	}
	if err := w.Stop(); err != nil {
		t.Fatal(err)
	}
	poll.CheckFor(t, 4*watchIdleDelete, 100*time.Millisecond, func() error {
		if n := len(directConsumers(t, s, bk)); n != before {
			return fmt.Errorf("%d direct consumers after the watch stopped, %d before", n, before)
		}
		return nil
	})
}

// A watch whose reader is slow (each block here outlasts watchSilence and
// stallAfter while many changes wait) is alive and behind, not dead: it is
// not started again, and hands every change over once, in order. Before
// issue 17's fix it was restarted at each block.
func TestSlowReaderWatchIsNotRestarted(t *testing.T) {
	logs := &logLines{}
	s := openTestStoreLogging(t, t.TempDir(), slog.New(logs))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	bk := s.boardStates[0]

	const n, blockEvery = 1200, 256
	block := func() {
		select {
		case <-time.After(stallAfter + watchSilence/2):
		case <-ctx.Done():
		}
	}
	written := make(chan struct{})
	var mu sync.Mutex
	var got []string
	started := make(chan struct{}, 1)
	following := make(chan struct{})
	go func() {
		defer close(following)
		s.follow(ctx, bk, watchSpec{filter: ">",
			begin: func(next uint64) (watchFrom, error) {
				return watchFrom{updatesOnly: true, startSeq: next}, nil
			},
			started: func() {
				select {
				case started <- struct{}{}:
				default:
				}
			},
			handle: func(e jetstream.KeyValueEntry) {
				mu.Lock()
				got = append(got, e.Key())
				i := len(got) - 1
				mu.Unlock()
				if i == 0 { // held until every write is in, the reader far behind
					select {
					case <-written:
					case <-ctx.Done():
					}
				}
				if i%blockEvery == 0 {
					block()
				}
			}})
	}()
	defer func() { cancel(); <-following }()
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the watch never started")
	}
	// The watch is made: the writes below are all after its start.
	for i := range n {
		if _, err := bk.put(ctx, fmt.Sprintf("k%04d", i), []byte(`{"v":1}`), 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	close(written)
	poll.CheckFor(t, time.Minute, 50*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) < n {
			return fmt.Errorf("%d of %d changes handed over", len(got), n)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if len(got) != n {
		t.Fatalf("%d changes handed over for %d writes", len(got), n)
	}
	for i, key := range got {
		if want := fmt.Sprintf("k%04d", i); key != want {
			t.Fatalf("change %d is %s, want %s", i, key, want)
		}
	}
	// Each of the four blocks with changes waiting restarted it before;
	// one restart is left to a machine that starves the heartbeat check.
	if r := logs.count("starting it again"); r > 1 {
		t.Fatalf("the slow watch was started again %d times", r)
	}
}

// A watch started again soon after its start waits twice as long before
// the next restart, up to maxPatience times; one that ran for
// watchSettled starts from the first thresholds again, so a dead
// consumer after a quiet period is replaced as fast as before.
func TestPatienceGrowsWithQuickRestarts(t *testing.T) {
	p := patience{scale: 1}
	if got := p.restarted(watchSettled); got != 1 {
		t.Fatalf("after a settled watch: scale %d, want 1", got)
	}
	for i, want := range []int{2, 4, 8, 8} {
		if got := p.restarted(time.Second); got != want {
			t.Fatalf("quick restart %d: scale %d, want %d", i+1, got, want)
		}
	}
	if got := p.restarted(watchSettled); got != 1 {
		t.Fatalf("after a settled watch: scale %d, want 1", got)
	}
}

// A check that ran late (the node could not run it) reports the pause, so
// that time is not counted as a watch's silence or stall; ordinary jitter
// is not a pause.
func TestCheckClockReportsPauses(t *testing.T) {
	start := time.Now()
	c := checkClock{period: time.Second, prev: start}
	if p := c.paused(start.Add(1400 * time.Millisecond)); p != 0 {
		t.Fatalf("a check 0.4 s late counted as a pause of %v", p)
	}
	if p := c.paused(start.Add(1400*time.Millisecond + 4*time.Second)); p != 3*time.Second {
		t.Fatalf("a check 3 s late counted as a pause of %v", p)
	}
	if p := c.paused(start.Add(1400*time.Millisecond + 5*time.Second)); p != 0 {
		t.Fatalf("the next check on time counted as a pause of %v", p)
	}
}
