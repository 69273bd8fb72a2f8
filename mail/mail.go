// Package mail delivers the mail classboard queues in its outbox: workers
// on every node pull messages, send them over SMTP (or write them to the
// log when no SMTP server is configured), and retry with growing delays.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/classboard/classboard"
)

// TLS modes of the connection to the SMTP server.
const (
	// TLSAuto uses implicit TLS on port 465 and elsewhere STARTTLS when the
	// server offers it.
	TLSAuto = "auto"
	// TLSStartTLS requires STARTTLS.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS).
	TLSImplicit = "tls"
	// TLSNone never encrypts (a relay on the same host).
	TLSNone = "none"
)

// Config configures delivery. Zero durations take the defaults.
type Config struct {
	// Addr is the SMTP server's HOST:PORT; empty writes mail to the log.
	Addr string
	// From is the sender, e.g. "classboard <noreply@school.example>".
	From string
	// User and Password authenticate when User is set.
	User, Password string
	// TLS is one of TLSAuto (the default), TLSStartTLS, TLSImplicit, TLSNone.
	TLS string
	// TLSConfig, when set, verifies the server (tests trust their own CA).
	TLSConfig *tls.Config

	// AttemptTimeout bounds one delivery attempt, connecting included
	// (default 15 s).
	AttemptTimeout time.Duration
	// RetryMin is the delay after the first failed attempt; each further
	// failure doubles it up to RetryMax (defaults 30 s and 1 h).
	RetryMin, RetryMax time.Duration
	// GiveUpAfter is how long after queueing a message is set aside as
	// failed when it still could not be delivered (default 24 h).
	GiveUpAfter time.Duration
	// ProgressEvery is how often a running attempt tells the queue it is
	// still working; it must stay well under the queue's ack wait (30 s).
	ProgressEvery time.Duration
	// Workers is how many messages this node sends at once (default 2).
	Workers int
}

func (c *Config) setDefaults() {
	if c.TLS == "" {
		c.TLS = TLSAuto
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = 15 * time.Second
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 30 * time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = time.Hour
	}
	if c.GiveUpAfter <= 0 {
		c.GiveUpAfter = 24 * time.Hour
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 5 * time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
}

// Validate reports configuration mistakes at start-up rather than at the
// first password reset.
func (c Config) Validate() error {
	if c.Addr == "" {
		return nil
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		return fmt.Errorf("smtp address %q is not HOST:PORT", c.Addr)
	}
	if c.From == "" {
		return errors.New("an SMTP server needs a sender address (--smtp-from)")
	}
	if _, err := parseAddress(c.From); err != nil {
		return fmt.Errorf("sender address %q: %w", c.From, err)
	}
	switch c.TLS {
	case "", TLSAuto, TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return fmt.Errorf("smtp TLS mode %q is none of auto, starttls, tls, none", c.TLS)
	}
	if c.Password != "" && c.User == "" {
		return errors.New("an SMTP password needs a user")
	}
	return nil
}

// Sender delivers one message or says why it could not.
type Sender interface {
	Send(ctx context.Context, m classboard.Mail) error
}

// NewSender returns the SMTP sender, or the log sender when cfg has no
// SMTP server.
func NewSender(cfg Config, log *slog.Logger) (Sender, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Addr == "" {
		return logSender{log: log}, nil
	}
	return newSMTPSender(cfg)
}

// permanent is an answer that no retry changes, such as "no such user".
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }
