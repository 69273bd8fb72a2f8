package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/testcluster"
)

// BenchmarkStateWriteToDispatch is one change from the store's write to
// the message waiting on the board's live connection: the state write
// (with its fsync), the KV watch that sees it, and the hub's dispatch. No
// HTTP; api's BenchmarkSteeringLatency times the whole trip.
//
//	go test ./node -run '^$' -bench StateWriteToDispatch -count 10 | tee new.txt
//	benchstat old.txt new.txt
func BenchmarkStateWriteToDispatch(b *testing.B) {
	n := testcluster.StartNode(b)
	ctx := context.Background()
	boards := n.Store().Boards()
	t, err := n.Store().Accounts().CreateTeacher(ctx, classboard.SignUp{Email: "bench@school.example", Password: "benchmark password", Name: "Bench"})
	if err != nil {
		b.Fatal(err)
	}
	as := classboard.NewContextWithAuth(ctx, &classboard.Auth{Teacher: t, Device: "bench"})
	nb, err := boards.CreateBoard(ctx, "192.0.2.1")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := boards.Claim(as, classboard.Claim{Code: nb.Code, Name: "Room 1"}, "192.0.2.1"); err != nil {
		b.Fatal(err)
	}
	st, err := boards.State(as, nb.BoardID)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := n.Live().Register(nb.BoardID, true)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	woken := make(chan struct{}, 1)
	conn.SetWake(func() {
		select {
		case woken <- struct{}{}:
		default:
		}
	})
	rev := st.Revision
	ends := time.Now().Add(time.Hour)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		st, err := boards.SetState(as, nb.BoardID, rev, classboard.StateUpdate{Blank: i%2 == 0, Timer: &classboard.Timer{EndsAt: ends.Add(time.Duration(i) * time.Millisecond)}})
		if err != nil {
			b.Fatal(err)
		}
		rev = st.Revision
		for got := false; !got; {
			select {
			case <-woken:
				msgs, _ := conn.Take()
				got = len(msgs) > 0
			case <-time.After(10 * time.Second):
				b.Fatalf("revision %d never reached the connection", rev)
			}
		}
	}
}
