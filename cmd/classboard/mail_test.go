package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSMTPFlags(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "smtp-password")
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	env := map[string]string{
		"CLASSBOARD_SMTP_ADDR":          "smtp.school.example:587",
		"CLASSBOARD_SMTP_FROM":          "classboard <noreply@school.example>",
		"CLASSBOARD_SMTP_PASSWORD_FILE": pw,
	}
	o, err := parseFlags([]string{"--smtp-user", "classboard", "--smtp-tls", "starttls", "--smtp-timeout", "3s"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.nodeConfig()
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Mail
	if m.Addr != "smtp.school.example:587" || m.From != "classboard <noreply@school.example>" || m.User != "classboard" ||
		m.Password != "s3cret" || m.TLS != "starttls" || m.AttemptTimeout != 3*time.Second {
		t.Fatalf("mail config %+v", m)
	}

	// No SMTP at all is valid: mail goes to the log.
	o, err = parseFlags(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := o.nodeConfig(); err != nil || cfg.Mail.Addr != "" {
		t.Fatalf("default mail config %+v, %v", cfg.Mail, err)
	}
}

func TestSMTPConfigRefusals(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "smtp-password")
	os.WriteFile(pw, []byte("s3cret"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--smtp-addr", "smtp.school.example:587"}, "--smtp-from"},
		{[]string{"--smtp-addr", "smtp.school.example", "--smtp-from", "a@b.example"}, "HOST:PORT"},
		{[]string{"--smtp-addr", "smtp.school.example:587", "--smtp-from", "not an address"}, "sender address"},
		{[]string{"--smtp-addr", "smtp.school.example:587", "--smtp-from", "a@b.example", "--smtp-tls", "maybe"}, "TLS mode"},
		{[]string{"--smtp-addr", "smtp.school.example:587", "--smtp-from", "a@b.example", "--smtp-password", "x"}, "needs a user"},
		{[]string{"--smtp-user", "u", "--smtp-password", "x", "--smtp-password-file", pw}, "exclude each other"},
		{[]string{"--smtp-password-file", filepath.Join(t.TempDir(), "missing")}, "read SMTP password"},
	} {
		o, err := parseFlags(tc.args, func(string) string { return "" }, io.Discard)
		if err == nil {
			_, err = o.nodeConfig()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error about %q", tc.args, err, tc.want)
		}
	}
}
