package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// errUnhealthy marks a health check that reached no ready node; main exits
// with 1 for it, which container engines read as "unhealthy".
var errUnhealthy = errors.New("not ready")

// healthcheck asks the node on this machine for /readyz and succeeds only
// on 200. It exists so that a container image without a shell or curl can
// have a HEALTHCHECK. It reads --addr and --tls-cert (or their
// CLASSBOARD_ variables) like serve, so in a container it needs no flags.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("classboard healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", defaultAddr, "the node's HTTP listen address, as given to serve")
	certFile := fs.String("tls-cert", "", "the node's TLS certificate, as given to serve: check over HTTPS, trusting exactly this certificate")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := parseWithEnv(fs, args, getenv); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil || port == "0" {
		return fmt.Errorf("--addr %q: need HOST:PORT with a fixed port", *addr)
	}
	// A node listening on every interface is reached on loopback.
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: *timeout}
	url := "http://" + net.JoinHostPort(host, port) + "/readyz"
	if *certFile != "" {
		tlsCfg, err := pinnedTLS(*certFile)
		if err != nil {
			return err
		}
		client.Transport = &http.Transport{TLSClientConfig: tlsCfg}
		url = "https://" + net.JoinHostPort(host, port) + "/readyz"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", errUnhealthy, err)
	}
	defer res.Body.Close()
	var body struct{ Reason string }
	_ = json.NewDecoder(io.LimitReader(res.Body, 4096)).Decode(&body) // the reason is a courtesy
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s answered %s %s", errUnhealthy, url, res.Status, body.Reason)
	}
	fmt.Fprintln(stdout, "ready")
	return nil
}

// pinnedTLS trusts exactly the certificate in certFile. The certificate
// names the node's public host, not the loopback address a health check
// dials, so instead of checking a name the check insists on the very
// certificate the node was given.
func pinnedTLS(certFile string) (*tls.Config, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("--tls-cert: %s holds no PEM certificate", certFile)
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return nil, fmt.Errorf("--tls-cert: %w", err)
	}
	want := block.Bytes
	return &tls.Config{
		InsecureSkipVerify: true, // replaced by the comparison below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], want) {
				return errors.New("the node presented a certificate other than --tls-cert")
			}
			return nil
		},
		MinVersion: tls.VersionTLS12,
	}, nil
}
