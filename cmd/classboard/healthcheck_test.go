package main

import (
	"bytes"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/classboard/classboard/internal/smtptest"
	"github.com/classboard/classboard/internal/testcluster"
)

// otherCert is a fresh self-signed certificate that no server here uses.
func otherCert(t *testing.T) []byte {
	t.Helper()
	srv, _ := smtptest.TLSConfigs(t)
	return srv.Certificates[0].Certificate[0]
}

// certFile writes a certificate as PEM.
func certFile(t *testing.T, der []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func hostPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// healthcheck succeeds against a ready node, found through the same
// CLASSBOARD_ADDR a container gives serve, and fails, as "unhealthy",
// against a node that says it is not ready, a port nobody listens on, and
// a TLS server presenting a certificate other than --tls-cert.
func TestHealthcheck(t *testing.T) {
	n := testcluster.StartNode(t)
	env := map[string]string{"CLASSBOARD_ADDR": hostPort(t, n.URL())}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"healthcheck"}, func(k string) string { return env[k] }, &out, io.Discard); err != nil || out.String() != "ready\n" {
		t.Fatalf("healthcheck of a ready node: %q %v", out.String(), err)
	}

	unready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"unavailable","reason":"no quorum: probe write timed out"}`))
	}))
	defer unready.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	goneAddr := hostPort(t, gone.URL)
	gone.Close()
	ok := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"ok"}`)) }))
	defer ok.Close()

	if err := run(t.Context(), []string{"healthcheck", "--addr", hostPort(t, ok.URL), "--tls-cert", certFile(t, ok.Certificate().Raw)}, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Fatalf("healthcheck over TLS with the node's certificate: %v", err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"not ready", []string{"--addr", hostPort(t, unready.URL)}, "no quorum"},
		{"nobody listening", []string{"--addr", goneAddr}, "refused"},
		{"another certificate", []string{"--addr", hostPort(t, ok.URL), "--tls-cert", certFile(t, otherCert(t))}, "certificate other than --tls-cert"},
	} {
		err := run(t.Context(), append([]string{"healthcheck"}, tc.args...), func(string) string { return "" }, io.Discard, io.Discard)
		if !errors.Is(err, errUnhealthy) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want unhealthy with %q", tc.name, err, tc.want)
		}
	}
	if err := run(t.Context(), []string{"healthcheck", "--addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil || errors.Is(err, errUnhealthy) {
		t.Errorf("port 0 is a usage error, not an unhealthy node: %v", err)
	}
}

// The process exits 1 when unhealthy: exit status 2 means something else
// to container engines.
func TestHealthcheckExitStatus(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	addr := hostPort(t, gone.URL)
	gone.Close()
	cmd := exec.Command(testcluster.Binary(t), "healthcheck", "--addr", addr)
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1", err)
	}
}
