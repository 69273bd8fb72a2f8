package classboard

import (
	"context"
	"time"
)

// Mail is one e-mail classboard sends. Requests never send it themselves:
// they queue it in the Outbox and answer, and a worker on some node
// delivers it later.
type Mail struct {
	// ID is random and unique; it is the Message-ID's local part and lets
	// the outbox drop a queued message published twice.
	ID      string    `json:"id"`
	To      string    `json:"to"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"` // plain text body
	Queued  time.Time `json:"queued"`
}

// Outbox queues mail durably (replicated like every other write) for
// delivery by the mail workers.
type Outbox interface {
	// Queue stores m for delivery and returns without waiting for it.
	Queue(ctx context.Context, m Mail) error
}

// MailQueue is the workers' side of the outbox: every node's workers pull
// from it, and each message goes to one worker at a time.
type MailQueue interface {
	// Next waits until a message is due for delivery, or ctx ends.
	Next(ctx context.Context) (MailDelivery, error)
}

// MailDelivery is one attempt at delivering a queued message. Exactly one
// of Done, Retry or Fail ends it; a worker that stops without calling any
// leaves the message to be redelivered.
type MailDelivery interface {
	Mail() Mail
	// Attempt is 1 for the first delivery attempt, 2 for the next, ...
	Attempt() int
	// Progress tells the queue that the attempt still runs, so that the
	// message is not handed to another worker meanwhile.
	Progress(ctx context.Context) error
	// Done removes the delivered message from the queue.
	Done(ctx context.Context) error
	// Retry hands the message back for another attempt after delay.
	Retry(ctx context.Context, delay time.Duration) error
	// Fail moves the message aside as undeliverable, with the reason.
	Fail(ctx context.Context, reason string) error
}

// PasswordResetService resets forgotten passwords by e-mail.
type PasswordResetService interface {
	// RequestReset queues a reset link, valid 30 minutes and once, to the
	// account with this e-mail.
	// It returns nil whether or not such an account exists and also when
	// the request is rate-limited (then nothing is queued), so that the
	// answer tells nobody anything. Returns EINVALID for a malformed
	// e-mail address and EUNAVAILABLE when the store cannot take a write.
	RequestReset(ctx context.Context, email, clientAddr string) error
	// ConfirmReset sets a new password with the token of a reset link and
	// ends every session of the teacher. Returns EINVALIDTOKEN for a
	// token that is wrong, used or expired, and EINVALID for a password
	// that sign-up would refuse (the token stays usable then).
	ConfirmReset(ctx context.Context, token, password string) error
}
