package node

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"
)

// listenRedirect listens on RedirectHTTPAddr and answers every plain HTTP
// request with a permanent redirect to the same path over HTTPS. Browsers
// then remember HTTPS (the API sends HSTS), so only a first visit or a
// typed http:// address comes here.
func (n *Node) listenRedirect() error {
	if n.cfg.TLSCert == "" {
		return errors.New("--redirect-http-addr needs --tls-cert: there is no HTTPS to redirect to")
	}
	ln, err := net.Listen("tcp", n.cfg.RedirectHTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", n.cfg.RedirectHTTPAddr, err)
	}
	_, tlsPort, _ := net.SplitHostPort(n.ln.Addr().String())
	n.redirLn = ln
	n.redirect = &http.Server{
		Handler:           redirectHandler(n.cfg.PublicURLs, tlsPort),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelWarn),
	}
	n.wg.Go(func() {
		if err := n.redirect.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("redirect server stopped", "err", err)
		}
	})
	return nil
}

// RedirectURL is the plain HTTP address that redirects to HTTPS ("" when
// there is none).
func (n *Node) RedirectURL() string {
	if n.redirLn == nil {
		return ""
	}
	return "http://" + n.redirLn.Addr().String()
}

// redirectHandler sends a request to the public HTTPS origin with the
// request's host name, else to that host on the TLS port.
func redirectHandler(publicURLs []string, tlsPort string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		target := "https://" + net.JoinHostPort(host, tlsPort)
		if tlsPort == "443" {
			target = "https://" + host
		}
		for _, p := range publicURLs {
			if u, err := url.Parse(p); err == nil && u.Scheme == "https" && u.Hostname() == host {
				target = u.Scheme + "://" + u.Host
				break
			}
		}
		w.Header().Set("Connection", "close")
		http.Redirect(w, r, target+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}
