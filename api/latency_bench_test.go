package api_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/store"
)

// BenchmarkSteeringLatency measures how long a steer takes to reach the
// board with 1 and 1,000 boards connected to one node: from the teacher's
// write being acknowledged (and, for comparison, from the write being
// sent) to the board's frame being received. Each op steers one board
// picked at random.
//
//	go test ./api -run '^$' -bench SteeringLatency -benchtime 300x
func BenchmarkSteeringLatency(b *testing.B) {
	for _, boards := range []int{1, 1000} {
		b.Run(fmt.Sprintf("boards=%d", boards), func(b *testing.B) { benchSteering(b, boards) })
	}
}

type benchBoard struct {
	id     string
	rev    int
	frames chan frame
}

type frame struct {
	rev int
	at  time.Time
}

func benchSteering(b *testing.B, boards int) {
	n := testcluster.StartNode(b, withPairing(store.PairingLimits{CreatesPerHour: 10 * boards}))
	c := apitest.New(n.URL())
	c.HTTP.Transport = &http.Transport{MaxIdleConnsPerHost: 64}
	ada := benchToken(b, c)
	list := make([]*benchBoard, boards)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range list {
		res := c.Do(b, "POST", "/api/v1/boards", nil)
		var nb newBoard
		res.JSON(b, &nb)
		if res := c.With(ada).Do(b, "POST", "/api/v1/pairings", map[string]string{"code": nb.PairingCode, "name": fmt.Sprint("Room ", i)}); res.Status != 201 {
			b.Fatalf("pair: %d %s", res.Status, res.Body)
		}
		bb := &benchBoard{id: nb.BoardID, frames: make(chan frame, 16)}
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(liveURL(n.URL(), nb.BoardID, ""), "http"),
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + nb.BoardSecret}}})
		if err != nil {
			b.Fatal(err)
		}
		defer ws.CloseNow()
		var first liveMsg
		if err := wsjson.Read(ctx, ws, &first); err != nil {
			b.Fatal(err)
		}
		bb.rev = first.rev()
		go func() {
			for {
				var m liveMsg
				if err := wsjson.Read(ctx, ws, &m); err != nil {
					return
				}
				if m.Type == "state" {
					bb.frames <- frame{rev: m.rev(), at: time.Now()}
				}
			}
		}()
		list[i] = bb
	}
	var fromAck, fromSend []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bb := list[rand.IntN(len(list))]
		sent := time.Now()
		res := c.With(ada).Do(b, "PUT", "/api/v1/boards/"+bb.id+"/state", map[string]any{"slide": 0, "blank": i%2 == 0}, "If-Match", fmt.Sprint(bb.rev))
		acked := time.Now()
		if res.Status != 200 {
			b.Fatalf("steer: %d %s", res.Status, res.Body)
		}
		var st struct {
			Revision int `json:"revision"`
		}
		res.JSON(b, &st)
		bb.rev = st.Revision
		for f := range bb.frames {
			if f.rev == st.Revision {
				// A frame that beat the acknowledgement counts as 0.
				fromAck = append(fromAck, max(0, f.at.Sub(acked)))
				fromSend = append(fromSend, f.at.Sub(sent))
				break
			}
		}
	}
	b.StopTimer()
	report(b, "ack-to-frame", fromAck)
	report(b, "send-to-frame", fromSend)
}

func report(b *testing.B, name string, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	p := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(p(0.5), name+"-p50-ms")
	b.ReportMetric(p(0.99), name+"-p99-ms")
}

func benchToken(b *testing.B, c *apitest.Client) string {
	if res := c.Do(b, "POST", "/api/v1/accounts", map[string]string{"email": "bench@school.example", "password": "correct horse battery", "name": "Bench"}); res.Status != 201 {
		b.Fatalf("sign up: %d", res.Status)
	}
	res := c.Do(b, "POST", "/api/v1/sessions", map[string]string{"email": "bench@school.example", "password": "correct horse battery", "device": "laptop"})
	return res.Map(b)["token"].(string)
}
