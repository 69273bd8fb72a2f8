package testcluster

import (
	"context"
	"testing"
	"time"

	"github.com/classboard/classboard"
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

// CreateTeacher makes an account directly in n's store, as a sign-up
// without mail confirmation would: for tests whose node has SMTP, where
// a sign-up through the API waits for its link.
func CreateTeacher(t testing.TB, n *node.Node, email, password, name string) {
	t.Helper()
	if _, err := n.Store().Accounts().CreateTeacher(context.Background(), classboard.SignUp{Email: email, Password: password, Name: name}); err != nil {
		t.Fatalf("create teacher %s: %v", email, err)
	}
}
