package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/classboard/classboard"
)

// The outbox is a work-queue stream: a message stays until a worker
// acknowledges it, and one pull consumer shared by every node hands each
// message to one worker at a time. A message that used up its attempts is
// published to the failed stream and then terminated, because a work queue
// never drops a message by itself.
const (
	outboxStream   = "OUTBOX"
	outboxSubject  = "mail.outbox"
	failedStream   = "OUTBOX_FAILED"
	failedSubject  = "mail.failed"
	outboxConsumer = "mail"

	// outboxAckWait is how long a worker may be silent before its message
	// is handed to another worker. Workers report progress well within it
	// while they send, so a slow attempt is not delivered twice.
	outboxAckWait = 30 * time.Second
	// failedMaxAge is how long undeliverable mail is kept for operators.
	failedMaxAge = 30 * 24 * time.Hour
	// maxMailBytes bounds one queued message.
	maxMailBytes = 64 * 1024
	// outboxFetchWait bounds one pull request; the worker pulls again.
	outboxFetchWait = 30 * time.Second
)

// failReasonHeader carries why a message was set aside.
const failReasonHeader = "Classboard-Fail-Reason"

// ensureOutbox creates the outbox and failed-mail streams and the shared
// consumer. Safe when several nodes do it at once.
func ensureOutbox(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Consumer, error) {
	if err := ensureStream(ctx, js, jetstream.StreamConfig{
		Name:       outboxStream,
		Subjects:   []string{outboxSubject},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    jetstream.FileStorage,
		Replicas:   replicas,
		MaxMsgSize: maxMailBytes,
		// Publishing carries the mail's id, so a publish retried after a
		// lost answer queues nothing twice.
		Duplicates: 2 * time.Minute,
	}); err != nil {
		return nil, err
	}
	if err := ensureStream(ctx, js, jetstream.StreamConfig{
		Name:       failedStream,
		Subjects:   []string{failedSubject},
		Storage:    jetstream.FileStorage,
		Replicas:   replicas,
		MaxAge:     failedMaxAge,
		MaxMsgSize: 2 * maxMailBytes,
		// A Fail whose terminate was lost is redelivered and failed again
		// within outboxAckWait; the id keeps one copy.
		Duplicates: 2 * time.Minute,
	}); err != nil {
		return nil, err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, outboxStream, jetstream.ConsumerConfig{
		Durable:   outboxConsumer,
		AckPolicy: jetstream.AckExplicitPolicy,
		AckWait:   outboxAckWait,
		// Unlimited: the worker decides when a message has had enough
		// attempts and moves it to the failed stream.
		MaxDeliver:    -1,
		MaxAckPending: 256,
		Replicas:      replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure consumer %s: %w", outboxConsumer, err)
	}
	return cons, nil
}

// Outbox implements classboard.Outbox and classboard.MailQueue over the
// OUTBOX stream.
type Outbox struct{ s *Store }

var (
	_ classboard.Outbox    = (*Outbox)(nil)
	_ classboard.MailQueue = (*Outbox)(nil)
)

// Outbox returns the mail outbox.
func (s *Store) Outbox() *Outbox { return &Outbox{s: s} }

// Queue publishes m to the outbox and returns once the stream has stored
// it (on a quorum, in a cluster). It never waits for delivery.
func (o *Outbox) Queue(ctx context.Context, m classboard.Mail) error {
	ctx, cancel, err := o.s.opContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return o.s.queueMail(ctx, m)
}

// queueMail publishes m within an operation's context.
func (s *Store) queueMail(ctx context.Context, m classboard.Mail) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode mail: %w", err)
	}
	if _, err := s.js.Publish(ctx, outboxSubject, data, jetstream.WithMsgID(m.ID)); err != nil {
		return storeErr(fmt.Errorf("queue mail: %w", err))
	}
	return nil
}

// Next waits for the next message due for delivery. It waits for the
// store to be ready first, so workers can start with the node.
func (o *Outbox) Next(ctx context.Context) (classboard.MailDelivery, error) {
	select {
	case <-o.s.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		msg, err := o.fetch(ctx)
		if err != nil || msg != nil {
			return msg, err
		}
	}
}

// fetch makes one pull request; nil, nil means none came in time.
func (o *Outbox) fetch(ctx context.Context) (classboard.MailDelivery, error) {
	fctx, cancel := context.WithTimeout(ctx, outboxFetchWait)
	defer cancel()
	batch, err := o.s.outbox.Fetch(1, jetstream.FetchContext(fctx))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("pull mail: %w", err)
	}
	for msg := range batch.Messages() {
		return &delivery{s: o.s, msg: msg}, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) {
		return nil, fmt.Errorf("pull mail: %w", err)
	}
	return nil, nil
}

// Counts returns how many messages wait in the outbox (or are being
// delivered) and how many the failed-mail stream holds.
func (o *Outbox) Counts(ctx context.Context) (queued, failed uint64, err error) {
	ctx, cancel, err := o.s.opContext(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer cancel()
	if queued, err = o.s.streamMsgs(ctx, outboxStream); err != nil {
		return 0, 0, err
	}
	if failed, err = o.s.streamMsgs(ctx, failedStream); err != nil {
		return 0, 0, err
	}
	return queued, failed, nil
}

// streamMsgs returns how many messages a stream holds.
func (s *Store) streamMsgs(ctx context.Context, name string) (uint64, error) {
	st, err := s.js.Stream(ctx, name)
	if err != nil {
		return 0, storeErr(fmt.Errorf("open %s: %w", name, err))
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, storeErr(fmt.Errorf("inspect %s: %w", name, err))
	}
	return info.State.Msgs, nil
}

// delivery is one message handed to a worker.
type delivery struct {
	s   *Store
	msg jetstream.Msg
}

func (d *delivery) Mail() classboard.Mail {
	var m classboard.Mail
	// A message that does not decode has an empty To; the worker fails it.
	json.Unmarshal(d.msg.Data(), &m) //nolint:errcheck // see above
	return m
}

func (d *delivery) Attempt() int {
	meta, err := d.msg.Metadata()
	if err != nil {
		return 1
	}
	return int(meta.NumDelivered)
}

func (d *delivery) Progress(context.Context) error {
	if err := d.msg.InProgress(); err != nil {
		return fmt.Errorf("report progress: %w", err)
	}
	return nil
}

// Done waits for the server to confirm the acknowledgement: an ack lost on
// the way would send the mail again.
func (d *delivery) Done(ctx context.Context) error {
	if err := d.msg.DoubleAck(ctx); err != nil {
		return fmt.Errorf("acknowledge mail: %w", err)
	}
	return nil
}

// Retry needs no confirmation: a lost one only means the message comes
// back after outboxAckWait instead of delay.
func (d *delivery) Retry(_ context.Context, delay time.Duration) error {
	if err := d.msg.NakWithDelay(delay); err != nil {
		return fmt.Errorf("retry mail: %w", err)
	}
	return nil
}

func (d *delivery) Fail(ctx context.Context, reason string) error {
	out := nats.NewMsg(failedSubject)
	out.Data = d.msg.Data()
	out.Header.Set(failReasonHeader, reason)
	id := d.Mail().ID
	if id == "" {
		if meta, err := d.msg.Metadata(); err == nil {
			id = fmt.Sprintf("seq-%d", meta.Sequence.Stream)
		}
	}
	if _, err := d.s.js.PublishMsg(ctx, out, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("set failed mail aside: %w", err)
	}
	if err := d.msg.TermWithReason(reason); err != nil {
		return fmt.Errorf("remove failed mail from the outbox: %w", err)
	}
	return nil
}
