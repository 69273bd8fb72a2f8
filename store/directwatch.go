package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A bucket watch of this node runs on a direct consumer: an ephemeral,
// unreplicated consumer that the stream's leader makes by itself, without
// the JetStream meta leader, and that lives on the leader's server.
//
// Why not nats.go's KV watch (an ordered consumer): its consumer is placed
// on a random replica, so a node's death stalled the watches of streams
// that node did not lead (their boards missed changes for 2-3 s though the
// stream kept taking writes), and making it again needs the meta leader,
// which may be the node that died. A direct consumer dies only with its
// stream's leader, and then the stream takes no write until a new leader
// is elected, which answers the next create at once: nothing is missed for
// longer than the election.
const (
	// watchHeartbeat is how often an idle consumer says it is there.
	watchHeartbeat = 250 * time.Millisecond
	// watchSilence ends a watch that heard nothing for this long: its
	// server (the stream's leader when it was made) has gone. follow
	// lengthens it for a watch that keeps being started again (patience).
	watchSilence = 4 * watchHeartbeat
	// watchCreateTimeout bounds a create: only the stream's leader
	// answers, and during an election nobody does.
	watchCreateTimeout = time.Second
	// watchIdleDelete is how long a consumer whose watcher went outlives it.
	watchIdleDelete = 5 * time.Second
)

// watchFrom says where a watch begins.
type watchFrom struct {
	updatesOnly bool   // only changes made after it starts
	startSeq    uint64 // from this stream sequence (0: every key's current value)
	// silence is how long it may hear nothing before it ends (0: watchSilence).
	silence time.Duration
}

// kvWatch is one bucket watch. Updates delivers the entries, a nil entry
// once the values it started with are in (not with updatesOnly); Ended is
// closed when it stopped delivering for good (its server went, a message
// was missed) and must be made again.
type kvWatch struct {
	nc      *nats.Conn
	sub     *nats.Subscription
	updates chan jetstream.KeyValueEntry
	ended   chan struct{}
	stop    chan struct{}
	endOnce sync.Once
	why     string // set once, before ended is closed
	closer  sync.Once
	wg      sync.WaitGroup
	heard   atomic.Int64 // unix nanoseconds of the consumer's last message
	// handing: deliver waits for the reader to take an entry.
	handing atomic.Bool
	silence time.Duration

	server string // the server its consumer lives on ("" unknown: no cluster)

	mu          sync.Mutex
	prefix      string // "$KV.<bucket>."
	bucket      string
	lastCseq    uint64
	initDone    bool
	initPending uint64
	received    uint64
}

// watchEntry is one change a watch delivered.
type watchEntry struct {
	bucket, key string
	value       []byte
	rev, delta  uint64
	created     time.Time
	op          jetstream.KeyValueOp
}

func (e *watchEntry) Bucket() string                  { return e.bucket }
func (e *watchEntry) Key() string                     { return e.key }
func (e *watchEntry) Value() []byte                   { return e.value }
func (e *watchEntry) Revision() uint64                { return e.rev }
func (e *watchEntry) Created() time.Time              { return e.created }
func (e *watchEntry) Delta() uint64                   { return e.delta }
func (e *watchEntry) Operation() jetstream.KeyValueOp { return e.op }

