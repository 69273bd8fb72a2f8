package store

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/classboard/classboard"
)

// BenchmarkJoin is classes joining: pupils join open rooms from many
// goroutines at once, as POST /api/v1/rooms/join does it (without HTTP),
// with this node's view of the rooms running; every 30 joins a new room
// opens on another board (its opening is counted too, about a
// thirtieth of a join each).
func BenchmarkJoin(b *testing.B) {
	s := openTestStore(b)
	ctx, cancel := context.WithCancel(context.Background())
	a := s.Boards().Activities()
	var watch sync.WaitGroup
	watch.Go(func() { a.WatchActivities(ctx, func(string) {}) })
	b.Cleanup(func() { cancel(); watch.Wait() })
	const class = 30
	var mu sync.Mutex
	var code string
	rooms, joins := 0, 0
	// next returns the code to join: a new room's after every class.
	next := func() string {
		mu.Lock()
		defer mu.Unlock()
		if joins++; joins <= class*rooms {
			return code
		}
		// A school and a teacher per room: the limits on boards and rooms
		// per hour are not what this measures.
		addr := fmt.Sprintf("198.51.%d.%d", rooms/250, rooms%250)
		teacher := classboard.NewContextWithAuth(ctx, &classboard.Auth{Teacher: &classboard.Teacher{ID: fmt.Sprint("t", rooms), Name: "Ada"}})
		nb, err := s.Boards().CreateBoard(ctx, addr)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Boards().Claim(teacher, classboard.Claim{ClaimToken: nb.ClaimToken, Name: fmt.Sprint("Room ", rooms)}, addr); err != nil {
			b.Fatal(err)
		}
		act, err := a.SetActivity(teacher, nb.BoardID, 0, classboard.ActivityUpdate{Kind: classboard.KindMarkers, Status: classboard.StatusOpen})
		if err != nil {
			b.Fatal(err)
		}
		rooms++
		code = act.JoinCode
		return code
	}
	b.ReportAllocs()
	b.SetParallelism(16) // a burst: many joins in flight at once
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, err := a.Join(ctx, classboard.JoinRequest{Code: next(), Name: "Sam"}, fmt.Sprint("10.0.0.", i%200)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(rooms), "rooms")
}
