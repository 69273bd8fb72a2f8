package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/classboard/classboard/mail"
)

// mailOptions are the --smtp-* flags.
type mailOptions struct {
	addr, from, user, password, passwordFile, tls string
	timeout                                       time.Duration
}

func (m *mailOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&m.addr, "smtp-addr", "", "SMTP server HOST:PORT (default: none, mail is written to the log)")
	fs.StringVar(&m.from, "smtp-from", "", `sender of mail, e.g. "classboard <noreply@school.example>"`)
	fs.StringVar(&m.user, "smtp-user", "", "SMTP user name (default: no authentication)")
	fs.StringVar(&m.password, "smtp-password", "", "SMTP password (prefer --smtp-password-file)")
	fs.StringVar(&m.passwordFile, "smtp-password-file", "", "file holding the SMTP password")
	fs.StringVar(&m.tls, "smtp-tls", mail.TLSAuto, "auto (TLS on port 465, else STARTTLS when offered), starttls (required), tls (implicit) or none")
	fs.DurationVar(&m.timeout, "smtp-timeout", 15*time.Second, "longest one delivery attempt may take")
}

// config checks the flags and turns them into a mail.Config.
func (m *mailOptions) config() (mail.Config, error) {
	cfg := mail.Config{
		Addr: m.addr, From: m.from, User: m.user, Password: m.password,
		TLS: m.tls, AttemptTimeout: m.timeout,
	}
	if m.passwordFile != "" {
		if m.password != "" {
			return cfg, errors.New("--smtp-password and --smtp-password-file exclude each other")
		}
		b, err := os.ReadFile(m.passwordFile)
		if err != nil {
			return cfg, fmt.Errorf("read SMTP password: %w", err)
		}
		cfg.Password = strings.TrimRight(string(b), "\r\n")
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}
