package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

func TestCheckFindsAnInsecureDeployment(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(data, 0o755)
	secret := writeFile(t, filepath.Join(dir, "secret"), "classboard-secret", 0o644)
	var out bytes.Buffer
	err := run(t.Context(), []string{"check", "--data", data, "--public-urls", "http://cb1.school.example,https://cb2.school.example/app",
		"--cluster-addr", "127.0.0.1:6222", "--peers", "127.0.0.1:6222", "--cluster-secret-file", secret},
		func(string) string { return "" }, &out, io.Discard)
	if !errors.Is(err, errFindings) {
		t.Fatalf("err %v, want the findings error; output:\n%s", err, &out)
	}
	for _, want := range []string{
		"FAIL  neither TLS",
		`"http://cb1.school.example" is plain http`,
		`"https://cb2.school.example/app" has more than scheme`,
		"several --public-urls and no --ui-url",
		"the cluster secret is weak",
		"the cluster secret " + secret + " can be read by other users",
		"no SMTP server",
		"the data directory " + data + " has mode 755",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no finding %q in:\n%s", want, &out)
		}
	}
	if strings.Count(out.String(), "      -> ") != strings.Count(out.String(), "FAIL  ")+strings.Count(out.String(), "CHECK  ") {
		t.Errorf("a finding without what to do:\n%s", &out)
	}
	t.Logf("classboard check printed:\n%s", &out)
}

func TestCheckPassesAGoodDeployment(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 32)
	rand.Read(b)
	secret := writeFile(t, filepath.Join(dir, "secret"), base64.StdEncoding.EncodeToString(b), 0o600)
	cert := writeFile(t, filepath.Join(dir, "cert.pem"), "certificate", 0o644)
	key := writeFile(t, filepath.Join(dir, "key.pem"), "key", 0o600)
	var out bytes.Buffer
	err := run(t.Context(), []string{"check", "--data", data, "--tls-cert", cert, "--tls-key", key, "--redirect-http-addr", ":80",
		"--public-urls", "https://cb1.school.example,https://cb2.school.example,https://cb3.school.example", "--ui-url", "https://classboard.school.example",
		"--cluster-addr", "10.0.0.11:6222", "--peers", "10.0.0.11:6222,10.0.0.12:6222,10.0.0.13:6222", "--cluster-secret-file", secret,
		"--smtp-addr", "smtp.school.example:587", "--smtp-from", "classboard <noreply@school.example>"},
		func(string) string { return "" }, &out, io.Discard)
	if err != nil || !strings.Contains(out.String(), "0 to change, 0 to confirm") {
		t.Fatalf("err %v; output:\n%s", err, &out)
	}
}
