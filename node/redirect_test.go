package node_test

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"testing"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
)

// TestHSTSAndRedirectToHTTPS: TLS responses carry HSTS, plain ones do not
// (unless a trusted proxy says the client came over TLS), and the
// redirect listener sends plain HTTP to the same path over HTTPS.
func TestHSTSAndRedirectToHTTPS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	n := testcluster.StartNode(t, func(c *node.Config) {
		c.TLSCert, c.TLSKey = certFile, keyFile
		c.RedirectHTTPAddr = "127.0.0.1:0"
	})
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(hc *http.Client, url string, headers ...string) *apitest.Response {
		res, err := apitest.Send(t.Context(), hc, "GET", url, "", nil, headers...)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, path := range []string{"/api/v1/config", "/"} {
		if got := get(client, n.URL()+path).Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
			t.Fatalf("HSTS on %s over TLS: %q", path, got)
		}
	}
	res := get(client, n.RedirectURL()+"/api/v1/config?x=1")
	if want := n.URL() + "/api/v1/config?x=1"; res.Status != http.StatusPermanentRedirect || res.Header.Get("Location") != want {
		t.Fatalf("plain HTTP: %d to %q, want 308 to %q", res.Status, res.Header.Get("Location"), want)
	}

	plain := testcluster.StartNode(t, func(c *node.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	for proto, want := range map[string]string{"": "", "http": "", "https": "max-age=31536000"} {
		if got := get(http.DefaultClient, plain.URL()+"/api/v1/config", "X-Forwarded-Proto", proto).Header.Get("Strict-Transport-Security"); got != want {
			t.Fatalf("plain HTTP behind a proxy saying %q: HSTS %q, want %q", proto, got, want)
		}
	}
}
