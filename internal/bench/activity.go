package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// point is a marker as the API sends it.
type point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// activityMessage is the part of an "activity" live message the harness reads.
type activityMessage struct {
	Markers []point `json:"markers"`
}

// room is one board's activity: every pupil taps a marker of their own
// (so the board's frames tell which answers they hold), then moves it.
type room struct {
	b    *board
	code string

	mu    sync.Mutex
	acked map[point]time.Time // acknowledged, not on the board yet
	early map[point]time.Time // on the board before its answer came back
	final map[point]bool      // each pupil's last acknowledged marker
	// tried maps a final marker to the change that replaced it without an
	// answer (a timeout or 503): such a change may have been stored
	// all the same, and then the board rightly shows it instead.
	tried   map[point]point
	shown   []time.Duration // answer acknowledged -> board shows it
	frames  int
	last    map[point]bool // the markers of the newest frame
	started time.Time
}

// noteFrame records a frame the board received at t.
func (rm *room) noteFrame(a *activityMessage, t time.Time) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	rm.frames++
	rm.last = map[point]bool{}
	for _, m := range a.Markers {
		rm.last[m] = true
		if at, ok := rm.acked[m]; ok {
			rm.shown = append(rm.shown, t.Sub(at))
			delete(rm.acked, m)
		} else if _, ok := rm.early[m]; !ok {
			rm.early[m] = t
		}
	}
}

// noteAck records that the answer m was acknowledged at t, replacing prev.
func (rm *room) noteAck(m, prev point, t time.Time) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	delete(rm.final, prev)
	delete(rm.acked, prev) // a replaced answer need not reach the board
	rm.final[m] = true
	if seen, ok := rm.early[m]; ok {
		rm.shown = append(rm.shown, seen.Sub(t))
		delete(rm.early, m)
		return
	}
	rm.acked[m] = t
}

// noteFailed records that changing prev to m got no acknowledgement.
func (rm *room) noteFailed(m, prev point) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	rm.tried[prev] = m
}

// missing is how many final answers the board's newest frame lacks.
func (rm *room) missing() int {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	n := 0
	for m := range rm.final {
		if t, ok := rm.tried[m]; !rm.last[m] && (!ok || !rm.last[t]) {
			n++
		}
	}
	return n
}

// ActivityResult is the activity scenario's part of a Result.
type ActivityResult struct {
	Rooms         int     `json:"rooms"`
	PupilsPerRoom int     `json:"pupils_per_room"`
	PupilsJoined  int64   `json:"pupils_joined"`
	AnswersAcked  int64   `json:"answers_acked"`
	AnswerErrors  int64   `json:"answer_errors"`
	AnswersLost   int     `json:"answers_lost"` // final answers the board never showed
	ShownP50Ms    float64 `json:"shown_p50_ms"` // answer acknowledged -> the board's frame holds it
	ShownP99Ms    float64 `json:"shown_p99_ms"`
	ShownMaxMs    float64 `json:"shown_max_ms"`
	// FramesPerSecond is activity frames per room per second over the
	// answering time (the burst and the changes).
	FramesPerSecond float64 `json:"frames_per_s_per_room"`
	AnswerSeconds   float64 `json:"answering_s"`
}

// runActivity opens one markers activity per board; every pupil joins
// within a burst of cfg.Burst, answers within the next, then changes the
// answer within the one after. Pupils hold no live connection: their phones poll their
// room, so the pupil connections per node are none and what a pupil costs
// a node is stored answers, not memory.
func (r *run) runActivity(ctx context.Context) (*ActivityResult, error) {
	rooms := make([]*room, len(r.boards))
	r.setPhase("activity", fmt.Sprintf("opening %d rooms, %d pupils each", len(rooms), r.cfg.Pupils))
	err := r.parallel(ctx, len(r.boards), func(ctx context.Context, i int) error {
		b := r.boards[i]
		var act struct {
			JoinCode string `json:"join_code"`
		}
		origin := r.nodes.urls[b.teacher.origin.Load()]
		if err := r.api.call(ctx, "PUT", origin+"/api/v1/boards/"+b.id+"/activity", b.teacher.token,
			map[string]any{"kind": "markers", "slide": 0, "status": "open"}, http.StatusOK, &act, "If-Match", "0"); err != nil {
			return fmt.Errorf("open activity: %w", err)
		}
		rm := &room{b: b, code: act.JoinCode, acked: map[point]time.Time{}, early: map[point]time.Time{}, final: map[point]bool{}, tried: map[point]point{}}
		rooms[i] = rm
		b.room.Store(rm)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := &ActivityResult{Rooms: len(rooms), PupilsPerRoom: r.cfg.Pupils}
	var joined, acked, errs atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for ri, rm := range rooms {
		for j := range r.cfg.Pupils {
			wg.Go(func() {
				if err := r.pupil(ctx, rm, ri, j, &joined, &acked); err != nil {
					errs.Add(1)
					if errs.Load() <= maxErrorsShown {
						r.cfg.Log.Warn("pupil", "room", ri, "pupil", j, "err", err)
					}
				}
			})
		}
	}
	wg.Wait()
	answering := time.Since(start)
	r.setPhase("drain", "waiting for the boards to show every final answer")
	deadline := time.Now().Add(r.cfg.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		lost := 0
		for _, rm := range rooms {
			lost += rm.missing()
		}
		if lost == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var shown []time.Duration
	frames := 0
	for _, rm := range rooms {
		res.AnswersLost += rm.missing()
		rm.mu.Lock()
		shown = append(shown, rm.shown...)
		frames += rm.frames
		rm.mu.Unlock()
	}
	res.PupilsJoined, res.AnswersAcked, res.AnswerErrors = joined.Load(), acked.Load(), errs.Load()
	res.ShownP50Ms, _, res.ShownP99Ms, res.ShownMaxMs = quantiles(shown)
	res.AnswerSeconds = round(answering.Seconds())
	res.FramesPerSecond = round(float64(frames) / float64(len(rooms)) / answering.Seconds())
	return res, nil
}

// pupil joins room rm and answers twice, each within a burst.
func (r *run) pupil(ctx context.Context, rm *room, ri, j int, joined, acked *atomic.Int64) error {
	// Each room's pupils share their school's address, as a class does.
	addr := fmt.Sprintf("10.88.%d.%d", ri>>8, ri&0xff)
	base := r.nodes.urls[(ri+j)%len(r.nodes.urls)]
	var p struct {
		RoomID string `json:"room_id"`
		Token  string `json:"pupil_token"`
	}
	// A class joins over a few seconds too, not at one instant.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(rand.N(r.cfg.Burst)):
	}
	if err := r.api.call(ctx, "POST", base+"/api/v1/rooms/join", "", map[string]string{"code": rm.code, "name": fmt.Sprintf("Pupil %d", j)},
		http.StatusCreated, &p, "X-Forwarded-For", addr); err != nil {
		return fmt.Errorf("join: %w", err)
	}
	joined.Add(1)
	x := float64(j+1) / float64(r.cfg.Pupils+1)
	prev := point{X: -1}
	for _, y := range []float64{0.25, 0.75} {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(rand.N(r.cfg.Burst)):
		}
		m := point{X: x, Y: y}
		if err := r.api.call(ctx, "PUT", base+"/api/v1/rooms/"+p.RoomID+"/answer", p.Token, map[string]any{"marker": m}, http.StatusOK, nil); err != nil {
			rm.noteFailed(m, prev)
			return fmt.Errorf("answer: %w", err)
		}
		rm.noteAck(m, prev, time.Now())
		acked.Add(1)
		prev = m
	}
	return nil
}

// writeActivity prints the activity scenario's figures.
func (a *ActivityResult) write(row func(k, format string, v ...any)) {
	row("rooms", "%d rooms x %d pupils: %d joined, %d answers acknowledged, %d pupil errors", a.Rooms, a.PupilsPerRoom, a.PupilsJoined, a.AnswersAcked, a.AnswerErrors)
	row("answer -> board", "p50 %.2f ms  p99 %.2f ms  max %.2f ms", a.ShownP50Ms, a.ShownP99Ms, a.ShownMaxMs)
	row("answers lost", "%d", a.AnswersLost)
	row("board frames", "%.2f per second per room over %.1f s of answering", a.FramesPerSecond, a.AnswerSeconds)
	row("pupil connections", "none per node: pupils' phones poll their room (GET every ~3.5 s); no per-pupil memory on a node but stored answers")
}
