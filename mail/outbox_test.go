package mail_test

import (
	"context"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/smtptest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
)

const wait = 30 * time.Second

// signUp makes an account in the store: with SMTP, a sign-up through the
// API would wait for its confirmation link.
func signUp(t *testing.T, n *node.Node, email string) {
	t.Helper()
	testcluster.CreateTeacher(t, n, email, "analytical engine", "Ada")
}

func requestReset(t *testing.T, c *apitest.Client, email string) {
	t.Helper()
	if res := c.Do(t, "POST", "/api/v1/password-resets", map[string]string{"email": email}); res.Status != 202 {
		t.Fatalf("request reset: %d %s", res.Status, res.Body)
	}
}

// outboxEmpty polls until every queued message left the outbox (delivered
// or set aside).
func outboxEmpty(t *testing.T, n *node.Node) {
	t.Helper()
	poll.CheckFor(t, wait, 20*time.Millisecond, func() error {
		reps, err := n.Store().Replicas()
		if err != nil {
			return err
		}
		for _, r := range reps {
			if r.Stream == "OUTBOX" && r.Msgs != 0 {
				return apitest.Errorf("%d messages in the outbox", r.Msgs)
			}
		}
		return nil
	})
}

// A provider that accepts the connection and then says nothing does not
// hold up requests; the mail arrives once it recovers.
func TestSilentProvider(t *testing.T) {
	smtp := smtptest.Start(t)
	smtp.Hang()
	n := testcluster.StartNode(t, testcluster.WithSMTP(smtp.Addr))
	c := apitest.New(n.URL())
	signUp(t, n, "ada@school.example")
	signUp(t, n, "bob@school.example")

	requestReset(t, c, "ada@school.example")
	// A worker is now connected to the silent server...
	poll.CheckFor(t, wait, 10*time.Millisecond, func() error {
		if smtp.Connections() == 0 {
			return apitest.Errorf("no connection yet")
		}
		return nil
	})
	// ...and another request completes meanwhile.
	requestReset(t, c, "bob@school.example")
	if got := len(smtp.Messages()); got != 0 {
		t.Fatalf("a silent server received %d messages", got)
	}
	// Attempts time out and are retried.
	poll.CheckFor(t, wait, 20*time.Millisecond, func() error {
		if s := n.Mail().Stats(); s.Retried == 0 {
			return apitest.Errorf("no retry yet: %+v", s)
		}
		return nil
	})

	smtp.Recover()
	smtp.WaitMessages(t, 2, wait)
	outboxEmpty(t, n)
	if got := len(smtp.Messages()); got != 2 {
		t.Fatalf("%d messages delivered, want 2", got)
	}
}

// A provider that refuses the message for good: it is set aside at once,
// counted and logged, and the outbox goes on with the next one.
func TestRefusingProvider(t *testing.T) {
	smtp := smtptest.Start(t)
	smtp.Refuse(550)
	n := testcluster.StartNode(t, testcluster.WithSMTP(smtp.Addr))
	c := apitest.New(n.URL())
	signUp(t, n, "ada@school.example")

	requestReset(t, c, "ada@school.example")
	poll.CheckFor(t, wait, 20*time.Millisecond, func() error {
		if s := n.Mail().Stats(); s.Failed != 1 {
			return apitest.Errorf("stats %+v", s)
		}
		return nil
	})
	outboxEmpty(t, n)
	failed, err := n.Store().Outbox().FailedCount(context.Background())
	if err != nil || failed != 1 {
		t.Fatalf("failed-mail stream holds %d (%v), want 1", failed, err)
	}
	if s := n.Mail().Stats(); s.Retried != 0 {
		t.Fatalf("a permanent refusal was retried: %+v", s)
	}

	smtp.Recover()
	signUp(t, n, "bob@school.example")
	requestReset(t, c, "bob@school.example")
	if msgs := smtp.WaitMessages(t, 1, wait); msgs[0].To[0] != "bob@school.example" {
		t.Fatalf("delivered to %v", msgs[0].To)
	}
}

// A provider that refuses for now (4xx): the message is retried with
// growing delays and delivered once the provider takes it.
func TestTemporarilyRefusingProvider(t *testing.T) {
	smtp := smtptest.Start(t)
	smtp.Refuse(451)
	n := testcluster.StartNode(t, testcluster.WithSMTP(smtp.Addr))
	c := apitest.New(n.URL())
	signUp(t, n, "ada@school.example")

	requestReset(t, c, "ada@school.example")
	poll.CheckFor(t, wait, 20*time.Millisecond, func() error {
		if s := n.Mail().Stats(); s.Retried < 3 {
			return apitest.Errorf("stats %+v", s)
		}
		return nil
	})
	smtp.Recover()
	smtp.WaitMessages(t, 1, wait)
	outboxEmpty(t, n)
	if got, s := len(smtp.Messages()), n.Mail().Stats(); got != 1 || s.Failed != 0 {
		t.Fatalf("%d messages, stats %+v", got, s)
	}
}

// A message that cannot be delivered within GiveUpAfter is set aside.
func TestGiveUp(t *testing.T) {
	smtp := smtptest.Start(t)
	smtp.Refuse(451)
	n := testcluster.StartNode(t, testcluster.WithSMTP(smtp.Addr), func(c *node.Config) {
		c.Mail.GiveUpAfter = 500 * time.Millisecond
	})
	c := apitest.New(n.URL())
	signUp(t, n, "ada@school.example")

	requestReset(t, c, "ada@school.example")
	poll.CheckFor(t, wait, 20*time.Millisecond, func() error {
		if s := n.Mail().Stats(); s.Failed != 1 {
			return apitest.Errorf("stats %+v", s)
		}
		return nil
	})
	outboxEmpty(t, n)
	if s := n.Mail().Stats(); s.Retried == 0 {
		t.Fatalf("set aside without a retry: %+v", s)
	}
	failed, err := n.Store().Outbox().FailedCount(context.Background())
	if err != nil || failed != 1 {
		t.Fatalf("failed-mail stream holds %d (%v), want 1", failed, err)
	}
}

// A node stopped with mail queued delivers it after a restart on the same
// data: the outbox is on disk, not in the node's memory.
func TestQueuedMailSurvivesRestart(t *testing.T) {
	smtp := smtptest.Start(t)
	smtp.Hang()
	dir := t.TempDir()
	cfg := testcluster.NodeConfig(dir)
	testcluster.WithSMTP(smtp.Addr)(&cfg)
	n, err := node.Open(cfg, testcluster.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	c := apitest.New(n.URL())
	signUp(t, n, "ada@school.example")
	requestReset(t, c, "ada@school.example")
	poll.CheckFor(t, wait, 10*time.Millisecond, func() error {
		if smtp.Connections() == 0 {
			return apitest.Errorf("no delivery attempt yet")
		}
		return nil
	})
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(smtp.Messages()); got != 0 {
		t.Fatalf("%d messages delivered before the restart", got)
	}

	smtp.Recover()
	n2 := testcluster.StartNodeAt(t, dir, testcluster.WithSMTP(smtp.Addr))
	msgs := smtp.WaitMessages(t, 1, wait)
	outboxEmpty(t, n2)
	if len(smtp.Messages()) != 1 || msgs[0].To[0] != "ada@school.example" {
		t.Fatalf("messages %+v", smtp.Messages())
	}
}
