package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/classboard/classboard/internal/password"
	"github.com/classboard/classboard/mail"
)

// A finding of `classboard check`: what is wrong and what to do.
type finding struct {
	// fail is a setting to change; otherwise something the check cannot
	// see from here and a person should confirm.
	fail      bool
	what, fix string
}

func (f finding) String() string {
	level := "CHECK"
	if f.fail {
		level = "FAIL"
	}
	return fmt.Sprintf("%s  %s\n      -> %s", level, f.what, f.fix)
}

// errFindings makes `classboard check` exit non-zero when a setting must change.
var errFindings = errors.New("the deployment check found settings to change")

// check runs `classboard check`: it takes the flags and environment of
// serve and says, like Django's `check --deploy`, what a production
// deployment should change. It starts nothing.
func check(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	if _, err := o.nodeConfig(); err != nil {
		return fmt.Errorf("serve would not start: %w", err)
	}
	findings := deployFindings(o)
	fails := 0
	for _, f := range findings {
		fmt.Fprintln(stdout, f)
		if f.fail {
			fails++
		}
	}
	fmt.Fprintf(stdout, "%d to change, %d to confirm\n", fails, len(findings)-fails)
	if fails > 0 {
		return errFindings
	}
	return nil
}

// deployFindings checks the options of one node.
func deployFindings(o *options) []finding {
	var out []finding
	add := func(fail bool, what, fix string, args ...any) {
		out = append(out, finding{fail: fail, what: fmt.Sprintf(what, args...), fix: fix})
	}

	// Transport: TLS here, or a TLS proxy in front that we believe.
	switch {
	case o.tlsCert == "" && o.trustedProxies == "":
		add(true, "neither TLS (--tls-cert) nor a trusted proxy (--trusted-proxies) is set: passwords and tokens would cross the network in clear text, and every client would count as the proxy's address",
			"serve HTTPS with --tls-cert and --tls-key, or put a TLS proxy in front and name its address in --trusted-proxies")
	case o.tlsCert != "":
		if fileReadableByOthers(o.tlsKey) {
			add(true, "the TLS key %s can be read by other users", "chmod 600 the key file (and make the service user its owner)", o.tlsKey)
		}
		if o.redirectHTTPAddr == "" {
			add(false, "plain http:// requests get no answer (no --redirect-http-addr)",
				"set --redirect-http-addr :80 so a typed http:// address lands on HTTPS, or redirect in front of classboard")
		}
	default:
		add(false, "HSTS is sent only when the trusted proxy says the client came over TLS",
			"make the proxy set X-Forwarded-Proto: https (classboard then sends Strict-Transport-Security), or send that header from the proxy")
	}

	// Origins: absolute origins, HTTPS, and one scheme throughout.
	public := splitList(o.publicURLs)
	origins := append([]string(nil), public...)
	if o.uiURL != "" {
		origins = append(origins, o.uiURL)
	}
	for _, u := range origins {
		if reason := originProblem(u); reason != "" {
			add(true, "%q %s", "give origins as https://host[:port] with nothing after it", u, reason)
		}
	}
	if len(public) == 0 {
		add(true, "--public-urls is not set: clients and mail links would use the listen address %s", "set --public-urls to every node's public https:// origin", o.addr)
	}
	if len(public) > 1 && o.uiURL == "" {
		add(true, "several --public-urls and no --ui-url: the apps and mail links use the first, which fails when that node is down",
			"set --ui-url to an origin that reaches any node (a DNS name over all nodes, or a CDN)")
	}

	// The cluster secret.
	if o.clusterAddr != "" {
		switch b, err := os.ReadFile(o.secretFile); {
		case err != nil:
			add(true, "the cluster secret cannot be read: %v", "create it with: openssl rand -base64 32 > FILE; chmod 600 FILE", err)
		default:
			secret := strings.TrimSpace(string(b))
			if len(secret) < 32 || password.Score(secret) < 4 {
				add(true, "the cluster secret is weak (%d characters, or guessable)", "replace it on every node with the output of: openssl rand -base64 32", len(secret))
			}
			if fileReadableByOthers(o.secretFile) {
				add(true, "the cluster secret %s can be read by other users", "chmod 600 it (owner: the service user)", o.secretFile)
			}
		}
	}

	// Mail.
	if o.mail.addr == "" {
		add(true, "no SMTP server (--smtp-addr): password reset links are written to the log, and sign-ups are not confirmed by mail, so the sign-up answer tells whether an address has an account",
			"configure --smtp-addr and --smtp-from (and --smtp-user with --smtp-password-file)")
	} else if o.mail.tls == mail.TLSNone && !isLoopbackHostPort(o.mail.addr) {
		add(true, "--smtp-tls none to %s: mail, reset links included, and the SMTP password cross the network in clear text", "use --smtp-tls auto or starttls", o.mail.addr)
	}

	// The data directory.
	switch fi, err := os.Stat(o.data); {
	case errors.Is(err, fs.ErrNotExist):
		add(false, "the data directory %s does not exist yet", "create it owned by the service user, mode 700", o.data)
	case err != nil:
		add(true, "the data directory %s: %v", "make it readable by the service user", o.data, err)
	case fi.Mode().Perm()&0o077 != 0:
		add(true, "the data directory %s has mode %o: other users can read what it holds (password hashes, sessions, pictures)", "chmod 700 it", o.data, fi.Mode().Perm())
	}
	return out
}

// originProblem says why u is not a good origin, or "".
func originProblem(u string) string {
	p, err := url.Parse(u)
	switch {
	case err != nil || p.Host == "" || p.Scheme != "http" && p.Scheme != "https":
		return "is not an origin"
	case p.Path != "" || p.RawQuery != "" || p.Fragment != "" || p.User != nil:
		return "has more than scheme, host and port"
	case p.Scheme == "http" && !isLoopbackHostPort(p.Host):
		return "is plain http: browsers would send passwords in clear text and refuse service workers"
	}
	return ""
}

func isLoopbackHostPort(hp string) bool {
	host := hp
	if h, _, err := net.SplitHostPort(hp); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func fileReadableByOthers(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().Perm()&0o044 != 0
}
