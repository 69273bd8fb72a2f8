// Command classboard runs a classboard node (`classboard serve`, the
// default) and its tools: `check` (the same flags: what a production
// deployment should change), `backup`, `restore`, `keygen`, `version`, and
// `healthcheck` (for container health checks). Every flag can also be set
// by an environment variable: --node-name is CLASSBOARD_NODE_NAME.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/node"
	"github.com/classboard/classboard/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "classboard:", err)
		}
		if errors.Is(err, errUnhealthy) {
			os.Exit(1) // what container health checks read as unhealthy (2 is reserved)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "check":
		return check(args, getenv, stdout, stderr)
	case "version":
		printVersion(stdout)
		return nil
	case "healthcheck":
		return healthcheck(ctx, args, getenv, stdout, stderr)
	case "backup":
		return backupCmd(ctx, args, getenv, stdout, stderr)
	case "restore":
		return restoreCmd(ctx, args, getenv, stdout, stderr)
	case "keygen":
		return keygenCmd(args, getenv, stdout, stderr)
	}
	return fmt.Errorf("unknown command %q (commands: serve, check, backup, restore, keygen, version, healthcheck)", cmd)
}

// defaultAddr is where serve listens, and healthcheck asks, by default.
const defaultAddr = "127.0.0.1:8080"

// options are the parsed flags of serve.
type options struct {
	addr, data, nodeName            string
	clusterAddr, peers, secretFile  string
	clusterAdvertise                string
	natsURL, publicURLs, uiURL      string
	tlsCert, tlsKey, trustedProxies string
	redirectHTTPAddr                string
	maxStore, maxMemory             int64
	maxMediaBytes, mediaQuota       int64
	maxImportBytes                  int64
	replicas                        int
	logLevel, logFormat             string
	opTimeout                       time.Duration
	metricsAddr                     string
	metricsAllowRemote              bool
	admitRate                       float64
	logEveryRequest                 bool
	memoryLimit                     int64
	viewMaxKeys                     int
	teacherLimits                   store.TeacherLimits

	mail mailOptions
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("classboard serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", defaultAddr, "HTTP listen address")
	fs.StringVar(&o.data, "data", "./data", "data directory")
	fs.StringVar(&o.nodeName, "node-name", "", "this node's name, unique in the cluster (default: host name)")
	fs.StringVar(&o.clusterAddr, "cluster-addr", "", "cluster listen address HOST:PORT (enables cluster mode)")
	fs.StringVar(&o.peers, "peers", "", "every node's cluster address, comma-separated")
	fs.StringVar(&o.secretFile, "cluster-secret-file", "", "file holding the secret every node shares")
	fs.StringVar(&o.clusterAdvertise, "cluster-advertise", "", "HOST:PORT other nodes reach this node's routes at (default: --cluster-addr)")
	fs.StringVar(&o.natsURL, "nats-url", "", "use this external NATS cluster instead of the embedded server")
	fs.IntVar(&o.replicas, "replicas", 0, "replicas per bucket (default: 3 in a cluster of 3 or more, else 1)")
	fs.StringVar(&o.publicURLs, "public-urls", "", "API origins clients may use, comma-separated (default: this node)")
	fs.StringVar(&o.uiURL, "ui-url", "", "origin the apps are served from (default: this node)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (serve HTTPS)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS key file")
	fs.StringVar(&o.redirectHTTPAddr, "redirect-http-addr", "", "with TLS: also listen here for plain HTTP and redirect it to HTTPS, e.g. :80")
	fs.StringVar(&o.trustedProxies, "trusted-proxies", "", "CIDRs whose X-Forwarded-For is believed, comma-separated")
	fs.Int64Var(&o.maxStore, "max-store", 10<<30, "JetStream disk limit in bytes")
	fs.Int64Var(&o.maxMemory, "max-memory", 256<<20, "JetStream memory limit in bytes")
	fs.Int64Var(&o.maxMediaBytes, "max-media-bytes", classboard.DefaultMaxMediaBytes, "largest picture upload in bytes")
	fs.Int64Var(&o.maxImportBytes, "max-import-bytes", classboard.DefaultMaxImportBytes, "largest imported .pptx or lesson file in bytes")
	fs.Int64Var(&o.mediaQuota, "media-quota", classboard.DefaultMediaQuota, "bytes of pictures one teacher may keep")
	fs.DurationVar(&o.opTimeout, "op-timeout", 5*time.Second, "longest one store operation may take before it fails with 503 (a request may make several)")
	fs.Int64Var(&o.memoryLimit, "memory-limit", 0, "bytes of memory the node may use (Go's GOMEMLIMIT; default: 90% of the container's limit, if any)")
	fs.Float64Var(&o.admitRate, "live-admit-rate", 0, "new live connections taken in per second; the rest are told when to come back (default: 600 per CPU)")
	fs.IntVar(&o.viewMaxKeys, "view-max-keys", store.DefaultViewMaxKeys, "keys of each hot bucket (sessions, teachers, boards, lessons) kept in memory; a bucket past it is read from the store")
	fs.IntVar(&o.teacherLimits.Lessons, "max-lessons-per-teacher", classboard.DefaultMaxLessonsPerTeacher, "lessons one teacher may keep")
	fs.IntVar(&o.teacherLimits.Media, "max-media-per-teacher", classboard.DefaultMaxMediaPerTeacher, "pictures one teacher may keep (besides --media-quota)")
	fs.IntVar(&o.teacherLimits.Boards, "max-boards-per-teacher", classboard.DefaultMaxBoardsPerTeacher, "boards one teacher may pair")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&o.logEveryRequest, "log-every-request", false, "write every request's access log line at info level (default: only failed and slow ones; the rest at debug)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://HOST:PORT/metrics (default off; loopback only unless --metrics-allow-remote)")
	fs.BoolVar(&o.metricsAllowRemote, "metrics-allow-remote", false, "allow a --metrics-addr that is not loopback (metrics have no authentication)")
	o.mail.register(fs)
	if err := parseWithEnv(fs, args, getenv); err != nil {
		return nil, err
	}
	return o, nil
}