// watchBucket starts a direct-consumer watch of bk's keys matching filter.
func (s *Store) watchBucket(ctx context.Context, bk *bucket, filter string, from watchFrom) (*kvWatch, error) {
	w := &kvWatch{
		nc:      s.nc,
		updates: make(chan jetstream.KeyValueEntry, 256),
		ended:   make(chan struct{}),
		stop:    make(chan struct{}),
		prefix:  "$KV." + bk.name + ".",
		bucket:  bk.name,
		silence: cmp.Or(from.silence, watchSilence),
	}
	w.heard.Store(time.Now().UnixNano())
	cfg := server.ConsumerConfig{
		DeliverSubject:    nats.NewInbox(),
		DeliverPolicy:     server.DeliverLastPerSubject,
		AckPolicy:         server.AckNone,
		FilterSubject:     w.prefix + filter,
		ReplayPolicy:      server.ReplayInstant,
		Heartbeat:         watchHeartbeat,
		FlowControl:       true,
		InactiveThreshold: watchIdleDelete,
		Replicas:          1,
		MemoryStorage:     true,
		Direct:            true,
	}
	switch {
	case from.startSeq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = server.DeliverByStartSequence, from.startSeq
	case from.updatesOnly:
		cfg.DeliverPolicy = server.DeliverNew
	}
	req, err := json.Marshal(server.CreateConsumerRequest{Stream: "KV_" + bk.name, Config: cfg})
	if err != nil {
		return nil, fmt.Errorf("watch %s: encode consumer: %w", bk.name, err)
	}
	// The callback waits for the create's answer (initPending) under mu.
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sub, err = s.nc.Subscribe(cfg.DeliverSubject, w.deliver); err != nil {
		return nil, fmt.Errorf("watch %s: subscribe: %w", bk.name, err)
	}
	if err := w.sub.SetPendingLimits(-1, -1); err != nil {
		w.unsubscribe()
		return nil, fmt.Errorf("watch %s: pending limits: %w", bk.name, err)
	}
	cctx, cancel := context.WithTimeout(ctx, watchCreateTimeout)
	defer cancel()
	msg, err := s.nc.RequestWithContext(cctx, fmt.Sprintf(server.JSApiConsumerCreateT, "KV_"+bk.name), req)
	if err != nil {
		w.unsubscribe()
		return nil, fmt.Errorf("watch %s: create consumer (its stream may be electing a leader): %w", bk.name, err)
	}
	var resp server.JSApiConsumerCreateResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		w.unsubscribe()
		return nil, fmt.Errorf("watch %s: decode consumer: %w", bk.name, err)
	}
	if resp.Error != nil {
		w.unsubscribe()
		return nil, fmt.Errorf("watch %s: create consumer: %w", bk.name, resp.Error)
	}
	// Only the stream's leader answers a create, and the answer does not
	// name it: this node's replica knows who leads. Should it lag behind a
	// change of leader, the watch is made again once it has caught up.
	if st, ok := s.localStream(bk); ok {
		w.server = s.liveLeader(st)
	}
	switch {
	case from.updatesOnly && from.startSeq == 0:
		w.initDone = true
	case resp.ConsumerInfo == nil || resp.NumPending == 0:
		w.initDone = true
		w.updates <- nil // buffered and empty: does not block
	default:
		w.initPending = resp.NumPending
	}
	w.wg.Go(w.watchHeartbeats)
	return w, nil
}

// Updates delivers the watch's entries.
func (w *kvWatch) Updates() <-chan jetstream.KeyValueEntry { return w.updates }

// Ended is closed once the watch delivers nothing more.
func (w *kvWatch) Ended() <-chan struct{} { return w.ended }

// Stop ends the watch; its consumer is deleted by its server once idle.
func (w *kvWatch) Stop() error {
	var err error
	w.closer.Do(func() {
		close(w.stop)
		err = w.sub.Unsubscribe()
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
			err = nil
		}
	})
	w.wg.Wait()
	return err
}

func (w *kvWatch) unsubscribe() { _ = w.sub.Unsubscribe() }

// end ends the watch for the reason why, which Why tells once Ended is closed.
func (w *kvWatch) end(why string) {
	w.endOnce.Do(func() {
		w.why = why
		close(w.ended)
	})
}

// Why says why the watch ended; it is read after Ended is closed.
func (w *kvWatch) Why() string { return w.why }

// watchHeartbeats ends the watch when its consumer falls silent. Only
// the consumer's silence counts: messages this node received and has not
// handled yet (waiting in the subscription, or an entry waiting for a
// reader that is behind) mean its server is there and this node is slow,
// which a new consumer would only make slower (issue 17: a CPU-starved
// node restarted its watches 20 times in 15 s).
func (w *kvWatch) watchHeartbeats() {
	t := time.NewTicker(watchHeartbeat)
	defer t.Stop()
	clock := checkClock{period: watchHeartbeat, prev: time.Now()}
	for {
		select {
		case <-w.stop:
			return
		case <-w.ended:
			return
		case <-t.C:
			now := time.Now()
			if paused := clock.paused(now); paused > 0 {
				// This check could not run: nor could the rest of the
				// node, the embedded server included. That time is not
				// the consumer's silence.
				h := w.heard.Load()
				w.heard.CompareAndSwap(h, h+int64(paused))
			}
			if w.handing.Load() || w.queued() {
				w.heard.Store(now.UnixNano())
				continue
			}
			if now.Sub(time.Unix(0, w.heard.Load())) > w.silence {
				w.end("silent")
				return
			}
		}
	}
}

