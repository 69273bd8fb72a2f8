package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"strconv"

	gomail "github.com/wneessen/go-mail"

	"github.com/classboard/classboard"
)

// smtpSender delivers over SMTP with go-mail, one connection per attempt:
// mail is rare, and a fresh connection never inherits a stuck one.
type smtpSender struct {
	cfg  Config
	host string
	port int
	tls  *tls.Config
}

func newSMTPSender(cfg Config) (*smtpSender, error) {
	host, portText, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtp address: %w", err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("smtp port %q: %w", portText, err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	if cfg.TLS == TLSAuto && port == 465 {
		cfg.TLS = TLSImplicit
	}
	return &smtpSender{cfg: cfg, host: host, port: port, tls: tc}, nil
}

func parseAddress(s string) (*netmail.Address, error) { return netmail.ParseAddress(s) }

// Send makes one attempt. It ends when ctx does, whatever the server does:
// the connection is closed under a server that stopped answering.
func (s *smtpSender) Send(ctx context.Context, m classboard.Mail) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return permanent{fmt.Errorf("sender %q: %w", s.cfg.From, err)}
	}
	if err := msg.To(m.To); err != nil {
		return permanent{fmt.Errorf("recipient: %w", err)}
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.ID + "@classboard")
	msg.SetDateWithValue(m.Queued)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)

	policy := gomail.TLSOpportunistic
	switch s.cfg.TLS {
	case TLSStartTLS:
		policy = gomail.TLSMandatory
	case TLSNone:
		policy = gomail.NoTLS
	}
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTLSPolicy(policy),
		gomail.WithTLSConfig(s.tls),
		gomail.WithTimeout(s.cfg.AttemptTimeout),
		gomail.WithDialContextFunc(s.dialer(ctx)),
	}
	if s.cfg.User != "" {
		// Autodiscovery never offers the password in clear text.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.User), gomail.WithPassword(s.cfg.Password))
	}
	client, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return permanent{fmt.Errorf("smtp client: %w", err)}
	}
	err = client.DialAndSendWithContext(ctx, msg)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("smtp %s: %w (%w)", s.cfg.Addr, ctx.Err(), err)
	}
	var se *gomail.SendError
	if errors.As(err, &se) && se.ErrorCode() >= 500 && se.ErrorCode() < 600 {
		return permanent{fmt.Errorf("smtp %s refused the message: %w", s.cfg.Addr, err)}
	}
	return fmt.Errorf("smtp %s: %w", s.cfg.Addr, err)
}

// dialer connects (with TLS from the start in implicit mode) and ties the
// connection to the attempt: go-mail bounds each command, not the whole
// conversation, so a server that answers slowly to every command would
// otherwise hold an attempt far past its timeout.
func (s *smtpSender) dialer(attempt context.Context) gomail.DialContextFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{}
		var conn net.Conn
		var err error
		if s.cfg.TLS == TLSImplicit {
			conn, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(ctx, network, addr)
		} else {
			conn, err = d.DialContext(ctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		context.AfterFunc(attempt, func() { conn.Close() })
		return conn, nil
	}
}
