package mail_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/smtptest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/mail"
)

func testMail() classboard.Mail {
	return classboard.Mail{ID: "0190-test", To: "ada@school.example", Subject: "Grüße", Text: "Hello Ada,\n\nthis is a test.\n", Queued: time.Now()}
}

func send(t *testing.T, cfg mail.Config) error {
	t.Helper()
	cfg.From = "classboard <noreply@classboard.test>"
	cfg.AttemptTimeout = 5 * time.Second
	s, err := mail.NewSender(cfg, testcluster.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.AttemptTimeout)
	defer cancel()
	return s.Send(ctx, testMail())
}

// The sender speaks STARTTLS and implicit TLS, verifies the server, and
// authenticates only over an encrypted connection.
func TestSenderTLSAndAuth(t *testing.T) {
	serverTLS, clientTLS := smtptest.TLSConfigs(t)

	t.Run("starttls with auth", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.WithTLS(serverTLS, false), smtptest.WithAuth("classboard", "s3cret"))
		if err := send(t, mail.Config{Addr: srv.Addr, TLS: mail.TLSStartTLS, TLSConfig: clientTLS, User: "classboard", Password: "s3cret"}); err != nil {
			t.Fatal(err)
		}
		m := srv.Messages()[0]
		if !m.TLS || m.User != "classboard" || m.Subject != "Grüße" || m.Body != testMail().Text {
			t.Fatalf("received %+v", m)
		}
		if id := m.Header.Get("Message-Id"); id != "<0190-test@classboard>" {
			t.Fatalf("Message-ID %q", id)
		}
	})
	t.Run("auto uses starttls when offered", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.WithTLS(serverTLS, false))
		if err := send(t, mail.Config{Addr: srv.Addr, TLSConfig: clientTLS}); err != nil {
			t.Fatal(err)
		}
		if m := srv.Messages()[0]; !m.TLS {
			t.Fatal("auto mode sent in clear text to a server offering STARTTLS")
		}
	})
	t.Run("implicit tls with auth", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.WithTLS(serverTLS, true), smtptest.WithAuth("classboard", "s3cret"))
		if err := send(t, mail.Config{Addr: srv.Addr, TLS: mail.TLSImplicit, TLSConfig: clientTLS, User: "classboard", Password: "s3cret"}); err != nil {
			t.Fatal(err)
		}
		if m := srv.Messages()[0]; !m.TLS || m.User != "classboard" {
			t.Fatalf("received %+v", m)
		}
	})
	t.Run("starttls required but not offered", func(t *testing.T) {
		srv := smtptest.Start(t)
		if err := send(t, mail.Config{Addr: srv.Addr, TLS: mail.TLSStartTLS}); err == nil || len(srv.Messages()) != 0 {
			t.Fatalf("sent without TLS: %v", err)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.WithTLS(serverTLS, true))
		if err := send(t, mail.Config{Addr: srv.Addr, TLS: mail.TLSImplicit}); err == nil || len(srv.Messages()) != 0 {
			t.Fatalf("sent to an unverified server: %v", err)
		}
	})
	t.Run("no password over clear text", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.WithAuth("classboard", "s3cret"))
		if err := send(t, mail.Config{Addr: srv.Addr, TLS: mail.TLSNone, User: "classboard", Password: "s3cret"}); err == nil || len(srv.Messages()) != 0 {
			t.Fatalf("authenticated in clear text: %v", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.WithTLS(serverTLS, true), smtptest.WithAuth("classboard", "s3cret"))
		if err := send(t, mail.Config{Addr: srv.Addr, TLS: mail.TLSImplicit, TLSConfig: clientTLS, User: "classboard", Password: "wrong"}); err == nil || len(srv.Messages()) != 0 {
			t.Fatalf("sent with a wrong password: %v", err)
		}
	})
}

// An attempt ends at its deadline even when the server never answers.
func TestSenderAttemptTimeout(t *testing.T) {
	srv := smtptest.Start(t)
	srv.Hang()
	s, err := mail.NewSender(mail.Config{Addr: srv.Addr, From: "noreply@classboard.test", AttemptTimeout: time.Hour}, testcluster.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Send(ctx, testMail()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the attempt's deadline", err)
	}
}
