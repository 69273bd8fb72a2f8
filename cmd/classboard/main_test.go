package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

func TestFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{
		"CLASSBOARD_ADDR":            "127.0.0.1:9999",
		"CLASSBOARD_NODE_NAME":       "from-env",
		"CLASSBOARD_PUBLIC_URLS":     "https://a.example/, https://b.example",
		"CLASSBOARD_MAX_STORE":       "12345",
		"CLASSBOARD_TRUSTED_PROXIES": "10.0.0.0/8",
	}
	o, err := parseFlags([]string{"--addr", "127.0.0.1:7777"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.addr != "127.0.0.1:7777" {
		t.Errorf("a flag must win over the environment: addr %q", o.addr)
	}
	if o.nodeName != "from-env" || o.maxStore != 12345 {
		t.Errorf("environment not applied: %+v", o)
	}
	cfg, err := o.nodeConfig()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.PublicURLs, " ") != "https://a.example https://b.example" {
		t.Errorf("public urls %q", cfg.PublicURLs)
	}
	if len(cfg.TrustedProxies) != 1 {
		t.Errorf("trusted proxies %v", cfg.TrustedProxies)
	}

	if _, err := parseFlags(nil, func(k string) string {
		if k == "CLASSBOARD_MAX_STORE" {
			return "lots"
		}
		return ""
	}, io.Discard); err == nil || !strings.Contains(err.Error(), "CLASSBOARD_MAX_STORE") {
		t.Errorf("a bad environment value must name the variable: %v", err)
	}
}

func TestConfigRefusals(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("a long enough shared secret\n"), 0o600)
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("short"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cluster-addr", "127.0.0.1:6222", "--peers", "127.0.0.1:6222"}, "cluster-secret-file"},
		{[]string{"--cluster-addr", "127.0.0.1:6222", "--peers", "127.0.0.1:6222", "--cluster-secret-file", short}, "at least 16"},
		{[]string{"--cluster-addr", "127.0.0.1:6222", "--cluster-secret-file", secret}, "--peers"},
		{[]string{"--tls-cert", "x.pem"}, "go together"},
		{[]string{"--trusted-proxies", "not-a-cidr"}, "trusted-proxies"},
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

func TestVersionAndUnknownCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"version"}, func(string) string { return "" }, &out, io.Discard); err != nil || strings.TrimSpace(out.String()) != version {
		t.Fatalf("version: %q %v", out.String(), err)
	}
	if err := run(t.Context(), []string{"frobnicate"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
		t.Fatal("an unknown command must fail")
	}
}

// process is a classboard child process.
type process struct {
	cmd *exec.Cmd
	url string
}

func start(t *testing.T, bin, dir string) *process {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", dir, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "CLASSBOARD_NODE_NAME=proc")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	urlRe := regexp.MustCompile(`teacher app: (http://[0-9.:]+)/`)
	sc := bufio.NewScanner(stdout)
	p := &process{cmd: cmd}
	for sc.Scan() {
		if m := urlRe.FindStringSubmatch(sc.Text()); m != nil {
			p.url = m[1]
			break
		}
	}
	if p.url == "" {
		t.Fatal("the process did not print its URL")
	}
	go io.Copy(io.Discard, stdout)
	ready := apitest.New(p.url)
	poll.CheckFor(t, 60*time.Second, 100*time.Millisecond, func() error {
		res, err := apitest.Send(t.Context(), ready.HTTP, "GET", p.url+"/readyz", "", nil)
		if err != nil {
			return err
		}
		if res.Status != 200 {
			return fmt.Errorf("not ready: %d %s", res.Status, res.Body)
		}
		return nil
	})
	return p
}

// stop sends SIGTERM and expects a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no exit within 60 s of SIGTERM")
	}
}

// A real process keeps accounts and sessions across a SIGTERM restart on
// the same data directory, and a logged-out token stays refused.
func TestProcessRestartKeepsAccountsAndSessions(t *testing.T) {
	bin := testcluster.Binary(t)
	dir := t.TempDir()
	p := start(t, bin, dir)
	c := apitest.New(p.url)
	if res := c.Do(t, "POST", "/api/v1/accounts", map[string]string{"email": "r@school.example", "password": "long enough password", "name": "R"}); res.Status != 201 {
		t.Fatalf("sign up: %d %s", res.Status, res.Body)
	}
	login := func() string {
		res := c.Do(t, "POST", "/api/v1/sessions", map[string]string{"email": "r@school.example", "password": "long enough password"})
		var s struct{ Token string }
		json.Unmarshal(res.Body, &s)
		if res.Status != 201 {
			t.Fatalf("log in: %d %s", res.Status, res.Body)
		}
		return s.Token
	}
	kept, dropped := login(), login()
	if res := c.With(dropped).Do(t, "DELETE", "/api/v1/sessions/current", nil); res.Status != 204 {
		t.Fatalf("log out: %d", res.Status)
	}
	p.stop(t)

	p = start(t, bin, dir)
	c = apitest.New(p.url)
	if res := c.With(kept).Do(t, "GET", "/api/v1/me", nil); res.Status != 200 {
		t.Fatalf("kept session after restart: %d %s", res.Status, res.Body)
	}
	if res := c.With(dropped).Do(t, "GET", "/api/v1/me", nil); res.Status != 401 {
		t.Fatalf("logged-out token after restart: %d", res.Status)
	}
	p.stop(t)
}