// parseWithEnv sets each flag from its environment variable
// (CLASSBOARD_ and the name in upper case, dashes as underscores), then
// from args, so that the command line wins.
func parseWithEnv(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "CLASSBOARD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s: %w", name, err)
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// nodeConfig checks the options and turns them into a node.Config.
func (o *options) nodeConfig() (node.Config, error) {
	b := currentBuild()
	cfg := node.Config{
		Addr:       o.addr,
		PublicURLs: splitList(o.publicURLs),
		UIURL:      strings.TrimRight(o.uiURL, "/"),
		TLSCert:    o.tlsCert,
		TLSKey:     o.tlsKey,
		Version:    b.Version,
		Commit:     b.Commit,

		RedirectHTTPAddr:   o.redirectHTTPAddr,
		MaxMediaBytes:      o.maxMediaBytes,
		MaxImportBytes:     o.maxImportBytes,
		MetricsAddr:        o.metricsAddr,
		MetricsAllowRemote: o.metricsAllowRemote,
	}
	for i, u := range cfg.PublicURLs {
		cfg.PublicURLs[i] = strings.TrimRight(u, "/")
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return cfg, errors.New("--tls-cert and --tls-key go together")
	}
	if o.redirectHTTPAddr != "" && o.tlsCert == "" {
		return cfg, errors.New("--redirect-http-addr needs --tls-cert and --tls-key")
	}
	for _, c := range splitList(o.trustedProxies) {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return cfg, fmt.Errorf("--trusted-proxies: %w", err)
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, p)
	}
	if o.maxMediaBytes <= 0 || o.mediaQuota <= 0 || o.maxImportBytes <= 0 {
		return cfg, errors.New("--max-media-bytes, --max-import-bytes and --media-quota must be positive")
	}
	if l := o.teacherLimits; l.Lessons <= 0 || l.Media <= 0 || l.Boards <= 0 || o.viewMaxKeys <= 0 || o.admitRate < 0 {
		return cfg, errors.New("--max-lessons-per-teacher, --max-media-per-teacher, --max-boards-per-teacher and --view-max-keys must be positive, --live-admit-rate not negative")
	}
	cfg.LiveAdmitRate = o.admitRate
	cfg.LogEveryRequest = o.logEveryRequest
	cfg.Store = storeConfig(o)
	mailCfg, err := o.mail.config()
	if err != nil {
		return cfg, err
	}
	cfg.Mail = mailCfg
	if o.clusterAddr != "" {
		if o.secretFile == "" {
			return cfg, errors.New("cluster mode needs --cluster-secret-file: routes are never open")
		}
		b, err := os.ReadFile(o.secretFile)
		if err != nil {
			return cfg, fmt.Errorf("read cluster secret: %w", err)
		}
		secret := strings.TrimSpace(string(b))
		if len(secret) < 16 {
			return cfg, errors.New("the cluster secret must be at least 16 characters")
		}
		cfg.Store.ClusterSecret = secret
		if len(cfg.Store.Peers) == 0 {
			return cfg, errors.New("cluster mode needs --peers")
		}
	}
	return cfg, nil
}

func newLogger(o *options, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is neither text nor json", o.logFormat)
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	cfg, err := o.nodeConfig()
	if err != nil {
		return err
	}
	log, err := newLogger(o, stderr)
	if err != nil {
		return err
	}
	if lim := memoryLimit(o.memoryLimit, getenv, "/sys/fs/cgroup/memory.max"); lim > 0 {
		log.Info("memory limit", "bytes", lim)
	}
	n, err := node.Open(cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "classboard %s\n  teacher app: %s/\n  board app:   %s/board\n", cfg.Version, n.URL(), n.URL())
	if u := n.MetricsURL(); u != "" {
		fmt.Fprintf(stdout, "  metrics:     %s\n", u)
	}
	<-ctx.Done()
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return n.Shutdown(shutdownCtx)
}
