package testcluster

import (
	"time"

	"github.com/classboard/classboard/mail"
	"github.com/classboard/classboard/node"
)

// WithSMTP sends the node's mail to the SMTP server at addr, with attempt
// timeouts and retry delays short enough for a test.
func WithSMTP(addr string) Option {
	return func(c *node.Config) {
		c.Mail = mail.Config{
			Addr:           addr,
			From:           "classboard <noreply@classboard.test>",
			TLS:            mail.TLSNone,
			AttemptTimeout: time.Second,
			RetryMin:       50 * time.Millisecond,
			RetryMax:       200 * time.Millisecond,
			ProgressEvery:  100 * time.Millisecond,
		}
	}
}
