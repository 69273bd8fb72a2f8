package live

import (
	"fmt"
	"testing"
	"time"

	"github.com/classboard/classboard"
)

// Hot paths of the hub, for benchstat:
//
//	go test ./live -run '^$' -bench . -count 10 | tee new.txt
//	benchstat old.txt new.txt

// BenchmarkEncodeState is the JSON of one state message, made once per
// change and node.
func BenchmarkEncodeState(b *testing.B) {
	st := &classboard.BoardState{BoardID: "0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", LessonID: "0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c",
		Slide: 7, Timer: &classboard.Timer{EndsAt: time.Now().Add(10 * time.Minute)}, Revision: 12345,
		UpdatedAt: time.Now(), UpdatedBy: "Ada's laptop"}
	b.ReportAllocs()
	for b.Loop() {
		Encode(Message{Type: TypeState, State: st})
	}
}

// BenchmarkDispatch hands one change to its board's connection on a node
// holding connections for boards boards; the message is taken off the
// connection's queue as its writer would.
func BenchmarkDispatch(b *testing.B) {
	for _, boards := range []int{1, 1000, 10000} {
		b.Run(fmt.Sprintf("boards=%d", boards), func(b *testing.B) {
			h := NewHub(Config{})
			conns := make([]*Conn, boards)
			for i := range conns {
				c, err := h.Register(fmt.Sprintf("board-%d", i), true)
				if err != nil {
					b.Fatal(err)
				}
				conns[i] = c
			}
			b.ReportAllocs()
			rev := uint64(0)
			for b.Loop() {
				rev++
				i := int(rev) % boards
				h.Dispatch(stateEvent(conns[i].BoardID(), rev))
				conns[i].Take()
			}
		})
	}
}

// BenchmarkActivityFrame sends one frame of a class's activity: a board
// with its board, its teacher and 30 pupils connected here. "answer" is
// what an answer costs (the pupils' room did not change, so they hear
// nothing); "status" what a lock or reveal costs (every pupil hears it).
func BenchmarkActivityFrame(b *testing.B) {
	for _, status := range []bool{false, true} {
		b.Run(map[bool]string{false: "answer", true: "status"}[status], func(b *testing.B) {
			h := NewHub(Config{})
			src := &fakeActivities{}
			f := NewActivityFeed(h, src, 0)
			conns := append(seatClass(b, h, src, 30), register(b, h, "b1", true), register(b, h, "b1", false))
			now := time.Now()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if status {
					src.status = []string{classboard.StatusOpen, classboard.StatusLocked}[i%2]
				}
				f.Changed("b1")
				now = now.Add(ActivityInterval)
				f.flush(now)
				for _, c := range conns {
					c.Take()
				}
			}
		})
	}
}