// deliver handles one message of the consumer: a heartbeat, a flow
// control request or a stored message.
func (w *kvWatch) deliver(m *nats.Msg) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.heard.Store(time.Now().UnixNano())
	// A reader slower than the heartbeat is no sign of a silent consumer.
	defer func() { w.heard.Store(time.Now().UnixNano()) }()
	if len(m.Data) == 0 && m.Header.Get("Status") == "100" {
		if m.Reply != "" { // flow control: the consumer waits for this answer
			_ = m.Respond(nil)
		}
		if stalled := m.Header.Get("Nats-Consumer-Stalled"); stalled != "" {
			_ = w.nc.Publish(stalled, nil)
		}
		// A heartbeat names the consumer's last delivery: another
		// number means a message was lost on the way.
		if last := m.Header.Get("Nats-Last-Consumer"); last != "" {
			if n, err := strconv.ParseUint(last, 10, 64); err == nil && n != w.lastCseq {
				w.end("heartbeat names another last message")
			}
		}
		return
	}
	md, err := m.Metadata()
	if err != nil || len(m.Subject) <= len(w.prefix) {
		w.end("unreadable message")
		return
	}
	if md.Sequence.Consumer != w.lastCseq+1 { // a gap: start again
		w.end("a message was missed")
		return
	}
	w.lastCseq = md.Sequence.Consumer
	e := &watchEntry{bucket: w.bucket, key: m.Subject[len(w.prefix):], value: m.Data,
		rev: md.Sequence.Stream, delta: md.NumPending, created: md.Timestamp, op: entryOp(m.Header)}
	if !w.send(e) {
		return
	}
	if !w.initDone {
		w.received++
		if w.received >= w.initPending || md.NumPending == 0 {
			w.initDone = true
			w.send(nil)
		}
	}
}

// checkClock tells a periodic check how long it was kept from running: on
// a CPU-starved node (or in a long pause of the process) a ticker's reader
// runs late, all at once, and so do the goroutines it waits to hear from.
// Issue 17: every watch of a node ended "silent" in the same millisecond.
type checkClock struct {
	period time.Duration
	prev   time.Time
}

// paused returns how much later than its period the check at now ran,
// beyond half a period of ordinary jitter (0 when on time).
func (c *checkClock) paused(now time.Time) time.Duration {
	late := now.Sub(c.prev) - c.period
	c.prev = now
	if late <= c.period/2 {
		return 0
	}
	return late
}

// queued reports whether messages of the consumer wait in the
// subscription for deliver.
func (w *kvWatch) queued() bool {
	n, _, err := w.sub.Pending()
	return err == nil && n > 0
}

// send hands e to the reader, unless the watch stopped or ended.
func (w *kvWatch) send(e jetstream.KeyValueEntry) bool {
	select {
	case w.updates <- e:
		return true
	default:
	}
	w.handing.Store(true)
	defer w.handing.Store(false)
	select {
	case w.updates <- e:
		return true
	case <-w.stop:
	case <-w.ended:
	}
	return false
}

// entryOp reads a KV message's operation from its headers, as nats.go does.
func entryOp(h nats.Header) jetstream.KeyValueOp {
	switch h.Get("KV-Operation") {
	case "DEL":
		return jetstream.KeyValueDelete
	case "PURGE":
		return jetstream.KeyValuePurge
	}
	switch h.Get(jetstream.MarkerReasonHeader) {
	case "MaxAge", "Purge":
		return jetstream.KeyValuePurge
	case "Remove":
		return jetstream.KeyValueDelete
	}
	return jetstream.KeyValuePut
}
