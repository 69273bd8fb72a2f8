// Package smtptest runs a real SMTP server (emersion/go-smtp) in the test
// process, with the faults mail delivery must survive: a server that
// accepts connections and then says nothing, and one that refuses mail.
package smtptest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/classboard/classboard/internal/poll"
)

// Message is one message the server accepted.
type Message struct {
	From    string
	To      []string
	Subject string
	Body    string // decoded text, with \n line ends
	Header  netmail.Header
	TLS     bool   // it came over an encrypted connection
	User    string // who authenticated, or ""
}

// Option configures a server.
type Option func(*Server)

// WithTLS serves TLS with cfg: from the first byte when implicit, else by
// offering STARTTLS.
func WithTLS(cfg *tls.Config, implicit bool) Option {
	return func(s *Server) {
		s.tls, s.implicit = cfg, implicit
	}
}

// WithAuth requires PLAIN authentication as user with password.
func WithAuth(user, password string) Option {
	return func(s *Server) { s.user, s.password = user, password }
}

// Server is an SMTP server on a loopback port.
type Server struct {
	Addr string

	srv *smtp.Server
	ln  net.Listener

	tls            *tls.Config
	implicit       bool
	user, password string

	mu       sync.Mutex
	hang     bool
	held     []net.Conn
	refuse   *smtp.SMTPError
	conns    int
	messages []Message
}

// Start starts a server that accepts every message, and stops it when the
// test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String()}
	for _, o := range opts {
		o(s)
	}
	if s.implicit {
		ln = tls.NewListener(ln, s.tls)
	}
	s.ln = ln
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s, conn: c}, nil }))
	s.srv.Domain = "smtptest.example"
	if !s.implicit {
		s.srv.TLSConfig = s.tls
	}
	// Offered over clear text too, so tests see whether a client refuses
	// to send a password unencrypted.
	s.srv.AllowInsecureAuth = true
	s.srv.ErrorLog = discardLogger{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.srv.Serve(&gate{Listener: ln, s: s}) //nolint:errcheck // ends with Close
	}()
	t.Cleanup(func() {
		s.srv.Close()
		s.Recover()
		<-done
	})
	return s
}

// Hang makes the server accept connections and then say nothing at all,
// not even its greeting: the provider that took the seed's site down.
func (s *Server) Hang() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = true
}

// Refuse makes the server answer every recipient with code (550 is
// permanent, 451 temporary).
func (s *Server) Refuse(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: "refused by the test"}
}

// Recover makes the server accept mail again; connections held while it
// hung are closed.
func (s *Server) Recover() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = false
	s.refuse = nil
	for _, c := range s.held {
		c.Close()
	}
	s.held = nil
}

// Connections returns how many connections the server accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Messages returns the accepted messages.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// WaitMessages polls until the server holds at least n messages and
// returns them, failing the test after timeout.
func (s *Server) WaitMessages(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	var msgs []Message
	poll.CheckFor(t, timeout, 20*time.Millisecond, func() error {
		if msgs = s.Messages(); len(msgs) < n {
			return fmt.Errorf("%d messages, want %d", len(msgs), n)
		}
		return nil
	})
	return msgs
}

var linkRE = regexp.MustCompile(`(\S+)/(\w+)#token=([A-Za-z0-9_-]+)`)

// ResetLink returns the base URL and token of the reset link in m.
func (m Message) ResetLink() (base, token string, err error) { return m.Link("reset") }

// Link returns the base URL and token of the link to page (reset,
// confirm) in m.
func (m Message) Link(page string) (base, token string, err error) {
	for _, match := range linkRE.FindAllStringSubmatch(m.Body, -1) {
		if match[2] == page {
			return match[1], match[3], nil
		}
	}
	return "", "", fmt.Errorf("no %s link in %q", page, m.Body)
}

// gate holds connections while the server hangs and hands the others to
// the SMTP server.
type gate struct {
	net.Listener
	s *Server
}

func (g *gate) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		g.s.mu.Lock()
		g.s.conns++
		hang := g.s.hang
		if hang {
			g.s.held = append(g.s.held, c)
		}
		g.s.mu.Unlock()
		if !hang {
			return c, nil
		}
	}
}

type session struct {
	s    *Server
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (x *session) AuthMechanisms() []string {
	if x.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (x *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != x.s.user || password != x.s.password {
			return smtp.ErrAuthFailed
		}
		x.user = user
		return nil
	}), nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if x.s.user != "" && x.user == "" {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	refuse := x.s.refuse
	x.s.mu.Unlock()
	if refuse != nil {
		return refuse
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("parse message: %w", err)
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return fmt.Errorf("decode subject: %w", err)
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	x.s.messages = append(x.s.messages, Message{
		From: x.from, To: x.to, Subject: subject,
		Body: strings.ReplaceAll(string(text), "\r\n", "\n"), Header: msg.Header, TLS: isTLS(x.conn), User: x.user,
	})
	return nil
}

func isTLS(c *smtp.Conn) bool {
	_, ok := c.TLSConnectionState()
	return ok
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}
