package mail

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/classboard/classboard"
)

// settleTimeout bounds acknowledging, retrying or failing a message; it
// runs also while the node shuts down, so the message is handed back
// instead of waiting out the queue's ack wait.
const settleTimeout = 5 * time.Second

// handBackDelay is when a message handed back at shutdown is due again.
// Not at once: this node's other workers may have a pull request open that
// the server would hand the message to while they are stopping, and there
// it would wait out the ack wait unread.
const handBackDelay = time.Second

// Stats count what this node's workers did since start.
type Stats struct {
	Delivered int64 // messages sent
	Retried   int64 // failed attempts handed back for a later one
	Failed    int64 // messages set aside as undeliverable
}

// Worker pulls messages from the outbox and delivers them. Every node runs
// one; the queue hands each message to one worker at a time.
type Worker struct {
	cfg    Config
	queue  classboard.MailQueue
	sender Sender
	log    *slog.Logger

	delivered, retried, failed atomic.Int64
}

// NewWorker returns a worker delivering from queue through sender.
func NewWorker(cfg Config, queue classboard.MailQueue, sender Sender, log *slog.Logger) *Worker {
	cfg.setDefaults()
	return &Worker{cfg: cfg, queue: queue, sender: sender, log: log}
}

// Stats returns the counters.
func (w *Worker) Stats() Stats {
	return Stats{Delivered: w.delivered.Load(), Retried: w.retried.Load(), Failed: w.failed.Load()}
}

// Run delivers until ctx ends, with cfg.Workers messages at a time.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range w.cfg.Workers {
		wg.Go(func() { w.loop(ctx) })
	}
	wg.Wait()
}

func (w *Worker) loop(ctx context.Context) {
	for {
		d, err := w.queue.Next(ctx)
		if ctx.Err() != nil {
			if d != nil {
				w.settle(ctx, d, func(sctx context.Context) error { return d.Retry(sctx, handBackDelay) })
			}
			return
		}
		if err != nil {
			w.log.Warn("pull mail from the outbox", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		w.deliver(ctx, d)
	}
}

// deliver makes one attempt and settles the message: done, retry later,
// or set aside as failed.
func (w *Worker) deliver(ctx context.Context, d classboard.MailDelivery) {
	m := d.Mail()
	attempt := d.Attempt()
	if m.ID == "" || m.To == "" {
		w.fail(ctx, d, m, attempt, "the queued message does not decode")
		return
	}
	err := w.attempt(ctx, d, m)
	switch {
	case err == nil:
		w.delivered.Add(1)
		w.log.Info("mail delivered", "mail_id", m.ID, "attempt", attempt)
		w.settle(ctx, d, d.Done)
	case ctx.Err() != nil:
		// Shutting down: hand the message back for another node.
		w.settle(ctx, d, func(sctx context.Context) error { return d.Retry(sctx, handBackDelay) })
	case errors.As(err, new(permanent)):
		w.fail(ctx, d, m, attempt, err.Error())
	default:
		delay := w.backoff(attempt)
		if time.Since(m.Queued)+delay > w.cfg.GiveUpAfter {
			w.fail(ctx, d, m, attempt, "gave up after "+w.cfg.GiveUpAfter.String()+": "+err.Error())
			return
		}
		w.retried.Add(1)
		w.log.Warn("mail not delivered; will retry", "mail_id", m.ID, "attempt", attempt, "retry_in", delay, "err", err)
		w.settle(ctx, d, func(sctx context.Context) error { return d.Retry(sctx, delay) })
	}
}

// attempt sends m within the attempt timeout, telling the queue it is
// still working meanwhile.
func (w *Worker) attempt(ctx context.Context, d classboard.MailDelivery, m classboard.Mail) error {
	actx, cancel := context.WithTimeout(ctx, w.cfg.AttemptTimeout)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(w.cfg.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if err := d.Progress(actx); err != nil {
					w.log.Warn("report mail progress", "mail_id", m.ID, "err", err)
				}
			}
		}
	})
	err := w.sender.Send(actx, m)
	close(stop)
	wg.Wait()
	return err
}

// backoff is the delay after a failed attempt: RetryMin, doubling up to
// RetryMax.
func (w *Worker) backoff(attempt int) time.Duration {
	d := w.cfg.RetryMin
	for i := 1; i < attempt && d < w.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, w.cfg.RetryMax)
}

func (w *Worker) fail(ctx context.Context, d classboard.MailDelivery, m classboard.Mail, attempt int, reason string) {
	w.failed.Add(1)
	w.log.Error("mail undeliverable; moved to the failed-mail stream",
		"mail_id", m.ID, "to", m.To, "subject", m.Subject, "attempt", attempt, "reason", reason)
	w.settle(ctx, d, func(sctx context.Context) error { return d.Fail(sctx, reason) })
}

// settle runs one of Done, Retry or Fail with a context that outlives a
// shutdown.
func (w *Worker) settle(ctx context.Context, d classboard.MailDelivery, f func(context.Context) error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if err := f(sctx); err != nil {
		// The message comes back after the queue's ack wait.
		w.log.Warn("settle mail", "mail_id", d.Mail().ID, "err", err)
	}
}
